import { boolFlag } from '@citytel/contract';
import { z } from 'zod';

/** The carsharing variables of the api's environment (CONTRACT §3), spread into apiEnvSchema. */
export const carsharingEnv = {
  COMMAND_TTL_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(30)
    .describe('seconds a command to a car stays valid (its expiresAt) unless the request says otherwise'),
  BOOKING_GRACE_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(900)
    .describe('seconds before a booking starts from which its member may unlock the car'),
  COMMAND_END_GRACE_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(60)
    .describe(
      "seconds after its booking's end that a command asked during the booking may still be carried out: " +
        'its expiresAt never falls later (a car that gets a queued unlock after that refuses it)',
    ),
  COMMAND_WAIT_MAX_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(120)
    .default(30)
    .describe('longest ?wait= a command request may hold the connection for'),
  COMMAND_SWEEP_MS: z.coerce
    .number()
    .int()
    .min(50)
    .max(60_000)
    .default(1000)
    .describe('how often the store is swept for commands past their expiresAt (every api instance sweeps)'),
  COMMAND_ACK_GRACE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(2000)
    .describe('how long after expiresAt an ack is still awaited before a command is marked expired'),
  COMMAND_WAIT_POLL_MS: z.coerce
    .number()
    .int()
    .min(50)
    .max(60_000)
    .default(1000)
    .describe(
      'how often a ?wait= request re-reads its command: the fallback when the news of its end reached ' +
        'another instance only and no Redis signal came (REDIS_URL unset or Redis down)',
    ),
  LOCK_REFUSE_MOVING: boolFlag(true).describe(
    'refuse a lock while the car reports a speed above MOVING_SPEED_KMH (409 vehicle_moving)',
  ),
  LOCK_REFUSE_IGNITION: boolFlag(true).describe(
    'refuse a lock while the car reports its ignition on (409 ignition_on)',
  ),
  MOVING_SPEED_KMH: z.coerce
    .number()
    .min(0)
    .max(50)
    .default(3)
    .describe('speed above which a car counts as moving (GPS speed of a parked car wanders by 1-2 km/h)'),
  RETURN_STATUS_MAX_AGE_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(120)
    .describe(
      "a return ends a booking early only on the car's own report this recent (telemetry) showing it locked, doors closed",
    ),
  AUTO_LOCK_AFTER_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(600)
    .describe(
      'a car left unlocked (parked, ignition off) this long after its booking ended is locked by the platform; 0 turns it off',
    ),
  AUTO_LOCK_SWEEP_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(30_000)
    .describe(
      'how often the api looks for cars left unlocked after their booking (every instance looks; one locks)',
    ),
  OFFLINE_WINDOW_H: z.coerce
    .number()
    .int()
    .min(1)
    .max(168)
    .default(24)
    .describe('offline unlock: hours of upcoming bookings each car holds, signed, to open with no network'),
  OFFLINE_REFRESH_S: z.coerce
    .number()
    .int()
    .min(10)
    .max(86_400)
    .default(3600)
    .describe('offline unlock: how often every car gets its booking list again (the window rolls on)'),
};

export interface CarsharingSettings {
  COMMAND_TTL_S: number;
  BOOKING_GRACE_S: number;
  COMMAND_END_GRACE_S: number;
  COMMAND_WAIT_MAX_S: number;
  COMMAND_SWEEP_MS: number;
  COMMAND_ACK_GRACE_MS: number;
  COMMAND_WAIT_POLL_MS: number;
  LOCK_REFUSE_MOVING: boolean;
  LOCK_REFUSE_IGNITION: boolean;
  MOVING_SPEED_KMH: number;
  RETURN_STATUS_MAX_AGE_S: number;
  AUTO_LOCK_AFTER_S: number;
  AUTO_LOCK_SWEEP_MS: number;
  OFFLINE_WINDOW_H: number;
  OFFLINE_REFRESH_S: number;
}
