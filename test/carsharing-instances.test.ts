import { type ApiMqtt, buildApp, connectApiMqtt } from '@citytel/api';
import { deriveServiceSecret } from '@citytel/store';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ackGate } from './helpers/ack-gate.ts';
import { type CarsharingStack, startCarsharingStack, waitFor } from './helpers/carsharing-stack.ts';

/**
 * Two api instances on one store and one broker, as a scaled deployment runs them: a command asked of one
 * is followed correctly when the car's answer reaches the other, when both get it, and when the instance
 * that sent it stops. Instance A's connection can be made deaf to acks, as when it was down when the
 * answer came.
 */

let stack: CarsharingStack;
let a: FastifyInstance;
let b: FastifyInstance;
let bMqtt: ApiMqtt;
let bUrl: string;
let bookingId: string;
const aHearsAcks = { on: true };
let key = 0;

const gate = ackGate(aHearsAcks);

const post = async (base: string, action: 'lock' | 'unlock', wait: number) => {
  const r = await fetch(`${base}/api/v1/vehicles/${stack.sim.vehicles[0]!.id}/commands?wait=${wait}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${stack.operator.token}`,
      'content-type': 'application/json',
      'idempotency-key': `instances-${++key}`,
    },
    body: JSON.stringify({ action, bookingId }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: the test reads the JSON answer field by field
  return { status: r.status, body: (await r.json()) as any };
};
const counts = (app: FastifyInstance, state: string) => ({
  finished:
    app.carsharing.tracker.finished.get({ action: 'unlock', state }) +
    app.carsharing.tracker.finished.get({ action: 'lock', state }),
  ignored: app.carsharing.tracker.ignoredAcks.get({ reason: 'finished' }),
});

beforeAll(async () => {
  stack = await startCarsharingStack({
    vehicles: 1,
    seed: 42,
    env: { COMMAND_TTL_S: '2', COMMAND_SWEEP_MS: '200', COMMAND_ACK_GRACE_MS: '300' },
    wrapMqtt: gate,
  });
  a = stack.app;
  bMqtt = connectApiMqtt({
    url: stack.mqttUrl,
    password: deriveServiceSecret(stack.serviceSecret, 'svc:api'),
    log: stack.log,
  });
  await bMqtt.waitConnected(10_000);
  b = await buildApp({ config: stack.config, store: stack.store, mqtt: bMqtt, log: stack.log });
  await b.listen({ port: 0, host: '127.0.0.1' });
  const address = b.server.address();
  if (!address || typeof address !== 'object') throw new Error('second api not listening');
  bUrl = `http://127.0.0.1:${address.port}`;
  const car = stack.sim.vehicles[0]!.id;
  await waitFor(
    'the car online for both',
    () => a.carsharing.fleet.isOnline(car) && b.carsharing.fleet.isOnline(car),
  );
  const now = Date.now();
  bookingId = (
    await stack.store.bookings.create({
      operatorId: stack.operator.id,
      vehicleId: car,
      memberId: 'm-1',
      start: new Date(now - 60_000),
      end: new Date(now + 3_600_000),
    })
  ).id;
});

afterAll(async () => {
  await b?.close();
  await bMqtt?.close();
  await stack?.close();
});

describe('several api instances', () => {
  it('answer a request on one instance when only the other hears the car', async () => {
    aHearsAcks.on = false;
    try {
      const before = { a: counts(a, 'done'), b: counts(b, 'done') };
      const t0 = Date.now();
      const r = await post(stack.baseUrl, 'unlock', 10);
      expect([r.status, r.body.state]).toEqual([202, 'done']);
      // Woken by its poll of the store, well before the wait or the expiry.
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(r.body.history.map((h: { state: string }) => h.state)).toEqual(['pending', 'sent', 'done']);
      expect(counts(a, 'done').finished - before.a.finished).toBe(0);
      expect(counts(b, 'done').finished - before.b.finished).toBe(1);
    } finally {
      aHearsAcks.on = true;
    }
  });

  it('apply an ack both of them hear exactly once', async () => {
    const before = { a: counts(a, 'done'), b: counts(b, 'done') };
    const r = await post(bUrl, 'lock', 10);
    expect([r.status, r.body.state]).toEqual([202, 'done']);
    await waitFor('both instances have handled the ack', () => {
      const ignored = counts(a, 'done').ignored + counts(b, 'done').ignored;
      return ignored - before.a.ignored - before.b.ignored === 1;
    });
    const applied =
      counts(a, 'done').finished - before.a.finished + (counts(b, 'done').finished - before.b.finished);
    expect(applied).toBe(1);
    const stored = await stack.store.commands.get(r.body.id);
    expect(stored?.history.filter((h) => h.state === 'done').length).toBe(1);
  });

  it("expire, by the other's sweep, what a stopped instance sent", async () => {
    const car = stack.sim.vehicles[0]!;
    car.setSilent(true);
    try {
      const r = await post(bUrl, 'unlock', 0);
      expect([r.status, r.body.state]).toEqual([202, 'sent']);
      await b.close();
      const ended = await waitFor(
        'expired by A',
        async () => {
          const c = await stack.store.commands.get(r.body.id);
          return c?.state === 'expired' ? c : undefined;
        },
        10_000,
      );
      expect(ended.history.map((h) => [h.state, h.at.toISOString()])).toEqual([
        ['pending', r.body.issuedAt],
        ['sent', expect.any(String)],
        ['expired', r.body.expiresAt],
      ]);
      expect(counts(a, 'expired').finished).toBe(1);
    } finally {
      car.setSilent(false);
    }
  });
});
