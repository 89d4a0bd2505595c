import { describe, expect, it } from 'vitest';
import { parseMapEntries, passFields, Rollup } from './rollup-build.ts';

const T = Date.UTC(2026, 10, 20, 8);
const KIT = { lat: 48.1113, lon: -1.68 };

describe('packed map rollup entries', () => {
  it('reads kits by device and position, and mobile readings by 7-cell', () => {
    expect(parseMapEntries('d|kit-1|gbwc9y2bc|30.5|3|12.25;m|gbwc9y3|1e-7|1|1e-7|2')).toEqual([
      { kind: 'd', device: 'kit-1', pos: 'gbwc9y2bc', sum: 30.5, count: 3, max: 12.25, corrected: 0 },
      { kind: 'm', cell: 'gbwc9y3', sum: 1e-7, count: 1, max: 1e-7, devices: 2, corrected: 0 },
    ]);
  });

  it('skips entries it does not know', () => {
    expect(parseMapEntries('x|1|2;d|short')).toEqual([]);
  });
});

describe('map rollup of corrected PM', () => {
  it('packs each reading by its corrected value where it has one, with the count and the methods', () => {
    const r = new Rollup(['pm25', 'humidity']);
    const columns = ['time', ...passFields(['pm25', 'humidity'])];
    expect(columns).toEqual(['time', 'pm25', 'humidity', 'lat', 'lon', 'pm25_c', 'pmc']);
    r.add(
      {
        name: 'readings',
        tags: { device: 'sds-1', kind: 'airrohr', loc: 'fixed' },
        columns,
        values: [
          [T, 8, 60, KIT.lat, KIT.lon, 5.87, 'kappa-kohler-crilley-2018@1-kappa0.4'],
          // No humidity: `none:…`, counted by the measured value.
          [T + 60_000, 10, null, KIT.lat, KIT.lon, null, 'none:no_humidity'],
        ],
      },
      3_600_000,
    );
    const lines = [...r.lines('readings_1h', 'map_1h')];
    // The device rollup keeps measured values only.
    expect(lines[0]).toContain('pm25_sum=18.0,pm25_count=2i');
    expect(lines[0]).not.toMatch(/pm25_c[x=]|pm25_cm/);
    const map = lines[1]!;
    const field = (name: string) => map.match(new RegExp(`${name}="([^"]*)"`))?.[1];
    const [measured] = parseMapEntries(field('pm25')!);
    const [corrected] = parseMapEntries(field('pm25_cx')!);
    expect(measured).toMatchObject({ kind: 'd', device: 'sds-1', sum: 18, count: 2, max: 10, corrected: 0 });
    expect(corrected).toMatchObject({
      kind: 'd',
      device: 'sds-1',
      count: 2,
      max: 10,
      corrected: 1,
    });
    expect(corrected!.sum).toBeCloseTo(15.87, 9);
    expect(field('pm25_cm')).toBe('kappa-kohler-crilley-2018@1-kappa0.4');
    // Humidity has no corrected value.
    expect(field('humidity_cx')).toBeUndefined();
  });

  it('reads the corrected count of mobile entries', () => {
    expect(parseMapEntries('m|gbwc9y3|12.5|2|7|1|1')).toEqual([
      { kind: 'm', cell: 'gbwc9y3', sum: 12.5, count: 2, max: 7, devices: 1, corrected: 1 },
    ]);
  });
});
