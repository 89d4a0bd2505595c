import { describe, expect, it } from 'vitest';
import { Counter, Histogram, promName } from './prom.ts';
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

  it('renders cumulative histogram buckets, sum and count', () => {
    const h = new Histogram('d_seconds', 'durations', [0.1, 1]);
    h.observe({ route: '/a' }, 0.05);
    h.observe({ route: '/a' }, 0.5);
    h.observe({ route: '/a' }, 5);
    expect(h.render()).toBe(
      '# HELP d_seconds durations\n# TYPE d_seconds histogram\n' +
        'd_seconds_bucket{route="/a",le="0.1"} 1\n' +
        'd_seconds_bucket{route="/a",le="1"} 2\n' +
        'd_seconds_bucket{route="/a",le="+Inf"} 3\n' +
        'd_seconds_sum{route="/a"} 5.55\n' +
        'd_seconds_count{route="/a"} 3\n',
    );
  });

  it('makes valid metric names', () => {
    expect(promName('messages.in-total')).toBe('messages_in_total');
    expect(promName('5xx')).toBe('_5xx');
  });
});

describe('the stats board', () => {
  it('renders numbers and {name: count} maps of each process as gauges, grouped by family', () => {
    const b = createStatsBoard();
    expect(
      b.update(
        '$SYS/citytel/broker/b1/stats',
        '{"clients":3,"refused":{"publish_denied":2},"note":"x"}',
        1000,
      ),
    ).toBe(true);
    expect(b.update('$SYS/citytel/broker/b2/stats', '{"clients":4}', 1000)).toBe(true);
    expect(b.update('$SYS/citytel/broker/b2/other', '{"clients":4}', 1000)).toBe(false);
    expect(b.update('$SYS/citytel/ingest/i1/stats', 'not json', 1000)).toBe(false);
    expect(b.render(3000)).toBe(
      '# HELP citytel_broker_clients figure published by the process on $SYS/citytel/.../stats\n' +
        '# TYPE citytel_broker_clients gauge\n' +
        'citytel_broker_clients{instance="b1"} 3\n' +
        'citytel_broker_clients{instance="b2"} 4\n' +
        '# HELP citytel_broker_refused figure published by the process on $SYS/citytel/.../stats\n' +
        '# TYPE citytel_broker_refused gauge\n' +
        'citytel_broker_refused{instance="b1",key="publish_denied"} 2\n' +
        '# HELP citytel_stats_age_seconds age of the latest stats message\n' +
        '# TYPE citytel_stats_age_seconds gauge\n' +
        'citytel_stats_age_seconds{process="broker",instance="b1"} 2\n' +
        'citytel_stats_age_seconds{process="broker",instance="b2"} 2\n',
    );
  });

  it('forgets an instance silent for longer than the stale limit', () => {
    const b = createStatsBoard(60_000);
    b.update('$SYS/citytel/ingest/i1/stats', '{"written":1}', 0);
    expect(b.render(60_001)).toBe('');
  });
});
