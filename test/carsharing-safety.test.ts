import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vehicle } from '../firmware-sim/src/vehicles/obu.ts';
import { type CarsharingStack, startCarsharingStack, waitFor } from './helpers/carsharing-stack.ts';

/**
 * Commands against bookings and safe commands (CONTRACT §3), end to end over TCP with the simulator's cars:
 * a command never outlives its booking plus COMMAND_END_GRACE_S, cancelling or ending a booking cancels its
 * open commands (audited), a lock is refused while the car moves or runs its engine, a return ends a
 * booking only on a recent report of a locked car with its doors closed, and a car left unlocked after
 * its booking is locked by the platform, once.
 */

const END_GRACE_S = 2;
const AUTO_LOCK_AFTER_S = 1;
const MIN = 60_000;

let stack: CarsharingStack;
let cars: Vehicle[];
let key = 0;
const nextKey = () => `safety-key-${++key}`;

async function book(vehicleId: string, fromMs: number, toMs: number, memberId = 'member-1') {
  const now = Date.now();
  const r = await stack.http('POST', '/api/v1/bookings', {
    token: stack.operator.token,
    body: {
      vehicleId,
      memberId,
      start: new Date(now + fromMs).toISOString(),
      end: new Date(now + toMs).toISOString(),
    },
  });
  expect(r.status).toBe(201);
  return r.body;
}

async function command(vehicleId: string, body: Record<string, unknown>, wait = 10) {
  return stack.http('POST', `/api/v1/vehicles/${vehicleId}/commands?wait=${wait}`, {
    token: stack.operator.token,
    body,
    headers: { 'idempotency-key': nextKey() },
  });
}

const getCommand = async (id: string) =>
  (await stack.http('GET', `/api/v1/commands/${id}`, { token: stack.operator.token })).body;

/** The api's view of a car, as its operator sees it. */
async function fleetCar(id: string) {
  const r = await stack.http('GET', '/api/v1/vehicles', { token: stack.operator.token });
  return r.body.vehicles.find((v: { id: string }) => v.id === id);
}

/** Waits until the api has seen the car's own latest state. */
const seen = (id: string, what: string, fn: (v: Record<string, unknown>) => boolean) =>
  waitFor(what, async () => {
    const v = await fleetCar(id);
    return v && fn(v) ? v : undefined;
  });

beforeAll(async () => {
  stack = await startCarsharingStack({
    vehicles: 5,
    seed: 42,
    env: {
      COMMAND_TTL_S: '5',
      COMMAND_END_GRACE_S: String(END_GRACE_S),
      BOOKING_GRACE_S: '60',
      COMMAND_SWEEP_MS: '200',
      COMMAND_ACK_GRACE_MS: '300',
      RETURN_STATUS_MAX_AGE_S: '60',
      AUTO_LOCK_AFTER_S: String(AUTO_LOCK_AFTER_S),
      AUTO_LOCK_SWEEP_MS: '200',
    },
  });
  cars = stack.sim.vehicles.filter((v) => v.car.state.phase === 'parked');
  expect(cars.length).toBeGreaterThanOrEqual(4);
  await waitFor('every car online in the api', async () => {
    const r = await stack.http('GET', '/api/v1/vehicles', { token: stack.operator.token });
    return r.body.vehicles.filter((v: { online: boolean }) => v.online).length === 5;
  });
});

afterAll(async () => {
  await stack?.close();
});

