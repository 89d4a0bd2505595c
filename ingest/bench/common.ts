import { createHistogram } from 'node:perf_hooks';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { openStore } from '@citytel/store';
import type { BenchDevice } from './workload.ts';

/** Shared by the benchmarks: arguments, CPU, percentiles, the store, InfluxDB. */

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * The command line, strictly: an option not in `options` (a typo), a missing value or a stray argument
 * stops the bench with its usage (node:util parseArgs, strict), instead of a run with the default silently.
 * Numbers are checked with `num`.
 */
export function benchArgs<O extends Options>(usage: string, options: O) {
  try {
    return parseArgs({ options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\nusage: ${usage}\n`);
    process.exit(2);
  }
}

/** A numeric option's value; a value that is not a finite number stops the bench, naming the option. */
export function num(name: string, value: string | boolean | undefined): number {
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n)) {
    process.stderr.write(`--${name}: a number is expected, not ${JSON.stringify(value)}\n`);
    process.exit(2);
  }
  return n;
}

/**
 * `--name=value` from the command line, or the fallback. Not strict: a typo'd option is ignored. For the
 * benches that have not moved to benchArgs yet (ingest.ts, cluster.ts).
 */
export const arg = (name: string, fallback: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;

/** CPU seconds (user + system) this process used so far. */
export const ownCpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * The one percentile definition of the benches: node:perf_hooks' RecordableHistogram (HdrHistogram, three
 * significant digits), the value at or below which `q` of the values fall. Values (ms) are recorded in µs,
 * as integers of at least 1, so sub-millisecond latencies keep their precision.
 */
export function percentiles(values: Iterable<number>, qs: readonly number[]): Array<number | null> {
  const h = createHistogram();
  let n = 0;
  for (const v of values) {
    h.record(Math.max(1, Math.round(v * 1000)));
    n++;
  }
  return qs.map((q) => (n ? h.percentile(q * 100) / 1000 : null));
}

/** The q-quantile of the values (any order), rounded to the ms; null for none (percentiles above). */
export const pct = (values: number[], q: number): number | null => {
  const [v] = percentiles(values, [q]);
  return v === null || v === undefined ? null : Math.round(v);
};

/** The latency probe kit every bench registers beside its devices. */
export const PROBE = 'bench-probe';

/** Registers the bench's kits and the probe in the store under `storeDir`, those not there yet (scrypt, once). */
export async function provision(storeDir: string, devices: BenchDevice[]): Promise<void> {
  const store = await openStore({ dataDir: storeDir });
  try {
    const missing: Array<{ id: string; lat: number; lon: number }> = [];
    for (const d of [...devices, { id: PROBE, position: { lat: 48.11, lon: -1.68 } }]) {
      if (!(await store.devices.get(d.id))) missing.push({ id: d.id, ...d.position });
    }
    if (!missing.length) return;
    console.log(`registering ${missing.length} kits (scrypt, once; kept in ${storeDir})...`);
    for (let i = 0; i < missing.length; i += 16) {
      await Promise.all(missing.slice(i, i + 16).map((d) => store.devices.create({ ...d, kind: 'native' })));
    }
  } finally {
    await store.close();
  }
}

/** The first series' rows of an InfluxQL query (times in ms). */
export async function query(influxUrl: string, q: string, db: string): Promise<unknown[][]> {
  const r = await fetch(`${influxUrl}/query?${new URLSearchParams({ db, q, epoch: 'ms' })}`);
  const body = (await r.json()) as { results?: Array<{ series?: Array<{ values: unknown[][] }> }> };
  return body.results?.[0]?.series?.[0]?.values ?? [];
}

/** Readings stored in [from, to) ms. */
export async function count(influxUrl: string, db: string, from: number, to: number): Promise<number> {
  const rows = await query(
    influxUrl,
    `SELECT count(pm25) FROM readings WHERE time >= ${from}ms AND time < ${Math.floor(to)}ms`,
    db,
  );
  return Number(rows[0]?.[1] ?? 0);
}

/** A POST to InfluxDB (CREATE DATABASE and the like) that must succeed. */
export async function influxPost(influxUrl: string, path: string, body: URLSearchParams): Promise<void> {
  const r = await fetch(`${influxUrl}${path}`, { method: 'POST', body });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
}
