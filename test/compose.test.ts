import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp, connectApiMqtt, loadApiConfig } from '@citytel/api';
import { unstamp } from '@citytel/contract';
import { deriveServiceSecret } from '@citytel/store';
import type { FastifyInstance } from 'fastify';
import mqtt from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from './helpers/broker.ts';
import { freePort } from './helpers/ports.ts';
import { tempDir } from './helpers/tmp.ts';

/**
 * The deployment files, checked by the tools that will read them: Debian's docker-compose 1.29 (`config`
 * needs no Docker engine) on both compose files, and `haproxy -c` on the proxy's configuration. Nothing
 * here starts a container; the services themselves are tested in-process elsewhere (api-cluster, broker
 * and ingest cluster tests).
 */

const root = join(import.meta.dirname, '..');
const SECRETS = {
  MQTT_SECRET_INGEST: 'compose-test-ingest-secret',
  MQTT_SECRET_API: 'compose-test-api-secret',
  POSTGRES_PASSWORD: 'composetestpassword',
  INFLUX_TOKEN: 'compose-test-influx-token',
  INFLUX_ADMIN_PASSWORD: 'compose-test-admin',
  BOOTSTRAP_ADMIN_TOKEN: 'compose-test-admin-token',
  REDIS_PASSWORD: 'composetestredis',
  GRAFANA_ADMIN_PASSWORD: 'compose-test-grafana',
  GRAFANA_INFLUX_TOKEN: 'compose-test-grafana-influx-token',
};

/** `docker-compose -f file config`, from an empty folder so that no .env of the developer's is read. */
function composeConfig(file: string, env: Record<string, string>, ...args: string[]) {
  const cwd = tempDir('citytel-compose-');
  const envFile = join(cwd.dir, 'empty.env');
  writeFileSync(envFile, '');
  try {
    const r = spawnSync(
      'docker-compose',
      ['-f', join(root, file), '--project-directory', root, '--env-file', envFile, 'config', ...args],
      { cwd: cwd.dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: cwd.dir, ...env } },
    );
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    cwd.cleanup();
  }
}

interface Service {
  image?: string;
  build?: { dockerfile?: string };
  environment?: Record<string, string>;
  ports?: Array<{ published: number | string; target: number } | string>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: Array<{ source?: string; target: string } | string>;
}

/** The resolved file, read with the YAML parser docker-compose itself depends on (python3-yaml). */
function resolved(yaml: string): { services: Record<string, Service> } {
  const json = execFileSync(
    'python3',
    ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'],
    { input: yaml, encoding: 'utf8' },
  );
  return JSON.parse(json);
}

