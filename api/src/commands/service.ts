import type { CommandAction } from '@citytel/contract';
import type { Booking, Command, Operator, Store } from '@citytel/store';
import type { FastifyBaseLogger as Logger } from 'fastify';
import { apiError } from '../errors.ts';
import type { CarsharingSettings } from './config.ts';
import type { Fleet } from './fleet.ts';
import { requestHash } from './idempotency.ts';
import { bookingRefusal, type Refusal, vehicleRefusal } from './rules.ts';
import { lockRefusal } from './safety.ts';
import type { CommandTracker } from './tracker.ts';

export interface CommandRequest {
  operator: Operator;
  vehicleId: string;
  action: CommandAction;
  bookingId: string;
  memberId?: string | undefined;
  /** Send even to an offline car: its session keeps the message until it is back or the command expires. */
  queue: boolean;
  /** Overrides COMMAND_TTL_S for this command. */
  ttlS?: number | undefined;
  idempotencyKey: string;
}

export interface CommandOutcome {
  command: Command;
  /** The Idempotency-Key was seen before: this is the first request's command, nothing new was sent. */
  replayed: boolean;
}

/**
 * CONTRACT §3: a command never outlives its booking plus COMMAND_END_GRACE_S, so a queued unlock that
 * reaches a car after that is refused by the car itself. A lock asked once that is over (the operator
 * closing a car left open) belongs to no running booking and keeps its own ttl.
 */
export function commandExpiry(
  issuedAt: Date,
  booking: Pick<Booking, 'end'>,
  ttlS: number,
  settings: Pick<CarsharingSettings, 'COMMAND_END_GRACE_S'>,
): Date {
  const byTtl = issuedAt.getTime() + ttlS * 1000;
  const cap = booking.end.getTime() + settings.COMMAND_END_GRACE_S * 1000;
  return new Date(cap > issuedAt.getTime() ? Math.min(byTtl, cap) : byTtl);
}

export interface CommandServiceDeps {
  store: Pick<Store, 'devices' | 'bookings' | 'commands'>;
  fleet: Pick<Fleet, 'isOnline' | 'get'>;
  tracker: Pick<CommandTracker, 'send' | 'fail' | 'connected'>;
  settings: Pick<
    CarsharingSettings,
    | 'COMMAND_TTL_S'
    | 'BOOKING_GRACE_S'
    | 'COMMAND_END_GRACE_S'
    | 'LOCK_REFUSE_MOVING'
    | 'LOCK_REFUSE_IGNITION'
    | 'MOVING_SPEED_KMH'
  >;
  log: Logger;
}

/**
 * POST /api/v1/vehicles/{id}/commands as named steps (conventions: hooks): the key first (a retry returns the first
 * answer even when the booking has ended since), then the car, the booking and its rules, then the command
 * is stored `pending` and sent, or failed at once when the car is offline. A refused request stores and
 * publishes nothing; it is logged with who asked.
 */
export function createCommandService(deps: CommandServiceDeps) {
  const { store, log } = deps;

  const refuse = (r: CommandRequest, refusal: Refusal): never => {
    log.info(
      {
        operator: r.operator.id,
        vehicle: r.vehicleId,
        booking: r.bookingId,
        member: r.memberId,
        action: r.action,
        code: refusal.code,
      },
      'command refused',
    );
    throw apiError(refusal.code, refusal.message);
  };

  /** The first command made with this key, if the body matches it; 422 if the key was used for another. */
  function sameKey(r: CommandRequest, first: Command, hash: string): CommandOutcome {
    if (first.requestHash !== hash) {
      throw apiError(
        'idempotency_conflict',
        `Idempotency-Key already used for command ${first.id} with a different request`,
      );
    }
    log.debug({ operator: r.operator.id, command: first.id }, 'idempotent replay');
    return { command: first, replayed: true };
  }

  return {
    async request(r: CommandRequest): Promise<CommandOutcome> {
      const hash = requestHash(r);
      const earlier = await store.commands.findByIdempotencyKey(r.operator.id, r.idempotencyKey);
      if (earlier) return sameKey(r, earlier, hash);

      const device = await store.devices.get(r.vehicleId);
      const found = await store.bookings.get(r.bookingId);
      const notYours = vehicleRefusal(r.vehicleId, device, r.operator);
      // Roaming: a member's home operator commands another operator's car only within its member's booking.
      const visiting = found?.homeOperatorId === r.operator.id && found.vehicleId === r.vehicleId;
      if (notYours && !(notYours.code === 'not_your_vehicle' && visiting)) refuse(r, notYours);
      // Another operator's booking is answered like a missing one: booking ids say who rents which car.
      if (!found || (found.operatorId !== device!.operatorId && !r.operator.admin))
        return refuse(r, { code: 'booking_not_found', message: `no booking ${r.bookingId}` });
      const booking = found;
      const issuedAt = new Date();
      const outside = bookingRefusal(booking, {
        vehicleId: r.vehicleId,
        action: r.action,
        memberId: r.memberId,
        now: issuedAt,
        graceMs: deps.settings.BOOKING_GRACE_S * 1000,
      });
      if (outside) refuse(r, outside);
      if (r.action === 'lock') {
        const unsafe = lockRefusal(deps.fleet.get(r.vehicleId), deps.settings);
        if (unsafe) refuse(r, unsafe);
      }

      const { command, created } = await store.commands.create({
        vehicleId: r.vehicleId,
        operatorId: device!.operatorId ?? r.operator.id,
        requestedBy: r.operator.id,
        memberId: r.memberId ?? null,
        bookingId: booking.id,
        homeOperatorId: booking.homeOperatorId,
        action: r.action,
        issuedAt,
        expiresAt: commandExpiry(issuedAt, booking, r.ttlS ?? deps.settings.COMMAND_TTL_S, deps.settings),
        idempotencyKey: r.idempotencyKey,
        requestHash: hash,
      });
      // A concurrent twin with the same key stored its command first: answer with that one.
      if (!created) return sameKey(r, command, hash);
      log.info(
        {
          command: command.id,
          operator: r.operator.id,
          vehicle: r.vehicleId,
          booking: booking.id,
          member: r.memberId,
          action: r.action,
        },
        'command requested',
      );
      // Without the broker the fleet's state is stale too: `send` fails it as mqtt_unavailable instead.
      if (!r.queue && deps.tracker.connected && !deps.fleet.isOnline(r.vehicleId)) {
        return { command: await deps.tracker.fail(command, 'vehicle_offline'), replayed: false };
      }
      return { command: await deps.tracker.send(command), replayed: false };
    },
  };
}

export type CommandService = ReturnType<typeof createCommandService>;