describe('commands and their booking', () => {
  it('refuses an unlock after the booking has ended', async () => {
    const car = cars[0]!;
    const ended = await stack.store.bookings.create({
      operatorId: stack.operator.id,
      vehicleId: car.id,
      memberId: 'late-larry',
      start: new Date(Date.now() - 90 * MIN),
      end: new Date(Date.now() - 30 * MIN),
    });
    const r = await command(car.id, { action: 'unlock', bookingId: ended.id });
    expect([r.status, r.body.error.code]).toEqual([409, 'booking_not_active']);
    const trail = await stack.http('GET', `/api/v1/commands?bookingId=${ended.id}`, {
      token: stack.operator.token,
    });
    expect(trail.body.commands).toEqual([]);
  });

  it("caps expiresAt at the booking's end plus COMMAND_END_GRACE_S", async () => {
    const car = cars[0]!;
    const b = await book(car.id, -MIN, 20 * MIN, 'capped-cleo');
    const r = await command(car.id, { action: 'unlock', bookingId: b.id, ttlS: 3600 });
    expect(r.status).toBe(202);
    expect(Date.parse(r.body.expiresAt)).toBe(Date.parse(b.end) + END_GRACE_S * 1000);
    await stack.http('DELETE', `/api/v1/bookings/${b.id}`, { token: stack.operator.token });
  });

  it('cancelling a booking cancels its pending unlock, in the audit trail', async () => {
    const car = cars[1]!;
    const b = await book(car.id, -MIN, 30 * MIN, 'cancel-carla');
    car.setSilent(true);
    let id: string;
    try {
      const r = await command(car.id, { action: 'unlock', bookingId: b.id, ttlS: 60 }, 0);
      expect([r.status, r.body.state]).toEqual([202, 'sent']);
      id = r.body.id;
      const del = await stack.http('DELETE', `/api/v1/bookings/${b.id}`, { token: stack.operator.token });
      expect(del.body.status).toBe('cancelled');
      const c = await getCommand(id);
      expect([c.state, c.reason]).toEqual(['cancelled', 'booking_cancelled']);
      expect(c.history.map((h: { state: string }) => h.state)).toEqual(['pending', 'sent', 'cancelled']);
      expect(c.history[2].at).toBe(del.body.cancelledAt);
    } finally {
      car.setSilent(false);
    }
    expect(car.locked).toBe(true);
  });

  it('the end of a booking cancels its commands still open', async () => {
    const car = cars[1]!;
    const b = await book(car.id, -MIN, 1500, 'end-emil');
    car.setSilent(true);
    try {
      const r = await command(car.id, { action: 'unlock', bookingId: b.id, ttlS: 60 }, 0);
      expect(r.body.state).toBe('sent');
      const c = await waitFor('command cancelled at the end', async () => {
        const now = await getCommand(r.body.id);
        return now.state !== 'sent' ? now : undefined;
      });
      expect([c.state, c.reason]).toEqual(['cancelled', 'booking_ended']);
      expect(c.history.at(-1).at).toBe(b.end);
    } finally {
      car.setSilent(false);
    }
  });
});

