import { z } from 'zod';
import { idSchema } from '../ids.ts';

/** CONTRACT §3: what an operator may ask of a car. */
export const COMMAND_ACTIONS = ['unlock', 'lock'] as const;
export type CommandAction = (typeof COMMAND_ACTIONS)[number];

/** `cancelled`: its booking was cancelled or ended while the command was still open (CONTRACT §3). */
export const COMMAND_STATES = [
  'pending',
  'sent',
  'done',
  'rejected',
  'expired',
  'failed',
  'cancelled',
] as const;
export type CommandState = (typeof COMMAND_STATES)[number];
export const FINAL_COMMAND_STATES: readonly CommandState[] = [
  'done',
  'rejected',
  'expired',
  'failed',
  'cancelled',
];

export const commandIdSchema = z.string().regex(/^cmd_[A-Za-z0-9]{10,40}$/);

/** api → vehicle, on `vehicles/{id}/commands` at QoS 1. */
export const commandMessageSchema = z.object({
  id: commandIdSchema,
  action: z.enum(COMMAND_ACTIONS),
  bookingId: idSchema,
  issuedAt: z.iso.datetime({ offset: true }),
  expiresAt: z.iso.datetime({ offset: true }),
});
export type CommandMessage = z.infer<typeof commandMessageSchema>;

/** vehicle → api, on `vehicles/{id}/commands/ack`. */
export const commandAckSchema = z.object({
  id: commandIdSchema,
  status: z.enum(['done', 'rejected']),
  reason: z.string().max(500).optional(),
  ts: z.iso.datetime({ offset: true }).optional(),
});
export type CommandAck = z.infer<typeof commandAckSchema>;
