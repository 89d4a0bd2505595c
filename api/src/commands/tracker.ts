import {
  type CommandMessage,
  type CommandState,
  commandAckSchema,
  FINAL_COMMAND_STATES,
  parseJson,
  parseTopic,
  topics,
  unstamp,
} from '@citytel/contract';
import { type Command, NO_ANSWER, type Store } from '@citytel/store';
import type { FastifyBaseLogger as Logger } from 'fastify';
import { Counter } from '../prom.ts';
import type { CommandSignal } from './signal.ts';

/** The MQTT the tracker needs: the api's shared connection (mqtt.ts ApiMqtt) fits. */
export interface TrackerMqtt {
  readonly connected: boolean;
  publish(topic: string, payload: string, opts?: { qos?: 0 | 1; retain?: boolean }): Promise<void>;
  subscribe(
    filter: string,
    handler: (topic: string, payload: Buffer) => void,
    opts?: { qos?: 0 | 1 },
  ): () => void;
}

export const ACK_SUBSCRIPTION = 'vehicles/+/commands/ack';
const OPEN: readonly CommandState[] = ['pending', 'sent'];
export const isFinal = (s: CommandState): boolean => FINAL_COMMAND_STATES.includes(s);

/** What became of one ack. */
export type AckOutcome = 'applied' | 'unknown' | 'finished' | 'invalid';

export interface TrackerOptions {
  store: Pick<Store, 'commands'>;
  mqtt: TrackerMqtt | undefined;
  log: Logger;
  /** How often the store is swept for commands past their expiry. */
  sweepMs: number;
  /**
   * How long past expiresAt an answer is still awaited. A unit checks expiresAt when the command arrives,
   * then takes up to a second to drive the locks: a command received just in time is answered just
   * after. Expiring at the exact instant would record `expired` for a car that did open.
   */
  ackGraceMs: number;
  /**
   * How often a waiting request re-reads its command (default 1 s): the news of its end may reach another
   * api instance only (this one's connection was down when the ack came, or it is not the one sweeping).
   */
  waitPollMs?: number;
  /**
   * Cluster mode: every end state this instance records is announced, and an announcement from any
   * instance wakes the requests waiting here on that command at once (signal.ts says why Redis).
   */
  signal?: CommandSignal | undefined;
  /** Called once for each command this instance moved to an end state (after it is stored). */
  onFinished?: ((c: Command) => void) | undefined;
}

/**
 * Follows commands from `pending` to an end state (CONTRACT §3). Every move is a compare-and-set in the
 * store (`CommandRepo.transition`), so any number of api instances may run it side by side:
 *
 * - each instance subscribes to every car's acks (a plain subscription: all of them get each ack); the
 *   first to apply it wins, the others find the command finished and only wake their own waiting requests;
 * - each instance sweeps the store for commands past their expiry, so one that was sent by an instance
 *   that died still ends; a local timer per command it sent makes the common case exact;
 * - a `?wait=` request is woken by its own instance, by the command signal when another instance ended the
 *   command (cluster mode), and also re-reads the store every second and when its wait ends, so it answers
 *   the true state even when only another instance heard the news and the signal was lost.
 *
 * The constructor does nothing; `start()` subscribes and starts the sweep, `stop()` undoes both.
 */
