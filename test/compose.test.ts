import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/tmp.ts';

/**
 * The deployment files, checked by the tools that will read them: Debian's docker-compose 1.29 (`config`
 * needs no Docker engine) on both compose files, and `haproxy -c` on the proxy's configuration. Nothing
 * here starts a container; the services themselves are tested in-process elsewhere (api-cluster, broker
 * and ingest cluster tests).
 */

const root = join(import.meta.dirname, '..');
const SECRETS = {
  MQTT_SERVICE_SECRET: 'compose-test-service-secret',
  POSTGRES_PASSWORD: 'composetestpassword',
  INFLUX_TOKEN: 'compose-test-influx-token',
  INFLUX_ADMIN_PASSWORD: 'compose-test-admin',
  BOOTSTRAP_ADMIN_TOKEN: 'compose-test-admin-token',
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
      'influxdb',
      'ingest-1',
      'ingest-2',
      'postgres',
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
      expect(env(name).REDIS_URL).toBe('redis://redis:6379');
      expect(env(name).DATABASE_URL).toBe(
        `postgres://citytel:${SECRETS.POSTGRES_PASSWORD}@postgres:5432/citytel`,
      );
      expect(env(name).MQTT_SERVICE_SECRET).toBe(SECRETS.MQTT_SERVICE_SECRET);
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
    expect(env('api-1').TRUST_PROXY).toBe('true');
    // Each process has its own image, built from its own Dockerfile.
    expect(
      ['broker-1', 'ingest-1', 'api-1'].map((s) => [services[s]!.build?.dockerfile, services[s]!.image]),
    ).toEqual([
      ['deploy/broker.Dockerfile', 'citytel-broker:latest'],
      ['deploy/ingest.Dockerfile', 'citytel-ingest:latest'],
      ['deploy/api.Dockerfile', 'citytel-api:latest'],
    ]);
    // Only the proxy is published.
    const published = Object.entries(services).filter(([, s]) => s.ports?.length);
    expect(published.map(([name]) => name)).toEqual(['proxy']);
    const ports = services.proxy!.ports!.map((p) =>
      typeof p === 'string' ? p : `${p.published}:${p.target}`,
    );
    expect(ports.sort()).toEqual(['1883:1883', '443:443', '80:80', '8883:8883']);
    expect(services['api-1']!.depends_on).toMatchObject({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
  });

  it('refuses to resolve without its secrets, naming the first one missing', () => {
    const r = composeConfig('docker-compose.yml', {});
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      /set (MQTT_SERVICE_SECRET|POSTGRES_PASSWORD|INFLUX_TOKEN|INFLUX_ADMIN_PASSWORD|BOOTSTRAP_ADMIN_TOKEN)/,
    );
  });
});

describe('docker-compose.single.yml (one machine)', () => {
  it('is valid as it is, with the one-machine processes', () => {
    const r = composeConfig('docker-compose.single.yml', {});
    expect(r.status).toBe(0);
    const { services } = resolved(r.stdout);
    expect(Object.keys(services).sort()).toEqual(['api', 'broker', 'firmware-sim', 'influxdb', 'ingest']);
    expect(services.api!.environment).toMatchObject({
      INFLUX_URL: 'http://influxdb:8086',
      DATA_DIR: '/data',
    });
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

describe('deploy/haproxy.cfg', () => {
  it('passes haproxy -c with a certificate in CITYTEL_CERTS', () => {
    const certs = tempDir('citytel-certs-');
    try {
      const key = join(certs.dir, 'key.pem');
      const cert = join(certs.dir, 'cert.pem');
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
          '-keyout',
          key,
          '-out',
          cert,
        ],
        { stdio: 'ignore' },
      );
      const pemDir = join(certs.dir, 'certs');
      execFileSync('sh', [
        '-c',
        `mkdir -p "${pemDir}" && cat "${cert}" "${key}" > "${pemDir}/localhost.pem"`,
      ]);
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
