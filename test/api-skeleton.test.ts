import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  buildApp,
  connectApiMqtt,
  ERROR_CODES,
  ERRORS,
  loadApiConfig,
  PROM_CONTENT_TYPE,
  type RegisteredRoute,
} from '@citytel/api';
import { createBroker } from '@citytel/broker';
import { encodeAirrohr, statsTopic, topics, unstamp } from '@citytel/contract';
import { deriveServiceSecret, resolveServiceSecrets } from '@citytel/store';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_TEST_DASHBOARD_HTML, type ApiStack, startApiStack } from './helpers/api-stack.ts';
import { freePort } from './helpers/ports.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');

let stack: ApiStack;
beforeAll(async () => {
  stack = await startApiStack();
});
afterAll(async () => {
  await stack?.close();
});

const url = (path: string) => `${stack.baseUrl}${path}`;
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const basic = (user: string, password: string) => ({
  Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});
const postJson = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url(path), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const errorOf = async (r: Response) =>
  ((await r.json()) as { error: { code: string; message: string } }).error;

/** A platform subscriber as ingest runs it: user svc:ingest, QoS 1. */
async function ingestSubscriber(
  filter: string,
): Promise<{ client: MqttClient; messages: Array<{ topic: string; payload: Buffer }> }> {
  const client = await mqtt.connectAsync(stack.mqttUrl, {
    username: 'svc:ingest',
    password: deriveServiceSecret(stack.serviceSecret, 'svc:ingest'),
    clientId: `svc:ingest/test-${Math.random().toString(36).slice(2, 8)}`,
    reconnectPeriod: 0,
  });
  const messages: Array<{ topic: string; payload: Buffer }> = [];
  client.on('message', (topic, payload) => messages.push({ topic, payload }));
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, messages };
}

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('health', () => {
  it('answers liveness with 200 {status: ok}', async () => {
    const r = await fetch(url('/healthz'));
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: 'ok' });
  });

  it('is ready when the store, InfluxDB and the broker connection all answer', async () => {
    const r = await fetch(url('/readyz'));
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({
      status: 'ok',
      checks: { store: 'ok', influx: 'ok', mqtt: 'ok' },
      failed: [],
    });
  });

  it('is not ready, naming InfluxDB, while InfluxDB is down, and ready again once it is back', async () => {
    await stack.influx.stop();
    try {
      const r = await fetch(url('/readyz'));
      expect(r.status).toBe(503);
      const body = (await r.json()) as {
        status: string;
        checks: Record<string, string>;
        failed: Array<{ check: string }>;
      };
      expect(body.status).toBe('unavailable');
      expect(body.checks).toEqual({ store: 'ok', influx: 'failed', mqtt: 'ok' });
      expect(body.failed.map((f) => f.check)).toEqual(['influx']);
    } finally {
      await stack.influx.restart();
    }
    expect((await fetch(url('/readyz'))).status).toBe(200);
  });
});

