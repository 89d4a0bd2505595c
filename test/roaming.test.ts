import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vehicle } from '../firmware-sim/src/vehicles/obu.ts';
import { type CarsharingStack, startCarsharingStack, waitFor } from './helpers/carsharing-stack.ts';

/**
 * Roaming end to end: a member of operator A (autre-coop) books and unlocks a car of operator B (citiz-rennes,
 * the simulator's cars) through A's token, once B's policy accepts A's members. Each operator sees its cars'
 * use and its members' trips and nothing else; a third operator sees nothing; the monthly settlement counts
 * the trip once, for the pair (A, B), with its hours and kilometres.
 */

const MIN = 60_000;
let stack: CarsharingStack;
let car: Vehicle;
let third: { id: string; token: string };
let key = 0;
const k = () => ({ 'idempotency-key': `roam-${++key}` });

let visit: { id: string; start: string; end: string };
let ownBooking: { id: string };
const commandIds: string[] = [];

const month = () => new Date().toISOString().slice(0, 7);

async function asOp(
  token: string,
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
) {
  return stack.http(method, path, { token, body, ...(headers ? { headers } : {}) });
}

beforeAll(async () => {
  stack = await startCarsharingStack({
    vehicles: 4,
    seed: 42,
    env: { BOOKING_GRACE_S: '60', AUTO_LOCK_AFTER_S: '0', COMMAND_TTL_S: '10' },
  });
  const parked = stack.sim.vehicles.filter((v) => v.car.state.phase === 'parked');
  expect(parked.length).toBeGreaterThanOrEqual(2);
  car = parked[0]!;
  const t = await stack.store.operators.create({ id: 'third-coop', name: 'Third Coop' });
  third = { id: t.operator.id, token: t.token };
  await waitFor('the car online', async () => {
    const r = await asOp(stack.operator.token, 'GET', '/api/v1/vehicles');
    return r.body.vehicles.find((v: { id: string; online: boolean }) => v.id === car.id)?.online;
  });
  // One of B's own members books another of its cars: A must never see it.
  const own = await asOp(stack.operator.token, 'POST', '/api/v1/bookings', {
    vehicleId: parked[1]!.id,
    memberId: 'b-member',
    start: new Date(Date.now() - MIN).toISOString(),
    end: new Date(Date.now() + 60 * MIN).toISOString(),
  });
  expect(own.status).toBe(201);
  ownBooking = own.body;
});

afterAll(async () => {
  await stack?.close();
});

