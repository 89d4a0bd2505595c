import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { topics } from '@citytel/contract';
import { deriveServiceSecret } from '@citytel/store';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vehicle } from '../firmware-sim/src/vehicles/obu.ts';
import { type CarsharingStack, startCarsharingStack, waitFor } from './helpers/carsharing-stack.ts';

/**
 * Carsharing end to end (CONTRACT §3, §4): the real broker, the api and the simulator's on-board units over
 * TCP. Bookings are refused when they overlap, unlock only inside an active booking, each command is
 * followed to its end state and kept with its history, and what should not reach a car never does: every
 * car under test has a second connection (its own credentials, another client id) that records each
 * command message the broker delivers to it.
 */

const TTL_S = 3;
const GRACE_S = 600;
const MIN = 60_000;

let stack: CarsharingStack;
let api: MqttClient;
const delivered = new Map<string, string[]>();
const watchers: MqttClient[] = [];
let cars: Vehicle[];
let key = 0;

// Every booking time is an offset from one instant, so bookings made back to back meet exactly.
const T0 = Date.now();
const iso = (offsetMs: number) => new Date(T0 + offsetMs).toISOString();
const nextKey = () => `test-key-${++key}`;
const commandsTo = (carId: string) => delivered.get(carId) ?? [];

async function book(vehicleId: string, fromMs: number, toMs: number, memberId = 'member-1', token?: string) {
  return stack.http('POST', '/api/v1/bookings', {
    token: token ?? stack.operator.token,
    body: { vehicleId, memberId, start: iso(fromMs), end: iso(toMs) },
  });
}

async function command(
  vehicleId: string,
  body: Record<string, unknown>,
  opts: { key?: string | null; wait?: number; token?: string } = {},
) {
  const headers: Record<string, string> = {};
  if (opts.key !== null) headers['idempotency-key'] = opts.key ?? nextKey();
  return stack.http('POST', `/api/v1/vehicles/${vehicleId}/commands?wait=${opts.wait ?? 10}`, {
    token: opts.token ?? stack.operator.token,
    body,
    headers,
  });
}

/** Records what the broker delivers on a car's command topic, through a second login of that car. */
async function watch(carId: string): Promise<void> {
  const state = JSON.parse(readFileSync(join(stack.dir, 'sim-devices.json'), 'utf8'));
  const client = await mqtt.connectAsync(stack.mqttUrl, {
    username: carId,
    password: state.devices[carId].secret,
    clientId: `${carId}/watch`,
    reconnectPeriod: 0,
  });
  await client.subscribeAsync(topics.vehicleCommands(carId), { qos: 1 });
  client.on('message', (_t, payload) => {
    delivered.set(carId, [...commandsTo(carId), payload.toString()]);
  });
  watchers.push(client);
}

