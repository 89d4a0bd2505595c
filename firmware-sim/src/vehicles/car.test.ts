import { describe, expect, it } from 'vitest';
import { RENNES, stationPosition } from '../city.ts';
import { distanceM } from '../geo.ts';
import type { VehicleSpec } from '../plan.ts';
import { Car } from './car.ts';
import { roadGraph } from './routes.ts';

const T0 = Date.parse('2026-11-24T09:00:00Z');
const graph = roadGraph(RENNES);
const spec = (over: Partial<VehicleSpec> = {}): VehicleSpec => ({
  id: 'car-test',
  name: 'Renault Clio #1',
  ev: false,
  hasAir: false,
  homeStation: 'gares',
  odometerKm: 12_000,
  ...over,
});
/** A car parked at its station: ids are tried until the hash leaves it parked at the start. */
function parkedCar(over: Partial<VehicleSpec> = {}): Car {
  for (let i = 0; ; i++) {
    const car = new Car(spec({ id: `car-${i}`, ...over }), RENNES, graph, 1, T0);
    if (car.state.phase === 'parked') return car;
  }
}

describe('car', () => {
  it('waits parked and locked at its station', () => {
    const car = parkedCar();
    car.autoTrips = false;
    expect(car.state).toMatchObject({
      phase: 'parked',
      station: 'gares',
      locked: true,
      ignition: false,
      speedKmh: 0,
    });
    expect(car.state.position).toEqual(stationPosition(RENNES, 'gares'));
    expect(car.advance(T0 + 5 * 3_600_000)).toBe(false);
    expect(car.state.phase).toBe('parked');
  });

  it('drives to another station at town speed, burning fuel, and locks there', () => {
    const car = parkedCar();
    car.autoTrips = false;
    car.startTrip('villejean', T0);
    expect(car.state).toMatchObject({ phase: 'driving', locked: false, ignition: true });
    const fuel0 = car.state.fuelPct!;
    const odo0 = car.state.odometerKm;
    let t = T0;
    let speeds = 0;
    let samples = 0;
    while (car.state.phase === 'driving' && t < T0 + 3_600_000) {
      t += 10_000;
      const lockChanged = car.advance(t);
      if (car.state.phase === 'driving') {
        speeds += car.state.speedKmh;
        samples++;
        expect(car.state.speedKmh).toBeLessThanOrEqual(50);
      } else expect(lockChanged).toBe(true);
    }
    expect(car.state).toMatchObject({
      phase: 'parked',
      station: 'villejean',
      locked: true,
      ignition: false,
      speedKmh: 0,
    });
    expect(car.state.position).toEqual(stationPosition(RENNES, 'villejean'));
    const km = car.state.odometerKm - odo0;
    const crowKm = distanceM(stationPosition(RENNES, 'gares'), stationPosition(RENNES, 'villejean')) / 1000;
    expect(km).toBeGreaterThanOrEqual(crowKm);
    // ~30 km/h with red lights: the trip's mean speed lands in town figures.
    const meanKmh = km / ((t - T0) / 3_600_000);
    expect(meanKmh).toBeGreaterThan(15);
    expect(meanKmh).toBeLessThan(40);
    expect(speeds / samples).toBeGreaterThan(15);
    expect(car.state.fuelPct!).toBeLessThan(fuel0);
  });

  it('charges an electric car while it is parked', () => {
    const car = parkedCar({ ev: true });
    car.autoTrips = false;
    const b0 = car.state.batteryPct!;
    car.advance(T0 + 3_600_000);
    expect(car.state.fuelPct).toBeNull();
    expect(car.state.batteryPct!).toBeCloseTo(Math.min(100, b0 + (11 / 52) * 100), 6);
  });

  it('leaves on its own when trips are on', () => {
    const car = parkedCar();
    car.advance(T0 + 2 * 3_600_000);
    expect(car.state.phase).toBe('driving');
    expect(car.state.station).not.toBe('gares');
  });

  it('moves the same way on every run', () => {
    const a = new Car(spec(), RENNES, graph, 9, T0);
    const b = new Car(spec(), RENNES, graph, 9, T0);
    for (let t = T0; t < T0 + 3 * 3_600_000; t += 60_000) {
      a.advance(t);
      b.advance(t);
    }
    expect(a.state).toEqual(b.state);
  });
});
