import type { Metric, Position, VehicleTelemetry } from '@citytel/contract';
import { type City, stationPosition } from '../city.ts';
import { round6 } from '../geo.ts';
import type { Model } from '../model.ts';
import type { VehicleSpec } from '../plan.ts';
import { hashUnit, smoothNoise } from '../rng.ts';
import { nearestNode, pointAt, type RoadGraph, type Route, routeBetween } from './routes.ts';

/**
 * The car itself, without its radio: where it is, how fast, its odometer, fuel or charge, locks and
 * ignition. It parks at a station, and (when trips are on) a member takes it to another station along the
 * roads at town speed, stopping at lights, then locks it there. Deterministic from (seed, car, time).
 */

export interface CarState {
  phase: 'parked' | 'driving';
  /** Station it is parked at, or heading to. */
  station: string;
  position: Position;
  heading: number;
  speedKmh: number;
  odometerKm: number;
  fuelPct: number | null;
  batteryPct: number | null;
  batteryV: number;
  ignition: boolean;
  locked: boolean;
  doorsClosed: boolean;
}

const MIN = 60_000;
/** Substep of the speed integration: lights change and traffic varies on this scale. */
const STEP_MS = 5_000;
/** Litres per 100 km on a 42 L tank; kWh per 100 km on a 52 kWh pack: per cent per km. */
const FUEL_PCT_PER_KM = (6.5 / 100 / 42) * 100;
const CHARGE_PCT_PER_KM = (16 / 100 / 52) * 100;
/** An 11 kW station charger on a 52 kWh pack. */
const CHARGE_PCT_PER_H = (11 / 52) * 100;

export class Car {
  readonly state: CarState;
  autoTrips = true;
  private route: Route | undefined;
  private along = 0;
  private trip = 0;
  private parkedUntil: number;
  private lastMs: number;
  private parkedSince: number;

  constructor(
    readonly spec: VehicleSpec,
    private readonly city: City,
    private readonly graph: RoadGraph,
    private readonly seed: number,
    simStartMs: number,
  ) {
    this.lastMs = simStartMs;
    this.parkedSince = simStartMs;
    const u = (k: string) => hashUnit(seed, spec.id, k);
    this.state = {
      phase: 'parked',
      station: spec.homeStation,
      position: stationPosition(city, spec.homeStation),
      heading: Math.floor(u('heading') * 360),
      speedKmh: 0,
      odometerKm: spec.odometerKm,
      fuelPct: spec.ev ? null : Math.round(35 + 60 * u('fuel')),
      batteryPct: spec.ev ? Math.round(40 + 55 * u('charge')) : null,
      batteryV: 12.6,
      ignition: false,
      locked: true,
      doorsClosed: true,
    };
    this.parkedUntil = simStartMs + u('dwell0') * 45 * MIN;
    // A third of the fleet is already out when the simulation starts, so the map moves at once.
    if (u('driving0') < 0.3) {
      this.startTrip(this.nextDestination(), simStartMs);
      if (this.route) this.along = this.route.lengthM * u('along0') * 0.8;
      this.place();
    }
  }

  /** When (simulated ms) the parked car leaves on its next trip, when trips are on. */
  get departsAt(): number {
    return this.parkedUntil;
  }

  private nextDestination(): string {
    const others = this.city.stations.filter((s) => s.id !== this.state.station);
    return others[Math.floor(hashUnit(this.seed, this.spec.id, 'trip', this.trip) * others.length)]!.id;
  }

  private nodeOf(stationId: string): string {
    return this.city.stations.find((s) => s.id === stationId)!.node;
  }

  /** Takes the car to a station now: unlocked by the member's badge, engine on. */
  startTrip(toStation: string, simMs: number): void {
    const fromNode =
      this.state.phase === 'parked'
        ? this.nodeOf(this.state.station)
        : nearestNode(this.city, this.state.position);
    const toNode = this.nodeOf(toStation);
    if (fromNode === toNode) return;
    this.route = routeBetween(this.city, this.graph, fromNode, toNode);
    this.along = 0;
    this.trip++;
    this.lastMs = Math.max(this.lastMs, simMs);
    Object.assign(this.state, {
      phase: 'driving',
      station: toStation,
      ignition: true,
      locked: false,
      doorsClosed: true,
    });
  }

  /** Town speed at an instant: ~30 km/h, slower in traffic, stopped at a red light now and then. */
  speedAt(ms: number): number {
    const slot = Math.floor(ms / 30_000);
    if (hashUnit(this.seed, this.spec.id, 'light', slot) < 0.15) return 0;
    const v = 30 + 12 * smoothNoise(ms, 60_000, this.seed, this.spec.id, 'v');
    return Math.min(50, Math.max(8, v));
  }

