import { describe, expect, it } from 'vitest';
import { cityGeoJson } from '../dashboard/src/city-map.ts';
import { tickStepHours, timeTicks } from '../dashboard/src/ticks.ts';
import { RENNES } from '../firmware-sim/src/city.ts';

describe('cityGeoJson', () => {
  it('draws every road, the river along its quays and every station of the simulated city', () => {
    const fc = cityGeoJson(RENNES, [{ name: 'La Vilaine', along: 'Quais de la Vilaine' }]);
    const kinds = (k: string) => fc.features.filter((f) => f.properties?.kind === k);
    expect(kinds('road').map((f) => f.properties?.name)).toEqual(RENNES.roads.map((r) => r.name));
    expect(kinds('station')).toHaveLength(RENNES.stations.length);
    const river = kinds('water')[0]!.geometry as { coordinates: number[][] };
    expect(river.coordinates[0]).toEqual([RENNES.nodes.cleunay!.lon, RENNES.nodes.cleunay!.lat]);
    expect(river.coordinates).toHaveLength(7);
  });

  it('names the road that does not exist', () => {
    expect(() => cityGeoJson(RENNES, [{ name: 'X', along: 'Nowhere' }])).toThrow(/no road Nowhere/);
  });
});

describe('timeTicks', () => {
  it('keeps 6-hour ticks on local hours across the spring change (Paris, 29 March 2026: UTC+1 → UTC+2)', () => {
    const ticks = timeTicks(
      Date.parse('2026-03-28T22:30:00Z'),
      Date.parse('2026-03-29T23:00:00Z'),
      'Europe/Paris',
      6,
    ).map((ms) => new Date(ms).toISOString());
    // Local 00:00 is 23:00Z the day before (CET); 06:00, 12:00 and 18:00 are CEST, two hours ahead of UTC.
    expect(ticks).toEqual([
      '2026-03-28T23:00:00.000Z',
      '2026-03-29T04:00:00.000Z',
      '2026-03-29T10:00:00.000Z',
      '2026-03-29T16:00:00.000Z',
      '2026-03-29T22:00:00.000Z',
    ]);
  });

  it('puts day ticks on local midnights over a week that crosses the autumn change', () => {
    const ticks = timeTicks(
      Date.parse('2026-10-22T00:00:00Z'),
      Date.parse('2026-10-28T00:00:00Z'),
      'Europe/Paris',
      24,
    ).map((ms) => new Date(ms).toISOString().slice(0, 13));
    expect(ticks).toEqual([
      '2026-10-22T22',
      '2026-10-23T22',
      '2026-10-24T22',
      '2026-10-25T23',
      '2026-10-26T23',
      '2026-10-27T23',
    ]);
  });

  it('scans quarter hours for zones whose offset has minutes (Kolkata, UTC+5:30)', () => {
    const ticks = timeTicks(
      Date.parse('2026-06-01T00:00:00Z'),
      Date.parse('2026-06-01T12:00:00Z'),
      'Asia/Kolkata',
      6,
    );
    expect(ticks.map((ms) => new Date(ms).toISOString().slice(11, 16))).toEqual(['00:30', '06:30']);
  });

  it('steps by local days over a week, 6 hours over a day', () => {
    expect(tickStepHours(7 * 86_400_000)).toBe(24);
    expect(tickStepHours(86_400_000)).toBe(6);
    expect(tickStepHours(3 * 3_600_000)).toBe(1);
  });
});
