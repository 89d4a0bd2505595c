import { describe, expect, it } from 'vitest';
import type { InfluxQuery, InfluxSeries } from './client.ts';
import { latestQuality } from './latest-quality.ts';

/** A fake InfluxDB answering each statement by the field its selector reads. */
function fake(answers: Record<string, InfluxSeries[]>): InfluxQuery {
  return {
    db: 'x',
    async query(q: string) {
      const field = q.match(/last\("([^"]+)"\)/)?.[1] ?? '';
      return answers[field] ?? [];
    },
  } as unknown as InfluxQuery;
}
const series = (device: string, columns: string[], row: unknown[]): InfluxSeries => ({
  name: 'readings',
  tags: { device },
  columns,
  values: [row],
});

describe('flags and corrected values of the latest readings', () => {
  it('gives each metric the flags of the reading its latest value came from, and its correction', async () => {
    const q = await latestQuality(
      fake({
        pm25: [
          series('a', ['time', 'v', 'qf', 'pm25_c', 'pmc'], [1000, 20, 4, 8.04, 'epa-barkjohn-2021@1']),
          series('b', ['time', 'v', 'qf', 'pm25_c', 'pmc'], [1000, 9, null, null, 'none:no_humidity']),
        ],
        humidity: [series('a', ['time', 'v', 'qf'], [1000, 95, 4])],
      }),
      0,
      ['pm25', 'humidity'],
    );
    expect(q.get('a')).toEqual({
      flags: { pm25: ['rh_high'], humidity: ['rh_high'] },
      corrected: { pm25: { value: 8.04, method: 'epa-barkjohn-2021@1' } },
    });
    expect(q.get('b')).toEqual({ flags: { pm25: [] }, corrected: {} });
  });

  it('names a sensor error newer than the last value, never one older', async () => {
    const q = await latestQuality(
      fake({
        qerr: [
          series('a', ['time', 'e', 'qf'], [2000, 'pm10=1999.9;pm25=999.9', 1]),
          series('b', ['time', 'e', 'qf'], [500, 'pm25=999.9', 1]),
        ],
        pm25: [
          series('a', ['time', 'v', 'qf', 'pm25_c', 'pmc'], [1000, 8, null, null, null]),
          series('b', ['time', 'v', 'qf', 'pm25_c', 'pmc'], [1000, 8, null, null, null]),
        ],
      }),
      0,
      ['pm25', 'pm10'],
    );
    // a: pm10 has no value at all, its latest report the error; pm25's error is newer than its value.
    expect(q.get('a')!.flags).toEqual({ pm25: ['sensor_error'], pm10: ['sensor_error'] });
    expect(q.get('b')!.flags).toEqual({ pm25: [] });
  });
});
