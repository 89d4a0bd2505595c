import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeAirrohr,
  decodeNative,
  decodeSckJson,
  decodeSckRaw,
  decodeVehicleTelemetry,
  INGEST_SUBSCRIPTIONS,
  parseTopic,
  unstamp,
} from '@citytel/contract';
import { deriveServiceSecret } from '@citytel/store';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, runLoad, type Simulator, simConfig } from '../firmware-sim/src/index.ts';
import { type ApiStack, startApiStack } from './helpers/api-stack.ts';

/**
 * The simulator against the real broker and api (store, broker, influxd, api on free ports): it
 * registers its devices, its kits publish what the contract decoders accept, its cars obey commands
 * as CONTRACT §3 says, and it logs in again after a restart with the secrets of its state file.
 */

interface Seen {
  topic: string;
  payload: string;
}

const waitFor = async <T>(what: string, fn: () => T | undefined, ms = 15_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('firmware simulator against the real platform', () => {
  let stack: ApiStack;
  let observer: MqttClient;
  let operator: MqttClient;
  let sim: Simulator;
  const seen: Seen[] = [];
  const acks: Seen[] = [];
  let stateFile: string;
  /** The simulated city of every test here: 7 kits (each format) and 2 cars, reporting every second. */
  const smallCity = (adminToken: string | undefined) =>
    simConfig({
      kits: 7,
      vehicles: 2,
      intervalS: 1,
      vehicleIntervalS: 1,
      seed: 5,
      apiUrl: stack.baseUrl,
      mqttUrl: stack.mqttUrl,
      adminToken,
      stateFile,
      autoTrips: false,
    });

  beforeAll(async () => {
    stack = await startApiStack();
    stateFile = join(stack.dir, 'sim-devices.json');
    observer = await mqtt.connectAsync(stack.mqttUrl, {
      username: 'svc:ingest',
      password: deriveServiceSecret(stack.serviceSecret, 'svc:ingest'),
      clientId: 'svc:ingest/test-observer',
    });
    await observer.subscribeAsync([...INGEST_SUBSCRIPTIONS], { qos: 1 });
    observer.on('message', (topic, payload) =>
      seen.push({ topic, payload: unstamp(payload).payload.toString() }),
    );
    operator = await mqtt.connectAsync(stack.mqttUrl, {
      username: 'svc:api',
      password: deriveServiceSecret(stack.serviceSecret, 'svc:api'),
      clientId: 'svc:api/test-operator',
    });
    await operator.subscribeAsync('vehicles/+/commands/ack', { qos: 1 });
    operator.on('message', (topic, payload) => acks.push({ topic, payload: payload.toString() }));
    sim = createSimulator(smallCity(stack.adminToken), { log: stack.log });
    await sim.start();
  });

  afterAll(async () => {
    await sim?.stop();
    await observer?.endAsync();
    await operator?.endAsync();
    await stack?.close();
  });

  it('registers its devices and keeps their secrets in a 0600 state file', async () => {
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    expect(Object.keys(state.devices).sort()).toEqual(
      [
        'sim-native-001',
        'sim-native-002',
        'sim-native-003',
        'sim-sck-001',
        'sim-sck-002',
        'sim-airrohr-001',
        'sim-airrohr-002',
        'sim-car-01',
        'sim-car-02',
      ].sort(),
    );
    expect(state.devices['sim-sck-001'].token).toMatch(/^[a-z0-9]{6}$/);
    expect(state.devices['sim-car-01'].secret).toBeTypeOf('string');
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
    expect(await stack.store.devices.get('sim-native-001')).toMatchObject({ kind: 'native', mobile: true });
  });

  it('publishes every format in a shape the contract decoders accept whole', async () => {
    const kinds = [
      'native',
      'sck-raw',
      'sck-json',
      'sck-hello',
      'sck-info',
      'airrohr',
      'vehicle-telemetry',
      'vehicle-status',
    ];
    await waitFor('one message of each kind', () =>
      kinds.every((k) => seen.some((m) => parseTopic(m.topic)?.kind === k)),
    );
    for (const m of seen) {
      const kind = parseTopic(m.topic)?.kind;
      const decoded =
        kind === 'native'
          ? decodeNative(m.payload)
          : kind === 'sck-raw'
            ? decodeSckRaw(m.payload)
            : kind === 'sck-json'
              ? decodeSckJson(m.payload)
              : kind === 'airrohr'
                ? decodeAirrohr(m.payload)
                : undefined;
      if (decoded) {
        expect(decoded.error, m.payload).toBeUndefined();
        // A silent sensor is sent as null and dropped without a rejection.
        expect(decoded.rejections, m.payload).toEqual([]);
      }
      if (kind === 'vehicle-telemetry')
        expect(decodeVehicleTelemetry(m.payload)).toMatchObject({ ok: true, rejections: [] });
    }
    const token = JSON.parse(readFileSync(stateFile, 'utf8')).devices['sim-sck-001'].token;
    expect(seen.find((m) => m.topic === `device/sck/${token}/hello`)?.payload).toBe(`${token}:Hello`);
    expect(sim.stats().httpPosts).toBeGreaterThan(0);
    expect(sim.stats().errors).toBe(0);
  });

  describe('a car', () => {
    const command = (id: string, action: 'lock' | 'unlock', expiresInMs = 30_000) =>
      JSON.stringify({
        id,
        action,
        bookingId: 'bk_1',
        issuedAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
      });
    const send = (vehicle: string, payload: string) =>
      operator.publishAsync(`vehicles/${vehicle}/commands`, payload, { qos: 1 });
    const acksOf = (id: string) =>
      acks.filter((a) => JSON.parse(a.payload).id === id).map((a) => JSON.parse(a.payload));

    it('unlocks, publishes its new status, and answers done', async () => {
      const car = sim.vehicle('sim-car-02')!;
      await waitFor('car online', () => car.online);
      const before = car.car.state.locked;
      const action = before ? 'unlock' : 'lock';
      if (car.car.state.ignition) car.car.state.ignition = false;
      await send(car.id, command('cmd_UNLOCK00001', action));
      const [a] = await waitFor('ack', () =>
        acksOf('cmd_UNLOCK00001').length ? acksOf('cmd_UNLOCK00001') : undefined,
      );
      expect(a).toMatchObject({ id: 'cmd_UNLOCK00001', status: 'done' });
      expect(car.locked).toBe(!before);
      const status = await waitFor('status', () =>
        seen.findLast(
          (m) => m.topic === `vehicles/${car.id}/status` && JSON.parse(m.payload).locked === !before,
        ),
      );
      expect(JSON.parse(status.payload)).toMatchObject({ online: true, locked: !before });
    });

    it('never executes a replayed id twice, and answers it with the first result', async () => {
      const car = sim.vehicle('sim-car-02')!;
      const locked = car.locked;
      await send(car.id, command('cmd_UNLOCK00001', locked ? 'unlock' : 'lock'));
      await waitFor('second ack', () => (acksOf('cmd_UNLOCK00001').length === 2 ? true : undefined));
      const [first, second] = acksOf('cmd_UNLOCK00001');
      expect(second).toEqual(first);
      expect(car.locked).toBe(locked);
    });

    it('refuses an expired command with reason expired', async () => {
      const car = sim.vehicle('sim-car-02')!;
      const locked = car.locked;
      await send(car.id, command('cmd_EXPIRED0001', locked ? 'unlock' : 'lock', -1000));
      const [a] = await waitFor('ack', () =>
        acksOf('cmd_EXPIRED0001').length ? acksOf('cmd_EXPIRED0001') : undefined,
      );
      expect(a).toMatchObject({ status: 'rejected', reason: 'expired' });
      expect(car.locked).toBe(locked);
    });

    it('can be told to fail, or to stay silent', async () => {
      const car = sim.vehicle('sim-car-02')!;
      car.setFailing('unit_fault');
      await send(car.id, command('cmd_FAILING0001', 'unlock'));
      const [a] = await waitFor('ack', () =>
        acksOf('cmd_FAILING0001').length ? acksOf('cmd_FAILING0001') : undefined,
      );
      expect(a).toMatchObject({ status: 'rejected', reason: 'unit_fault' });
      car.setFailing(false);
      car.setSilent(true);
      await send(car.id, command('cmd_SILENT00001', 'unlock'));
      await new Promise((r) => setTimeout(r, 1500));
      expect(acksOf('cmd_SILENT00001')).toEqual([]);
      car.setSilent(false);
    });

    it('goes offline abruptly so the broker publishes its will, and comes back', async () => {
      const car = sim.vehicle('sim-car-01')!;
      await waitFor('car online', () => car.online);
      const mark = seen.length;
      car.goOffline();
      const will = await waitFor('will', () =>
        seen
          .slice(mark)
          .find((m) => m.topic === `vehicles/${car.id}/status` && JSON.parse(m.payload).online === false),
      );
      expect(JSON.parse(will.payload)).toEqual({ online: false });
      car.comeBack();
      await waitFor('back online', () =>
        seen
          .slice(mark)
          .find((m) => m.topic === `vehicles/${car.id}/status` && JSON.parse(m.payload).online === true),
      );
    });
  });

  it('logs in again after a restart with the secrets of its state file, without an operator token', async () => {
    await sim.stop();
    sim = createSimulator(smallCity(undefined), { log: stack.log });
    await sim.start();
    await waitFor(
      'all online',
      () => sim.stats().kitsOnline === 7 && sim.stats().vehiclesOnline === 2,
      20_000,
    );
    expect(sim.stats().errors).toBe(0);
  });

  it('registers a device again under a new id when its login is refused', async () => {
    await sim.stop();
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    state.devices['sim-native-002'].secret = 'stale-secret-from-an-old-database';
    writeFileSync(stateFile, JSON.stringify(state), { mode: 0o600 });
    sim = createSimulator(smallCity(stack.adminToken), { log: stack.log });
    await sim.start();
    await waitFor(
      'all online',
      () => sim.stats().kitsOnline === 7 && sim.stats().vehiclesOnline === 2,
      20_000,
    );
    expect(sim.kit('sim-native-002')!.id).toBe('sim-native-002-r2');
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).devices['sim-native-002'].id).toBe(
      'sim-native-002-r2',
    );
    expect(sim.kit('sim-native-001')!.id).toBe('sim-native-001');
  });

  it('pushes a fixed count of batched readings as the svc:sim gateway and reports its figures', async () => {
    const mark = seen.length;
    const result = await runLoad({
      mqttUrl: stack.mqttUrl,
      devices: 10,
      connections: 2,
      qos: 1,
      batch: 5,
      total: 500,
      inflight: 16,
      prefix: 'bench',
      auth: {
        mode: 'gateway',
        username: 'svc:sim',
        password: deriveServiceSecret(stack.serviceSecret, 'svc:sim'),
      },
    });
    expect(result).toMatchObject({ messages: 100, readings: 500, errors: 0, connections: 2 });
    expect(result.puback?.count).toBe(100);
    expect(result.messagesPerSec).toBeGreaterThan(0);
    await waitFor('load messages', () =>
      seen.slice(mark).filter((m) => m.topic.startsWith('sensors/bench-load-')).length === 100
        ? true
        : undefined,
    );
    const one = seen.slice(mark).find((m) => m.topic.startsWith('sensors/bench-load-'))!;
    expect(decodeNative(one.payload).readings).toHaveLength(5);
  });
});
