import { openStore } from '@citytel/store';
import type { BenchDevice } from './workload.ts';

/** Shared by the ingest, cluster and broker benchmarks: arguments, CPU, percentiles, the store, InfluxDB. */

/** `--name=value` from the command line, or the fallback. */
export const arg = (name: string, fallback: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;

/** CPU seconds (user + system) this process used so far. */
export const ownCpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** The q-quantile of sorted values, rounded; null for none. */
export const pct = (sorted: number[], q: number): number | null =>
  sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!) : null;

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