const scrape = async (line: string): Promise<number> => {
  const text = await (await fetch(`${stack.baseUrl}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
};
const IGNORED_FINISHED = 'citytel_api_command_acks_ignored_total{reason="finished"}';

/** A booking of the car that opens it now (running, or starting within the grace period). */
async function usableBooking(carId: string) {
  const now = Date.now();
  const near = await stack.store.bookings.list({
    vehicleId: carId,
    from: new Date(now),
    to: new Date(now + GRACE_S * 1000),
  });
  const b = near.find((x) => x.start.getTime() - GRACE_S * 1000 <= now);
  if (!b) throw new Error(`no usable booking of ${carId}`);
  return b;
}

/** The api's view of a car, as its operator sees it. */
async function fleetCar(id: string) {
  const r = await stack.http('GET', '/api/v1/vehicles', { token: stack.operator.token });
  return r.body.vehicles.find((v: { id: string }) => v.id === id);
}

beforeAll(async () => {
  stack = await startCarsharingStack({
    vehicles: 6,
    // With this seed every car starts parked at its station (a third of a fleet usually starts out driving).
    seed: 42,
    env: {
      COMMAND_TTL_S: String(TTL_S),
      BOOKING_GRACE_S: String(GRACE_S),
      COMMAND_SWEEP_MS: '200',
      COMMAND_ACK_GRACE_MS: '300',
    },
  });
  // Parked cars only: a third of the simulated fleet starts out driving, engine on.
  cars = stack.sim.vehicles.filter((v) => v.car.state.phase === 'parked');
  expect(cars.length).toBeGreaterThanOrEqual(4);
  await waitFor('every car online in the api', async () => {
    const r = await stack.http('GET', '/api/v1/vehicles', { token: stack.operator.token });
    return r.body.vehicles.filter((v: { online: boolean }) => v.online).length === 6;
  });
  for (const c of cars) await watch(c.id);
  api = await mqtt.connectAsync(stack.mqttUrl, {
    username: 'svc:api',
    password: deriveServiceSecret(stack.serviceSecret, 'svc:api'),
    clientId: 'svc:api/test-replayer',
    reconnectPeriod: 0,
  });
});

afterAll(async () => {
  for (const w of watchers) await w.endAsync();
  await api?.endAsync();
  await stack?.close();
});

describe('bookings', () => {
  it("books one of the operator's cars for a member", async () => {
    const car = cars[0]!.id;
    const r = await book(car, 2 * 24 * 60 * MIN, 2 * 24 * 60 * MIN + 60 * MIN, 'anne-l');
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      id: expect.stringMatching(/^bk_[0-9A-Z]{26}$/),
      operatorId: 'citiz-rennes',
      vehicleId: car,
      memberId: 'anne-l',
      status: 'upcoming',
      cancelledAt: null,
    });
    expect(r.headers.get('location')).toBe(`/api/v1/bookings/${r.body.id}`);
    const again = await stack.http('GET', `/api/v1/bookings/${r.body.id}`, { token: stack.operator.token });
    expect(again.body).toEqual(r.body);
  });

  it("refuses another operator's car, an unknown car, and times that make no sense", async () => {
    const theirs = await book(stack.other.car, MIN, 60 * MIN);
    expect([theirs.status, theirs.body.error.code]).toEqual([403, 'not_your_vehicle']);
    const unknown = await book('no-such-car', MIN, 60 * MIN);
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'vehicle_not_found']);
    const backwards = await book(cars[0]!.id, 60 * MIN, MIN);
    expect([backwards.status, backwards.body.error.code]).toEqual([400, 'invalid_parameter']);
    expect(backwards.body.error.message).toContain('body.end');
    const past = await book(cars[0]!.id, -120 * MIN, -60 * MIN);
    expect(past.body.error.message).toContain('body.end: must be in the future');
    const anonymous = await stack.http('POST', '/api/v1/bookings', {
      body: { vehicleId: cars[0]!.id, memberId: 'm', start: iso(MIN), end: iso(2 * MIN) },
    });
    expect([anonymous.status, anonymous.body.error.code]).toEqual([401, 'unauthorized']);
  });

  it('refuses an overlapping booking of the same car with 409 booking_conflict, until it is cancelled', async () => {
    const car = cars[0]!.id;
    const first = await book(car, 3 * 24 * 60 * MIN, 3 * 24 * 60 * MIN + 60 * MIN);
    const overlap = await book(car, 3 * 24 * 60 * MIN + 30 * MIN, 3 * 24 * 60 * MIN + 90 * MIN, 'someone');
    expect([overlap.status, overlap.body.error.code]).toEqual([409, 'booking_conflict']);
    expect(overlap.body.error.message).toContain(first.body.id);
    const backToBack = await book(car, 3 * 24 * 60 * MIN + 60 * MIN, 3 * 24 * 60 * MIN + 90 * MIN);
    expect(backToBack.status).toBe(201);

    const cancel = await stack.http('DELETE', `/api/v1/bookings/${first.body.id}`, {
      token: stack.operator.token,
    });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({
      id: first.body.id,
      status: 'cancelled',
      cancelledAt: expect.any(String),
    });
    const twice = await stack.http('DELETE', `/api/v1/bookings/${first.body.id}`, {
      token: stack.operator.token,
    });
    expect(twice.body).toEqual(cancel.body);
    const theirs = await stack.http('DELETE', `/api/v1/bookings/${backToBack.body.id}`, {
      token: stack.other.token,
    });
    expect([theirs.status, theirs.body.error.code]).toEqual([404, 'booking_not_found']);
    const retry = await book(car, 3 * 24 * 60 * MIN + 30 * MIN, 3 * 24 * 60 * MIN + 60 * MIN, 'someone');
    expect(retry.status).toBe(201);
  });

  it('lets exactly one of 50 concurrent conflicting requests through', async () => {
    const car = cars[1]!.id;
    const day = 5 * 24 * 60 * MIN;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => book(car, day + i * MIN, day + 60 * MIN + i * MIN, `member-${i}`)),
    );
    const codes = answers.map((a) => a.status);
    expect(codes.filter((c) => c === 201).length).toBe(1);
    expect(codes.filter((c) => c === 409).length).toBe(49);
    expect(
      answers.filter((a) => a.status === 409).every((a) => a.body.error.code === 'booking_conflict'),
    ).toBe(true);
    const listed = await stack.http('GET', `/api/v1/bookings?vehicleId=${car}&from=${iso(day - MIN)}`, {
      token: stack.operator.token,
    });
    expect(listed.body.bookings.length).toBe(1);
  });

  it("lists only the operator's own bookings", async () => {
    const mine = await stack.http('GET', '/api/v1/bookings?limit=500', { token: stack.operator.token });
    expect(mine.body.bookings.length).toBeGreaterThan(0);
    expect(mine.body.bookings.every((b: { operatorId: string }) => b.operatorId === 'citiz-rennes')).toBe(
      true,
    );
    const theirs = await stack.http('GET', '/api/v1/bookings', { token: stack.other.token });
    expect(theirs.body.bookings).toEqual([]);
  });
});

describe('unlock', () => {
  it('inside a booking: the car unlocks, says so in its status, and the command ends done', async () => {
    const car = cars[0]!;
    expect(car.locked).toBe(true);
    const b = await book(car.id, -5 * MIN, 60 * MIN, 'anne-l');
    const before = commandsTo(car.id).length;
    const t0 = Date.now();
    const r = await command(car.id, { action: 'unlock', bookingId: b.body.id, memberId: 'anne-l' });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({
      id: expect.stringMatching(/^cmd_[0-9A-Z]{26}$/),
      vehicleId: car.id,
      action: 'unlock',
      bookingId: b.body.id,
      state: 'done',
      reason: null,
      operatorId: 'citiz-rennes',
      requestedBy: 'citiz-rennes',
      memberId: 'anne-l',
    });
    expect(r.body.history.map((h: { state: string }) => h.state)).toEqual(['pending', 'sent', 'done']);
    const times = r.body.history.map((h: { at: string }) => Date.parse(h.at));
    expect(times).toEqual([...times].sort());
    expect(times[0]).toBeGreaterThanOrEqual(t0 - 5);
    expect(Date.parse(r.body.expiresAt) - Date.parse(r.body.issuedAt)).toBe(TTL_S * 1000);
    expect(r.headers.get('location')).toBe(`/api/v1/commands/${r.body.id}`);
    expect(car.locked).toBe(false);
    // Exactly the message of CONTRACT §3 reached the car, once.
    await waitFor('delivery recorded', () => commandsTo(car.id).length > before);
    expect(
      commandsTo(car.id)
        .slice(before)
        .map((m) => JSON.parse(m)),
    ).toEqual([
      {
        id: r.body.id,
        action: 'unlock',
        bookingId: b.body.id,
        issuedAt: r.body.issuedAt,
        expiresAt: r.body.expiresAt,
      },
    ]);
    await waitFor('the fleet view shows it unlocked', async () => (await fleetCar(car.id))?.locked === false);
    expect(await fleetCar(car.id)).toMatchObject({
      online: true,
      locked: false,
      currentBooking: { id: b.body.id, memberId: 'anne-l' },
      available: false,
    });
  });

  it('opens from the grace period before the start, not earlier', async () => {
    const car = cars[2]!;
    const soon = await book(car.id, (GRACE_S - 60) * 1000, (GRACE_S + 3600) * 1000);
    const ok = await command(car.id, { action: 'unlock', bookingId: soon.body.id });
    expect([ok.status, ok.body.state]).toEqual([202, 'done']);
    const later = await book(car.id, (GRACE_S + 7200) * 1000, (GRACE_S + 9000) * 1000);
    const early = await command(car.id, { action: 'unlock', bookingId: later.body.id });
    expect([early.status, early.body.error.code]).toEqual([409, 'booking_not_active']);
    expect(early.body.error.message).toContain('the car opens from');
  });

  describe('is refused, with nothing stored or published', () => {
    let car: Vehicle;
    let active: string;
    beforeAll(async () => {
      car = cars[3]!;
      active = (await book(car.id, -MIN, 60 * MIN, 'bob')).body.id;
    });

    const refused = async (
      label: string,
      send: () => Promise<{ status: number; body: { error: { code: string } } }>,
      status: number,
      code: string,
    ) => {
      const sentBefore = commandsTo(car.id).length;
      const carSaw = stack.sim.stats().commands;
      const stored = (await stack.store.commands.list({ vehicleId: car.id })).length;
      const r = await send();
      expect([r.status, r.body.error.code], label).toEqual([status, code]);
      // A wrong answer would have reached the watcher within the car's answer time.
      await new Promise((res) => setTimeout(res, 300));
      expect(commandsTo(car.id).length, label).toBe(sentBefore);
      expect(stack.sim.stats().commands, label).toBe(carSaw);
      expect((await stack.store.commands.list({ vehicleId: car.id })).length, label).toBe(stored);
    };

    it('with no booking', async () => {
      await refused(
        'unknown booking',
        () => command(car.id, { action: 'unlock', bookingId: 'bk_nothing' }),
        404,
        'booking_not_found',
      );
    });

    it("on another operator's car", async () => {
      await refused(
        'their car',
        () => command(stack.other.car, { action: 'unlock', bookingId: active }),
        403,
        'not_your_vehicle',
      );
      await refused(
        'their token',
        () => command(car.id, { action: 'unlock', bookingId: active }, { token: stack.other.token }),
        403,
        'not_your_vehicle',
      );
    });

    it('with an expired booking', async () => {
      const ended = await stack.store.bookings.create({
        operatorId: stack.operator.id,
        vehicleId: car.id,
        memberId: 'bob',
        start: new Date(Date.now() - 120 * MIN),
        end: new Date(Date.now() - 60 * MIN),
      });
      await refused(
        'ended',
        () => command(car.id, { action: 'unlock', bookingId: ended.id }),
        409,
        'booking_not_active',
      );
    });

    it('with a cancelled booking', async () => {
      const b = await book(car.id, 2 * 60 * MIN, 3 * 60 * MIN, 'bob');
      await stack.http('DELETE', `/api/v1/bookings/${b.body.id}`, { token: stack.operator.token });
      await refused(
        'cancelled',
        () => command(car.id, { action: 'unlock', bookingId: b.body.id }),
        409,
        'booking_cancelled',
      );
    });

    it("with another car's booking, another member, or no Idempotency-Key", async () => {
      const elsewhere = await book(cars[1]!.id, -MIN, 30 * MIN, 'carl');
      await refused(
        'other car',
        () => command(car.id, { action: 'unlock', bookingId: elsewhere.body.id }),
        409,
        'booking_other_vehicle',
      );
      await refused(
        'other member',
        () => command(car.id, { action: 'unlock', bookingId: active, memberId: 'mallory' }),
        403,
        'not_booking_member',
      );
      await refused(
        'no key',
        () => command(car.id, { action: 'unlock', bookingId: active }, { key: null }),
        400,
        'idempotency_key_required',
      );
      await refused(
        'no token',
        async () => {
          return stack.http('POST', `/api/v1/vehicles/${car.id}/commands`, {
            body: { action: 'unlock', bookingId: active },
            headers: { 'idempotency-key': nextKey() },
          });
        },
        401,
        'unauthorized',
      );
    });
  });
});

describe('Idempotency-Key', () => {
  it('returns the same command for the same key, and sends it once', async () => {
    const car = cars[3]!;
    const active = await usableBooking(car.id);
    const k = nextKey();
    const before = commandsTo(car.id).length;
    const first = await command(car.id, { action: 'unlock', bookingId: active.id }, { key: k });
    expect([first.status, first.body.state]).toEqual([202, 'done']);
    const second = await command(car.id, { action: 'unlock', bookingId: active.id }, { key: k });
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const conflict = await command(car.id, { action: 'lock', bookingId: active.id }, { key: k });
    expect([conflict.status, conflict.body.error.code]).toEqual([422, 'idempotency_conflict']);
    await new Promise((res) => setTimeout(res, 300));
    expect(commandsTo(car.id).length).toBe(before + 1);
  });

  it('makes one command of ten concurrent requests with one key', async () => {
    const car = cars[3]!;
    const active = await usableBooking(car.id);
    const k = nextKey();
    const before = commandsTo(car.id).length;
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => command(car.id, { action: 'lock', bookingId: active.id }, { key: k })),
    );
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(answers.every((a) => a.body.state === 'done')).toBe(true);
    await new Promise((res) => setTimeout(res, 300));
    expect(commandsTo(car.id).length).toBe(before + 1);
    expect(car.locked).toBe(true);
  });
});

describe('a command', () => {
  it('to an offline car fails at once, with a clear reason and a record', async () => {
    const car = cars[1]!;
    const b = await usableBooking(car.id);
    car.goOffline();
    await waitFor('the api sees the last will', async () => (await fleetCar(car.id))?.online === false);
    const before = commandsTo(car.id).length;
    const t0 = Date.now();
    const r = await command(car.id, { action: 'unlock', bookingId: b.id });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect([r.status, r.body.error.code]).toEqual([409, 'vehicle_offline']);
    expect(r.body.error.message).toContain('offline');
    const record = await stack.http('GET', r.headers.get('location')!, { token: stack.operator.token });
    expect(record.body).toMatchObject({ state: 'failed', reason: 'vehicle_offline', bookingId: b.id });
    expect(record.body.history.map((h: { state: string }) => h.state)).toEqual(['pending', 'failed']);
    expect(commandsTo(car.id).length).toBe(before);
  });

  it('to an offline car is delivered when it comes back before expiry, if asked to queue', async () => {
    const car = cars[1]!;
    const b = await usableBooking(car.id);
    const r = await command(
      car.id,
      { action: 'unlock', bookingId: b.id, queue: true, ttlS: 30 },
      { wait: 0 },
    );
    expect([r.status, r.body.state]).toEqual([202, 'sent']);
    car.comeBack();
    const done = await waitFor('queued command done', async () => {
      const c = await stack.http('GET', `/api/v1/commands/${r.body.id}`, { token: stack.operator.token });
      return c.body.state === 'done' ? c.body : undefined;
    });
    expect(done.history.map((h: { state: string }) => h.state)).toEqual(['pending', 'sent', 'done']);
    expect(car.locked).toBe(false);
  });

  it('to a silent car expires at its expiresAt', async () => {
    const car = cars[2]!;
    const b = await usableBooking(car.id);
    car.setSilent(true);
    try {
      const t0 = Date.now();
      const r = await command(car.id, { action: 'lock', bookingId: b.id }, { wait: TTL_S + 5 });
      expect([r.status, r.body.state, r.body.reason]).toEqual([202, 'expired', 'no_answer']);
      expect(r.body.history.map((h: { state: string }) => h.state)).toEqual(['pending', 'sent', 'expired']);
      expect(r.body.history[2].at).toBe(r.body.expiresAt);
      // Answered once the ack grace after expiresAt has passed, not at the end of the wait.
      expect(Date.now() - t0).toBeLessThan((TTL_S + 2) * 1000);
    } finally {
      car.setSilent(false);
    }
  });

  it('refused by the car ends rejected with its reason', async () => {
    const car = cars[2]!;
    const b = await usableBooking(car.id);
    car.setFailing('unit_fault');
    try {
      const r = await command(car.id, { action: 'unlock', bookingId: b.id });
      expect([r.status, r.body.state, r.body.reason]).toEqual([202, 'rejected', 'unit_fault']);
    } finally {
      car.setFailing(false);
    }
  });

  it('may lock at any time, also after the booking has ended', async () => {
    const car = cars[0]!;
    const ended = await stack.store.bookings.create({
      operatorId: stack.operator.id,
      vehicleId: car.id,
      memberId: 'late-larry',
      start: new Date(Date.now() - 300 * MIN),
      end: new Date(Date.now() - 240 * MIN),
    });
    const r = await command(car.id, { action: 'lock', bookingId: ended.id, memberId: 'late-larry' });
    expect([r.status, r.body.state]).toEqual([202, 'done']);
    expect(car.locked).toBe(true);
  });

  it('replayed on the topic is not acted on twice; its repeated ack is ignored and counted', async () => {
    const car = cars[0]!;
    const b = await usableBooking(car.id);
    const unlock = await command(car.id, { action: 'unlock', bookingId: b.id });
    expect([unlock.body.state, car.locked]).toEqual(['done', false]);
    const lock = await command(car.id, { action: 'lock', bookingId: b.id });
    expect([lock.body.state, car.locked]).toEqual(['done', true]);
    const message = commandsTo(car.id).find((m) => JSON.parse(m).id === unlock.body.id)!;
    const ignoredBefore = await scrape(IGNORED_FINISHED);
    const acksBefore = car.acks.length;
    await api.publishAsync(topics.vehicleCommands(car.id), message, { qos: 1 });
    await waitFor('the car answers the replay', () => car.acks.length > acksBefore);
    expect(car.locked).toBe(true);
    expect(car.acks.at(-1)).toMatchObject({ id: unlock.body.id, status: 'done' });
    await waitFor(
      'the api counts the ignored ack',
      async () => (await scrape(IGNORED_FINISHED)) === ignoredBefore + 1,
    );
    const after = await stack.http('GET', `/api/v1/commands/${unlock.body.id}`, {
      token: stack.operator.token,
    });
    expect(after.body).toEqual(unlock.body);
  });
});

describe('the audit trail', () => {
  it("lists a car's commands newest first, page by page, with who asked and every state", async () => {
    const car = cars[0]!.id;
    const all = await stack.store.commands.list({ vehicleId: car, limit: 1000 });
    expect(all.length).toBeGreaterThanOrEqual(4);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: {
        body: { commands: Array<{ id: string; vehicleId: string }>; nextCursor: string | null };
      } = await stack.http(
        'GET',
        `/api/v1/commands?vehicleId=${car}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        {
          token: stack.operator.token,
        },
      );
      expect(page.body.commands.every((c) => c.vehicleId === car)).toBe(true);
      seen.push(...page.body.commands.map((c) => c.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.map((c) => c.id));
    expect([...seen].sort().reverse()).toEqual(seen);
  });

  it("lists a booking's commands, and shows nothing of them to another operator", async () => {
    const b = await usableBooking(cars[0]!.id);
    const r = await stack.http('GET', `/api/v1/commands?bookingId=${b.id}`, { token: stack.operator.token });
    expect(r.body.commands.length).toBeGreaterThanOrEqual(3);
    expect(r.body.commands.every((c: { bookingId: string }) => c.bookingId === b.id)).toBe(true);
    expect(r.body.commands[0]).toMatchObject({ requestedBy: 'citiz-rennes', operatorId: 'citiz-rennes' });
    const theirs = await stack.http('GET', `/api/v1/commands?bookingId=${b.id}`, {
      token: stack.other.token,
    });
    expect(theirs.body).toEqual({ commands: [], nextCursor: null });
    const one = await stack.http('GET', `/api/v1/commands/${r.body.commands[0].id}`, {
      token: stack.other.token,
    });
    expect([one.status, one.body.error.code]).toEqual([404, 'command_not_found']);
  });
});

