import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BAND_SCALES,
  MEASUREMENTS,
  METRIC_NAMES,
  type Metric,
  POSITION_FIELDS,
  READING_TAGS,
  TIME_SOURCE_FIELD,
  VEHICLE_BOOLEANS,
  VEHICLE_FIELDS,
  VEHICLE_TAGS,
} from '@citytel/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/ingest.ts';
import { type MetricsStack, parseExposition, startMetricsStack } from './helpers/metrics-stack.ts';
import { freePort } from './helpers/ports.ts';
import { tempDir } from './helpers/tmp.ts';

/**
 * The Grafana dashboards of deploy/grafana, read as Grafana reads them: every InfluxQL query names
 * measurements, fields and tags of the contract's schema and runs on a real influxd holding what ingest
 * wrote; every PromQL expression names metrics of a real scrape of broker, ingest and api, and runs on a
 * real Prometheus scraping them.
 */
const root = join(import.meta.dirname, '..');
const dashboardsDir = join(root, 'deploy/grafana/dashboards');

interface Target {
  refId: string;
  datasource: { type: string; uid: string };
  query?: string;
  expr?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
  citytel?: { bands: Metric };
  fieldConfig?: { defaults: { thresholds?: { steps: Array<{ value: number | null }> } } };
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; datasource: { uid: string }; query: string }> };
}

const dashboards = readdirSync(dashboardsDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, d: JSON.parse(readFileSync(join(dashboardsDir, f), 'utf8')) as Dashboard }));
const panels = (d: Dashboard) => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const targets = (d: Dashboard) =>
  panels(d).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));
const influxQueries = () =>
  dashboards.flatMap(({ d }) => [
    ...targets(d)
      .filter((t) => t.datasource.type === 'influxdb')
      .map((t) => ({ where: `${d.uid} / ${t.panel}`, q: t.query! })),
    ...d.templating.list.map((v) => ({ where: `${d.uid} / $${v.name}`, q: v.query })),
  ]);
const promExprs = () =>
  dashboards.flatMap(({ d }) =>
    targets(d)
      .filter((t) => t.datasource.type === 'prometheus')
      .map((t) => ({ where: `${d.uid} / ${t.panel}`, expr: t.expr! })),
  );

/** What each measurement holds, from the contract. */
const SCHEMA: Record<string, { fields: Set<string>; tags: Set<string> }> = {
  [MEASUREMENTS.readings]: {
    fields: new Set<string>([...METRIC_NAMES, ...Object.values(POSITION_FIELDS), TIME_SOURCE_FIELD]),
    tags: new Set(Object.values(READING_TAGS)),
  },
  [MEASUREMENTS.vehicles]: {
    fields: new Set<string>([
      ...Object.keys(VEHICLE_FIELDS),
      ...VEHICLE_BOOLEANS,
      'online',
      ...Object.values(POSITION_FIELDS),
      TIME_SOURCE_FIELD,
    ]),
    tags: new Set(Object.values(VEHICLE_TAGS)),
  },
};

/** Grafana's macros and this repository's template variables, as a dashboard would expand them. */
const expandInflux = (q: string) =>
  q
    .replaceAll('$timeFilter', 'time > now() - 1h')
    .replaceAll('$__interval', '1m')
    .replace(/\$(device|vehicle)\b/g, '.*');
const expandProm = (e: string) => e.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '5m');

