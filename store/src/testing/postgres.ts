import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface TestPostgres {
  /** A fresh, empty database on the throwaway cluster, as a postgres:// URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

/** initdb and pg_ctl from PATH, else from Debian's versioned directory; undefined when neither has them. */
function findBinDir(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  const debian = '/usr/lib/postgresql';
  if (!existsSync(debian)) return undefined;
  const versions = readdirSync(debian).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => join(debian, v, 'bin')).find((d) => existsSync(join(d, 'initdb')));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * TEST_DATABASE_URL's server when set (its role needs CREATEDB; every database made here is dropped at
 * stop), else a throwaway cluster as below.
 */
export async function testPostgres(): Promise<TestPostgres | undefined> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return startTestPostgres();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const made: string[] = [];
  return {
    async createDatabase() {
      const name = `citytel_t${process.pid}_${made.length + 1}`;
      await admin.query(`create database ${name}`);
      made.push(name);
      const target = new URL(url);
      target.pathname = `/${name}`;
      return target.toString();
    },
    async stop() {
      for (const name of made)
        await admin.query(`drop database if exists ${name} with (force)`).catch(() => undefined);
      await admin.end();
    },
  };
}

/**
 * A throwaway PostgreSQL cluster in a temp dir, on a free port, trust auth on 127.0.0.1 only.
 * PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user.
 * Returns undefined when no PostgreSQL binaries are installed (tests then skip).
 */
export async function startTestPostgres(): Promise<TestPostgres | undefined> {
  const bin = findBinDir();
  if (!bin) return undefined;
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'citytel-pg-'));
  const owner = asRoot ? await run('id', ['-u', 'postgres']).catch(() => undefined) : undefined;
  if (asRoot && !owner) return undefined;
  if (owner) {
    const uid = Number(owner.stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    await chown(dir, uid, gid);
  }
  const exec = (cmd: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args);

  const data = join(dir, 'data');
  const port = await freePort();
  await exec('initdb', ['-D', data, '-U', 'citytel', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  const serverOpts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  await exec('pg_ctl', ['-D', data, '-o', serverOpts, '-l', join(dir, 'log'), '-w', 'start']);

  const base = `postgres://citytel@127.0.0.1:${port}`;
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  let n = 0;
  return {
    async createDatabase() {
      const name = `t${process.pid}_${++n}`;
      await admin.query(`create database ${name}`);
      return `${base}/${name}`;
    },
    async stop() {
      await admin.end().catch(() => undefined);
      await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
