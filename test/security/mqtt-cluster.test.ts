import { deriveServiceSecret, openStore, type Store } from '@citytel/store';
import type { MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  brokerClient,
  closedByBroker,
  connackCode,
  startTestBroker,
  type TestBroker,
} from '../helpers/broker.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { tempDir } from '../helpers/tmp.ts';

/**
 * Cluster mode (two brokers on one real redis-server and one store, as behind a load balancer): a revoked
 * device is dropped from both within 10 s, another identity's client id is refused whichever broker the
 * victim is on, and the login slow-down counts a guesser's attempts on both together.
 */
const NOT_AUTHORIZED = 5;
const SERVER_UNAVAILABLE = 3;

let redis: TestRedis;
let store: Store;
let tmp: ReturnType<typeof tempDir>;
let a: TestBroker;
let b: TestBroker;
const secrets: Record<string, string> = {};
const open: MqttClient[] = [];
const track = async (c: Promise<MqttClient>) => {
  const client = await c;
  open.push(client);
  return client;
};

beforeAll(async () => {
  redis = await startTestRedis();
  tmp = tempDir('citytel-sec-cluster-');
  store = await openStore({ dataDir: tmp.dir, log: pino({ level: 'silent' }) });
  // maxWaiting 0: an attempt that would have to wait is refused at once, so the shared count shows as a code
  const options = { store, redisUrl: redis.url, revocationPollMs: 1000, throttle: { maxWaiting: 0 } };
  a = await startTestBroker({ ...options, brokerId: 'sec-a' });
  b = await startTestBroker({ ...options, brokerId: 'sec-b' });
  for (const [id, kind] of [
    ['car-1', 'vehicle'],
    ['kit-1', 'native'],
    ['kit-2', 'native'],
  ] as const) {
    secrets[id] = (await store.devices.create({ id, kind })).secret!;
  }
}, 60_000);

afterAll(async () => {
  for (const c of open) c.end(true);
  await a?.stop();
  await b?.stop();
  await store?.close();
  tmp?.cleanup();
  await redis?.close();
});

describe('cluster mode', () => {
  it('refuses a kit on one broker using the client id of a car connected to the other; the car stays', async () => {
    const car = await track(
      brokerClient(a.url, {
        username: 'car-1',
        password: secrets['car-1']!,
        clientId: 'car-1',
        clean: false,
      }),
    );
    expect(
      await connackCode(b.url, {
        username: 'kit-1',
        password: secrets['kit-1']!,
        clientId: 'car-1',
        clean: false,
      }),
    ).toBe(2);
    await new Promise((r) => setTimeout(r, 500));
    expect(car.connected).toBe(true);
    // the car itself moving to the other broker takes its session over
    const moved = await track(
      brokerClient(b.url, {
        username: 'car-1',
        password: secrets['car-1']!,
        clientId: 'car-1',
        clean: false,
      }),
    );
    await closedByBroker(car, 5000);
    expect(moved.connected).toBe(true);
  });

  it('drops a rotated device from both brokers within 10 s and refuses its old secret on both at once', async () => {
    const onA = await track(
      brokerClient(a.url, { username: 'kit-2', password: secrets['kit-2']!, clientId: 'kit-2/a' }),
    );
    const onB = await track(
      brokerClient(b.url, { username: 'kit-2', password: secrets['kit-2']!, clientId: 'kit-2/b' }),
    );
    // what the api's POST /api/v1/devices/{id}/secret does
    await store.devices.rotateCredentials('kit-2');
    await store.audit.add({ actor: 'test', action: 'device.rotate_secret', target: 'kit-2' });
    const t0 = Date.now();
    for (const node of [a, b]) {
      expect(
        await connackCode(node.url, { username: 'kit-2', password: secrets['kit-2']!, clientId: 'kit-2/c' }),
      ).toBe(4);
    }
    await Promise.all([closedByBroker(onA, 10_000), closedByBroker(onB, 10_000)]);
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 30_000);

  it('drops a deleted kit from whichever broker holds it', async () => {
    const { token } = await store.devices.create({ id: 'sck-c', kind: 'sck' });
    const kit = await track(brokerClient(b.url, { clientId: token! }));
    await store.devices.remove('sck-c');
    await store.audit.add({ actor: 'test', action: 'device.delete', target: 'sck-c' });
    expect(await connackCode(a.url, { clientId: token! })).toBe(NOT_AUTHORIZED);
    await closedByBroker(kit, 10_000);
  }, 30_000);

  it("counts a guesser's attempts on both brokers together (Redis)", async () => {
    // wrong tokens on one broker until it slows this address down (refused at once here: maxWaiting 0)...
    const codes: number[] = [];
    for (let i = 0; i < 6 && codes.at(-1) !== SERVER_UNAVAILABLE; i++)
      codes.push(await connackCode(a.url, { clientId: `zzzzz${i}` }));
    expect(codes.at(-1)).toBe(SERVER_UNAVAILABLE);
    expect(codes.slice(0, -1).every((c) => c === NOT_AUTHORIZED)).toBe(true);
    // ...and the other broker, which saw none of them, slows it down as well
    expect(await connackCode(b.url, { clientId: 'zzzzz9' })).toBe(SERVER_UNAVAILABLE);
    // a service login is another bucket, untouched
    expect(
      await connackCode(b.url, {
        username: 'svc:api',
        password: deriveServiceSecret(b.serviceSecret, 'svc:api'),
      }),
    ).toBe(0);
  });
});
