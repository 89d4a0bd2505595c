import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { num } from '../../ingest/bench/common.ts';
import { startInfluxd } from '../../scripts/influxd.ts';
import { freePort } from '../../test/helpers/ports.ts';
import { createInfluxQuery } from '../src/influx/client.ts';
import { CITY, type CityShape, DEFAULT_SHAPE, kitId, readingCount, writeCity } from './generate.ts';
import { burst, cold, get, type LoadLine, load } from './measure.ts';

/**
 * `npm run bench:api`: map and series latency at 50 concurrent clients over a month of a city (10.6
 * million readings), and the size of a whole-city map. Starts its own influxd, writes the data, starts the
 * api in a process of its own (which builds its rollups first), then measures: what each answer costs
 * from scratch, fifty different maps at once, and autocannon lines against the shared answers, beside a
 * ceiling measured in the same run (a bare node:http server sending the same gzip bytes).
 *
 *   npm run bench:api                                    # everything in a temp folder, removed at the end
 *   npm run bench:api -- --dir .bench/api --prepare      # write the data and rollups once, keep them
 *   flock /tmp/citytel-bench.lock npm run bench:api -- --dir .bench/api   # measure (reuses the data)
 *   npm run bench:api -- --scale 0.1 --duration 5        # a quick look
 */
const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    scale: { type: 'string', default: '1' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    // Write the data and build the rollups, then stop: generating runs outside the benchmark lock.
    prepare: { type: 'boolean', default: false },
    // Only the load lines whose name contains this (a quick look at one of them).
    only: { type: 'string' },
    // autocannon worker threads: one thread of clients may be what limits a line, not the server.
    workers: { type: 'string', default: '0' },
  },
});
const scale = num('scale', args.scale);
const duration = num('duration', args.duration);
const connections = num('connections', args.connections);
const shape: CityShape = {
  ...DEFAULT_SHAPE,
  fixed: Math.max(20, Math.round(DEFAULT_SHAPE.fixed * scale)),
  mobile: Math.max(1, Math.round(DEFAULT_SHAPE.mobile * scale)),
};
const dir = args.dir ?? mkdtempSync(join(tmpdir(), 'citytel-bench-'));
mkdirSync(dir, { recursive: true });
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Kits whose series are asked for (registered by serve.ts). */
const SERIES_KITS = 20;

const say = (line: string) => process.stdout.write(`${line}\n`);