describe('docker-compose.yml (production)', () => {
  it('is valid with its secrets set, with every process of the layout', () => {
    const r = composeConfig('docker-compose.yml', SECRETS);
    expect(r.stderr).not.toMatch(/ERROR/);
    expect(r.status).toBe(0);
    const { services } = resolved(r.stdout);
    expect(Object.keys(services).sort()).toEqual([
      'api-1',
      'api-2',
      'broker-1',
      'broker-2',
      'grafana',
      'influxdb',
      'ingest-1',
      'ingest-2',
      'postgres',
      'prometheus',
      'proxy',
      'redis',
    ]);
    expect(services.influxdb!.image).toMatch(/^influxdb:2\./);
    expect(services.postgres!.image).toMatch(/^postgres:/);
    expect(services.redis!.image).toMatch(/^redis:/);
    expect(services.proxy!.image).toMatch(/^haproxy:/);

    const env = (name: string) => services[name]!.environment!;
    // Each broker and each worker has its own name; all of them share the store, Redis and the secret.
    expect([env('broker-1').BROKER_ID, env('broker-2').BROKER_ID]).toEqual(['broker-1', 'broker-2']);
    expect([env('ingest-1').INGEST_ID, env('ingest-2').INGEST_ID]).toEqual(['ingest-1', 'ingest-2']);
    for (const name of ['broker-1', 'broker-2', 'ingest-1', 'ingest-2', 'api-1', 'api-2']) {
      expect(env(name).REDIS_URL).toBe(`redis://:${SECRETS.REDIS_PASSWORD}@redis:6379`);
      expect(env(name).DATABASE_URL).toBe(
        `postgres://citytel:${SECRETS.POSTGRES_PASSWORD}@postgres:5432/citytel`,
      );
      // no container holds a secret that derives every service's (the former MQTT_SERVICE_SECRET)
      expect(env(name).MQTT_SERVICE_SECRET).toBeUndefined();
    }
    // one password per service account: the brokers check both, each service holds only its own
    for (const name of ['broker-1', 'broker-2']) {
      expect(env(name).MQTT_SECRET_INGEST).toBe(SECRETS.MQTT_SECRET_INGEST);
      expect(env(name).MQTT_SECRET_API).toBe(SECRETS.MQTT_SECRET_API);
    }
    for (const name of ['ingest-1', 'ingest-2']) {
      expect(env(name).MQTT_SECRET_INGEST).toBe(SECRETS.MQTT_SECRET_INGEST);
      expect(env(name).MQTT_SECRET_API).toBeUndefined();
    }
    for (const name of ['api-1', 'api-2']) {
      expect(env(name).MQTT_SECRET_API).toBe(SECRETS.MQTT_SECRET_API);
      expect(env(name).MQTT_SECRET_INGEST).toBeUndefined();
    }
    for (const name of ['ingest-1', 'ingest-2', 'api-1', 'api-2']) {
      expect(env(name)).toMatchObject({
        INFLUX_URL: 'http://influxdb:8086',
        INFLUX_TOKEN: SECRETS.INFLUX_TOKEN,
        INFLUX_ORG: 'citytel',
        INFLUX_BUCKET: 'telemetry',
      });
    }
    expect(env('influxdb').DOCKER_INFLUXDB_INIT_ADMIN_TOKEN).toBe(SECRETS.INFLUX_TOKEN);
    expect(env('api-1').TRUST_PROXY_HOPS).toBe('1');
    expect(env('api-1').TRUST_PROXY).toBeUndefined();
    // Each process has its own image, built from its own Dockerfile.
    expect(
      ['broker-1', 'ingest-1', 'api-1'].map((s) => [services[s]!.build?.dockerfile, services[s]!.image]),
    ).toEqual([
      ['deploy/broker.Dockerfile', 'citytel-broker:latest'],
      ['deploy/ingest.Dockerfile', 'citytel-ingest:latest'],
      ['deploy/api.Dockerfile', 'citytel-api:latest'],
    ]);
    // Only the proxy is published, and Grafana on the host's loopback.
    const published = Object.entries(services).filter(([, s]) => s.ports?.length);
    expect(published.map(([name]) => name).sort()).toEqual(['grafana', 'proxy']);
    expect(services.grafana!.ports).toEqual(['127.0.0.1:3000:3000/tcp']);
    const ports = services.proxy!.ports!.map((p) =>
      typeof p === 'string' ? p : `${p.published}:${p.target}`,
    );
    expect(ports.sort()).toEqual(['1883:1883', '443:443', '80:80', '8883:8883']);
    expect(services['api-1']!.depends_on).toMatchObject({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
  });

  it('runs Prometheus on deploy/prometheus.yml, scraping the METRICS_PORT of every broker and worker', () => {
    const { services } = resolved(composeConfig('docker-compose.yml', SECRETS).stdout);
    const config = resolved(readFileSync(join(root, 'deploy/prometheus.yml'), 'utf8')) as unknown as {
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const targets = Object.fromEntries(
      config.scrape_configs.map((j) => [j.job_name, j.static_configs.flatMap((c) => c.targets).sort()]),
    );
    const port = (name: string, variable: string) => `${name}:${services[name]!.environment![variable]}`;
    expect(targets).toEqual({
      broker: [port('broker-1', 'METRICS_PORT'), port('broker-2', 'METRICS_PORT')],
      ingest: [port('ingest-1', 'METRICS_PORT'), port('ingest-2', 'METRICS_PORT')],
      api: [port('api-1', 'API_PORT'), port('api-2', 'API_PORT')],
    });
    const mounts = (name: string) =>
      services[name]!.volumes!.map((v) =>
        typeof v === 'string' ? v.replace(/:(ro|rw)$/, '') : `${v.source}:${v.target}`,
      );
    expect(mounts('prometheus')).toContain(
      `${join(root, 'deploy/prometheus.yml')}:/etc/prometheus/prometheus.yml`,
    );
    expect(mounts('grafana')).toEqual(
      expect.arrayContaining([
        `${join(root, 'deploy/grafana/provisioning')}:/etc/grafana/provisioning`,
        `${join(root, 'deploy/grafana/dashboards')}:/etc/grafana/dashboards/citytel`,
      ]),
    );
    expect(services.grafana!.environment).toMatchObject({
      GF_SECURITY_ADMIN_PASSWORD: SECRETS.GRAFANA_ADMIN_PASSWORD,
      GF_AUTH_ANONYMOUS_ENABLED: 'false',
      GRAFANA_INFLUX_TOKEN: SECRETS.GRAFANA_INFLUX_TOKEN,
      INFLUX_BUCKET: 'telemetry',
    });
    const r = spawnSync('promtool', ['check', 'config', join(root, 'deploy/prometheus.yml')], {
      encoding: 'utf8',
    });
    expect(r.stdout + r.stderr).toMatch(/SUCCESS/);
    expect(r.status).toBe(0);
  });

  it('refuses to resolve without any one of its secrets, naming it', () => {
    for (const name of Object.keys(SECRETS)) {
      const { [name as keyof typeof SECRETS]: _missing, ...others } = SECRETS;
      const r = composeConfig('docker-compose.yml', others);
      expect(r.status, name).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`set ${name}\\b`));
    }
  });

  it('gives Redis its password through a file, and the api one trusted proxy hop', () => {
    const { services } = resolved(composeConfig('docker-compose.yml', SECRETS).stdout);
    const redis = services.redis as Service & { command: string[] };
    expect(redis.environment).toMatchObject({
      REDIS_PASSWORD: SECRETS.REDIS_PASSWORD,
      REDISCLI_AUTH: SECRETS.REDIS_PASSWORD,
    });
    // `config` keeps `$$`, which Compose hands the shell as `$`: the password is read from the environment.
    expect(redis.command.join(' ')).toMatch(
      /"\$\$REDIS_PASSWORD" > \/tmp\/auth\.conf && exec redis-server \/tmp\/auth\.conf /,
    );
    expect(redis.command.join(' ')).not.toContain(SECRETS.REDIS_PASSWORD);
    for (const api of ['api-1', 'api-2']) expect(services[api]!.environment!.TRUST_PROXY_HOPS).toBe('1');
  });
});

/** `${NAME:-default}` and `${NAME-default}` of a variable whose name says it is a credential. */
const DEFAULTED_SECRET = /\$\{([A-Z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASS|KEY)[A-Z0-9_]*):?-[^}]*\}/g;