describe('the dashboards', () => {
  it('are three, with unique uids, naming only the provisioned data sources', () => {
    expect(dashboards.map(({ d }) => d.uid).sort()).toEqual([
      'citytel-air-noise',
      'citytel-fleet',
      'citytel-pipeline',
    ]);
    const provisioned = readFileSync(
      join(root, 'deploy/grafana/provisioning/datasources/citytel.yml'),
      'utf8',
    );
    const uids = new Set([...provisioned.matchAll(/^\s+uid: (\S+)$/gm)].map((m) => m[1]!));
    expect([...uids].sort()).toEqual(['citytel-influxdb', 'citytel-prometheus']);
    for (const { d } of dashboards) {
      const ids = panels(d).map((p) => p.id);
      expect(new Set(ids).size, d.uid).toBe(ids.length);
      for (const p of panels(d)) {
        if (p.type === 'row') continue;
        expect(p.targets?.length, `${d.uid} / ${p.title}`).toBeGreaterThan(0);
        for (const t of p.targets!) expect(uids.has(t.datasource.uid), `${d.uid} / ${p.title}`).toBe(true);
      }
    }
  });

  it('name in InfluxQL only measurements, fields and tags of the contract', () => {
    const queries = influxQueries();
    expect(queries.length).toBeGreaterThan(10);
    for (const { where, q } of queries) {
      const measurements = [...q.matchAll(/\b(?:FROM|from)\s+"([^"]+)"/g)].map((m) => m[1]!);
      expect(measurements.length, where).toBeGreaterThan(0);
      for (const m of measurements) expect(Object.keys(SCHEMA), where).toContain(m);
      const known = new Set(measurements.flatMap((m) => [...SCHEMA[m]!.fields, ...SCHEMA[m]!.tags]));
      const aliases = new Set([...q.matchAll(/\bAS\s+"([^"]+)"/g)].map((m) => m[1]!));
      const named = [...q.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
      for (const n of named) {
        if (measurements.includes(n) || aliases.has(n)) continue;
        expect(known.has(n), `${where}: "${n}"`).toBe(true);
      }
    }
  });

  it("colour the air and noise panels by the contract's bands", () => {
    const banded = dashboards.flatMap(({ d }) => panels(d)).filter((p) => p.citytel?.bands);
    expect(banded.length).toBeGreaterThanOrEqual(5);
    for (const p of banded) {
      const steps = p.fieldConfig!.defaults.thresholds!.steps.map((s) => s.value);
      expect(steps, p.title).toEqual([null, ...BAND_SCALES[p.citytel!.bands]!.bounds]);
    }
  });
});

describe('the dashboards on live data', () => {
  let stack: MetricsStack;
  let prometheus: { child: ChildProcess; url: string; cleanup(): void } | undefined;
  const scrapedNames = new Map<string, Set<string>>();

  beforeAll(async () => {
    stack = await startMetricsStack();
    for (const p of ['broker', 'ingest', 'api'] as const) {
      for (const f of parseExposition((await stack.scrape(p)).text).values()) {
        const labels = scrapedNames.get(f.name) ?? new Set<string>();
        for (const s of f.samples) for (const l of Object.keys(s.labels)) labels.add(l);
        scrapedNames.set(f.name, labels);
        if (f.type === 'histogram' || f.type === 'summary')
          for (const suffix of ['_bucket', '_sum', '_count']) scrapedNames.set(f.name + suffix, labels);
      }
    }
    // A real Prometheus scraping the three processes every second.
    const tmp = tempDir('citytel-prometheus-');
    const port = await freePort();
    const job = (name: string, url: string) =>
      `  - job_name: ${name}\n    scrape_interval: 1s\n    static_configs:\n      - targets: ["${new URL(url).host}"]\n`;
    writeFileSync(
      join(tmp.dir, 'prometheus.yml'),
      `scrape_configs:\n${job('broker', stack.metricsUrl.broker)}${job('ingest', stack.metricsUrl.ingest)}${job('api', stack.metricsUrl.api)}`,
    );
    const child = spawn(
      'prometheus',
      [
        `--config.file=${join(tmp.dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(tmp.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    prometheus = { child, url: `http://127.0.0.1:${port}`, cleanup: tmp.cleanup };
    // every target up, with a few scrapes behind it so that rate() has points
    await eventually(
      'Prometheus scraped the three processes',
      async () => {
        const r = await fetch(`${prometheus!.url}/api/v1/query?query=count_over_time(up[1m])`);
        const body = (await r.json()) as { data?: { result: Array<{ value: [number, string] }> } };
        const result = body.data?.result ?? [];
        return result.length === 3 && result.every((s) => Number(s.value[1]) >= 4);
      },
      60_000,
    );
  }, 240_000);

  afterAll(async () => {
    if (prometheus) {
      const exited = new Promise((r) => prometheus!.child.once('exit', r));
      prometheus.child.kill('SIGTERM');
      await exited;
      prometheus.cleanup();
    }
    await stack?.stop();
  });

  it('name in PromQL only metrics of a real scrape, and labels they carry', () => {
    const exprs = promExprs();
    expect(exprs.length).toBeGreaterThan(15);
    for (const { where, expr } of exprs) {
      const metrics = [...expr.matchAll(/\b((?:citytel|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!);
      expect(metrics.length, where).toBeGreaterThan(0);
      for (const m of metrics) {
        const labels = scrapedNames.get(m);
        expect(labels, `${where}: ${m}`).toBeDefined();
        // a `by (...)` label must be one the metric has, unless nothing was counted yet
        for (const [, by] of expr.matchAll(/\bby \(([^)]+)\)/g)) {
          for (const l of by!.split(',').map((s) => s.trim())) {
            if (l === 'le' || l === 'instance' || l === 'job' || labels!.size === 0) continue;
            expect(labels!.has(l), `${where}: ${m} by ${l}`).toBe(true);
          }
        }
      }
    }
  });

  it('run every PromQL expression on Prometheus, the flow panels with data', async () => {
    for (const { where, expr } of promExprs()) {
      const r = await fetch(
        `${prometheus!.url}/api/v1/query?${new URLSearchParams({ query: expandProm(expr) })}`,
      );
      const body = (await r.json()) as { status: string; error?: string; data: { result: unknown[] } };
      expect(body.status, `${where}: ${body.error}`).toBe('success');
      if (
        /messages_received_total|backlog_points|citytel_broker_clients|process_resident_memory_bytes/.test(
          expr,
        )
      )
        expect(body.data.result.length, where).toBeGreaterThan(0);
    }
  });

  it('run every InfluxQL query on influxd, the air ones with what ingest wrote', async () => {
    for (const { where, q } of influxQueries()) {
      const r = await fetch(
        `${stack.influx.url}/query?${new URLSearchParams({ db: stack.influx.db, q: expandInflux(q), epoch: 'ms' })}`,
      );
      const body = (await r.json()) as {
        error?: string;
        results: Array<{ error?: string; series?: unknown[] }>;
      };
      expect(r.status, where).toBe(200);
      expect(body.error ?? body.results[0]?.error, where).toBeUndefined();
      if (/"(pm25|noise_laeq)"/.test(q) && /FROM "readings"/.test(q))
        expect(body.results[0]?.series?.length, `${where}: data`).toBeGreaterThan(0);
    }
  });
});
