import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Counter } from './prom.ts';
import { createStatsBoard } from './stats-board.ts';

describe('Prometheus text', () => {
  it('renders a counter family with escaped labels', () => {
    const c = new Counter('x_total', 'things');
    c.inc({ route: '/a', status: '200' });
    c.inc({ status: '200', route: '/a' }, 2);
    c.inc({ route: 'say "hi"\\n', status: '500' });
    expect(c.render()).toBe(
      '# HELP x_total things\n# TYPE x_total counter\n' +
        'x_total{route="/a",status="200"} 3\n' +
        'x_total{route="say \\"hi\\"\\\\n",status="500"} 1\n',
    );
  });
});

describe('the stats board', () => {
  const scrape = async (b: ReturnType<typeof createStatsBoard>) => {
    const r = new Registry();
    for (const m of b.metrics()) r.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
    return r.metrics();
  };

  it('relays each process under its own metric names and types, one instance label each', async () => {
    const b = createStatsBoard();
    const now = Date.now();
    expect(
      b.update(
        '$SYS/citytel/broker/b1/stats',
        '{"clients":3,"messagesIn":10,"refusals":{"publish_denied":2},"note":"x"}',
        now,
      ),
    ).toBe(true);
    expect(b.update('$SYS/citytel/broker/b2/stats', '{"clients":4}', now)).toBe(true);
    expect(b.update('$SYS/citytel/broker/b2/other', '{"clients":4}', now)).toBe(false);
    expect(b.update('citytel/ingest/i1/stats', 'not json', now)).toBe(false);
    expect(
      b.update(
        'citytel/ingest/i1/stats',
        JSON.stringify({
          received: 5,
          mqtt_paused_ms: 1500,
          write_ms: { count: 3, sum: 12, le: [2.5, 10], buckets: [1, 2] },
        }),
        now,
      ),
    ).toBe(true);
    const text = await scrape(b);
    expect(text).toContain('# TYPE citytel_broker_clients gauge\ncitytel_broker_clients{instance="b1"} 3\n');
    expect(text).toContain('citytel_broker_clients{instance="b2"} 4');
    expect(text).toContain('# TYPE citytel_broker_messages_received_total counter');
    expect(text).toContain('citytel_broker_messages_received_total{instance="b1"} 10');
    expect(text).toContain('citytel_broker_refusals_total{instance="b1",reason="publish_denied"} 2');
    expect(text).toContain('citytel_ingest_messages_received_total{instance="i1"} 5');
    expect(text).toContain('citytel_ingest_source_paused_seconds_total{instance="i1"} 1.5');
    expect(text).toContain(
      '# TYPE citytel_ingest_write_duration_seconds histogram\n' +
        'citytel_ingest_write_duration_seconds_bucket{instance="i1",le="0.0025"} 1\n' +
        'citytel_ingest_write_duration_seconds_bucket{instance="i1",le="0.01"} 2\n' +
        'citytel_ingest_write_duration_seconds_bucket{instance="i1",le="+Inf"} 3\n' +
        'citytel_ingest_write_duration_seconds_sum{instance="i1"} 0.012\n' +
        'citytel_ingest_write_duration_seconds_count{instance="i1"} 3\n',
    );
    expect(text).toMatch(/citytel_stats_age_seconds\{process="broker",instance="b1"\} \d/);
    expect(text).not.toContain('note');
  });

  it('reads the former $SYS/ ingest topic, and prefers the current one while it is fresh', () => {
    const b = createStatsBoard(60_000);
    expect(b.update('$SYS/citytel/ingest/i1/stats', '{"received":1}', 0)).toBe(true);
    expect(b.entries(0).map((e) => [e.instance, e.legacy, e.figures.received])).toEqual([['i1', true, 1]]);
    b.update('citytel/ingest/i1/stats', '{"received":2}', 1000);
    b.update('$SYS/citytel/ingest/i1/stats', '{"received":1}', 2000);
    expect(b.entries(2000).map((e) => e.figures.received)).toEqual([2]);
  });

  it('forgets an instance silent for longer than the stale limit', () => {
    const b = createStatsBoard(60_000);
    b.update('citytel/ingest/i1/stats', '{"received":1}', 0);
    expect(b.entries(60_001)).toEqual([]);
  });
});