describe('provisioning', () => {
  const kit = { id: 'kit-1', kind: 'native', lat: 48.1113, lon: -1.68, name: 'Place Sainte-Anne' };

  it('needs an operator token', async () => {
    const none = await postJson('/api/v1/devices', kit);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="citytel"');
    expect((await errorOf(none)).code).toBe('unauthorized');

    const wrong = await postJson('/api/v1/devices', kit, bearer('not-a-real-token-at-all'));
    expect(wrong.status).toBe(401);
    expect((await errorOf(wrong)).code).toBe('unauthorized');
    expect(await stack.store.devices.get('kit-1')).toBeUndefined();
  });

  it('registers a native kit and shows its secret once', async () => {
    const r = await postJson('/api/v1/devices', kit, bearer(stack.adminToken));
    expect(r.status).toBe(201);
    const body = (await r.json()) as Record<string, unknown>;
    expect(body).toEqual({
      id: 'kit-1',
      kind: 'native',
      operatorId: 'admin-op',
      name: 'Place Sainte-Anne',
      lat: 48.1113,
      lon: -1.68,
      mobile: false,
      indoor: false,
      publicTrack: false,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      lastSeenAt: null,
      firmware: null,
      disabled: false,
      secret: expect.any(String),
    });
    expect((await stack.store.devices.verifySecret('kit-1', body.secret as string))?.id).toBe('kit-1');

    const again = await fetch(url('/api/v1/devices/kit-1'), { headers: bearer(stack.adminToken) });
    expect(again.status).toBe(200);
    const { secret: _shownOnce, ...withoutSecret } = body;
    expect(await again.json()).toEqual(withoutSecret);
  });

  it('gives a Smart Citizen kit a token, and airrohr boxes and vehicles a secret', async () => {
    const sck = await postJson(
      '/api/v1/devices',
      { id: 'sck-1', kind: 'sck', lat: 48.11, lon: -1.67 },
      bearer(stack.adminToken),
    );
    expect(sck.status).toBe(201);
    const sckBody = (await sck.json()) as Record<string, unknown>;
    expect(sckBody.token).toMatch(/^[a-z0-9]{6}$/);
    expect(sckBody.secret).toBeUndefined();
    expect((await stack.store.devices.findBySckToken(sckBody.token as string))?.id).toBe('sck-1');

    const air = await postJson(
      '/api/v1/devices',
      { id: 'air-1', kind: 'airrohr', lat: 48.12, lon: -1.66 },
      bearer(stack.adminToken),
    );
    expect(air.status).toBe(201);
    expect(((await air.json()) as Record<string, unknown>).secret).toEqual(expect.any(String));

    const car = await postJson('/api/v1/devices', { id: 'car-1', kind: 'vehicle' }, bearer(stack.adminToken));
    expect(car.status).toBe(201);
    const carBody = (await car.json()) as Record<string, unknown>;
    expect([carBody.kind, carBody.lat, carBody.lon, typeof carBody.secret]).toEqual([
      'vehicle',
      null,
      null,
      'string',
    ]);

    for (const id of ['sck-1', 'air-1', 'car-1']) {
      const view = (await (
        await fetch(url(`/api/v1/devices/${id}`), { headers: bearer(stack.adminToken) })
      ).json()) as object;
      expect(Object.keys(view)).not.toContain('secret');
      expect(Object.keys(view)).not.toContain('token');
    }
  });

  it('refuses a duplicate id with 409 device_exists', async () => {
    const r = await postJson('/api/v1/devices', kit, bearer(stack.adminToken));
    expect(r.status).toBe(409);
    expect(await r.json()).toEqual({
      error: { code: 'device_exists', message: 'device kit-1 already exists' },
    });
  });

  it.each([
    ['a bad id', { ...kit, id: 'kit 2' }, 'body.id: must match [A-Za-z0-9_-]{1,64}'],
    ['an unknown kind', { ...kit, id: 'kit-2', kind: 'bike' }, 'body.kind: '],
    ['a latitude that is not a number', { ...kit, id: 'kit-2', lat: '48.1' }, 'body.lat: '],
    ['a latitude off the earth', { ...kit, id: 'kit-2', lat: 91 }, 'body.lat: '],
    ['a fixed kit without a position', { id: 'kit-2', kind: 'native' }, 'body.lat: lat and lon are required'],
    ['position 0,0', { ...kit, id: 'kit-2', lat: 0, lon: 0 }, 'body.lat: position 0,0 is an unset GPS fix'],
    ['an unknown field', { ...kit, id: 'kit-2', lng: 3 }, 'body: Unrecognized key: "lng"'],
  ])('answers 400 naming the parameter for %s', async (_what, body, message) => {
    const r = await postJson('/api/v1/devices', body, bearer(stack.adminToken));
    expect(r.status).toBe(400);
    const error = await errorOf(r);
    expect(error.code).toBe('invalid_parameter');
    expect(error.message.startsWith(message)).toBe(true);
    expect(await stack.store.devices.get('kit-2')).toBeUndefined();
  });

  it('registers a mobile kit without a position', async () => {
    const r = await postJson(
      '/api/v1/devices',
      { id: 'bike-kit', kind: 'native', mobile: true },
      bearer(stack.adminToken),
    );
    expect(r.status).toBe(201);
  });

  it("shows a device's rejections to its operator or an admin only", async () => {
    const { token: otherToken } = await stack.store.operators.create({ id: 'other-op', name: 'Other' });
    const at = new Date('2026-11-22T10:15:00.000Z');
    await stack.store.rejections.add([
      {
        deviceId: 'kit-1',
        at,
        topic: 'sensors/kit-1/readings',
        reason: 'not_json',
        detail: 'Unexpected token',
        sample: '{pm25:',
      },
    ]);
    const r = await fetch(url('/api/v1/devices/kit-1/rejections'), { headers: bearer(stack.adminToken) });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({
      device: 'kit-1',
      rejections: [
        {
          at: '2026-11-22T10:15:00.000Z',
          topic: 'sensors/kit-1/readings',
          reason: 'not_json',
          detail: 'Unexpected token',
          sample: '{pm25:',
        },
      ],
    });
    const other = await fetch(url('/api/v1/devices/kit-1/rejections'), { headers: bearer(otherToken) });
    expect(other.status).toBe(403);
    expect((await errorOf(other)).code).toBe('forbidden');
    const unknown = await fetch(url('/api/v1/devices/nope/rejections'), {
      headers: bearer(stack.adminToken),
    });
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).code).toBe('device_not_found');
    const badLimit = await fetch(url('/api/v1/devices/kit-1/rejections?limit=0'), {
      headers: bearer(stack.adminToken),
    });
    expect(badLimit.status).toBe(400);
    expect((await errorOf(badLimit)).message.startsWith('querystring.limit: ')).toBe(true);
  });
});

