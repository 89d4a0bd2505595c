import type { Booking, Store } from '@citytel/store';
import type { FastifyBaseLogger as Logger } from 'fastify';
import { Counter } from '../prom.ts';
import type { CarsharingSettings } from './config.ts';
import type { Fleet } from './fleet.ts';
import { lockRefusal } from './safety.ts';
import type { CommandTracker } from './tracker.ts';

/** Who asks, in the audit trail: not an operator id (those cannot hold a colon), so never one's key space. */
export const AUTO_LOCK_REQUESTER = 'platform:auto-lock';
/** A booking that ended longer ago than this is not looked at again: its car was dealt with or is offline. */
const LOOKBACK_MS = 24 * 3600_000;
const MAX_BOOKINGS = 5000;

export interface AutoLockDeps {
  store: Pick<Store, 'bookings' | 'commands' | 'devices'>;
  fleet: Pick<Fleet, 'get'>;
  tracker: Pick<CommandTracker, 'send' | 'connected'>;
  settings: Pick<
    CarsharingSettings,
    | 'AUTO_LOCK_AFTER_S'
    | 'AUTO_LOCK_SWEEP_MS'
    | 'BOOKING_GRACE_S'
    | 'COMMAND_TTL_S'
    | 'LOCK_REFUSE_MOVING'
    | 'LOCK_REFUSE_IGNITION'
    | 'MOVING_SPEED_KMH'
  >;
  log: Logger;
}

/**
 * Locks a car its member left unlocked: AUTO_LOCK_AFTER_S after its latest booking ended (returned or by its
 * time), a car that reports itself online, unlocked, parked and with the ignition off, and that nobody has
 * booked from now to the grace period ahead, gets a `lock` from the platform, in the audit trail as asked by
 * `platform:auto-lock` for that booking.
 *
 * Every api instance runs the job; the command is stored under the idempotency key `auto-lock:{booking}`
 * of that requester, whose unique constraint lets exactly one instance create it (a conditional insert):
 * the others find it exists and send nothing. One lock per booking: if the car refuses it or does not
 * answer, the operator sees that in the trail and acts (the job does not hammer a faulty unit).
 */
export function createAutoLock(deps: AutoLockDeps) {
  const { store, fleet, settings } = deps;
  const log = deps.log.child({ component: 'auto-lock' });
  const fired = new Counter(
    'citytel_api_auto_locks_total',
    'Locks the platform sent to cars left unlocked after their booking, by this api instance',
  );
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;

  /** The car of `b`, if it is to be locked now. */
  async function due(b: Booking, now: Date): Promise<boolean> {
    const live = fleet.get(b.vehicleId);
    if (!live?.online || live.locked !== false) return false;
    if (lockRefusal(live, settings)) return false;
    if (live.ignition === undefined && live.numbers.speed_kmh === undefined) return false;
    // Someone has the car now, or is about to open it.
    const next = await store.bookings.list({
      vehicleId: b.vehicleId,
      from: now,
      to: new Date(now.getTime() + settings.BOOKING_GRACE_S * 1000),
      limit: 1,
    });
    return next.length === 0;
  }

  async function lock(b: Booking, now: Date): Promise<boolean> {
    const device = await store.devices.get(b.vehicleId);
    if (device?.kind !== 'vehicle') return false;
    const { command, created } = await store.commands.create({
      vehicleId: b.vehicleId,
      operatorId: device.operatorId ?? b.operatorId,
      requestedBy: AUTO_LOCK_REQUESTER,
      memberId: null,
      bookingId: b.id,
      action: 'lock',
      issuedAt: now,
      expiresAt: new Date(now.getTime() + settings.COMMAND_TTL_S * 1000),
      idempotencyKey: `auto-lock:${b.id}`,
      requestHash: 'auto-lock',
    });
    if (!created) return false;
    log.info(
      { command: command.id, vehicle: b.vehicleId, booking: b.id, endedAt: b.end.toISOString() },
      'car left unlocked after its booking: locking it',
    );
    fired.inc({});
    await deps.tracker.send(command);
    return true;
  }

  /**
   * The odometer at the end of each booking that recorded one at its unlock, from the car's first report
   * after the end (a return records it at once): the kilometres the operators settle.
   */
  async function recordEndOdometers(now: Date): Promise<void> {
    const ended = await store.bookings.list({
      endedFrom: new Date(now.getTime() - LOOKBACK_MS),
      endedTo: now,
      limit: MAX_BOOKINGS,
    });
    for (const b of ended) {
      if (b.odometerStartKm === null || b.odometerEndKm !== null) continue;
      const live = fleet.get(b.vehicleId);
      const km = live?.numbers.odometer_km;
      if (km === undefined || !live?.telemetryAt || live.telemetryAt < b.end) continue;
      await store.bookings.setOdometerEnd(b.id, km);
    }
  }

  /** One pass; resolves with the number of locks this instance sent. */
  async function run(now = new Date()): Promise<number> {
    await recordEndOdometers(now).catch((err) => log.warn({ err }, 'could not record end odometers'));
    if (settings.AUTO_LOCK_AFTER_S === 0 || !deps.tracker.connected) return 0;
    const ended = await store.bookings.list({
      endedFrom: new Date(now.getTime() - LOOKBACK_MS),
      endedTo: new Date(now.getTime() - settings.AUTO_LOCK_AFTER_S * 1000),
      limit: MAX_BOOKINGS,
    });
    // The latest ended booking of each car is the one that left it so.
    const latest = new Map<string, Booking>();
    for (const b of ended) {
      const seen = latest.get(b.vehicleId);
      if (!seen || b.end > seen.end) latest.set(b.vehicleId, b);
    }
    let sent = 0;
    for (const b of latest.values()) {
      try {
        if ((await due(b, now)) && (await lock(b, now))) sent++;
      } catch (err) {
        log.warn(
          { err, vehicle: b.vehicleId, booking: b.id },
          'auto-lock failed for one car; next pass retries',
        );
      }
    }
    return sent;
  }

  return {
    fired,
    run,
    start(): void {
      timer = setInterval(() => {
        running ??= run()
          .catch((err) => {
            log.warn({ err }, 'auto-lock pass failed; retried at the next one');
            return 0;
          })
          .finally(() => {
            running = undefined;
          });
      }, settings.AUTO_LOCK_SWEEP_MS);
      timer.unref();
    },
    async stop(): Promise<void> {
      clearInterval(timer);
      await running;
    },
  };
}

export type AutoLock = ReturnType<typeof createAutoLock>;
