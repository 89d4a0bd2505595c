import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type InfluxdHandle, startInfluxd } from '../../scripts/influxd.ts';
import { freePort } from './ports.ts';

/** A real influxd in a temporary folder, with database `db`; `close()` stops it and removes the folder. */
export async function startTestInflux(
  db = 'telemetry',
): Promise<InfluxdHandle & { db: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'citytel-influx-'));
  const h = await startInfluxd({ dir, httpPort: await freePort(), rpcPort: await freePort(), database: db });
  return Object.assign(h, {
    db,
    async close() {
      await h.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** Runs an InfluxQL query against /query and returns the first result's series. */
export async function influxQuery(
  url: string,
  db: string,
  q: string,
): Promise<Array<{ name: string; columns: string[]; values: unknown[][]; tags?: Record<string, string> }>> {
  const r = await fetch(`${url}/query?${new URLSearchParams({ db, q, epoch: 'ms' })}`);
  const body = (await r.json()) as { results?: Array<{ series?: never[]; error?: string }>; error?: string };
  if (!r.ok || body.error || body.results?.[0]?.error)
    throw new Error(`query failed: ${JSON.stringify(body)}`);
  return body.results?.[0]?.series ?? [];
}