describe('the fleet', () => {
  it("shows the operator each car's state, and the public only the free cars at their station", async () => {
    const mine = await stack.http('GET', '/api/v1/vehicles', { token: stack.operator.token });
    expect(mine.body.view).toBe('operator');
    expect(mine.body.vehicles.length).toBe(6);
    const parked = mine.body.vehicles.find((v: { id: string }) => v.id === cars[0]!.id);
    expect(parked).toMatchObject({
      online: true,
      locked: true,
      ignition: false,
      position: { lat: expect.any(Number), lon: expect.any(Number) },
      odometerKm: expect.any(Number),
      station: { lat: expect.any(Number), lon: expect.any(Number) },
    });
    expect(parked.fuelPct ?? parked.batteryPct).toEqual(expect.any(Number));

    const pub = await stack.http('GET', '/api/v1/vehicles');
    expect(pub.body.view).toBe('public');
    const shown = pub.body.vehicles.map((v: { id: string }) => v.id).sort();
    const free = mine.body.vehicles
      .filter((v: { available: boolean }) => v.available)
      .map((v: { id: string }) => v.id)
      .sort();
    expect(shown).toEqual(free);
    // Booked now (cars 0-3 all have a booking running), driving, or never online: not shown.
    for (const c of cars.slice(0, 4)) expect(shown).not.toContain(c.id);
    expect(shown).not.toContain(stack.other.car);
    for (const v of pub.body.vehicles) {
      // No state of the car: no fuel, battery, lock, doors, ignition or odometer (a map of idle cars).
      expect(Object.keys(v).sort()).toEqual(['id', 'lat', 'lon', 'name', 'operatorId']);
    }
    const wrong = await stack.http('GET', '/api/v1/vehicles', { token: 'not-a-token' });
    expect([wrong.status, wrong.body.error.code]).toEqual([401, 'unauthorized']);
  });
});