describe('the provisioning command line', () => {
  const cli = (...args: string[]) =>
    run(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'api/src/cli.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: stack.dir, DATABASE_URL: '', INIT_CWD: ROOT },
    });

  it('creates an operator whose token the api accepts, and a device under it', async () => {
    const op = await cli('operator', 'create', '--id', 'citiz-rennes', '--name', 'Citiz Rennes');
    const created = JSON.parse(op.stdout) as {
      operator: { id: string; name: string; admin: boolean };
      token: string;
    };
    expect(created.operator).toMatchObject({ id: 'citiz-rennes', name: 'Citiz Rennes', admin: false });
    expect((await stack.store.operators.verifyToken(created.token))?.id).toBe('citiz-rennes');

    const dev = await cli(
      'device',
      'create',
      '--id',
      'kit-cli',
      '--kind',
      'native',
      '--lat',
      '48.11',
      '--lon',
      '-1.68',
      '--indoor',
      '--name',
      'Balcony',
      '--operator',
      'citiz-rennes',
    );
    const device = JSON.parse(dev.stdout) as Record<string, unknown>;
    expect(device).toMatchObject({
      id: 'kit-cli',
      kind: 'native',
      lat: 48.11,
      lon: -1.68,
      indoor: true,
      mobile: false,
      operatorId: 'citiz-rennes',
      name: 'Balcony',
    });
    expect((await stack.store.devices.verifySecret('kit-cli', device.secret as string))?.id).toBe('kit-cli');

    // The operator made by the command line manages its device through the api.
    const r = await fetch(url('/api/v1/devices/kit-cli'), { headers: bearer(created.token) });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { id: string }).id).toBe('kit-cli');

    const list = JSON.parse((await cli('device', 'list', '--operator', 'citiz-rennes')).stdout) as Array<{
      id: string;
    }>;
    expect(list.map((d) => d.id)).toEqual(['kit-cli']);
  });

  it('refuses a bad kind, naming the flag', async () => {
    const failure = await cli(
      'device',
      'create',
      '--id',
      'kit-x',
      '--kind',
      'bike',
      '--lat',
      '48',
      '--lon',
      '-1',
    ).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toMatch(/^--kind: /);
  });
});

