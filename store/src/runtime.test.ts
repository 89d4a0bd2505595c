import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveServiceSecret, resolveServiceSecrets } from './runtime.ts';

describe('resolveServiceSecret', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'citytel-runtime-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("prefers the account's own variable and writes no file then", async () => {
    expect(resolveServiceSecret(dir, 'svc:api', { MQTT_SECRET_API: 'from-env' })).toBe('from-env');
    await expect(stat(join(dir, 'service-secrets'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('derives a different secret per account from the shared variable', () => {
    const env = { MQTT_SERVICE_SECRET: 'shared' };
    const all = resolveServiceSecrets(dir, env);
    expect(new Set(Object.values(all)).size).toBe(3);
    expect(Object.values(all)).not.toContain('shared');
    expect(resolveServiceSecret(dir, 'svc:ingest', env)).toBe(all['svc:ingest']);
    // the account's own variable wins over the shared one
    expect(resolveServiceSecret(dir, 'svc:ingest', { ...env, MQTT_SECRET_INGEST: 'own' })).toBe('own');
  });

  it('creates one private file per account once and reads it back afterwards', async () => {
    const dataDir = join(dir, 'data');
    const first = resolveServiceSecret(dataDir, 'svc:ingest', {});
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(resolveServiceSecret(dataDir, 'svc:ingest', {})).toBe(first);
    expect(resolveServiceSecret(dataDir, 'svc:api', {})).not.toBe(first);
    const file = join(dataDir, 'service-secrets', 'ingest.secret');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, 'utf8')).trim()).toBe(first);
  });

  it('uses a secret that is already there', async () => {
    await resolveServiceSecret(dir, 'svc:sim', {});
    await writeFile(join(dir, 'service-secrets', 'sim.secret'), 'chosen-by-hand\n');
    expect(resolveServiceSecret(dir, 'svc:sim', {})).toBe('chosen-by-hand');
  });

  it('gives the same secret to processes starting together', async () => {
    const runtime = fileURLToPath(new URL('./runtime.ts', import.meta.url));
    const script = `import('${runtime}').then((m) => process.stdout.write(m.resolveServiceSecret(process.argv[1], 'svc:api', {})))`;
    const run = promisify(execFile);
    const outs = await Promise.all(
      Array.from({ length: 4 }, () => run(process.execPath, ['--import', 'tsx', '-e', script, dir])),
    );
    const secrets = new Set(outs.map((o) => o.stdout));
    expect(secrets.size).toBe(1);
    expect([...secrets][0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
  }, 30_000);
});