export class CommandTracker {
  readonly finished = new Counter(
    'citytel_api_commands_finished_total',
    'Commands this api instance moved to an end state, by action and state',
  );
  readonly ignoredAcks = new Counter(
    'citytel_api_command_acks_ignored_total',
    'Acks ignored, by reason: unknown (no such command for that car), finished (already ended: a replay, ' +
      'a late answer, or another api instance applied it first), invalid (unreadable)',
  );
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();
  private readonly waiters = new Map<string, Set<(c: Command | undefined) => void>>();
  private readonly log: Logger;
  private unsubscribe: (() => void) | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly opts: TrackerOptions) {
    this.log = opts.log.child({ component: 'commands' });
  }

  /** Whether commands can be published now. */
  get connected(): boolean {
    return this.opts.mqtt?.connected === true;
  }

  /** Resolves once the command signal listens (at once without one). */
  start(): Promise<void> {
    this.unsubscribe = this.opts.mqtt?.subscribe(ACK_SUBSCRIPTION, (t, p) => this.onAck(t, p), { qos: 1 });
    this.sweepTimer = setInterval(() => void this.sweep(), this.opts.sweepMs);
    this.sweepTimer.unref();
    return this.opts.signal?.start((id) => this.onSignal(id)) ?? Promise.resolve();
  }

  /** Stops listening and sweeping; requests still waiting answer with what the store says now. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearInterval(this.sweepTimer);
    for (const t of this.expiryTimers.values()) clearTimeout(t);
    this.expiryTimers.clear();
    for (const set of this.waiters.values()) for (const wake of set) wake(undefined);
    await this.sweeping;
    await this.opts.signal?.stop();
  }

  /**
   * Publishes a pending command at QoS 1 and records `sent` once the broker has it. With no broker
   * connection it is `failed` at once. When the broker does not acknowledge in time the message may still
   * reach the car (the client retries it), so the command stays `pending` and its expiry decides.
   */
  async send(c: Command): Promise<Command> {
    const mqtt = this.opts.mqtt;
    if (!mqtt?.connected) return this.fail(c, 'mqtt_unavailable');
    this.armExpiry(c);
    const message: CommandMessage = {
      id: c.id,
      action: c.action,
      bookingId: c.bookingId,
      issuedAt: c.issuedAt.toISOString(),
      expiresAt: c.expiresAt.toISOString(),
    };
    try {
      await mqtt.publish(topics.vehicleCommands(c.vehicleId), JSON.stringify(message), { qos: 1 });
    } catch (err) {
      this.log.warn(
        { command: c.id, vehicle: c.vehicleId, err: (err as Error).message },
        'the broker did not acknowledge a command; it stays pending until an answer or its expiry',
      );
      return (await this.opts.store.commands.get(c.id)) ?? c;
    }
    const sent = await this.opts.store.commands.transition(c.id, ['pending'], 'sent', new Date());
    // Undefined when the car's answer was applied before the broker's PUBACK was: the store has the truth.
    return sent ?? (await this.opts.store.commands.get(c.id)) ?? c;
  }

  /** `pending` → `failed` with a reason: the command was never published. */
  async fail(c: Command, reason: string): Promise<Command> {
    const failed = await this.opts.store.commands.transition(c.id, ['pending'], 'failed', new Date(), reason);
    if (failed) this.settled(failed);
    return failed ?? (await this.opts.store.commands.get(c.id)) ?? c;
  }

  /** The command once it is in an end state, or as the store has it when `ms` runs out. */
  async waitEnd(c: Command, ms: number): Promise<Command> {
    if (isFinal(c.state) || ms <= 0) return c;
    const ended = await new Promise<Command | undefined>((resolve) => {
      let set = this.waiters.get(c.id);
      if (!set) {
        set = new Set();
        this.waiters.set(c.id, set);
      }
      const own = set;
      const wake = (final: Command | undefined) => {
        clearTimeout(timer);
        clearInterval(poll);
        own.delete(wake);
        if (own.size === 0 && this.waiters.get(c.id) === own) this.waiters.delete(c.id);
        resolve(final);
      };
      const look = () =>
        void this.opts.store.commands.get(c.id).then(
          (now) => now && isFinal(now.state) && wake(now),
          () => undefined,
        );
      const timer = setTimeout(() => wake(undefined), ms);
      const poll = setInterval(look, this.opts.waitPollMs ?? 1000);
      own.add(wake);
      // The answer may have landed between the caller's read and this waiter.
      look();
    });
    return ended ?? (await this.opts.store.commands.get(c.id)) ?? c;
  }

  /**
   * Cancels the open commands of bookings cancelled, returned or ended by now (CONTRACT §3), whoever sent
   * them; the routes that cancel or return a booking call it at once, the sweep catches the rest.
   */
  async cancelEnded(now = new Date()): Promise<Command[]> {
    const cancelled = await this.opts.store.commands.cancelForEndedBookings(now);
    for (const c of cancelled) this.settled(c);
    if (cancelled.length)
      this.log.info(
        { commands: cancelled.map((c) => ({ id: c.id, booking: c.bookingId, reason: c.reason })) },
        'commands cancelled with their booking',
      );
    return cancelled;
  }

  /** One sweep: cancels the commands of ended bookings, expires what is past expiresAt plus the grace. */
  sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        await this.cancelEnded();
        const expired = await this.opts.store.commands.expireDue(new Date(Date.now() - this.opts.ackGraceMs));
        for (const c of expired) this.settled(c);
        if (expired.length) this.log.info({ commands: expired.map((c) => c.id) }, 'commands expired');
      } catch (err) {
        this.log.warn({ err }, 'command expiry sweep failed; retried at the next one');
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  /** Another instance (or this one) announced an end of `id`: the store says which, for who waits here. */
  private onSignal(id: string): void {
    if (!this.waiters.has(id)) return;
    this.opts.store.commands.get(id).then(
      (c) => c && this.wake(c),
      (err) => this.log.debug({ err, command: id }, 'could not re-read a signalled command'),
    );
  }

  private onAck(topic: string, payload: Buffer): void {
    const t = parseTopic(topic);
    if (t?.kind !== 'vehicle-ack') return;
    this.applyAck(t.owner, payload).catch((err) =>
      this.log.error({ err, vehicle: t.owner }, 'could not apply a command ack'),
    );
  }

  /** Applies one ack from `vehicleId`; exposed for tests that feed acks without a car. */
  async applyAck(vehicleId: string, payload: Buffer): Promise<AckOutcome> {
    const json = parseJson(unstamp(payload).payload.toString());
    const ack = json.ok ? commandAckSchema.safeParse(json.value) : undefined;
    if (!ack?.success) return this.ignore('invalid', vehicleId);
    const { id, status, reason } = ack.data;
    // A unit may only answer for itself: the move is conditional on the car too.
    const moved = await this.opts.store.commands.transition(id, OPEN, status, new Date(), reason ?? null, {
      vehicleId,
    });
    if (moved) {
      this.settled(moved);
      this.log.info({ command: id, vehicle: vehicleId, state: status, reason }, 'command answered');
      return 'applied';
    }
    const known = await this.opts.store.commands.get(id);
    // An id of another car's command is as good as unknown.
    if (!known || known.vehicleId !== vehicleId) return this.ignore('unknown', vehicleId, id);
    if (known.state === 'cancelled' && status === 'done') {
      // The car already held it (an offline car's session) and carried it out before its expiresAt: the
      // audit trail must say the car did act, so the car's word replaces the cancellation.
      const late = await this.opts.store.commands.transition(
        id,
        ['cancelled'],
        'done',
        new Date(),
        'carried_out_after_cancel',
        { vehicleId },
      );
      if (late) {
        this.settled(late);
        this.log.warn({ command: id, vehicle: vehicleId }, 'a cancelled command was carried out by the car');
        return 'applied';
      }
    }
    this.wake(known);
    return this.ignore('finished', vehicleId, id);
  }

  private ignore(reason: Exclude<AckOutcome, 'applied'>, vehicle: string, command?: string): AckOutcome {
    this.ignoredAcks.inc({ reason });
    this.log.debug({ vehicle, command, reason }, 'command ack ignored');
    return reason;
  }

  private armExpiry(c: Command): void {
    const due = c.expiresAt.getTime() + this.opts.ackGraceMs - Date.now();
    const timer = setTimeout(
      () => {
        this.expiryTimers.delete(c.id);
        void this.expire(c);
      },
      Math.max(0, due),
    );
    timer.unref();
    this.expiryTimers.set(c.id, timer);
  }

  private async expire(c: Command): Promise<void> {
    try {
      const expired = await this.opts.store.commands.transition(
        c.id,
        OPEN,
        'expired',
        c.expiresAt,
        NO_ANSWER,
      );
      if (expired) this.settled(expired);
      else {
        const now = await this.opts.store.commands.get(c.id);
        if (now) this.wake(now);
      }
    } catch (err) {
      this.log.warn({ err, command: c.id }, 'could not expire a command; the sweep will');
    }
  }

  /** This instance moved the command: count it, drop its timer, wake whoever waits on it. */
  private settled(c: Command): void {
    if (!isFinal(c.state)) return;
    clearTimeout(this.expiryTimers.get(c.id));
    this.expiryTimers.delete(c.id);
    this.finished.inc({ action: c.action, state: c.state });
    this.opts.onFinished?.(c);
    this.wake(c);
    this.opts.signal?.publish(c);
  }

  private wake(c: Command): void {
    if (!isFinal(c.state)) return;
    for (const wake of this.waiters.get(c.id) ?? []) wake(c);
  }
}
