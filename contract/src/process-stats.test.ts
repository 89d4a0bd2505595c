import { describe, expect, it } from 'vitest';
import { BROKER_FAMILIES, INGEST_FAMILIES, STATS_FAMILIES, statsMetrics } from './process-stats.ts';

describe('the family tables', () => {
  const all = [...BROKER_FAMILIES, ...INGEST_FAMILIES];

  it('name every family by the conventions: prefix, snake_case, _total on counters only, base units', () => {
    for (const f of all) {
      expect(f.name).toMatch(/^citytel_(broker|ingest)_[a-z0-9_]+$/);
      expect(f.name.endsWith('_total'), f.name).toBe(f.type === 'counter');
      expect(f.name, f.name).not.toMatch(/_ms\b|_ms_|milli|_kb|_mb/);
      if (f.type === 'histogram' && /duration/.test(f.name)) expect(f.name).toMatch(/_seconds$/);
    }
    expect(new Set(all.map((f) => f.name)).size).toBe(all.length);
    expect(STATS_FAMILIES.broker).toBe(BROKER_FAMILIES);
  });

  it("turns ingest's ms summaries into second histograms, bounds divided exactly", () => {
    const f = INGEST_FAMILIES.find((x) => x.name === 'citytel_ingest_write_duration_seconds')!;
    const v = f.values({ write_ms: { count: 4, sum: 1250, le: [1, 2.5, 1000], buckets: [1, 2, 3] } });
    expect(v).toEqual([
      { metricName: 'citytel_ingest_write_duration_seconds_bucket', labels: { le: '0.001' }, value: 1 },
      { metricName: 'citytel_ingest_write_duration_seconds_bucket', labels: { le: '0.0025' }, value: 2 },
      { metricName: 'citytel_ingest_write_duration_seconds_bucket', labels: { le: '1' }, value: 3 },
      { metricName: 'citytel_ingest_write_duration_seconds_bucket', labels: { le: '+Inf' }, value: 4 },
      { metricName: 'citytel_ingest_write_duration_seconds_sum', value: 1.25 },
      { metricName: 'citytel_ingest_write_duration_seconds_count', value: 4 },
    ]);
    // a summary of an older ingest, without buckets, or anything malformed: no values rather than wrong ones
    expect(f.values({ write_ms: { count: 4, p50: 3 } })).toEqual([]);
    expect(f.values({ write_ms: { count: 4, sum: 1, le: [1, 'x'], buckets: [1, 2] } })).toEqual([]);
    expect(f.values({ write_ms: { count: 4, sum: 1, le: [1], buckets: [1, 2] } })).toEqual([]);
  });

  it('reads maps as a label, nested figures, and skips what is not a finite number', () => {
    const byName = (n: string) => all.find((f) => f.name === n)!;
    expect(byName('citytel_broker_refusals_total').values({ refusals: { throttled: 2, x: 'y' } })).toEqual([
      { value: 2, labels: { reason: 'throttled' } },
    ]);
    expect(byName('citytel_ingest_device_cache_hits_total').values({ registry: { hits: 7 } })).toEqual([
      { value: 7 },
    ]);
    expect(byName('citytel_ingest_source_paused_seconds_total').values({ mqtt_paused_ms: 2500 })).toEqual([
      { value: 2.5 },
    ]);
    expect(byName('citytel_broker_clients').values({ clients: Number.NaN })).toEqual([]);
    expect(byName('citytel_ingest_stream_claimed_total').values({})).toEqual([]);
  });

  it('gives prom-client metric objects whose values carry the labels of each source', async () => {
    const [clients] = statsMetrics(BROKER_FAMILIES.slice(0, 1), () => [
      { figures: { clients: 3 }, labels: { instance: 'b1' } },
      { figures: { clients: 4 }, labels: { instance: 'b2' } },
    ]);
    expect(await clients!.get()).toEqual({
      name: 'citytel_broker_clients',
      help: 'Connected, authenticated MQTT clients',
      type: 'gauge',
      aggregator: 'sum',
      values: [
        { value: 3, labels: { instance: 'b1' } },
        { value: 4, labels: { instance: 'b2' } },
      ],
    });
  });
});