  private place(): void {
    if (!this.route) return;
    const p = pointAt(this.route, this.along);
    this.state.position = p.position;
    this.state.heading = p.heading;
  }

  private arrive(ms: number): void {
    this.route = undefined;
    Object.assign(this.state, {
      phase: 'parked',
      position: stationPosition(this.city, this.state.station),
      speedKmh: 0,
      ignition: false,
      locked: true,
    });
    // The member refuels with the fleet's card before leaving a nearly empty car.
    if (this.state.fuelPct !== null && this.state.fuelPct < 25) this.state.fuelPct = 100;
    this.parkedSince = ms;
    this.parkedUntil = ms + (15 + 90 * hashUnit(this.seed, this.spec.id, 'dwell', this.trip)) * MIN;
  }

  /**
   * Moves the simulated time on to `ms`. Returns true when the lock state changed (a trip started or
   * ended), which the unit reports in its retained status.
   */
  advance(ms: number): boolean {
    const lockedBefore = this.state.locked;
    if (ms <= this.lastMs) return false;
    if (this.state.phase === 'parked') {
      if (this.state.batteryPct !== null) {
        this.state.batteryPct = Math.min(
          100,
          this.state.batteryPct + (CHARGE_PCT_PER_H * (ms - this.lastMs)) / 3_600_000,
        );
      }
      this.lastMs = ms;
      if (this.autoTrips && ms >= this.parkedUntil) this.startTrip(this.nextDestination(), ms);
      this.state.batteryV = Math.max(12.2, 12.65 - (0.1 * (ms - this.parkedSince)) / (24 * 3_600_000));
      return this.state.locked !== lockedBefore;
    }
    let t = this.lastMs;
    let km = 0;
    let v = 0;
    while (t < ms && this.route) {
      const dt = Math.min(STEP_MS, ms - t);
      v = this.speedAt(t);
      const m = (v / 3.6) * (dt / 1000);
      const left = this.route.lengthM - this.along;
      if (m >= left) {
        km += left / 1000;
        this.along = this.route.lengthM;
        this.place();
        this.lastMs = t + dt;
        this.burn(km);
        this.arrive(t + dt);
        return this.state.locked !== lockedBefore;
      }
      this.along += m;
      km += m / 1000;
      t += dt;
    }
    this.lastMs = ms;
    this.state.speedKmh = Math.round(v * 10) / 10;
    this.state.batteryV = 14.1 + 0.2 * smoothNoise(ms, 60_000, this.seed, this.spec.id, 'alt');
    this.burn(km);
    this.place();
    return this.state.locked !== lockedBefore;
  }

  private burn(km: number): void {
    this.state.odometerKm += km;
    if (this.state.fuelPct !== null)
      this.state.fuelPct = Math.max(0, this.state.fuelPct - km * FUEL_PCT_PER_KM);
    if (this.state.batteryPct !== null)
      this.state.batteryPct = Math.max(0, this.state.batteryPct - km * CHARGE_PCT_PER_KM);
  }

  /** CONTRACT §2.4, as the unit sends it. `air` only for cars with a sensor. */
  telemetry(realMs: number, simMs: number, model: Model): VehicleTelemetry {
    const s = this.state;
    const t: VehicleTelemetry = {
      ts: new Date(Math.floor(realMs / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
      lat: round6(s.position.lat),
      lon: round6(s.position.lon),
      speed_kmh: s.speedKmh,
      heading: s.heading,
      odometer_km: Math.round(s.odometerKm * 10) / 10,
      fuel_pct: s.fuelPct === null ? null : Math.round(s.fuelPct),
      battery_pct: s.batteryPct === null ? null : Math.round(s.batteryPct),
      battery_v: Math.round(s.batteryV * 10) / 10,
      ignition: s.ignition,
      locked: s.locked,
      doors_closed: s.doorsClosed,
    };
    if (this.spec.hasAir) {
      const v = model.values({ id: this.spec.id, position: s.position }, simMs);
      const air: Partial<Record<Metric, number>> = {};
      if (v.pm25 !== undefined) air.pm25 = v.pm25;
      if (v.pm10 !== undefined) air.pm10 = v.pm10;
      // The car's own engine and tyres add a couple of decibels when it moves.
      if (v.noise_laeq !== undefined)
        air.noise_laeq = Math.round((v.noise_laeq + (s.speedKmh > 0 ? 2 : 0)) * 10) / 10;
      t.air = air;
    }
    return t;
  }
}
