import { ID_PATTERN } from '@citytel/contract';
import { describe, expect, it } from 'vitest';
import { RENNES } from './city.ts';
import { planFleet } from './plan.ts';

describe('plan', () => {
  const plan = planFleet({ seed: 42, kits: 50, vehicles: 20, prefix: 'sim', city: RENNES });
  const count = (f: (k: (typeof plan.kits)[number]) => boolean) => plan.kits.filter(f).length;

  it('mixes the kinds of kits as a city has them', () => {
    expect(count((k) => k.kind === 'native' && !k.indoor)).toBe(20);
    expect(count((k) => k.mobile)).toBe(5);
    expect(count((k) => k.kind === 'sck' && !k.indoor)).toBe(15);
    expect(count((k) => k.kind === 'airrohr')).toBe(12);
    expect(count((k) => k.indoor)).toBe(3);
    const sck = plan.kits.filter((k) => k.kind === 'sck');
    expect(sck.filter((k) => k.sckFormat === 'raw').length).toBe(Math.ceil(sck.length / 2));
  });

  it('gives valid, unique ids and places everything inside the city', () => {
    const ids = [...plan.kits.map((k) => k.id), ...plan.vehicles.map((v) => v.id)];
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(ID_PATTERN.test(id)).toBe(true);
    const [minLon, minLat, maxLon, maxLat] = RENNES.bbox;
    for (const k of plan.kits) {
      expect(k.position.lat).toBeGreaterThan(minLat);
      expect(k.position.lat).toBeLessThan(maxLat);
      expect(k.position.lon).toBeGreaterThan(minLon);
      expect(k.position.lon).toBeLessThan(maxLon);
    }
  });

  it('has a third of the cars electric and a third with an air sensor', () => {
    expect(plan.vehicles.filter((v) => v.ev).length).toBe(7);
    expect(plan.vehicles.filter((v) => v.hasAir).length).toBe(7);
    expect(new Set(plan.vehicles.map((v) => v.homeStation)).size).toBe(RENNES.stations.length);
  });

  it('is the same for the same seed, and covers three kinds with only three kits', () => {
    expect(planFleet({ seed: 42, kits: 50, vehicles: 20, prefix: 'sim', city: RENNES })).toEqual(plan);
    const small = planFleet({ seed: 1, kits: 3, vehicles: 1, prefix: 't', city: RENNES });
    expect(small.kits.map((k) => k.kind)).toEqual(['native', 'sck', 'airrohr']);
    expect(small.kits.map((k) => k.id)).toEqual(['t-native-001', 't-sck-001', 't-airrohr-001']);
  });
});
