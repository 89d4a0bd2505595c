import { describe, expect, it } from 'vitest';
import { cityGeoJson } from '../dashboard/src/city-map.ts';
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