describe('roaming', () => {
  const book = () =>
    asOp(stack.other.token, 'POST', '/api/v1/bookings', {
      vehicleId: car.id,
      memberId: 'a-member',
      start: new Date(Date.now() - MIN).toISOString(),
      end: new Date(Date.now() + 60 * MIN).toISOString(),
    });

  it("refuses another operator's member until the car's operator accepts them", async () => {
    const refused = await book();
    expect([refused.status, refused.body.error.code]).toEqual([403, 'not_your_vehicle']);
    expect((await asOp(stack.operator.token, 'GET', '/api/v1/roaming/policy')).body).toEqual({ accepts: [] });
    const set = await asOp(stack.operator.token, 'PUT', '/api/v1/roaming/policy', {
      accepts: ['autre-coop'],
    });
    expect(set.body).toEqual({ accepts: ['autre-coop'] });
    // A member of a third operator still is not accepted.
    const other = await asOp(third.token, 'POST', '/api/v1/bookings', {
      vehicleId: car.id,
      memberId: 'c-member',
      start: new Date(Date.now() + 120 * MIN).toISOString(),
      end: new Date(Date.now() + 180 * MIN).toISOString(),
    });
    expect([other.status, other.body.error.code]).toEqual([403, 'not_your_vehicle']);
  });

  it("lets a member of A book and unlock B's car through A's token, and return it", async () => {
    const r = await book();
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      operatorId: 'citiz-rennes',
      homeOperatorId: 'autre-coop',
      memberId: 'a-member',
    });
    visit = r.body;
    const unlock = await asOp(
      stack.other.token,
      'POST',
      `/api/v1/vehicles/${car.id}/commands?wait=10`,
      { action: 'unlock', bookingId: visit.id, memberId: 'a-member' },
      k(),
    );
    expect([unlock.status, unlock.body.state]).toEqual([202, 'done']);
    expect(unlock.body).toMatchObject({
      operatorId: 'citiz-rennes',
      requestedBy: 'autre-coop',
      homeOperatorId: 'autre-coop',
    });
    commandIds.push(unlock.body.id);
    expect(car.locked).toBe(false);
    await waitFor('the odometer at unlock', async () => {
      const b = await asOp(stack.other.token, 'GET', `/api/v1/bookings/${visit.id}`);
      return b.body.odometerStartKm !== null ? b.body : undefined;
    });

    // The trip: 12.3 km, then the member locks and returns the car.
    car.car.state.odometerKm += 12.3;
    await car.publishTelemetry();
    const lock = await asOp(
      stack.other.token,
      'POST',
      `/api/v1/vehicles/${car.id}/commands?wait=10`,
      { action: 'lock', bookingId: visit.id },
      k(),
    );
    expect(lock.body.state).toBe('done');
    commandIds.push(lock.body.id);
    await waitFor('the car reported locked', async () => {
      const v = (await asOp(stack.operator.token, 'GET', '/api/v1/vehicles')).body.vehicles.find(
        (x: { id: string }) => x.id === car.id,
      );
      return v.locked === true && v.doorsClosed === true;
    });
    const ret = await asOp(stack.other.token, 'POST', `/api/v1/bookings/${visit.id}/return`);
    expect(ret.status).toBe(200);
    expect(ret.body.odometerEndKm - ret.body.odometerStartKm).toBeCloseTo(12.3, 5);
    visit = ret.body;
  });

  it('shows A its member’s trip and nothing of B’s own, and B its car’s use by the visitor', async () => {
    const aBookings = (await asOp(stack.other.token, 'GET', '/api/v1/bookings?includeCancelled=true')).body
      .bookings;
    expect(aBookings.map((b: { id: string }) => b.id)).toEqual([visit.id]);
    const aCommands = (await asOp(stack.other.token, 'GET', '/api/v1/commands')).body.commands;
    expect(aCommands.map((c: { id: string }) => c.id).sort()).toEqual([...commandIds].sort());
    expect((await asOp(stack.other.token, 'GET', `/api/v1/bookings/${ownBooking.id}`)).status).toBe(404);
    const aFleet = (await asOp(stack.other.token, 'GET', '/api/v1/vehicles')).body.vehicles;
    expect(aFleet.map((v: { id: string }) => v.id)).toEqual([stack.other.car]);
    // Not a key to B's car outside its member's booking.
    const sneak = await asOp(
      stack.other.token,
      'POST',
      `/api/v1/vehicles/${car.id}/commands`,
      { action: 'unlock', bookingId: ownBooking.id },
      k(),
    );
    expect([sneak.status, sneak.body.error.code]).toEqual([403, 'not_your_vehicle']);

    const bBookings = (await asOp(stack.operator.token, 'GET', '/api/v1/bookings')).body.bookings;
    expect(bBookings.map((b: { id: string }) => b.id).sort()).toEqual([visit.id, ownBooking.id].sort());
    const bTrail = (await asOp(stack.operator.token, 'GET', `/api/v1/commands?bookingId=${visit.id}`)).body
      .commands;
    expect(bTrail.map((c: { id: string }) => c.id).sort()).toEqual([...commandIds].sort());

    for (const path of [`/api/v1/bookings/${visit.id}`, `/api/v1/commands/${commandIds[0]}`])
      expect((await asOp(third.token, 'GET', path)).status).toBe(404);
    expect((await asOp(third.token, 'GET', '/api/v1/bookings')).body.bookings).toEqual([]);
    expect((await asOp(third.token, 'GET', '/api/v1/commands')).body.commands).toEqual([]);
  });

  it('counts the trip once for the pair in the monthly settlement, as JSON and CSV', async () => {
    const hours = Math.round((Date.parse(visit.end) - Date.parse(visit.start)) / 36_000) / 100;
    const expected = [
      {
        homeOperatorId: 'autre-coop',
        carOperatorId: 'citiz-rennes',
        trips: 1,
        hours,
        km: 12.3,
        tripsWithoutKm: 0,
      },
    ];
    for (const token of [stack.other.token, stack.operator.token]) {
      const r = await asOp(token, 'GET', `/api/v1/roaming/settlement?month=${month()}`);
      expect(r.body).toEqual({ month: month(), pairs: expected });
    }
    expect(
      (await asOp(third.token, 'GET', `/api/v1/roaming/settlement?month=${month()}`)).body.pairs,
    ).toEqual([]);
    const csv = await fetch(`${stack.baseUrl}/api/v1/roaming/settlement?month=${month()}&format=csv`, {
      headers: { authorization: `Bearer ${stack.other.token}` },
    });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect((await csv.text()).trim().split('\n')).toEqual([
      'month,home_operator,car_operator,trips,hours,km,trips_without_km',
      `"${month()}","autre-coop","citiz-rennes",1,${hours},12.3,0`,
    ]);
    const bad = await asOp(stack.other.token, 'GET', '/api/v1/roaming/settlement?month=2026-13');
    expect([bad.status, bad.body.error.code]).toEqual([400, 'invalid_parameter']);
  });
});
