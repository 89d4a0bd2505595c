import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startInfluxd } from '../../scripts/influxd.ts';
import { freePort } from '../../test/helpers/ports.ts';
import { createInfluxQuery } from '../src/influx/client.ts';
import { CITY, type CityShape, DEFAULT_SHAPE, kitId, readingCount, writeCity } from './generate.ts';

/**
 * `npm run bench:api`: map and series latency at 50 concurrent clients over a month of a city (10.6
 * million readings), and the size of a whole-city map. Starts its own influxd, writes the data, starts the
 * api in a process of its own (which builds its rollups first), then runs autocannon against it.
 *
 *   npm run bench:api                          # everything in a temp folder, removed at the end
 *   npm run bench:api -- --dir .bench          # keep the data: the next run skips the 10 M writes
 *   npm run bench:api -- --scale 0.1 --duration 5   # a quick look
 */
const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    scale: { type: 'string', default: '1' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
  },
});
const scale = Number(args.scale);
const duration = Number(args.duration);
const connections = Number(args.connections);
const shape: CityShape = {
  ...DEFAULT_SHAPE,
  fixed: Math.max(20, Math.round(DEFAULT_SHAPE.fixed * scale)),
  mobile: Math.max(1, Math.round(DEFAULT_SHAPE.mobile * scale)),
};
const dir = args.dir ?? mkdtempSync(join(tmpdir(), 'citytel-bench-'));
mkdirSync(dir, { recursive: true });
const HOUR = 3_600_000;

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

  const started = await startApi(influxd.url, join(dir, 'api'));
  api = started.child;
  const base = `http://127.0.0.1:${started.port}`;
  say(`api up; rollup backfill took ${(started.rollupMs / 1000).toFixed(1)} s`);

  // Windows end with the data (a reused data set may be hours old): at the last reading, plus a minute.
  const dataEnd = (await lastReading(influx)) + 60_000;
  const at = new Date(dataEnd).toISOString();
  const since = (ms: number) => new Date(dataEnd - ms).toISOString();

  const city = `${CITY.minLon},${CITY.minLat},${CITY.maxLon},${CITY.maxLat}`;
  const sizes = [];
  for (const q of ['window=1h&cell=7', 'window=24h&cell=7', 'window=30d&cell=7', 'window=30d&cell=6']) {
    const path = `/api/v1/map?metric=pm25&${q}&to=${at}&bbox=${city}`;
    const plain = await getBytes(base, path, 'identity');
    const gz = await getBytes(base, path, 'gzip');
    const cells = (JSON.parse(plain.body.toString()) as { features: unknown[] }).features.length;
    sizes.push({ query: q, cells, bytes: plain.body.length, gzip: gz.body.length });
  }

  let n = 0;
  /** A citizen's viewport: a 3 km × 2 km box somewhere in the city. */
  const viewport = () => {
    const lon = CITY.minLon + ((n * 0.37) % 1) * (CITY.maxLon - CITY.minLon - 0.04);
    const lat = CITY.minLat + ((n++ * 0.61) % 1) * (CITY.maxLat - CITY.minLat - 0.018);
    return `${lon.toFixed(4)},${lat.toFixed(4)},${(lon + 0.04).toFixed(4)},${(lat + 0.018).toFixed(4)}`;
  };
  /** A `to` a few ms apart on each request: every request misses the answer cache and queries InfluxDB. */
  const uniqueTo = () => new Date(dataEnd - (n++ % 100_000)).toISOString();
  const map = (q: string) => `/api/v1/map?metric=pm25&${q}`;
  /** One of the 20 registered kits, in turn. */
  const series = (q: string, i = n) => `/api/v1/devices/${kitId(i % 20)}/series?metric=pm25&${q}`;
  const scenarios: Array<{ name: string; path: () => string; cached: boolean }> = [
    { name: 'map 1h, cell 7, whole city', cached: true, path: () => map(`window=1h&cell=7&to=${at}`) },
    { name: 'map 30d, cell 7, whole city', cached: true, path: () => map(`window=30d&cell=7&to=${at}`) },
    {
      name: 'map 30d, cell 7, 3 × 2 km viewports',
      cached: true,
      path: () => map(`window=30d&cell=7&to=${at}&bbox=${viewport()}`),
    },
    {
      name: 'series 24h every 5m, 20 kits',
      cached: true,
      path: () => series(`from=${since(86_400_000)}&to=${at}&every=5m`, n++),
    },
    { name: 'devices, whole city', cached: true, path: () => '/api/v1/devices' },
    {
      name: 'map 1h, cell 7, whole city',
      cached: false,
      path: () => map(`window=1h&cell=7&to=${uniqueTo()}`),
    },
    {
      name: 'map 30d, cell 6, whole city',
      cached: false,
      path: () => map(`window=30d&cell=6&to=${uniqueTo()}`),
    },
    {
      name: 'map 30d, cell 7, whole city',
      cached: false,
      path: () => map(`window=30d&cell=7&to=${uniqueTo()}`),
    },
    {
      name: 'series 24h every 5m',
      cached: false,
      path: () => series(`from=${since(86_400_000)}&every=5m&to=${uniqueTo()}`),
    },
    {
      name: 'series 30d every 1h (rollups)',
      cached: false,
      path: () => series(`from=${since(30 * 86_400_000)}&every=1h&to=${uniqueTo()}`),
    },
    {
      name: 'series 24h p95 every 1h',
      cached: false,
      path: () => series(`from=${since(86_400_000)}&every=1h&fn=p95&to=${uniqueTo()}`),
    },
  ];

  const results = [];
  for (const s of scenarios) {
    // A shared answer is measured warm; each line starts once the previous line's queries are done.
    if (s.cached) await getBytes(base, s.path(), 'gzip');
    await new Promise((r) => setTimeout(r, 3000));
    const r = await autocannon({
      url: base,
      connections,
      duration,
      timeout: 120,
      requests: [
        { method: 'GET', setupRequest: (req: Record<string, unknown>) => ({ ...req, path: s.path() }) },
      ],
    });
    results.push({
      ...s,
      p50: r.latency.p50,
      p99: r.latency.p99,
      rps: Math.round(r.requests.average),
      errors: r.non2xx + r.errors,
    });
    say(
      `  ${s.name} (${s.cached ? 'shared answer' : 'computed per request'}): p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${Math.round(r.requests.average)} req/s`,
    );
  }

  say('');
  say(
    `citytel api benchmark: ${readingCount(shape).toLocaleString('en')} readings (${shape.fixed} fixed kits, ${shape.mobile} cars, ${shape.days} days), ` +
      `${connections} concurrent clients, ${duration} s per line, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; influxd, api and autocannon on this machine`,
  );
  say('');
  say('| request | answer cache | p50 ms | p99 ms | req/s | errors |');
  say('| --- | --- | ---: | ---: | ---: | ---: |');
  for (const r of results)
    say(
      `| ${r.name} | ${r.cached ? 'shared answer (cache)' : 'computed per request'} | ${r.p50} | ${r.p99} | ${r.rps} | ${r.errors} |`,
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
} finally {
  api?.kill('SIGTERM');
  await influxd.stop();
  if (!args.dir) rmSync(dir, { recursive: true, force: true });
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

function startApi(
  influxUrl: string,
  dataDir: string,
): Promise<{ child: ChildProcess; port: number; rollupMs: number }> {
  if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true });
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'serve.ts')], {
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      INFLUX_URL: influxUrl,
      INFLUX_DB: 'telemetry',
      DASHBOARD_DIR: join(dataDir, 'none'),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`api exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      const { port, rollupMs } = JSON.parse(line) as { port: number; rollupMs: number };
      resolve({ child, port, rollupMs });
    });
  });
}

/** The body as sent on the wire, compressed or not. */
function getBytes(base: string, path: string, encoding: 'gzip' | 'identity'): Promise<{ body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(`${base}${path}`, { headers: { 'Accept-Encoding': encoding } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => resolve({ body: Buffer.concat(parts) }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}
