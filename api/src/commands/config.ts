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
};

export interface CarsharingSettings {
  COMMAND_TTL_S: number;
  BOOKING_GRACE_S: number;
  COMMAND_WAIT_MAX_S: number;
  COMMAND_SWEEP_MS: number;
  COMMAND_ACK_GRACE_MS: number;
  COMMAND_WAIT_POLL_MS: number;
}