describe('safe commands', () => {
  it('refuses a lock while the car moves (vehicle_moving) or runs its engine (ignition_on)', async () => {
    const car = cars[2]!;
    const b = await book(car.id, -MIN, 30 * MIN, 'moving-mo');
    const s = car.car.state;
    try {
      Object.assign(s, { speedKmh: 32.5, ignition: true, locked: false });
      await car.publishTelemetry();
      await seen(car.id, 'the car moving', (v) => v.speedKmh === 32.5);
      const moving = await command(car.id, { action: 'lock', bookingId: b.id });
      expect([moving.status, moving.body.error.code]).toEqual([409, 'vehicle_moving']);
      expect(moving.body.error.message).toContain('32.5 km/h');

      Object.assign(s, { speedKmh: 0 });
      await car.publishTelemetry();
      await seen(car.id, 'the car stopped, engine on', (v) => v.speedKmh === 0 && v.ignition === true);
      const idling = await command(car.id, { action: 'lock', bookingId: b.id });
      expect([idling.status, idling.body.error.code]).toEqual([409, 'ignition_on']);
      // Nothing stored for the refused requests.
      const trail = await stack.http('GET', `/api/v1/commands?bookingId=${b.id}`, {
        token: stack.operator.token,
      });
      expect(trail.body.commands).toEqual([]);

      Object.assign(s, { ignition: false });
      await car.publishTelemetry();
      await seen(car.id, 'the engine off', (v) => v.ignition === false);
      const parked = await command(car.id, { action: 'lock', bookingId: b.id });
      expect([parked.status, parked.body.state]).toEqual([202, 'done']);
    } finally {
      Object.assign(s, { speedKmh: 0, ignition: false });
      await stack.http('DELETE', `/api/v1/bookings/${b.id}`, { token: stack.operator.token });
    }
  });

  it('a return is refused while the car reports a door open or is unlocked, and ends the booking once secured', async () => {
    const car = cars[3]!;
    const b = await book(car.id, -MIN, 60 * MIN, 'return-rita');
    const unlock = await command(car.id, { action: 'unlock', bookingId: b.id });
    expect(unlock.body.state).toBe('done');
    await seen(car.id, 'the car unlocked', (v) => v.locked === false);
    const ret = () => stack.http('POST', `/api/v1/bookings/${b.id}/return`, { token: stack.operator.token });

    const unlocked = await ret();
    expect([unlocked.status, unlocked.body.error.code]).toEqual([409, 'vehicle_not_secured']);
    expect(unlocked.body.error.message).toContain('not locked');

    const lock = await command(car.id, { action: 'lock', bookingId: b.id });
    expect(lock.body.state).toBe('done');
    await car.setDoorsClosed(false);
    await seen(car.id, 'a door open', (v) => v.locked === true && v.doorsClosed === false);
    const doorOpen = await ret();
    expect([doorOpen.status, doorOpen.body.error.code]).toEqual([409, 'vehicle_not_secured']);
    expect(doorOpen.body.error.message).toContain('doors open');
    expect(
      (await stack.http('GET', `/api/v1/bookings/${b.id}`, { token: stack.operator.token })).body,
    ).toMatchObject({
      status: 'active',
      end: b.end,
      returnedAt: null,
    });

    await car.setDoorsClosed(true);
    await seen(car.id, 'doors closed', (v) => v.doorsClosed === true);
    const t0 = Date.now();
    const ok = await ret();
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe('ended');
    expect(ok.body.returnedAt).toBe(ok.body.end);
    expect(Date.parse(ok.body.end)).toBeGreaterThanOrEqual(t0 - 1000);
    expect(Date.parse(ok.body.end)).toBeLessThan(Date.parse(b.end));
    // Ended: no more unlock, and the car is free for the next member at once.
    const after = await command(car.id, { action: 'unlock', bookingId: b.id });
    expect(after.body.error.code).toBe('booking_not_active');
    const again = await ret();
    expect([again.status, again.body.error.code]).toEqual([409, 'booking_not_active']);
    await book(car.id, 1000, 30 * MIN, 'next-nina').then((n) =>
      stack.http('DELETE', `/api/v1/bookings/${n.id}`, { token: stack.operator.token }),
    );
  });

  it('a return is refused on a stale report', async () => {
    const car = cars[2]!;
    const b = await book(car.id, -MIN, 60 * MIN, 'stale-sam');
    car.goOffline();
    try {
      await seen(car.id, 'the car offline', (v) => v.online === false);
      const r = await stack.http('POST', `/api/v1/bookings/${b.id}/return`, { token: stack.operator.token });
      expect([r.status, r.body.error.code]).toEqual([409, 'vehicle_status_stale']);
    } finally {
      car.comeBack();
      await seen(car.id, 'the car back', (v) => v.online === true);
      await stack.http('DELETE', `/api/v1/bookings/${b.id}`, { token: stack.operator.token });
    }
  });

  it('a car left unlocked after its booking is locked by the platform, once, in the audit trail', async () => {
    const car = cars[0]!;
    const b = await book(car.id, -MIN, 2500, 'forgetful-fred');
    const unlock = await command(car.id, { action: 'unlock', bookingId: b.id });
    expect(unlock.body.state).toBe('done');
    expect(car.locked).toBe(false);
    const trailOf = async () =>
      (await stack.http('GET', `/api/v1/commands?bookingId=${b.id}`, { token: stack.operator.token })).body
        .commands as Array<{ requestedBy: string; action: string; state: string; issuedAt: string }>;
    // Passes racing each other (as several api instances do) and the api's own timer: one lock only.
    await new Promise((r) => setTimeout(r, Date.parse(b.end) + AUTO_LOCK_AFTER_S * 1000 - Date.now() + 50));
    const sent = await Promise.all([1, 2, 3].map(() => stack.app.carsharing.autoLock.run()));
    expect(sent.reduce((a, n) => a + n, 0)).toBeLessThanOrEqual(1);
    const auto = await waitFor('the auto-lock done', async () => {
      const c = (await trailOf()).find((x) => x.requestedBy === 'platform:auto-lock');
      return c?.state === 'done' ? c : undefined;
    });
    expect(auto.action).toBe('lock');
    expect(Date.parse(auto.issuedAt)).toBeGreaterThanOrEqual(Date.parse(b.end) + AUTO_LOCK_AFTER_S * 1000);
    expect(car.locked).toBe(true);
    await seen(car.id, 'the car locked', (v) => v.locked === true);
    await stack.app.carsharing.autoLock.run();
    const autos = (await trailOf()).filter((x) => x.requestedBy === 'platform:auto-lock');
    expect(autos.length).toBe(1);
  });
});