describe('no default secret in any compose file or the env example', () => {
  for (const file of ['docker-compose.yml', 'docker-compose.single.yml']) {
    it(`${file}: every credential is \${NAME:?...}`, () => {
      const text = readFileSync(join(root, file), 'utf8');
      expect([...text.matchAll(DEFAULTED_SECRET)].map((m) => m[0])).toEqual([]);
      // No literal value for a credential variable either.
      const literal = /^\s*([A-Z0-9_]*(?:SECRET|TOKEN|PASSWORD)[A-Z0-9_]*):\s*(?!\$\{)(\S.*)$/gm;
      expect([...text.matchAll(literal)].map((m) => m[0].trim())).toEqual([]);
    });
  }

  it('deploy/env.example leaves every secret empty', () => {
    const text = readFileSync(join(root, 'deploy/env.example'), 'utf8');
    const set = text
      .split('\n')
      .filter((l) => /^[A-Z0-9_]*(SECRET|TOKEN|PASSWORD)[A-Z0-9_]*=/.test(l))
      .filter((l) => !/=$/.test(l));
    expect(set).toEqual([]);
  });
});

describe('docker-compose.single.yml (one machine)', () => {
  it('is valid with its admin token, with the one-machine processes', () => {
    const r = composeConfig('docker-compose.single.yml', {
      BOOTSTRAP_ADMIN_TOKEN: SECRETS.BOOTSTRAP_ADMIN_TOKEN,
    });
    expect(r.status).toBe(0);
    const { services } = resolved(r.stdout);
    expect(Object.keys(services).sort()).toEqual(['api', 'broker', 'firmware-sim', 'influxdb', 'ingest']);
    expect(services.api!.environment).toMatchObject({
      INFLUX_URL: 'http://influxdb:8086',
      DATA_DIR: '/data',
      BOOTSTRAP_ADMIN_TOKEN: SECRETS.BOOTSTRAP_ADMIN_TOKEN,
    });
  });

  it('refuses to start without BOOTSTRAP_ADMIN_TOKEN, naming it (no known default on a published port)', () => {
    const r = composeConfig('docker-compose.single.yml', {});
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/set BOOTSTRAP_ADMIN_TOKEN/);
  });
});

