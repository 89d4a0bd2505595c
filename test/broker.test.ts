import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MAX_PAYLOAD_BYTES, STATS_SUBSCRIPTIONS, statsTopic, topics, unstamp } from '@citytel/contract';
import type { MqttClient } from 'mqtt';
import { generate } from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  brokerClient,
  closedByBroker,
  connackCode,
  messageLog,
  startTestBroker,
  subackCodes,
  type TestBroker,
} from './helpers/broker.ts';

const run = promisify(execFile);

/** CONNACK return codes of MQTT 3.1.1 (§3.2.2.3). */
const BAD_USER_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

let tb: TestBroker;
const secrets: Record<string, string> = {};
let token = '';
let otherToken = '';
/** A subscriber as the ingest service, to see what devices' messages become. */
let ingest: MqttClient;
let ingestLog: ReturnType<typeof messageLog>;
const open: MqttClient[] = [];

const device = (id: string, extra: Parameters<typeof brokerClient>[1] = {}) =>
  track(brokerClient(tb.url, { username: id, password: secrets[id]!, ...extra }));
const service = (account: string, extra: Parameters<typeof brokerClient>[1] = {}) =>
  track(brokerClient(tb.url, { username: account, password: tb.serviceSecret, ...extra }));
async function track(c: Promise<MqttClient>): Promise<MqttClient> {
  const client = await c;
  open.push(client);
  return client;
}
const refusals = () => tb.broker.stats().refusals;
/** A token no kit holds. */
const unregisteredToken = () => ['zzzzz9', 'zzzzz8'].find((t) => t !== token && t !== otherToken)!;

beforeAll(async () => {
  // The login slow-down has its own broker below; here it stays out of the way of the refusal tests.
  tb = await startTestBroker({ ws: true, statsIntervalMs: 200, throttle: { freeFailures: 1000 } });
  for (const [id, kind] of [
    ['kit-1', 'native'],
    ['kit-2', 'native'],
    ['car-1', 'vehicle'],
    ['car-2', 'vehicle'],
  ] as const) {
    secrets[id] = (await tb.store.devices.create({ id, kind, lat: 48.11, lon: -1.68 })).secret!;
  }
  token = (await tb.store.devices.create({ id: 'sck-1', kind: 'sck' })).token!;
  otherToken = (await tb.store.devices.create({ id: 'sck-2', kind: 'sck' })).token!;
  ingest = await service('svc:ingest', { clientId: 'ingest-test' });
  ingestLog = messageLog(ingest);
  await ingest.subscribeAsync(['sensors/+/readings', 'device/sck/+/readings/raw', 'vehicles/+/status'], {
    qos: 1,
  });
});

afterAll(async () => {
  for (const c of open) c.end(true);
  await tb?.stop();
});

describe('connect', () => {
  it('accepts a device with its id and secret', async () => {
    expect(await connackCode(tb.url, { username: 'kit-1', password: secrets['kit-1']! })).toBe(0);
  });

  it('refuses a device with a wrong password as bad user name or password', async () => {
    const before = refusals().bad_credentials;
    expect(await connackCode(tb.url, { username: 'kit-1', password: 'not-the-secret' })).toBe(
      BAD_USER_OR_PASSWORD,
    );
    expect(refusals().bad_credentials).toBe(before + 1);
  });

  it('refuses an unknown user the same way', async () => {
    expect(await connackCode(tb.url, { username: 'nobody', password: 'x' })).toBe(BAD_USER_OR_PASSWORD);
  });

  it('refuses a service account with a wrong secret', async () => {
    expect(await connackCode(tb.url, { username: 'svc:ingest', password: 'guess' })).toBe(
      BAD_USER_OR_PASSWORD,
    );
  });

  it('refuses a connection without credentials whose client id is no token', async () => {
    const before = refusals().no_credentials;
    expect(await connackCode(tb.url, { clientId: 'anonymous-client' })).toBe(NOT_AUTHORIZED);
    expect(refusals().no_credentials).toBe(before + 1);
  });

  it('refuses a last will on a topic the device may not publish', async () => {
    const before = refusals().will_denied;
    const will = {
      topic: topics.vehicleStatus('car-2'),
      payload: Buffer.from('{"online":false}'),
      qos: 1 as const,
      retain: true,
    };
    expect(await connackCode(tb.url, { username: 'car-1', password: secrets['car-1']!, will })).toBe(
      NOT_AUTHORIZED,
    );
    expect(refusals().will_denied).toBe(before + 1);
  });
});

