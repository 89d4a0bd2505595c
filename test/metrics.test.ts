import { BROKER_FAMILIES, INGEST_FAMILIES } from '@citytel/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Family,
  type MetricsStack,
  parseExposition,
  startMetricsStack,
} from './helpers/metrics-stack.ts';

/**
 * Each process's /metrics, scraped from broker, ingest and api running as processes, against Prometheus'
 * naming conventions (https://prometheus.io/docs/practices/naming/, /docs/concepts/metric_types/), so stock
 * Grafana dashboards and PromQL idioms (rate() on _total, histogram_quantile() on _bucket) work on them.
 */
let stack: MetricsStack;
const scraped = new Map<string, Map<string, Family>>();

beforeAll(async () => {
  stack = await startMetricsStack();
  for (const p of ['broker', 'ingest', 'api'] as const) {
    const { contentType, text } = await stack.scrape(p);
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    scraped.set(p, parseExposition(text));
  }
}, 180_000);
afterAll(() => stack?.stop());

/** Node's process metrics as prom-client names them, which stock Node.js dashboards read. */
const DEFAULT_METRICS = {
  process_cpu_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  process_start_time_seconds: 'gauge',
  process_open_fds: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge',
  nodejs_active_handles_total: 'gauge',
  nodejs_gc_duration_seconds: 'histogram',
  nodejs_version_info: 'gauge',
};

/** Words that name a unit other than the base one, or a unit in the wrong place. */
const NON_BASE_UNITS =
  /(^|_)(ms|millis|milliseconds|us|micros|microseconds|ns|minutes|hours|kb|mb|gb|kib|mib|percent)(_|$)/;

describe.each(['broker', 'ingest', 'api'] as const)('%s /metrics', (p) => {
  const families = () => [...scraped.get(p)!.values()];

  it('names every family in snake_case, the project own ones with citytel_', () => {
    for (const f of families()) {
      expect(f.name, f.name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(f.name, f.name).not.toMatch(/__|_$/);
      if (!/^(process|nodejs)_/.test(f.name)) expect(f.name, f.name).toMatch(/^citytel_/);
      expect(f.type, `${f.name} has a TYPE`).toMatch(/^(counter|gauge|histogram|summary)$/);
      expect(f.help, `${f.name} has a HELP`).not.toBe('');
    }
  });

  it('ends counters in _total and nothing else', () => {
    for (const f of families()) {
      if (f.type === 'counter') expect(f.name, f.name).toMatch(/_total$/);
      // prom-client's nodejs_active_*_total are gauges of its own making (the count now): a known exception
      else if (!f.name.startsWith('nodejs_active_')) expect(f.name, f.name).not.toMatch(/_total$/);
    }
  });

  it('gives histograms their _bucket (with le, +Inf last), _sum and _count lines', () => {
    const histograms = families().filter((f) => f.type === 'histogram');
    expect(histograms.length).toBeGreaterThan(0);
    for (const f of histograms) {
      const names = new Set(f.samples.map((s) => s.name));
      if (f.samples.length === 0) continue; // nothing observed yet (the GC histogram before a collection)
      expect([...names].sort(), f.name).toEqual([`${f.name}_bucket`, `${f.name}_count`, `${f.name}_sum`]);
      const buckets = f.samples.filter((s) => s.name.endsWith('_bucket'));
      expect(
        buckets.every((b) => b.labels.le !== undefined),
        f.name,
      ).toBe(true);
      expect(
        buckets.some((b) => b.labels.le === '+Inf'),
        f.name,
      ).toBe(true);
    }
  });

  it('uses base units, named in the suffix (seconds, bytes), and no quantile gauges', () => {
    for (const f of families()) {
      expect(f.name, f.name).not.toMatch(NON_BASE_UNITS);
      if (/duration|latency|lag|_time_|uptime/.test(f.name))
        expect(f.name, f.name).toMatch(/_seconds(_total)?$/);
      if (/memory|heap|size|bytes/.test(f.name) && !/_bucket/.test(f.name))
        expect(f.name, f.name).toMatch(/_bytes(_total)?$|_(size_)?(used|total|available)_bytes$|_info$/);
      for (const s of f.samples) {
        expect(Object.keys(s.labels), `${s.name} takes no key label`).not.toContain('key');
        if (f.type !== 'summary') expect(Object.keys(s.labels), s.name).not.toContain('quantile');
      }
    }
  });

  it("exposes Node's standard process metrics", () => {
    const by = scraped.get(p)!;
    for (const [name, type] of Object.entries(DEFAULT_METRICS)) {
      expect(by.get(name)?.type, name).toBe(type);
    }
    expect(by.get('process_resident_memory_bytes')!.samples[0]!.value).toBeGreaterThan(0);
  });
});

describe('the figures of each process', () => {
  it('are those of the family table, with the types it gives', () => {
    for (const [p, table] of [
      ['broker', BROKER_FAMILIES],
      ['ingest', INGEST_FAMILIES],
    ] as const) {
      const by = scraped.get(p)!;
      for (const f of table) expect(by.get(f.name)?.type, `${p} ${f.name}`).toBe(f.type);
    }
  });

  it('count what went through: the kit connected, five readings written, one message rejected by reason', () => {
    const value = (p: string, name: string, labels: Record<string, string> = {}) =>
      [...scraped.get(p)!.values()]
        .flatMap((f) => f.samples)
        .find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('broker', 'citytel_broker_connects_total')).toBeGreaterThanOrEqual(3); // ingest, api, the kit
    expect(value('broker', 'citytel_broker_messages_received_total')).toBeGreaterThanOrEqual(6);
    expect(value('ingest', 'citytel_ingest_messages_received_total')).toBeGreaterThanOrEqual(6);
    expect(value('ingest', 'citytel_ingest_points_written_total')).toBe(5);
    expect(value('ingest', 'citytel_ingest_messages_rejected_total', { reason: 'not_json' })).toBe(1);
    expect(value('ingest', 'citytel_ingest_write_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    const sum = value('ingest', 'citytel_ingest_write_duration_seconds_sum')!;
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(10); // seconds, not ms
    expect(value('ingest', 'citytel_ingest_influx_up')).toBe(1);
  });

  it('are relayed by the api under the same names and types, with an instance label', () => {
    const api = scraped.get('api')!;
    for (const [p, instance] of [
      ['broker', 'metrics-broker'],
      ['ingest', 'metrics-ingest'],
    ] as const) {
      for (const f of scraped.get(p)!.values()) {
        if (!f.name.startsWith('citytel_') || f.samples.length === 0) continue;
        const relayed = api.get(f.name);
        expect(relayed?.type, f.name).toBe(f.type);
        expect(
          relayed!.samples.some((s) => s.labels.instance === instance),
          f.name,
        ).toBe(true);
      }
    }
  });
});