describe('deploy/*.Dockerfile', () => {
  for (const process of ['broker', 'ingest', 'api']) {
    it(`builds ${process} in stages and runs it unprivileged, with a health check`, () => {
      const text = readFileSync(join(root, 'deploy', `${process}.Dockerfile`), 'utf8');
      expect(text.match(/^FROM /gm)!.length).toBeGreaterThanOrEqual(3);
      expect(text).toMatch(/^USER node$/m);
      expect(text).toMatch(new RegExp(`^HEALTHCHECK .*"deploy/healthcheck.mjs", "${process}"\\]$`, 'm'));
      expect(text).toMatch(
        new RegExp(`^CMD \\["node", "--import", "tsx", "${process}/src/main.ts"\\]$`, 'm'),
      );
      // Every file copied from the build context exists.
      for (const [, from] of text.matchAll(/^COPY (?!--from)(\S+) /gm))
        expect(existsSync(join(root, from!))).toBe(true);
    });
  }
});

/** A self-signed certificate for localhost and 127.0.0.1, as HAProxy wants it: one PEM, chain then key. */
function selfSigned(dir: string): { pemDir: string; cert: string } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  const pemDir = join(dir, 'certs');
  mkdirSync(pemDir, { recursive: true });
  writeFileSync(join(pemDir, 'localhost.pem'), readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  return { pemDir, cert: readFileSync(cert, 'utf8') };
}

describe('deploy/haproxy.cfg', () => {
  it('passes haproxy -c with a certificate in CITYTEL_CERTS', () => {
    const certs = tempDir('citytel-certs-');
    try {
      const { pemDir } = selfSigned(certs.dir);
      const r = spawnSync('haproxy', ['-c', '-f', join(root, 'deploy/haproxy.cfg')], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', CITYTEL_CERTS: pemDir },
      });
      expect(r.stderr).not.toMatch(/ALERT/);
      expect(r.status).toBe(0);
      expect(`${r.stdout}${r.stderr}`).toMatch(/Configuration file is valid/);
    } finally {
      certs.cleanup();
    }
  });
});

/**
 * The same configuration run by a real HAProxy in front of a real broker (TCP and WebSocket listeners) and
 * a real api: only the addresses are rewritten, from the compose network's names to loopback ports (both
 * `server` lines of a backend point at the one broker or api started here).
 */