describe('publish rights', () => {
  it('closes the connection of a device publishing on another device topic, and counts it', async () => {
    const before = refusals().publish_denied;
    const kit = await device('kit-1');
    kit.publish(topics.sensorReadings('kit-2'), '{"pm25":1}', { qos: 1 });
    await closedByBroker(kit);
    expect(refusals().publish_denied).toBe(before + 1);
    expect(ingestLog.all.filter((m) => m.topic === topics.sensorReadings('kit-2'))).toEqual([]);
  });

  it('lets no device publish under $SYS/', async () => {
    const before = refusals().publish_denied;
    const kit = await device('kit-1');
    kit.publish(statsTopic('broker', 'fake'), '{}');
    await closedByBroker(kit);
    expect(refusals().publish_denied).toBe(before + 1);
  });

  it('stamps a device reading with the receive time on its way to ingest, bytes unchanged', async () => {
    const kit = await device('kit-1');
    const body = Buffer.from('{"ts":"2026-11-22T10:15:00Z","pm25":8.2}');
    const t0 = Date.now();
    await kit.publishAsync(topics.sensorReadings('kit-1'), body, { qos: 1 });
    const t1 = Date.now();
    const m = await ingestLog.next((x) => x.topic === topics.sensorReadings('kit-1'));
    const { receivedAt, payload } = unstamp(m.payload);
    expect(receivedAt!.getTime()).toBeGreaterThanOrEqual(t0);
    expect(receivedAt!.getTime()).toBeLessThanOrEqual(t1);
    expect(payload.equals(body)).toBe(true);
    expect(m.payload.length).toBe(body.length + `\0${receivedAt!.getTime()}\0`.length);
  });
});

