import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiStack, startApiStack } from '../helpers/api-stack.ts';
import { brokerClient, closedByBroker, connackCode } from '../helpers/broker.ts';

/**
 * Revocation through the api and the CLI, seen from MQTT clients (MQTT.js and mosquitto_sub): the old
 * credential refused at once, the live connection dropped within 10 s, every act audited.
 */
let stack: ApiStack;
let coopToken = '';
const open: MqttClient[] = [];
const root = fileURLToPath(new URL('../..', import.meta.url));

const api = async (method: string, path: string, token: string, body?: unknown) => {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};

const register = async (id: string, kind: string) => {
  const r = await api('POST', '/api/v1/devices', coopToken, { id, kind, lat: 48.11, lon: -1.68 });
  expect(r.status).toBe(201);
  return r.body as { secret?: string; token?: string };
};

beforeAll(async () => {
  stack = await startApiStack();
  coopToken = (await stack.store.operators.create({ id: 'coop', name: 'Coop' })).token;
}, 120_000);

afterAll(async () => {
  for (const c of open) c.end(true);
  await stack?.close();
});

describe('device revocation through the api', () => {
  it('rotates a secret: shown once, the old one refused at once, the live connection dropped within 10 s', async () => {
    const { secret } = await register('kit-a', 'native');
    const live = await brokerClient(stack.mqttUrl, {
      username: 'kit-a',
      password: secret!,
      clientId: 'kit-a',
    });
    open.push(live);
    const r = await api('POST', '/api/v1/devices/kit-a/secret', coopToken);
    expect(r.status).toBe(200);
    expect(r.body.secret).toMatch(/^[A-Za-z0-9]{32}$/);
    const t0 = Date.now();
    expect(
      await connackCode(stack.mqttUrl, { username: 'kit-a', password: secret!, clientId: 'kit-a/2' }),
    ).toBe(4);
    await closedByBroker(live, 10_000);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(
      await connackCode(stack.mqttUrl, { username: 'kit-a', password: r.body.secret, clientId: 'kit-a' }),
    ).toBe(0);
  }, 30_000);

  it('disables and enables a device; a car under mosquitto_sub is dropped and its reconnect refused', async () => {
    const { secret } = await register('car-a', 'vehicle');
    const port = new URL(stack.mqttUrl).port;
    const sub = spawn('mosquitto_sub', [
      ...['-h', '127.0.0.1', '-p', port, '-i', 'car-a', '-u', 'car-a', '-P', secret!],
      ...['-t', 'vehicles/car-a/commands', '-q', '1'],
    ]);
    const exited = new Promise<number | null>((resolve) => sub.once('exit', (code) => resolve(code)));
    await new Promise((r) => setTimeout(r, 1000));
    expect(sub.exitCode).toBeNull();
    const r = await api('PATCH', '/api/v1/devices/car-a', coopToken, { disabled: true });
    expect(r.status).toBe(200);
    expect(r.body.disabled).toBe(true);
    const t0 = Date.now();
    const code = await Promise.race([
      exited,
      new Promise<'running'>((res) => setTimeout(() => res('running'), 10_000)),
    ]);
    if (code === 'running') sub.kill();
    expect(code).not.toBe('running');
    expect(code).not.toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(
      await connackCode(stack.mqttUrl, { username: 'car-a', password: secret!, clientId: 'car-a' }),
    ).toBe(4);
    expect((await api('PATCH', '/api/v1/devices/car-a', coopToken, { disabled: false })).status).toBe(200);
    expect(
      await connackCode(stack.mqttUrl, { username: 'car-a', password: secret!, clientId: 'car-a' }),
    ).toBe(0);
  }, 30_000);

  it('deletes a kit: its token refused, the record gone', async () => {
    const { token } = await register('sck-a', 'sck');
    const kit = await brokerClient(stack.mqttUrl, { clientId: token! });
    open.push(kit);
    expect((await api('DELETE', '/api/v1/devices/sck-a', coopToken)).status).toBe(204);
    expect(await connackCode(stack.mqttUrl, { clientId: token! })).toBe(5);
    await closedByBroker(kit, 10_000);
    expect((await api('GET', '/api/v1/devices/sck-a', coopToken)).status).toBe(404);
  }, 30_000);

  it('refuses a rotated airrohr secret on the HTTP bridge at once, though it was cached', async () => {
    const { secret } = await register('air-a', 'airrohr');
    const post = (password: string) =>
      fetch(`${stack.baseUrl}/api/v1/ingest/airrohr`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`air-a:${password}`).toString('base64')}`,
          'content-type': 'application/json',
          'x-sensor': 'esp8266-13463245',
        },
        body: JSON.stringify({
          esp8266id: '13463245',
          software_version: 'NRZ-2024-135',
          sensordatavalues: [{ value_type: 'SDS_P1', value: '14.00' }],
        }),
      });
    expect((await post(secret!)).status).toBe(200);
    expect((await post(secret!)).status).toBe(200);
    const rotated = await api('POST', '/api/v1/devices/air-a/secret', coopToken);
    expect((await post(secret!)).status).toBe(401);
    expect((await post(rotated.body.secret)).status).toBe(200);
    expect((await api('PATCH', '/api/v1/devices/air-a', coopToken, { disabled: true })).status).toBe(200);
    expect((await post(rotated.body.secret)).status).toBe(401);
  });

  it("refuses another operator's revocations", async () => {
    await register('kit-b', 'native');
    const other = (await stack.store.operators.create({ id: 'other', name: 'Other' })).token;
    expect((await api('DELETE', '/api/v1/devices/kit-b', other)).status).toBe(403);
    expect((await api('PATCH', '/api/v1/devices/kit-b', other, { disabled: true })).status).toBe(403);
    expect((await api('POST', '/api/v1/devices/kit-b/secret', other)).status).toBe(403);
    expect((await api('POST', '/api/v1/operators/coop/token', other)).status).toBe(403);
    expect((await api('GET', '/api/v1/audit', other)).status).toBe(403);
  });

  it('revokes from the CLI too: the broker drops the device', async () => {
    const { secret } = await register('kit-cli', 'native');
    const live = await brokerClient(stack.mqttUrl, {
      username: 'kit-cli',
      password: secret!,
      clientId: 'kit-cli',
    });
    open.push(live);
    await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'api/src/cli.ts', 'device', 'disable', '--id', 'kit-cli'],
      { cwd: root, env: { ...process.env, DATA_DIR: stack.dir, LOG_LEVEL: 'warn' } },
    );
    await closedByBroker(live, 10_000);
  }, 30_000);
});

describe('operator tokens', () => {
  it('rotates and revokes tokens, and audits who did what', async () => {
    const { token } = await stack.store.operators.create({ id: 'rot', name: 'Rot' });
    const rotated = await api('POST', '/api/v1/operators/rot/token', token);
    expect(rotated.status).toBe(200);
    expect((await api('GET', '/api/v1/devices/kit-b', token)).status).toBe(401);
    const fresh = rotated.body.token as string;
    expect((await api('DELETE', '/api/v1/operators/rot/token', stack.adminToken)).status).toBe(200);
    expect((await api('POST', '/api/v1/devices', fresh, { id: 'x1', kind: 'native' })).status).toBe(401);

    const audit = await api('GET', '/api/v1/audit?limit=50', stack.adminToken);
    expect(audit.status).toBe(200);
    const acts = (audit.body.entries as Array<{ actor: string; action: string; target: string }>).map(
      (e) => `${e.actor} ${e.action} ${e.target}`,
    );
    expect(acts).toEqual(
      expect.arrayContaining([
        'coop device.rotate_secret kit-a',
        'coop device.disable car-a',
        'coop device.delete sck-a',
        'cli device.disable kit-cli',
        'rot operator.rotate_token rot',
        'admin-op operator.revoke_token rot',
      ]),
    );
  });
});
