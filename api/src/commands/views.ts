import { COMMAND_ACTIONS, COMMAND_STATES, idSchema } from '@citytel/contract';
import type { Booking, Command } from '@citytel/store';
import { z } from 'zod';
import { bookingStatus } from './rules.ts';

/** CONTRACT §4: `{"id","vehicleId","action","bookingId","state","history":[{"state","at"}]}`, and who asked. */
export const commandSchema = z
  .object({
    id: z.string(),
    vehicleId: z.string(),
    action: z.enum(COMMAND_ACTIONS),
    bookingId: z.string(),
    state: z.enum(COMMAND_STATES),
    reason: z
      .string()
      .nullable()
      .describe("why it ended so: the car's reason when rejected, vehicle_offline, no_answer, ..."),
    operatorId: z.string().describe('operator the car belongs to'),
    requestedBy: z.string().describe('operator whose token asked, or platform:auto-lock'),
    homeOperatorId: z.string().describe("the booking member's operator (roaming: not the car's)"),
    memberId: z.string().nullable().describe('member the operator asked for, when it said'),
    issuedAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
    history: z
      .array(
        z.object({
          state: z.enum(COMMAND_STATES),
          at: z.iso.datetime(),
          reason: z.string().nullable(),
        }),
      )
      .describe('every state the command entered, oldest first'),
  })
  .meta({ id: 'Command', description: 'A command to a car, its state and its history (CONTRACT §3)' });
export type CommandView = z.infer<typeof commandSchema>;

export const commandView = (c: Command): CommandView => ({
  id: c.id,
  vehicleId: c.vehicleId,
  action: c.action,
  bookingId: c.bookingId,
  state: c.state,
  reason: c.reason,
  operatorId: c.operatorId,
  requestedBy: c.requestedBy,
  homeOperatorId: c.homeOperatorId,
  memberId: c.memberId,
  issuedAt: c.issuedAt.toISOString(),
  expiresAt: c.expiresAt.toISOString(),
  history: c.history.map((h) => ({ state: h.state, at: h.at.toISOString(), reason: h.reason })),
});

export const newCommandSchema = z.object({
  action: z.enum(COMMAND_ACTIONS),
  bookingId: idSchema,
  memberId: idSchema
    .optional()
    .describe("the member the operator acts for; when given it must be the booking's member"),
  queue: z
    .boolean()
    .default(false)
    .describe(
      'send even when the car is offline: it gets the command if it is back before expiresAt (default: fail at once)',
    ),
  ttlS: z
    .number()
    .int()
    .min(1)
    .max(3600)
    .optional()
    .describe('seconds until expiresAt (default COMMAND_TTL_S)'),
});

export const bookingSchema = z
  .object({
    id: z.string(),
    operatorId: z.string(),
    vehicleId: z.string(),
    memberId: z.string(),
    start: z.iso.datetime(),
    end: z.iso.datetime(),
    status: z.enum(['upcoming', 'active', 'ended', 'cancelled']).describe('at the time of the answer'),
    createdAt: z.iso.datetime(),
    cancelledAt: z.iso.datetime().nullable(),
    returnedAt: z.iso
      .datetime()
      .nullable()
      .describe('when the member returned the car before the booked end'),
    homeOperatorId: z
      .string()
      .describe("the member's operator: the car's own, or another's for a visiting member (roaming)"),
    odometerStartKm: z.number().nullable().describe("the car's odometer at the first unlock"),
    odometerEndKm: z.number().nullable().describe("the car's odometer at the end"),
  })
  .meta({ id: 'Booking', description: "A member's booking of one car over [start, end)" });
export type BookingView = z.infer<typeof bookingSchema>;

export const bookingView = (b: Booking, now = new Date()): BookingView => ({
  id: b.id,
  operatorId: b.operatorId,
  vehicleId: b.vehicleId,
  memberId: b.memberId,
  start: b.start.toISOString(),
  end: b.end.toISOString(),
  status: bookingStatus(b, now),
  createdAt: b.createdAt.toISOString(),
  cancelledAt: b.cancelledAt ? b.cancelledAt.toISOString() : null,
  returnedAt: b.returnedAt ? b.returnedAt.toISOString() : null,
  homeOperatorId: b.homeOperatorId,
  odometerStartKm: b.odometerStartKm,
  odometerEndKm: b.odometerEndKm,
});