describe('subscribe rights', () => {
  it('grants a vehicle its own command topic, and it receives what the api sends there', async () => {
    const car = await device('car-1');
    const carLog = messageLog(car);
    const granted = await car.subscribeAsync(topics.vehicleCommands('car-1'), { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    const api = await service('svc:api');
    const command = '{"id":"cmd_1","action":"unlock","bookingId":"bk_1"}';
    await api.publishAsync(topics.vehicleCommands('car-1'), command, { qos: 1 });
    const m = await carLog.next();
    // commands are not device data: no stamp
    expect([m.topic, m.payload.toString()]).toEqual([topics.vehicleCommands('car-1'), command]);
  });

  it("answers 0x80 to a vehicle subscribing to another car's commands, counts it, and keeps the connection", async () => {
    const before = refusals().subscribe_denied;
    const car = await device('car-1');
    const granted = await subackCodes(
      car,
      [topics.vehicleCommands('car-2'), 'vehicles/+/commands', '#', topics.vehicleCommands('car-1')],
      1,
    );
    expect(granted).toEqual([128, 128, 128, 1]);
    expect(refusals().subscribe_denied).toBe(before + 3);
    await car.publishAsync(topics.vehicleTelemetry('car-1'), '{"speed_kmh":0}', { qos: 1 });
    expect(car.connected).toBe(true);
  });

  it('refuses a sensor kit any subscription', async () => {
    const kit = await device('kit-1');
    expect(await subackCodes(kit, [topics.sensorReadings('kit-1')], 0)).toEqual([128]);
  });
});

describe('Smart Citizen kits', () => {
  it('refuses a kit whose token is not registered', async () => {
    const before = refusals().unknown_sck_token;
    expect(await connackCode(tb.url, { clientId: unregisteredToken() })).toBe(NOT_AUTHORIZED);
    expect(refusals().unknown_sck_token).toBe(before + 1);
  });

  it('lets a registered kit publish under its own token, stamped', async () => {
    const kit = await track(brokerClient(tb.url, { clientId: token }));
    const raw = '{t:2026-11-22T10:15:00Z,87:8.2,53:58.4}';
    await kit.publishAsync(topics.sckRaw(token), raw, { qos: 0 });
    const m = await ingestLog.next((x) => x.topic === topics.sckRaw(token));
    expect(unstamp(m.payload).payload.toString()).toBe(raw);
    expect(unstamp(m.payload).receivedAt).toBeInstanceOf(Date);
  });

  it("closes a kit publishing on another kit's token", async () => {
    const before = refusals().publish_denied;
    const kit = await track(brokerClient(tb.url, { clientId: token }));
    kit.publish(topics.sckRaw(otherToken), '{t:2026-11-22T10:15:00Z,87:1}');
    await closedByBroker(kit);
    expect(refusals().publish_denied).toBe(before + 1);
  });

  it('accepts the stock firmware as mosquitto_pub plays it: client id = token, no credentials', async () => {
    const raw = '{t:2026-11-22T10:20:00Z,87:9.5}';
    await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(tb.port),
      '-i',
      token,
      '-t',
      topics.sckRaw(token),
      '-m',
      raw,
    ]);
    const m = await ingestLog.next(
      (x) => x.topic === topics.sckRaw(token) && unstamp(x.payload).payload.toString() === raw,
    );
    expect(unstamp(m.payload).payload.toString()).toBe(raw);
  });
});

describe('mosquitto_pub as a device', () => {
  it('publishes a native reading with its id and secret at QoS 1', async () => {
    const body = '{"pm10":14.0,"noise_laeq":58.4}';
    await run('mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(tb.port), '-u', 'kit-2', '-P', secrets['kit-2']!],
      ...['-q', '1', '-t', topics.sensorReadings('kit-2'), '-m', body],
    ]);
    const m = await ingestLog.next((x) => x.topic === topics.sensorReadings('kit-2'));
    expect(unstamp(m.payload).payload.toString()).toBe(body);
  });

  it('is refused with a wrong password', async () => {
    const failed = await run('mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(tb.port), '-u', 'kit-2', '-P', 'wrong'],
      ...['-t', topics.sensorReadings('kit-2'), '-m', '{}'],
    ]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).not.toBe(0);
    expect(failed?.stderr).toMatch(/bad user name or password/i);
  });
});

describe('payload size', () => {
  it('forwards a 64 KiB payload', async () => {
    const kit = await device('kit-1');
    const body = Buffer.alloc(MAX_PAYLOAD_BYTES, 0x61);
    await kit.publishAsync(topics.sensorReadings('kit-1'), body, { qos: 1 });
    const m = await ingestLog.next(
      (x) => x.topic === topics.sensorReadings('kit-1') && x.payload.length > 60_000,
    );
    expect(unstamp(m.payload).payload.equals(body)).toBe(true);
  });

  for (const size of [MAX_PAYLOAD_BYTES + 1, 65 * 1024 + 1]) {
    it(`refuses ${size} bytes and closes the connection`, async () => {
      const before = refusals().payload_too_large;
      const kit = await device('kit-1');
      kit.publish(topics.sensorReadings('kit-1'), Buffer.alloc(size, 0x62), { qos: 1 });
      await closedByBroker(kit);
      expect(refusals().payload_too_large).toBe(before + 1);
      expect(ingestLog.all.some((m) => unstamp(m.payload).payload[0] === 0x62)).toBe(false);
    });
  }

  it('cuts off a packet announcing 100 MB as soon as its length arrives, before or after CONNECT', async () => {
    const before = refusals().packet_too_large;
    // PUBLISH header with remaining length 100,000,000, after a good CONNECT
    const connect = generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepalive: 60,
      clientId: 'big-sender',
      username: 'kit-1',
      password: Buffer.from(secrets['kit-1']!),
    });
    const hugePublish = Buffer.concat([Buffer.from([0x30, 0x80, 0xc2, 0xd7, 0x2f]), Buffer.alloc(1024)]);
    expect(await sendRaw(tb.port, [connect, hugePublish])).toBe('closed');
    // a CONNECT announcing 100 MB, from nobody
    const hugeConnect = Buffer.concat([Buffer.from([0x10, 0x80, 0xc2, 0xd7, 0x2f]), Buffer.alloc(1024)]);
    expect(await sendRaw(tb.port, [hugeConnect])).toBe('closed');
    expect(refusals().packet_too_large).toBe(before + 2);
  });
});

