import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openStore } from '@citytel/store';
import { afterAll, describe, expect, it } from 'vitest';
import { type NodeProcess, spawnNode } from '../ingest/bench/processes.ts';
import { type InfluxdHandle, startInfluxd } from '../scripts/influxd.ts';
import { eventually } from './helpers/ingest.ts';
import { freePort } from './helpers/ports.ts';

/**
 * A user's own InfluxDB 1.x and a database it has never seen: broker, ingest and api run as processes
 * (their main.ts), a kit publishes with mosquitto_pub, and the reading is read back through the public api.
 * Then the same with auth enabled and a user that may not create databases: /readyz says what is missing
 * and what to run, ingest says it once, the public routes answer 503 with that reason.
 */
const run = promisify(execFile);
const SECRET = 'influx-setup-service-secret';
const dirs: string[] = [];
const procs: NodeProcess[] = [];
const influxes: InfluxdHandle[] = [];

afterAll(async () => {
  for (const p of procs.reverse()) await p.stop();
  for (const i of influxes) await i.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function system(influxEnv: Record<string, string>, kitId: string) {
  const dir = mkdtempSync(join(tmpdir(), 'citytel-influx-setup-'));
  dirs.push(dir);
  const store = await openStore({ dataDir: dir });
  const kit = await store.devices.create({ id: kitId, kind: 'native', lat: 48.11, lon: -1.68 });
  await store.close();
  const mqttPort = await freePort();
  const apiPort = await freePort();
  const common = { DATA_DIR: dir, MQTT_SERVICE_SECRET: SECRET, LOG_LEVEL: 'info', ...influxEnv };
  const broker = spawnNode(
    'broker/src/main.ts',
    { ...common, MQTT_PORT: String(mqttPort), MQTT_HOST: '127.0.0.1', BROKER_ID: 'setup' },
    { name: 'broker' },
  );
  procs.push(broker);
  await broker.logged('"broker listening"');
  const mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
  const ingest = spawnNode(
    'ingest/src/main.ts',
    { ...common, MQTT_URL: mqttUrl, INGEST_ID: `setup-${kitId}`, INGEST_FLUSH_MS: '20' },
    { name: 'ingest' },
  );
  procs.push(ingest);
  const api = spawnNode(
    'api/src/main.ts',
    {
      ...common,
      MQTT_URL: mqttUrl,
      API_PORT: String(apiPort),
      API_HOST: '127.0.0.1',
      DASHBOARD_DIR: join(dir, 'no-dashboard'),
    },
    { name: 'api' },
  );
  procs.push(api);
  await Promise.all([ingest.logged('"ingest started"'), api.logged('api listening')]);
  const publish = (payload: string) =>
    run('mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(mqttPort), '-q', '1'],
      ...['-i', `${kitId}-pub`, '-u', kitId, '-P', kit.secret!],
      ...['-t', `sensors/${kitId}/readings`, '-m', payload],
    ]);
  return { ingest, api, base: `http://127.0.0.1:${apiPort}`, publish };
}

describe('InfluxDB set-up', () => {
  it('a new INFLUX_DB on the user’s own InfluxDB is created, written and read back', {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'citytel-influx-own-'));
    dirs.push(dir);
    const influx = await startInfluxd({ dir, httpPort: await freePort(), rpcPort: await freePort() });
    influxes.push(influx);
    const db = `never_seen_${process.pid}`;
    const { base, publish } = await system({ INFLUX_URL: influx.url, INFLUX_DB: db }, 'own-kit');

    const ready = await eventually('readyz 200', async () => {
      const r = await fetch(`${base}/readyz`);
      return r.status === 200 ? r.json() : undefined;
    });
    expect(ready).toMatchObject({ status: 'ok', checks: { influx: 'ok' } });
    const ts = new Date(Date.now() - 60_000).toISOString();
    await publish(JSON.stringify({ readings: [{ ts, pm25: 17.5, noise_dba: 52.1 }] }));
    const series = await eventually(
      'the reading through the public api',
      async () => {
        const r = await fetch(`${base}/api/v1/devices/own-kit/series?metric=pm25&from=-1h&every=1m`);
        if (r.status !== 200) return undefined;
        const body = (await r.json()) as { points?: Array<{ value?: number; mean?: number }> };
        return JSON.stringify(body).includes('17.5') ? body : undefined;
      },
      30_000,
    );
    expect(JSON.stringify(series)).toContain('17.5');
    const shown = await fetch(`${influx.url}/query?q=SHOW+DATABASES`).then((r) => r.text());
    expect(shown).toContain(db);
  });

  it('a user without the right to create it: /readyz says what to run, routes answer 503', {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'citytel-influx-auth-'));
    dirs.push(dir);
    const httpPort = await freePort();
    const influx = await startInfluxd({ dir, httpPort, rpcPort: await freePort(), auth: true });
    influxes.push(influx);
    const q = (statement: string, user?: [string, string]) =>
      fetch(`${influx.url}/query`, {
        method: 'POST',
        headers: user ? { Authorization: `Basic ${Buffer.from(user.join(':')).toString('base64')}` } : {},
        body: new URLSearchParams({ q: statement }),
      }).then(async (r) => ({ status: r.status, text: await r.text() }));
    // With auth on and no user yet, the first statement may only create an admin.
    expect((await q(`CREATE USER "root" WITH PASSWORD 'rootpw' WITH ALL PRIVILEGES`)).status).toBe(200);
    expect((await q(`CREATE USER "reader" WITH PASSWORD 'readerpw'`, ['root', 'rootpw'])).status).toBe(200);
    const db = `not_allowed_${process.pid}`;
    const { base, ingest, publish } = await system(
      { INFLUX_URL: influx.url, INFLUX_DB: db, INFLUX_USERNAME: 'reader', INFLUX_PASSWORD: 'readerpw' },
      'auth-kit',
    );

    const r = await fetch(`${base}/readyz`);
    expect(r.status).toBe(503);
    const body = (await r.json()) as { checks: { influx: string }; failed: Array<{ reason: string }> };
    expect(body.checks.influx).toBe('failed');
    const reason = body.failed.map((f) => f.reason).join(' ');
    expect(reason).toContain('INFLUX_DB');
    expect(reason).toContain(`CREATE DATABASE "${db}"`);

    for (const path of [
      '/api/v1/devices/auth-kit/series?metric=pm25&from=-1h',
      '/api/v1/map?metric=pm25',
      '/api/v1/devices',
    ]) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(503);
      const err = (await res.json()) as { error: { code: string; message: string } };
      expect(err.error.code, path).toBe('unavailable');
      expect(err.error.message, path).toMatch(/INFLUX_DB|INFLUX_USERNAME/);
    }

    // Ingest said it once at start, naming the variable, and not again per batch.
    await publish(JSON.stringify({ readings: [{ ts: new Date().toISOString(), pm25: 3 }] }));
    await publish(JSON.stringify({ readings: [{ ts: new Date().toISOString(), pm25: 4 }] }));
    await new Promise((r) => setTimeout(r, 1500));
    const said = ingest.output.filter((l) => l.includes('may not create it'));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain('INFLUX_DB');

    // Once an admin creates it, the held reading goes through and readiness recovers, no restart.
    expect((await q(`CREATE DATABASE "${db}"`, ['root', 'rootpw'])).status).toBe(200);
    expect((await q(`GRANT ALL ON "${db}" TO "reader"`, ['root', 'rootpw'])).status).toBe(200);
    await eventually('readyz 200', async () => (await fetch(`${base}/readyz`)).status === 200, 30_000);
  });
});
