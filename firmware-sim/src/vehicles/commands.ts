import {
  type CommandAck,
  type CommandAction,
  type CommandMessage,
  commandIdSchema,
  commandMessageSchema,
  isPlainObject,
  parseJson,
} from '@citytel/contract';

/**
 * The command rules of an on-board unit (CONTRACT §3), kept free of MQTT and timers so they are tested
 * alone: a command is validated, a replayed id is never executed twice (its first answer is sent again),
 * and a command whose `expiresAt` is past is refused with reason `expired`.
 */

export type Decision =
  /** Not a command: nothing to execute; answered `rejected` when its id could be read. */
  | { kind: 'invalid'; id?: string; reason: string }
  /** Seen before: `ack` is the first answer, or undefined while that first run is still going. */
  | { kind: 'replay'; id: string; ack: CommandAck | undefined }
  | { kind: 'expired'; id: string }
  | { kind: 'execute'; command: CommandMessage };

export class CommandBook {
  /** id → first answer (undefined while running); insertion order, oldest evicted first. */
  private readonly seen = new Map<string, CommandAck | undefined>();

  constructor(private readonly capacity = 1000) {}

  decide(payload: string | Buffer, nowMs: number): Decision {
    const parsed = parseJson(payload.toString());
    if (!parsed.ok) return { kind: 'invalid', reason: 'not_json' };
    const result = commandMessageSchema.safeParse(parsed.value);
    if (!result.success) {
      const rawId = isPlainObject(parsed.value) ? parsed.value.id : undefined;
      const id = commandIdSchema.safeParse(rawId).success ? (rawId as string) : undefined;
      if (id && this.seen.has(id)) return { kind: 'replay', id, ack: this.seen.get(id) };
      return id
        ? { kind: 'invalid', id, reason: 'invalid_command' }
        : { kind: 'invalid', reason: 'invalid_command' };
    }
    const command = result.data;
    if (this.seen.has(command.id)) return { kind: 'replay', id: command.id, ack: this.seen.get(command.id) };
    if (Date.parse(command.expiresAt) <= nowMs) return { kind: 'expired', id: command.id };
    return { kind: 'execute', command };
  }

  /** Marks an id as taken before its (slow) execution starts, so a replay arriving meanwhile is not run. */
  begin(id: string): void {
    this.remember(id, undefined);
  }

  /** Stores the answer given to an id; replays get it again. */
  finish(id: string, ack: CommandAck): void {
    this.remember(id, ack);
  }

  answerOf(id: string): CommandAck | undefined {
    return this.seen.get(id);
  }

  has(id: string): boolean {
    return this.seen.has(id);
  }

  private remember(id: string, ack: CommandAck | undefined): void {
    this.seen.delete(id);
    this.seen.set(id, ack);
    while (this.seen.size > this.capacity) this.seen.delete(this.seen.keys().next().value!);
  }
}

export interface LockState {
  locked: boolean;
  ignition: boolean;
  doorsClosed: boolean;
}

/** What the unit does with an action: the new lock state, or why it refuses. */
export function applyAction(
  state: LockState,
  action: CommandAction,
): { ok: true; locked: boolean } | { ok: false; reason: string } {
  if (action === 'unlock') return { ok: true, locked: false };
  // Central locking with the engine running would lock the driver in; units refuse.
  if (state.ignition) return { ok: false, reason: 'ignition_on' };
  if (!state.doorsClosed) return { ok: false, reason: 'doors_open' };
  return { ok: true, locked: true };
}

export const ack = (id: string, status: 'done' | 'rejected', nowMs: number, reason?: string): CommandAck => ({
  id,
  status,
  ...(reason ? { reason } : {}),
  ts: new Date(nowMs).toISOString(),
});