describe('vehicle status', () => {
  it('keeps the retained status, and publishes the last will retained when the car drops', async () => {
    const will = {
      topic: topics.vehicleStatus('car-2'),
      payload: Buffer.from('{"online":false}'),
      qos: 1 as const,
      retain: true,
    };
    const car = await device('car-2', { will, keepalive: 30 });
    const online = '{"online":true,"locked":true,"ts":"2026-11-22T10:15:00Z"}';
    await car.publishAsync(topics.vehicleStatus('car-2'), online, { qos: 1, retain: true });

    const late = await service('svc:api');
    const lateLog = messageLog(late);
    await late.subscribeAsync(topics.vehicleStatus('car-2'), { qos: 1 });
    const first = await lateLog.next();
    expect([first.payload.toString(), first.retain]).toEqual([online, true]);

    car.stream.destroy();
    const dropped = await lateLog.next((m) => m.payload.toString() === '{"online":false}');
    expect(dropped.topic).toBe(topics.vehicleStatus('car-2'));

    const later = await service('svc:api');
    const laterLog = messageLog(later);
    await later.subscribeAsync(topics.vehicleStatus('car-2'), { qos: 1 });
    const retained = await laterLog.next();
    expect([retained.payload.toString(), retained.retain]).toEqual(['{"online":false}', true]);
  });

  it('clears the retain flag on telemetry', async () => {
    const car = await device('car-1');
    await car.publishAsync(topics.vehicleTelemetry('car-1'), '{"speed_kmh":12}', { qos: 1, retain: true });
    const api = await service('svc:api');
    const log = messageLog(api);
    await api.subscribeAsync([topics.vehicleTelemetry('car-1'), topics.vehicleStatus('car-2')], { qos: 1 });
    // the retained status of car-2 (test above) arrives; telemetry of car-1 must not
    await log.next((m) => m.topic === topics.vehicleStatus('car-2'));
    await new Promise((r) => setTimeout(r, 200));
    expect(log.all.map((m) => m.topic)).toEqual([topics.vehicleStatus('car-2')]);
  });
});

describe('stats', () => {
  it('publishes the figures retained on $SYS/citytel/broker/{id}/stats, the same as stats()', async () => {
    const api = await service('svc:api');
    const log = messageLog(api);
    await api.subscribeAsync(STATS_SUBSCRIPTIONS);
    const m = await log.next();
    expect(m.topic).toBe(statsTopic('broker', `test-${process.pid}`));
    const published = JSON.parse(m.payload.toString());
    expect(published.broker).toBe(`test-${process.pid}`);
    expect(Object.keys(published.refusals).sort()).toEqual(Object.keys(tb.broker.stats().refusals).sort());
    await vi.waitFor(() => expect(tb.broker.stats().clients).toBe(open.filter((c) => c.connected).length));
    const s = tb.broker.stats();
    expect(s.messagesIn).toBeGreaterThan(0);
    expect(s.messagesOut).toBeGreaterThan(0);
    expect(s.bytesIn).toBeGreaterThan(MAX_PAYLOAD_BYTES);
  });
});

