import { z } from 'zod';
import { idSchema } from '../ids.ts';

/**
 * Offline unlock (CONTRACT §3): the platform sends each car its upcoming bookings ahead, signed with its
 * Ed25519 key, on `vehicles/{id}/bookings` (retained, QoS 1); with no network the car opens for the member's
 * credential inside a booking and records what it did, uploaded on `vehicles/{id}/log` when it is back.
 */

const instant = z.iso.datetime({ offset: true });
/** Hex SHA-256 of a credential: the car and the platform never hold a card id or phone key in clear. */
export const credentialHashSchema = z.string().regex(/^[0-9a-f]{64}$/);

/**
 * A credential is `sha256("card:" + card id)` or `sha256("phone:" + phone key)`, hex: computed by the
 * operator's systems and by the car's reader, so neither the platform nor the broker ever holds the id.
 */
export const bookingPassSchema = z.object({
  bookingId: idSchema,
  credential: credentialHashSchema,
  start: instant,
  end: instant,
});
export type BookingPass = z.infer<typeof bookingPassSchema>;

/** The signed body: the whole list, so a car can tell a newer list from an older one replayed. */
export const bookingListSchema = z.object({
  vehicleId: idSchema,
  /** Strictly increasing per car (ms since epoch at issue): a list not newer than the last one is ignored. */
  seq: z.number().int().nonnegative(),
  issuedAt: instant,
  /** The list covers bookings overlapping [issuedAt, until): the car knows nothing beyond. */
  until: instant,
  /** How long before its start a booking opens the car. */
  graceS: z.number().int().min(0),
  passes: z.array(bookingPassSchema).max(500),
  /** Bookings cancelled in the window, so the car can say why it refuses their credential. */
  cancelled: z.array(z.object({ bookingId: idSchema, credential: credentialHashSchema.optional() })).max(500),
});
export type BookingList = z.infer<typeof bookingListSchema>;

/** On the wire: the list as base64url JSON, and its Ed25519 signature over those bytes. */
export const signedBookingsSchema = z.object({ body: z.string().max(200_000), sig: z.string().max(200) });
export type SignedBookings = z.infer<typeof signedBookingsSchema>;

export const offlineEventSchema = z.object({
  /** The car's own counter: the platform stores each (car, seq) once, however often it is uploaded. */
  seq: z.number().int().nonnegative(),
  /** The car's clock when it happened. */
  ts: instant,
  event: z.enum(['opened', 'refused']),
  bookingId: idSchema.optional(),
  reason: z.enum(['unknown_credential', 'expired', 'not_yet', 'cancelled']).optional(),
});
export type OfflineLogEvent = z.infer<typeof offlineEventSchema>;

/** car → api on `vehicles/{id}/log`, QoS 1. */
export const offlineLogSchema = z.object({ events: z.array(offlineEventSchema).min(1).max(500) });
export type OfflineLog = z.infer<typeof offlineLogSchema>;