describe('deploy/haproxy.cfg in front of a broker and an api', () => {
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const dir = tempDir('citytel-proxy-');
  const ports = { mqtt: 0, mqtts: 0, http: 0, https: 0 };
  let broker: TestBroker;
  let app: FastifyInstance;
  let apiMqtt: ReturnType<typeof connectApiMqtt>;
  let haproxy: ChildProcess;
  let ca: string;
  let kit: { id: string; secret: string };

  beforeAll(async () => {
    broker = await startTestBroker({ ws: true, behindProxy: true });
    const wsPort = Number(new URL(broker.wsUrl!).port);
    const config = loadApiConfig({
      DATA_DIR: broker.dataDir,
      MQTT_URL: broker.url,
      MQTT_SERVICE_SECRET: broker.serviceSecret,
      DASHBOARD_DIR: join(dir.dir, 'no-dashboard'),
      LOG_LEVEL: 'silent',
      TRUST_PROXY_HOPS: '1',
      RATE_LIMIT_PER_MIN: '5',
    });
    apiMqtt = connectApiMqtt({
      url: broker.url,
      password: deriveServiceSecret(broker.serviceSecret, 'svc:api'),
      log,
    });
    app = await buildApp({ config, store: broker.store, mqtt: apiMqtt, log });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const apiPort = (app.server.address() as { port: number }).port;
    const created = await broker.store.devices.create({
      id: 'proxy-kit-1',
      kind: 'native',
      lat: 48.1,
      lon: -1.68,
    });
    kit = { id: created.device.id, secret: created.secret! };

    const certs = selfSigned(dir.dir);
    ca = certs.cert;
    for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await freePort();
    const bindOf: Record<string, number> = {
      '1883': ports.mqtt,
      '8883': ports.mqtts,
      '80': ports.http,
      '443': ports.https,
    };
    const serverOf: Record<string, number> = {
      '1884': broker.proxyPort!,
      '8083': wsPort,
      '8080': apiPort,
    };
    const cfg = readFileSync(join(root, 'deploy/haproxy.cfg'), 'utf8')
      // The container gets the file descriptors for 60 000 connections (compose `ulimits`); a test does not.
      .replace(/^(\s*maxconn) \d+/m, '$1 2000')
      .replace(/^(\s*bind) :(\d+)/gm, (_, b: string, p: string) => `${b} 127.0.0.1:${bindOf[p]}`)
      .replace(
        /^(\s*server \S+) [a-z0-9-]+:(\d+)/gm,
        (_, srv: string, p: string) => `${srv} 127.0.0.1:${serverOf[p]}`,
      );
    const cfgFile = join(dir.dir, 'haproxy.cfg');
    writeFileSync(cfgFile, cfg);
    haproxy = spawn('haproxy', ['-db', '-f', cfgFile], {
      env: { PATH: process.env.PATH ?? '', CITYTEL_CERTS: certs.pemDir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    haproxy.stderr!.on('data', (b) => {
      stderr += b;
    });
    const deadline = Date.now() + 10_000;
    while (!(await answers(ports.http))) {
      if (haproxy.exitCode !== null) throw new Error(`haproxy exited: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`haproxy did not listen: ${stderr}`);
      await sleep(50);
    }
  }, 60_000);

  afterAll(async () => {
    if (haproxy && haproxy.exitCode === null) {
      const gone = new Promise((resolve) => haproxy.once('exit', resolve));
      haproxy.kill('SIGTERM');
      await gone;
    }
    await app?.close();
    await apiMqtt?.close();
    await broker?.stop();
    dir.cleanup();
  });

  it('passes MQTT over TCP, over TLS and over WebSocket (wss://host/mqtt) to the broker', async () => {
    const listener = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, {
      username: 'svc:api',
      password: deriveServiceSecret(broker.serviceSecret, 'svc:api'),
      clientId: 'svc:api/compose-test',
      reconnectPeriod: 0,
    });
    const got: Array<{ topic: string; payload: string }> = [];
    listener.on('message', (topic, payload) =>
      got.push({ topic, payload: unstamp(payload).payload.toString() }),
    );
    await listener.subscribeAsync(`sensors/${kit.id}/readings`, { qos: 1 });
    const device = {
      username: kit.id,
      password: kit.secret,
      reconnectPeriod: 0,
      ca,
      servername: 'localhost',
    };
    const tls = await mqtt.connectAsync(`mqtts://localhost:${ports.mqtts}`, {
      ...device,
      clientId: `${kit.id}/tls`,
    });
    const wss = await mqtt.connectAsync(`wss://localhost:${ports.https}/mqtt`, {
      ...device,
      clientId: `${kit.id}/wss`,
    });
    try {
      await tls.publishAsync(`sensors/${kit.id}/readings`, '{"pm25":8.2}', { qos: 1 });
      await wss.publishAsync(`sensors/${kit.id}/readings`, '{"pm25":9.1}', { qos: 1 });
      const deadline = Date.now() + 5000;
      while (got.length < 2 && Date.now() < deadline) await sleep(20);
      expect(got).toEqual([
        { topic: `sensors/${kit.id}/readings`, payload: '{"pm25":8.2}' },
        { topic: `sensors/${kit.id}/readings`, payload: '{"pm25":9.1}' },
      ]);
      // every connection (the proxy's own health checks too) opened with a header the broker could read
      expect(broker.broker.stats().refusals.proxy_header).toBe(0);
    } finally {
      await Promise.all([tls.endAsync(), wss.endAsync(), listener.endAsync()]);
    }
  });

  it('serves the api over HTTPS, and redirects plain HTTP except the airrohr ingest path', async () => {
    const health = await get(httpsRequest, ports.https, '/healthz', ca);
    expect(health.status).toBe(200);
    expect(health.headers['strict-transport-security']).toBe('max-age=31536000');
    const redirect = await get(httpRequest, ports.http, '/api/v1/devices', undefined, 'citytel.example');
    expect([redirect.status, redirect.headers.location]).toEqual([
      301,
      'https://citytel.example/api/v1/devices',
    ]);
    // The stock airrohr firmware posts over plain HTTP and follows no redirect: that path reaches the api.
    const airrohr = await get(httpRequest, ports.http, '/api/v1/ingest/airrohr');
    expect(airrohr.status).not.toBe(301);
    expect(JSON.parse(airrohr.body).error.code).toBeTruthy();
  });

  it('keeps a client in its rate-limit bucket whatever X-Forwarded-For it sends through the proxy', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await get(httpsRequest, ports.https, '/api/v1/vehicles', ca, undefined, {
        'x-forwarded-for': `198.18.0.${i}`,
      });
      statuses.push(r.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
  });
});

async function answers(port: number): Promise<boolean> {
  try {
    await get(httpRequest, port, '/');
    return true;
  } catch {
    return false;
  }
}

function get(
  request: typeof httpRequest | typeof httpsRequest,
  port: number,
  path: string,
  ca?: string,
  host?: string,
  extra: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'GET',
        headers: { ...(host ? { host } : {}), ...extra },
        ...(ca ? { ca, servername: 'localhost' } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}