describe('WebSocket listener', () => {
  it('carries MQTT over ws://', async () => {
    const kit = await track(brokerClient(tb.wsUrl!, { username: 'kit-1', password: secrets['kit-1']! }));
    await kit.publishAsync(topics.sensorReadings('kit-1'), '{"pm25":3.3}', { qos: 1 });
    const m = await ingestLog.next(
      (x) =>
        x.topic === topics.sensorReadings('kit-1') &&
        unstamp(x.payload).payload.toString() === '{"pm25":3.3}',
    );
    expect(unstamp(m.payload).receivedAt).toBeInstanceOf(Date);
  });
});

describe('TLS listener', () => {
  it('carries MQTT over TLS with the configured certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'citytel-tls-'));
    try {
      const certFile = join(dir, 'cert.pem');
      const keyFile = join(dir, 'key.pem');
      await run('openssl', [
        ...[
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-days',
          '1',
        ],
        ...[
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          keyFile,
          '-out',
          certFile,
        ],
      ]);
      const secure = await startTestBroker({ store: tb.store, brokerId: 'tls', tls: { certFile, keyFile } });
      try {
        const kit = await brokerClient(secure.tlsUrl!, {
          username: 'kit-1',
          password: secrets['kit-1']!,
          ca: readFileSync(certFile),
        });
        await kit.publishAsync(topics.sensorReadings('kit-1'), '{"pm25":1}', { qos: 1 });
        await vi.waitFor(() => expect(secure.broker.stats().messagesIn).toBe(1));
        kit.end(true);
      } finally {
        await secure.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('login slow-down', () => {
  // a broker of its own per test, with the default slow-down and nothing remembered from other tests
  let slow: TestBroker;
  beforeEach(async () => {
    slow = await startTestBroker({ store: tb.store, brokerId: 'slow' });
  });
  afterEach(async () => {
    await slow?.stop();
  });

  const timed = async (opts: Parameters<typeof connackCode>[1]) => {
    const t = performance.now();
    const code = await connackCode(slow.url, opts);
    return { code, ms: performance.now() - t };
  };

  it('answers the 5th attempt after 3 wrong passwords at least 500 ms later than the 1st', async () => {
    const wrong = { username: 'kit-1', password: 'wrong' };
    const attempts = [];
    for (let i = 0; i < 5; i++) attempts.push(await timed(wrong));
    expect(attempts.map((a) => a.code)).toEqual([4, 4, 4, 4, 4]);
    expect(attempts[4]!.ms - attempts[0]!.ms).toBeGreaterThanOrEqual(500);
    // a right secret still gets in (after its wait), and clears the slow-down
    expect((await timed({ username: 'kit-1', password: secrets['kit-1']! })).code).toBe(0);
    const after = await timed(wrong);
    expect(after.ms).toBeLessThan(attempts[0]!.ms + 400);
  });

  it('slows down Smart Citizen token guessing the same way', async () => {
    const before = slow.broker.stats().refusals.unknown_sck_token;
    const guesses = [];
    for (let i = 0; i < 5; i++) guesses.push(await timed({ clientId: unregisteredToken() }));
    expect(guesses.map((g) => g.code)).toEqual([5, 5, 5, 5, 5]);
    expect(guesses[4]!.ms - guesses[0]!.ms).toBeGreaterThanOrEqual(500);
    expect(slow.broker.stats().refusals.unknown_sck_token).toBe(before + 5);
    expect((await timed({ clientId: token })).code).toBe(0);
  });
});

/** Writes raw bytes on a TCP connection; 'closed' when the broker hangs up within 3 s. */
function sendRaw(port: number, chunks: Buffer[]): Promise<'closed' | 'open'> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('open');
    }, 3000);
    socket.on('error', () => {});
    socket.resume(); // read (and drop) the CONNACK, or the socket never sees its end
    socket.on('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        socket.write(chunk);
        await new Promise((r) => setTimeout(r, 100));
      }
    });
  });
}