describe('airrohr ingest over HTTP', () => {
  let airSecret: string;
  let nativeSecret: string;
  let carSecret: string;
  let sub: Awaited<ReturnType<typeof ingestSubscriber>>;
  const body = JSON.stringify(
    encodeAirrohr('13463245', { pm10: 14, pm25: 8.2, temperature: 11.2, humidity: 71 }),
  );

  beforeAll(async () => {
    const mk = async (id: string, kind: string) =>
      (await stack.store.devices.create({ id, kind: kind as 'airrohr', lat: 48.1, lon: -1.6 })).secret!;
    airSecret = await mk('air-http', 'airrohr');
    nativeSecret = await mk('native-http', 'native');
    carSecret = (await stack.store.devices.create({ id: 'car-http', kind: 'vehicle' })).secret!;
    sub = await ingestSubscriber('sensors/+/airrohr');
  });
  afterAll(async () => {
    await sub?.client.endAsync();
  });

  it('publishes the body unchanged on sensors/{id}/airrohr once the broker has it', async () => {
    const before = Date.now();
    const r = await postJson('/api/v1/ingest/airrohr', body, {
      ...basic('air-http', airSecret),
      'X-Sensor': 'esp8266-13463245',
    });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: 'accepted', device: 'air-http' });
    const msg = await until(() => sub.messages.find((m) => m.topic === topics.sensorAirrohr('air-http')));
    const { receivedAt, payload } = unstamp(msg.payload);
    expect(payload.toString()).toBe(body);
    expect(receivedAt!.getTime()).toBeGreaterThanOrEqual(before);
    expect(receivedAt!.getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('accepts a text/plain body and a native kit posting the same format', async () => {
    sub.messages.length = 0;
    const r = await fetch(url('/api/v1/ingest/airrohr'), {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain', ...basic('native-http', nativeSecret) },
      body,
    });
    expect(r.status).toBe(200);
    const msg = await until(() => sub.messages.find((m) => m.topic === 'sensors/native-http/airrohr'));
    expect(unstamp(msg.payload).payload.toString()).toBe(body);
  });

  it('answers 401 with a Basic challenge for a wrong secret or none, and publishes nothing', async () => {
    sub.messages.length = 0;
    const wrong = await postJson('/api/v1/ingest/airrohr', body, basic('air-http', 'not-the-secret'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic realm="citytel"/);
    expect((await errorOf(wrong)).code).toBe('unauthorized');
    const none = await postJson('/api/v1/ingest/airrohr', body);
    expect(none.status).toBe(401);
    // A message the broker had would be here by now: the accepted ones above arrived within milliseconds.
    await new Promise((r) => setTimeout(r, 300));
    expect(sub.messages).toEqual([]);
  });

  it('answers 403 to a vehicle', async () => {
    const r = await postJson('/api/v1/ingest/airrohr', body, basic('car-http', carSecret));
    expect(r.status).toBe(403);
    expect((await errorOf(r)).code).toBe('forbidden');
  });

  it.each([
    ['a body without sensordatavalues', '{"esp8266id":"1"}', {}, 'body.sensordatavalues: '],
    ['a body that is not JSON', 'esp8266id=1', {}, 'body: not JSON'],
    ['a malformed X-Sensor header', body, { 'X-Sensor': 'raspi-1' }, 'headers.x-sensor: must be esp8266-'],
  ])('answers 400 naming the parameter for %s', async (_what, payload, headers, message) => {
    const r = await postJson('/api/v1/ingest/airrohr', payload, {
      ...basic('air-http', airSecret),
      ...headers,
    });
    expect(r.status).toBe(400);
    const error = await errorOf(r);
    expect(error.code).toBe('invalid_parameter');
    expect(error.message.startsWith(message)).toBe(true);
  });

  it('answers 503 mqtt_unavailable when the broker cannot be reached', async () => {
    // An api whose broker connection points at a port where nothing listens.
    const deadMqtt = connectApiMqtt({
      url: `mqtt://127.0.0.1:${await freePort()}`,
      password: 'x',
      log: stack.log,
    });
    const config = loadApiConfig({
      DATA_DIR: stack.dir,
      LOG_LEVEL: 'silent',
      DASHBOARD_DIR: join(stack.dir, 'none'),
    });
    const app = await buildApp({ config, store: stack.store, mqtt: deadMqtt, log: stack.log });
    try {
      const r = await app.inject({
        method: 'POST',
        url: '/api/v1/ingest/airrohr',
        headers: { 'content-type': 'application/json', ...basic('air-http', airSecret) },
        payload: body,
      });
      expect(r.statusCode).toBe(503);
      expect(r.json().error.code).toBe('mqtt_unavailable');
      const ready = await app.inject({ url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks.mqtt).toBe('failed');
    } finally {
      await app.close();
      await deadMqtt.close();
    }
  });
});

describe('rate limiting', () => {
  it('is off by default and answers 429 rate_limited on a route that opts in', async () => {
    const config = loadApiConfig({
      DATA_DIR: stack.dir,
      LOG_LEVEL: 'silent',
      RATE_LIMIT_PER_MIN: '2',
      DASHBOARD_DIR: join(stack.dir, 'none'),
    });
    const limited = async (app: import('fastify').FastifyInstance) => {
      app.get('/limited', { config: { rateLimit: {} }, schema: { hide: true } }, async () => ({ ok: true }));
    };
    const app = await buildApp({
      config,
      store: stack.store,
      log: stack.log,
      routes: [{ name: 'limited', plugin: limited }],
    });
    try {
      const codes = [];
      for (let i = 0; i < 3; i++) codes.push((await app.inject({ url: '/limited' })).statusCode);
      expect(codes).toEqual([200, 200, 429]);
      const r = await app.inject({ url: '/limited' });
      expect(r.json().error.code).toBe('rate_limited');
      expect(r.headers['retry-after']).toBeDefined();
      const free = [];
      for (let i = 0; i < 3; i++) free.push((await app.inject({ url: '/healthz' })).statusCode);
      expect(free).toEqual([200, 200, 200]);
    } finally {
      await app.close();
    }
  });
});

describe('OpenAPI document', () => {
  it('is OpenAPI 3 and documents every route the app serves, and nothing else', async () => {
    const r = await fetch(url('/docs/json'));
    expect(r.status).toBe(200);
    const doc = (await r.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    const routes = stack.app.registeredRoutes as RegisteredRoute[];
    // HEAD routes are Fastify's automatic twins of GET routes.
    const served = routes
      .filter((rt) => !rt.hidden && rt.method !== 'HEAD' && rt.method !== 'OPTIONS')
      .map((rt) => `${rt.method} ${rt.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`)
      .sort();
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(documented).toEqual(served);
    expect(served).toEqual(
      expect.arrayContaining([
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'POST /api/v1/devices',
        'GET /api/v1/devices/{id}/rejections',
        'POST /api/v1/ingest/airrohr',
      ]),
    );
    expect((await fetch(url('/docs'), { redirect: 'follow' })).status).toBe(200);
  });

  it('documents every error code of the registry', async () => {
    const doc = (await (await fetch(url('/docs/json'))).json()) as {
      components: {
        schemas: Record<string, { properties: { error: { properties: { code: { enum: string[] } } } } }>;
      };
      'x-error-codes': Record<string, { status: number; message: string }>;
    };
    expect(doc.components.schemas.Error!.properties.error.properties.code.enum).toEqual(ERROR_CODES);
    expect(doc['x-error-codes']).toEqual(ERRORS);
  });
});

describe('metrics', () => {
  const sample = (text: string, line: string): number | undefined => {
    const found = text.split('\n').find((l) => l.startsWith(`${line} `));
    return found === undefined ? undefined : Number(found.slice(line.length + 1));
  };
  const scrape = async () => {
    const r = await fetch(url('/metrics'));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe(PROM_CONTENT_TYPE);
    return r.text();
  };

  it('counts HTTP requests by route and status', async () => {
    const line = 'citytel_api_http_requests_total{method="GET",route="/healthz",status="200"}';
    const before = sample(await scrape(), line) ?? 0;
    for (let i = 0; i < 3; i++) await fetch(url('/healthz'));
    const text = await scrape();
    expect(sample(text, line)).toBe(before + 3);
    expect(text).toContain('# TYPE citytel_api_http_request_duration_seconds histogram');
    expect(
      sample(text, 'citytel_api_http_request_duration_seconds_count{method="GET",route="/healthz"}'),
    ).toBe(before + 3);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it("relays the broker's and ingest's stats received over MQTT under their own names", async () => {
    const text = await until(async () => {
      const t = await scrape();
      return t.includes(`instance="${stack.brokerId}"`) ? t : undefined;
    });
    expect(text).toMatch(new RegExp(`^citytel_broker_\\w+\\{instance="${stack.brokerId}"`, 'm'));
    expect(text).toContain('# TYPE citytel_broker_messages_received_total counter');

    const ingest = await mqtt.connectAsync(stack.mqttUrl, {
      username: 'svc:ingest',
      password: deriveServiceSecret(stack.serviceSecret, 'svc:ingest'),
      clientId: `svc:ingest/test-${Math.random().toString(36).slice(2, 8)}`,
      reconnectPeriod: 0,
    });
    try {
      await ingest.publishAsync(
        statsTopic('ingest', 'ingest-a'),
        JSON.stringify({ points_written: 5, rejected_messages: { schema: 2, out_of_range: 1 } }),
        { qos: 1 },
      );
      // an ingest of the previous release, on its former topic
      await ingest.publishAsync(
        '$SYS/citytel/ingest/ingest-old/stats',
        JSON.stringify({ points_written: 3 }),
        {
          qos: 1,
        },
      );
    } finally {
      await ingest.endAsync();
    }
    const withIngest = await until(async () => {
      const t = await scrape();
      return t.includes('instance="ingest-a"') && t.includes('instance="ingest-old"') ? t : undefined;
    });
    expect(sample(withIngest, 'citytel_ingest_points_written_total{instance="ingest-a"}')).toBe(5);
    expect(sample(withIngest, 'citytel_ingest_points_written_total{instance="ingest-old"}')).toBe(3);
    const rejected = 'citytel_ingest_messages_rejected_total{instance="ingest-a",reason=';
    expect(sample(withIngest, `${rejected}"schema"}`)).toBe(2);
    expect(sample(withIngest, `${rejected}"out_of_range"}`)).toBe(1);
  });
});

describe('a broker restart', () => {
  it('is seen by /readyz, and the api reconnects with its subscriptions', async () => {
    const port = Number(new URL(stack.mqttUrl).port);
    await stack.broker.close();
    await until(() => (stack.mqtt.connected ? undefined : true));
    const down = await fetch(url('/readyz'));
    expect(down.status).toBe(503);
    expect(((await down.json()) as { checks: Record<string, string> }).checks.mqtt).toBe('failed');

    stack.broker = createBroker({
      config: { MQTT_PORT: port, MQTT_HOST: '127.0.0.1', STATS_INTERVAL_MS: 200, BROKER_ID: stack.brokerId },
      store: stack.store,
      serviceSecrets: resolveServiceSecrets('', { MQTT_SERVICE_SECRET: stack.serviceSecret }),
      log: stack.log,
    });
    await stack.broker.listen();
    await stack.mqtt.waitConnected(10_000);
    expect((await fetch(url('/readyz'))).status).toBe(200);

    // The stats subscription was made on the first connection; it must be there again on the new one.
    const ingest = await mqtt.connectAsync(stack.mqttUrl, {
      username: 'svc:ingest',
      password: deriveServiceSecret(stack.serviceSecret, 'svc:ingest'),
      clientId: `svc:ingest/test-${Math.random().toString(36).slice(2, 8)}`,
      reconnectPeriod: 0,
    });
    try {
      await until(async () => {
        await ingest.publishAsync(statsTopic('ingest', 'ingest-b'), JSON.stringify({ points_written: 7 }), {
          qos: 1,
        });
        const t = await (await fetch(url('/metrics'))).text();
        return t.includes('citytel_ingest_points_written_total{instance="ingest-b"} 7') ? true : undefined;
      });
    } finally {
      await ingest.endAsync();
    }
  });
});

describe('the dashboard and unknown paths', () => {
  it('serves the built dashboard at /', async () => {
    const r = await fetch(url('/'));
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(API_TEST_DASHBOARD_HTML);
  });

  it("answers a browser's navigation to a client-side route with the dashboard", async () => {
    const r = await fetch(url('/vehicles/car-1'), { headers: { Accept: 'text/html' } });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(API_TEST_DASHBOARD_HTML);
  });

  it('answers JSON 404 not_found under /api, never the dashboard', async () => {
    const r = await fetch(url('/api/v1/nothing-here'), { headers: { Accept: 'text/html' } });
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({
      error: { code: 'not_found', message: 'no route GET /api/v1/nothing-here' },
    });
  });
});
