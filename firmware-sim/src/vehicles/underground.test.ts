import { describe, expect, it } from 'vitest';
import { RENNES } from '../city.ts';
import type { VehicleSpec } from '../plan.ts';
import { Car } from './car.ts';
import { isUnderground } from './fleet-setup.ts';
import { roadGraph } from './routes.ts';
import { uplinkChange, type Whereabouts } from './underground.ts';

const T0 = Date.parse('2026-11-24T09:00:00Z');
const graph = roadGraph(RENNES);
const spec: VehicleSpec = {
  id: 'car-0',
  name: 'Renault Clio #1',
  ev: false,
  hasAir: false,
  homeStation: 'gares',
  odometerKm: 12_000,
};
const at = (phase: Whereabouts['phase'], station: string): Whereabouts => ({ phase, station });

describe('underground uplink rule', () => {
  it('knows the underground stations of Rennes (every third)', () => {
    expect(RENNES.stations.filter((s) => isUnderground(RENNES, s.id)).map((s) => s.id)).toEqual([
      'sainte-anne',
      'cleunay',
      'jeanne-darc',
    ]);
  });

  it('cuts on arrival underground, restores on departure from there, and nothing else', () => {
    expect(uplinkChange(RENNES, at('driving', 'sainte-anne'), at('parked', 'sainte-anne'))).toBe('cut');
    expect(uplinkChange(RENNES, at('parked', 'sainte-anne'), at('driving', 'gares'))).toBe('restore');
    // Underground to underground: out, then under again.
    expect(uplinkChange(RENNES, at('parked', 'cleunay'), at('driving', 'sainte-anne'))).toBe('restore');
    expect(uplinkChange(RENNES, at('driving', 'gares'), at('parked', 'gares'))).toBeUndefined();
    expect(uplinkChange(RENNES, at('parked', 'gares'), at('driving', 'sainte-anne'))).toBeUndefined();
    // Parked underground without moving (e.g. at the start of a run), or driving on: no change.
    expect(uplinkChange(RENNES, at('parked', 'sainte-anne'), at('parked', 'sainte-anne'))).toBeUndefined();
    expect(uplinkChange(RENNES, at('driving', 'gares'), at('driving', 'sainte-anne'))).toBeUndefined();
  });

  it('plays a simulated car: one cut when its trip ends underground, one restore when it leaves', () => {
    const run = () => {
      const car = new Car(spec, RENNES, graph, 1, T0);
      car.autoTrips = false;
      car.startTrip('sainte-anne', T0);
      car.autoTrips = true;
      const changes: Array<[string, number]> = [];
      let where: Whereabouts = { phase: 'driving', station: 'sainte-anne' };
      for (let t = T0; t < T0 + 6 * 3_600_000 && changes.length < 2; t += 10_000) {
        car.advance(t);
        const now: Whereabouts = { phase: car.state.phase, station: car.state.station };
        const c = uplinkChange(RENNES, where, now);
        if (c) changes.push([c, t]);
        where = now;
      }
      return { changes, car };
    };
    const { changes, car } = run();
    expect(changes.map(([c]) => c)).toEqual(['cut', 'restore']);
    const [[, cutAt], [, backAt]] = changes as [[string, number], [string, number]];
    // It left at its planned departure, 15 to 105 min after it parked.
    expect(backAt - cutAt).toBeGreaterThanOrEqual(15 * 60_000);
    expect(backAt - cutAt).toBeLessThanOrEqual(105 * 60_000 + 10_000);
    expect(car.state.phase).toBe('driving');
    // Deterministic: the same seed plays the same times.
    expect(run().changes).toEqual(changes);
  });
});
