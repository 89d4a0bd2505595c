import type { Logger } from 'pino';
import { type Clock, Ticker } from '../clock.ts';
import { hashUnit } from '../rng.ts';
import type { Counters } from '../stats.ts';
import type { Vehicle } from './obu.ts';
import { cardCredential } from './offline.ts';

const MIN = 60_000;
/** Booked from this long before the car's departure to this long after (simulated time). */
const BOOK_BEFORE_MS = 15 * MIN;
const BOOK_AFTER_MS = 60 * MIN;
/** How long the car waits at the ramp for the list with the new booking before it goes under. */
const LIST_WAIT_MS = 5_000;
/** A return right after arrival may meet the api before the car's parked report: tried again this often. */
const RETURN_TRIES = 10;
const RETURN_RETRY_MS = 200;
/** Share of departures where someone first taps a card that is not the booking's (refused). */
const WRONG_CARD_SHARE = 0.25;

/** A member's card id, deterministic from (seed, car, trip): the booking holds only its hash. */
export const memberCard = (seed: number, vehicleId: string, departsAt: number): string =>
  `SIM${Math.floor(hashUnit(seed, vehicleId, 'card', departsAt) * 1e12)
    .toString(36)
    .toUpperCase()}`;

/** Someone else's card, tapped by mistake (another member's, a bank card). */
export const strangerCard = (seed: number, vehicleId: string, departsAt: number): string =>
  `X${memberCard(seed, vehicleId, departsAt)}`;

interface Trip {
  card: string;
  bookingId: string;
  /** Simulated ms the car leaves. */
  departsAt: number;
  tapped: boolean;
}

export interface MembersDeps {
  apiUrl: string;
  token: string;
  fetch: typeof fetch;
  clock: Clock;
  seed: number;
  counters: Counters;
  log: Logger;
  /** Period of the members' check, in simulated seconds (the cars' telemetry period). */
  intervalS: number;
}

/**
 * The members who take the cars parked underground, as a cooperative's members do: when a car parks in an
 * underground car park, a member books its next departure through the operator (the booking carries the hash
 * of their card), and the platform sends the car its signed list while it is still in coverage. At departure
 * the member taps the card on the reader, with no network, and the car opens from its list; now and then
 * someone first taps a wrong card, which the car refuses. The taps go through the unit's reader (`tapCard`),
 * land in its log and go up when it drives out. Needs the operator token and auto trips (the departures).
 */
export function createMembers(deps: MembersDeps) {
  const log = deps.log.child({ component: 'members' });
  const trips = new Map<Vehicle, Trip>();
  /** Returns under way, which a new booking of the car waits for. */
  const returning = new Map<Vehicle, Promise<void>>();
  const toReal = (simMs: number) => deps.clock.now() + (simMs - deps.clock.sim()) / deps.clock.speedup;
  const api = (path: string, body?: unknown) =>
    deps.fetch(`${deps.apiUrl}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${deps.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  /**
   * The member is back with the car, parked and locked: the booking ends now (the api checks the car's own
   * report), so the car is free for the next member. A refusal for a report not in yet is tried again.
   */
  function giveBack(v: Vehicle, trip: Trip): Promise<void> {
    trips.delete(v);
    const p = tryReturn(v, trip).finally(() => returning.delete(v));
    returning.set(v, p);
    return p;
  }

  async function tryReturn(v: Vehicle, trip: Trip): Promise<void> {
    for (let i = 0; i < RETURN_TRIES; i++) {
      const r = await api(`/api/v1/bookings/${trip.bookingId}/return`);
      if (r.ok) return log.info({ vehicle: v.id, booking: trip.bookingId }, 'member returned the car');
      const code = ((await r.json().catch(() => ({}))) as { error?: { code?: string } }).error?.code;
      if (code !== 'vehicle_not_secured' && code !== 'vehicle_status_stale') {
        return log.info({ vehicle: v.id, booking: trip.bookingId, status: r.status, code }, 'no return');
      }
      await new Promise((ok) => setTimeout(ok, RETURN_RETRY_MS));
    }
    log.warn({ vehicle: v.id, booking: trip.bookingId }, 'return refused; the booking runs to its end');
  }

  /** Books the car's next departure for a member; resolves once the car holds it (or gave up waiting). */
  async function onParkedUnderground(v: Vehicle): Promise<void> {
    const departsAt = v.car.departsAt;
    const card = memberCard(deps.seed, v.spec.id, departsAt);
    try {
      // The member who drove it here first (their booking would overlap the next one).
      const last = trips.get(v);
      await (last ? giveBack(v, last) : returning.get(v));
      const r = await api('/api/v1/bookings', {
        vehicleId: v.id,
        memberId: `member-${card.toLowerCase()}`,
        start: new Date(toReal(departsAt - BOOK_BEFORE_MS)).toISOString(),
        end: new Date(toReal(departsAt + BOOK_AFTER_MS)).toISOString(),
        credential: cardCredential(card),
      });
      if (r.status !== 201) {
        log.info({ vehicle: v.id, status: r.status, body: await r.text() }, 'member could not book');
        return;
      }
      const { id } = (await r.json()) as { id: string };
      trips.set(v, { card, bookingId: id, departsAt, tapped: false });
      const end = Date.now() + LIST_WAIT_MS;
      while (!v.passes.holds(id) && Date.now() < end) await new Promise((ok) => setTimeout(ok, 50));
      log.info({ vehicle: v.id, booking: id, received: v.passes.holds(id) }, 'member booked underground car');
    } catch (e) {
      deps.counters.errors++;
      log.warn({ vehicle: v.id, err: (e as Error).message }, 'member booking failed');
    }
  }

  /**
   * At departure (up to three periods before it), the member taps; sometimes a wrong card first. Parked at
   * the end of the trip (a street station; underground, `onParkedUnderground` does it), the car is returned.
   */
  async function check(): Promise<void> {
    // Three periods ahead: the member is at the car before its departure, whatever the two tickers do.
    const lead = 3 * deps.intervalS * 1000;
    for (const [v, trip] of trips) {
      if (v.car.state.phase === 'driving') continue;
      // Parked again after the trip (a missed tap too: the booking may be running).
      if (v.car.departsAt !== trip.departsAt) {
        await giveBack(v, trip);
        continue;
      }
      if (trip.tapped || deps.clock.sim() < trip.departsAt - lead) continue;
      trip.tapped = true;
      if (hashUnit(deps.seed, v.spec.id, 'wrong-card', trip.departsAt) < WRONG_CARD_SHARE)
        await v.tapCard(strangerCard(deps.seed, v.spec.id, trip.departsAt));
      const d = await v.tapCard(trip.card);
      if (!d.open) log.warn({ vehicle: v.id, booking: trip.bookingId, reason: d.reason }, 'member refused');
    }
  }

  const ticker = new Ticker(
    () => (deps.intervalS * 1000) / deps.clock.speedup,
    check,
    (e) => {
      deps.counters.errors++;
      log.warn({ err: e }, 'members check failed');
    },
  );

  return {
    onParkedUnderground,
    check,
    /** The trip a member booked on this car, if any (tests, logs). */
    trip: (v: Vehicle) => trips.get(v),
    start: () => ticker.start((deps.intervalS * 1000) / deps.clock.speedup),
    stop: () => ticker.stop(),
  };
}

export type Members = ReturnType<typeof createMembers>;