const influxd = await startInfluxd({
  dir: join(dir, 'influx'),
  httpPort: await freePort(),
  rpcPort: await freePort(),
  database: 'telemetry',
});
let api: ChildProcess | undefined;
try {
  const influx = createInfluxQuery({ url: influxd.url, db: 'telemetry' });
  const expected = readingCount(shape);
  const stored = await countReadings(influx);
  // The data ends at the last whole hour, so that "now" windows see the last readings.
  const end = Math.floor(Date.now() / HOUR) * HOUR;
  if (stored < expected) {
    say(
      `writing ${expected.toLocaleString('en')} readings (${shape.fixed} fixed kits every ${shape.fixedEveryMin} min, ${shape.mobile} cars every ${shape.mobileEveryMin} min, ${shape.days} days)...`,
    );
    const t0 = performance.now();
    let next = 1_000_000;
    const written = await writeCity(influx, shape, end, (n) => {
      if (n >= next) {
        say(`  ${(n / 1e6).toFixed(1)} M in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        next += 1_000_000;
      }
    });
    const s = (performance.now() - t0) / 1000;
    say(
      `wrote ${written.toLocaleString('en')} readings in ${s.toFixed(0)} s (${Math.round(written / s).toLocaleString('en')}/s)`,
    );
  } else say(`reusing ${stored.toLocaleString('en')} readings in ${dir}`);

  const apiDir = join(dir, 'api');
  mkdirSync(apiDir, { recursive: true });
  const started = await startChild<{ port: number; rollupMs: number }>(
    join(import.meta.dirname, 'serve.ts'),
    [],
    {
      DATA_DIR: apiDir,
      INFLUX_URL: influxd.url,
      INFLUX_DB: 'telemetry',
      DASHBOARD_DIR: join(apiDir, 'none'),
      BENCH_SERIES_DEVICES: String(SERIES_KITS),
    },
  );
  api = started.child;
  const base = `http://127.0.0.1:${started.port}`;
  say(`api up; rollup backfill took ${(started.rollupMs / 1000).toFixed(1)} s`);
  if (args.prepare) {
    say(`data and rollups ready in ${dir}`);
    process.exitCode = 0;
  } else await measure(base, influx);
} finally {
  api?.kill('SIGTERM');
  await influxd.stop();
  if (!args.dir) rmSync(dir, { recursive: true, force: true });
}

async function measure(base: string, influx: ReturnType<typeof createInfluxQuery>): Promise<void> {
  // Windows end inside the data's last hour, as a live "now" does: each map reads raw readings at both
  // edges as well as the rollups (a reused data set may be hours old, so "now" itself would be empty).
  const at = (await lastReading(influx)) + 60_000 - 30 * 60_000;
  const to = new Date(at).toISOString();
  let n = 0;
  /** A `to` a second apart on each call: an answer nobody asked before, computed from scratch. */
  const freshTo = () => new Date(at - ++n * 1000).toISOString();
  const map = (q: string, end = to) => `/api/v1/map?metric=pm25&${q}&to=${end}`;
  /** One kit's series over `span` up to `end`: 24 h in 5-minute buckets (raw), 30 d hourly (rollups). */
  const SERIES = [
    { name: 'series 24h every=5m', span: DAY, every: '5m' },
    { name: 'series 30d every=1h', span: 30 * DAY, every: '1h' },
  ];
  const series = (s: (typeof SERIES)[number], end: string, kit: number) =>
    `/api/v1/devices/${kitId(kit % SERIES_KITS)}/series?metric=pm25&every=${s.every}` +
    `&from=${new Date(Date.parse(end) - s.span).toISOString()}&to=${end}`;
  /** A citizen's viewport: a 3 km × 2 km box somewhere in the city. */
  const viewport = () => {
    const lon = CITY.minLon + ((n * 0.37) % 1) * (CITY.maxLon - CITY.minLon - 0.04);
    const lat = CITY.minLat + ((n++ * 0.61) % 1) * (CITY.maxLat - CITY.minLat - 0.018);
    return `${lon.toFixed(4)},${lat.toFixed(4)},${(lon + 0.04).toFixed(4)},${(lat + 0.018).toFixed(4)}`;
  };
  const maps = [
    'window=1h&cell=7',
    'window=24h&cell=7',
    'window=30d&cell=7',
    'window=1h&cell=6',
    'window=30d&cell=6',
  ];
  // The peer of the corrected PM map (the default): measured values, aggregated by InfluxDB on raw edges.
  const measuredMaps = ['window=1h&cell=7', 'window=24h&cell=7', 'window=30d&cell=7'].map(
    (q) => `${q}&corrected=false`,
  );

  // With --only, a quick look at some load lines: no cold computations, no burst.
  const coldLines: Array<{ name: string; median: number; max: number }> = [];
  const coldPaths = [
    ...[...maps, ...measuredMaps].map((q) => ({
      name: `map ${q}`,
      paths: [1, 2, 3].map(() => map(q, freshTo())),
    })),
    ...SERIES.map((sr) => ({ name: sr.name, paths: [1, 2, 3].map((k) => series(sr, freshTo(), k)) })),
  ];
  if (!args.only) say('computing each answer once, from scratch, one request at a time (median of 3)...');
  for (const c of args.only ? [] : coldPaths)
    coldLines.push({ name: c.name, ...(await cold(base, c.paths)) });
  if (!args.only) say(`${connections} different 30-day maps at once...`);
  const many = args.only
    ? undefined
    : await burst(
        base,
        Array.from({ length: connections }, () => map('window=30d&cell=7', freshTo())),
      );

  const sizes = [];
  const city = `${CITY.minLon},${CITY.minLat},${CITY.maxLon},${CITY.maxLat}`;
  for (const q of maps) {
    const path = `${map(q)}&bbox=${city}`;
    const plain = await get(base, path, 'identity');
    const gz = await get(base, path, 'gzip');
    const cells = (JSON.parse(plain.body.toString()) as { features: unknown[] }).features.length;
    sizes.push({ query: q, cells, bytes: plain.body.length, gzip: gz.body.length });
  }

  const lines: Array<{ name: string; path: () => string; warm: string[]; headers?: Record<string, string> }> =
    [
      ...maps.map((q) => ({ name: `map ${q}, whole city`, path: () => map(q), warm: [map(q)] })),
      {
        // A browser polling the map it holds: Cache-Control max-age, then If-None-Match.
        name: 'map window=30d&cell=7, whole city, revalidated (304)',
        path: () => map('window=30d&cell=7'),
        warm: [],
        headers: { 'if-none-match': (await get(base, map('window=30d&cell=7'))).etag },
      },
      {
        name: 'map window=30d&cell=7, 3 × 2 km viewports',
        path: () => `${map('window=30d&cell=7')}&bbox=${viewport()}`,
        warm: [map('window=30d&cell=7')],
      },
      ...SERIES.map((sr) => {
        const paths = Array.from({ length: SERIES_KITS }, (_, k) => series(sr, to, k));
        return {
          name: `${sr.name}, ${SERIES_KITS} kits`,
          path: () => paths[n++ % SERIES_KITS]!,
          warm: paths,
        };
      }),
      { name: 'devices, whole city', path: () => '/api/v1/devices', warm: ['/api/v1/devices'] },
    ];
  const results = [];
  for (const line of lines.filter((l) => !args.only || l.name.includes(args.only!))) {
    for (const p of line.warm) await get(base, p);
    // Each line starts once the previous line's background work is done.
    await sleep(2000);
    // 200 requests of the line, which every client sends in turn.
    const paths = Array.from({ length: 200 }, line.path);
    const r = await load(base, paths, connections, duration, line.headers, num('workers', args.workers));
    results.push({ name: line.name, ...r });
    say(`  ${line.name}: p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.rps} req/s`);
  }

  // The ceiling: the 30-day cell-7 map's own gzip bytes from a bare node:http server.
  const bodyFile = join(dir, 'ceiling-body.gz');
  writeFileSync(bodyFile, (await get(base, map('window=30d&cell=7'))).body);
  const ceilingServer = await startChild(join(import.meta.dirname, 'ceiling-serve.ts'), [bodyFile], {});
  let ceiling: LoadLine;
  try {
    await sleep(2000);
    ceiling = await load(
      `http://127.0.0.1:${ceilingServer.port}`,
      ['/'],
      connections,
      duration,
      {},
      num('workers', args.workers),
    );
  } finally {
    ceilingServer.child.kill('SIGTERM');
  }
  const api30d = results.find((r) => r.name.startsWith('map window=30d&cell=7, whole'))!;

  say('');
  say(
    `citytel api benchmark: ${readingCount(shape).toLocaleString('en')} readings (${shape.fixed} fixed kits, ${shape.mobile} cars, ${shape.days} days), ` +
      `${connections} concurrent clients, ${duration} s per line, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; influxd, api and autocannon on this machine`,
  );
  say(`windows end at ${to} (inside the data's last hour: raw readings at both edges, rollups between)`);
  say('');
  say('served (shared answers, warm; clients accept gzip):');
  say('');
  say('| request | p50 ms | p99 ms | req/s | bytes/answer | errors |');
  say('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results)
    say(`| ${r.name} | ${r.p50} | ${r.p99} | ${r.rps} | ${r.bytes.toLocaleString('en')} | ${r.errors} |`);
  say(
    `| ceiling: the 30-day cell-7 map's gzip bytes from bare node:http | ${ceiling.p50} | ${ceiling.p99} | ${ceiling.rps} | ${ceiling.bytes.toLocaleString('en')} | ${ceiling.errors} |`,
  );
  say('');
  say(
    `api / ceiling for the 30-day cell-7 map: p99 ${(api30d.p99 / Math.max(1, ceiling.p99)).toFixed(2)}×, req/s ${(api30d.rps / Math.max(1, ceiling.rps)).toFixed(2)}×`,
  );
  say('');
  say('computed from scratch (a cache miss), one request at a time:');
  say('');
  say('| request | median ms | max ms |');
  say('| --- | ---: | ---: |');
  for (const c of coldLines) say(`| ${c.name} | ${c.median.toFixed(0)} | ${c.max.toFixed(0)} |`);
  say('');
  if (many)
    say(
      `${connections} different 30-day cell-7 maps at once (two computed at a time): ${many.statuses}; last answered after ${(many.lastMs / 1000).toFixed(1)} s`,
    );
  say('');
  say('| whole-city map (pm25, bbox of the city) | cells | JSON bytes | gzip bytes |');
  say('| --- | ---: | ---: | ---: |');
  for (const s of sizes)
    say(`| ${s.query} | ${s.cells} | ${s.bytes.toLocaleString('en')} | ${s.gzip.toLocaleString('en')} |`);
  say('');
  say(
    `reproduce: npm run bench:api -- --scale ${scale} --duration ${duration} --connections ${connections}${args.dir ? ` --dir ${args.dir}` : ''}`,
  );
}

async function lastReading(influx: ReturnType<typeof createInfluxQuery>): Promise<number> {
  const s = await influx.query('SELECT last("tsrc") FROM "readings"', { timeoutMs: 120_000 });
  return Number(s[0]?.values[0]?.[0] ?? Date.now());
}

async function countReadings(influx: ReturnType<typeof createInfluxQuery>): Promise<number> {
  try {
    const s = await influx.query('SELECT count("tsrc") FROM "readings"', { timeoutMs: 120_000 });
    return Number(s[0]?.values[0]?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** A benchmark process of its own (tsx), resolved with the JSON line it prints once it listens. */
function startChild<T extends { port: number }>(
  script: string,
  argv: string[],
  env: Record<string, string>,
): Promise<T & { child: ChildProcess }> {
  // BENCH_PROFILE=<folder>: a CPU profile of each child, written when it stops.
  const profile = process.env.BENCH_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
    : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', script, ...argv], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      resolve({ ...(JSON.parse(line) as T), child });
    });
  });
}
