import { generateKeyPairSync, sign } from 'node:crypto';
import type { BookingList } from '@citytel/contract';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../clock.ts';
import { hashUnit } from '../rng.ts';
import { createCounters } from '../stats.ts';
import { createMembers, memberCard, strangerCard } from './members.ts';
import type { Vehicle } from './obu.ts';
import { cardCredential, OfflineBook } from './offline.ts';

const T0 = Date.parse('2026-11-24T09:00:00Z');
const MIN = 60_000;
const { privateKey, publicKey } = generateKeyPairSync('ed25519');

/** A unit with a real reader and booking list, parked underground, leaving at `departsAt`. */
function fakeCar(id: string, departsAt: number) {
  const passes = new OfflineBook(id);
  passes.trust(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  let clockMs = T0;
  const v = {
    id,
    spec: { id },
    passes,
    car: { departsAt, state: { phase: 'parked' as 'parked' | 'driving', locked: true } },
    setClock: (ms: number) => {
      clockMs = ms;
    },
    async tapCard(card: string) {
      const d = passes.tap(cardCredential(card), clockMs);
      if (d.open) v.car.state.locked = false;
      return d;
    },
  };
  return v;
}

/** The platform's half: the list it signs for the car with the bookings made. */
function signedList(vehicleId: string, passes: BookingList['passes']): string {
  const list: BookingList = {
    vehicleId,
    seq: T0,
    issuedAt: new Date(T0).toISOString(),
    until: new Date(T0 + 24 * 60 * MIN).toISOString(),
    graceS: 0,
    passes,
    cancelled: [],
  };
  const body = Buffer.from(JSON.stringify(list));
  return JSON.stringify({
    body: body.toString('base64url'),
    sig: sign(null, body, privateKey).toString('base64url'),
  });
}

function setup(vehicleId: string, departsAt: number, seed = 42) {
  const v = fakeCar(vehicleId, departsAt);
  const posted: Array<Record<string, string>> = [];
  let sim = T0;
  const clock: Clock = { now: () => sim, sim: () => sim, speedup: 1 };
  const returns: string[] = [];
  let secured = 1;
  const fakeFetch = (async (url: string, init: RequestInit) => {
    if (url.endsWith('/return')) {
      returns.push(url);
      // The api has not seen the parked report yet the first time.
      return secured-- > 0
        ? new Response(JSON.stringify({ error: { code: 'vehicle_not_secured', message: 'x' } }), {
            status: 409,
          })
        : new Response('{}', { status: 200 });
    }
    const b = JSON.parse(String(init.body));
    posted.push(b);
    // The api sends the car its list right after the booking is made.
    setTimeout(() => v.passes.accept(signedList(vehicleId, [{ bookingId: 'b1', ...b }])), 10);
    return new Response(JSON.stringify({ id: 'b1' }), { status: 201 });
  }) as unknown as typeof fetch;
  const members = createMembers({
    apiUrl: 'http://api',
    token: 't',
    fetch: fakeFetch,
    clock,
    seed,
    counters: createCounters(),
    log: pino({ level: 'silent' }),
    intervalS: 10,
  });
  return {
    v,
    posted,
    returns,
    members,
    at: (ms: number) => {
      sim = ms;
      v.setClock(ms);
    },
  };
}

describe('members', () => {
  it('give each trip its own card, the same for the same seed', () => {
    expect(memberCard(42, 'sim-car-1', T0)).toBe(memberCard(42, 'sim-car-1', T0));
    expect(memberCard(42, 'sim-car-1', T0)).not.toBe(memberCard(42, 'sim-car-1', T0 + 1));
    expect(memberCard(42, 'sim-car-1', T0)).not.toBe(memberCard(43, 'sim-car-1', T0));
    expect(strangerCard(42, 'sim-car-1', T0)).not.toBe(memberCard(42, 'sim-car-1', T0));
  });

  it('book the departure of a car parked underground with the hash of the card they will tap', async () => {
    const departsAt = T0 + 40 * MIN;
    const { v, posted, returns, members, at } = setup('sim-car-1', departsAt);
    await members.onParkedUnderground(v as unknown as Vehicle);
    const card = memberCard(42, 'sim-car-1', departsAt);
    expect(posted).toEqual([
      {
        vehicleId: 'sim-car-1',
        memberId: `member-${card.toLowerCase()}`,
        start: new Date(departsAt - 15 * MIN).toISOString(),
        end: new Date(departsAt + 60 * MIN).toISOString(),
        credential: cardCredential(card),
      },
    ]);
    expect(v.passes.holds('b1')).toBe(true);

    // Before the departure nobody taps.
    at(departsAt - 30 * MIN);
    await members.check();
    expect(v.passes.pending).toEqual([]);
    // At the departure the member's card opens the car, with no network.
    at(departsAt - 5_000);
    await members.check();
    expect(v.car.state.locked).toBe(false);
    expect(v.passes.pending.at(-1)).toMatchObject({ event: 'opened', bookingId: 'b1' });
    expect(members.trip(v as unknown as Vehicle)?.tapped).toBe(true);
    await members.check();
    expect(v.passes.pending.filter((e) => e.event === 'opened')).toHaveLength(1);

    // The trip: nothing while driving; parked at its end, the member returns the car (again once the
    // api has its parked report).
    v.car.state.phase = 'driving';
    await members.check();
    expect(returns).toEqual([]);
    Object.assign(v.car, { departsAt: departsAt + 3 * 60 * MIN });
    v.car.state.phase = 'parked';
    await members.check();
    expect(returns).toEqual(['http://api/api/v1/bookings/b1/return', 'http://api/api/v1/bookings/b1/return']);
    expect(members.trip(v as unknown as Vehicle)).toBeUndefined();
  });

  it('sometimes tap a wrong card first, which the car refuses', async () => {
    // A departure whose hash picks a wrong card first.
    let departsAt = T0 + 30 * MIN;
    while (hashUnit(42, 'sim-car-2', 'wrong-card', departsAt) >= 0.25) departsAt += 1000;
    const { v, members, at } = setup('sim-car-2', departsAt);
    await members.onParkedUnderground(v as unknown as Vehicle);
    at(departsAt);
    await members.check();
    expect(v.passes.pending.map((e) => [e.event, e.reason, e.bookingId])).toEqual([
      ['refused', 'unknown_credential', undefined],
      ['opened', undefined, 'b1'],
    ]);
  });
});
