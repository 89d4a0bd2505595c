import type { Metric, Position } from '@citytel/contract';
import { type City, roadLines } from './city.ts';
import { lerp, offsetM } from './geo.ts';
import { createRng, type Rng } from './rng.ts';

/**
 * Who the simulator plays: a fixed function of (seed, counts, prefix), so a restart plays the same kits
 * at the same places and the state file's secrets still fit them.
 */

export type KitKind = 'native' | 'sck' | 'airrohr';

export interface KitSpec {
  /** Id as planned; provisioning may register it under a suffixed id (see provision.ts). */
  id: string;
  kind: KitKind;
  name: string;
  /** SCK kits: which of the firmware's two formats this kit sends. */
  sckFormat?: 'raw' | 'json';
  /** airrohr: the ESP8266 chip id of `X-Sensor: esp8266-{chipId}`. */
  chipId?: string;
  mobile: boolean;
  indoor: boolean;
  /** Where it is installed, or where a mobile kit starts. */
  position: Position;
  /** Walking or cycling speed of a mobile kit. */
  speedKmh?: number;
  sensors: Metric[];
}

export interface VehicleSpec {
  id: string;
  name: string;
  ev: boolean;
  /** A third of the fleet carries an air sensor and contributes readings along its routes. */
  hasAir: boolean;
  homeStation: string;
  odometerKm: number;
}

export interface Plan {
  kits: KitSpec[];
  vehicles: VehicleSpec[];
}

const NATIVE_SENSORS: Metric[] = [
  'pm1',
  'pm25',
  'pm10',
  'no2',
  'o3',
  'noise_laeq',
  'temperature',
  'humidity',
  'pressure',
  'light',
];
const MOBILE_SENSORS: Metric[] = ['pm1', 'pm25', 'pm10', 'no2', 'noise_laeq', 'temperature', 'humidity'];
// SCK 2.1: PMS5003, ICS43432 microphone, SHT31, MPL3115A2, BH1730, battery gauge.
const SCK_SENSORS: Metric[] = [
  'pm1',
  'pm25',
  'pm10',
  'noise_laeq',
  'temperature',
  'humidity',
  'pressure',
  'light',
  'battery',
];
// The classic sensor.community box: SDS011 + BME280.
const AIRROHR_SENSORS: Metric[] = ['pm10', 'pm25', 'temperature', 'humidity', 'pressure'];
const CAR_MODELS = {
  ev: ['Renault Zoe', 'Peugeot e-208', 'Dacia Spring'],
  fuel: ['Renault Clio', 'Peugeot 208', 'Toyota Yaris'],
};

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Kind by the kit's place in the list, so even 3 kits cover three kinds and 50 give the intended mix. */
function kindAt(i: number, n: number): { kind: KitKind; mobile: boolean; indoor: boolean } {
  const u = (i + 0.5) / n;
  if (u < 0.1) return { kind: 'native', mobile: true, indoor: false };
  if (u < 0.4) return { kind: 'native', mobile: false, indoor: false };
  if (u < 0.7) return { kind: 'sck', mobile: false, indoor: false };
  if (u < 0.95) return { kind: 'airrohr', mobile: false, indoor: false };
  return { kind: i % 2 === 0 ? 'sck' : 'native', mobile: false, indoor: true };
}

/** A street-side spot: a point on a main road, set back a few tens of metres. */
function nearRoad(city: City, rng: Rng): Position {
  const road = rng.pick(roadLines(city));
  const seg = rng.int(1, road.line.length - 1);
  const p = lerp(road.line[seg - 1]!, road.line[seg]!, rng.next());
  const back = rng.range(10, 80) * (rng.chance(0.5) ? 1 : -1);
  return offsetM(p, back * rng.range(-1, 1), back * rng.range(-1, 1));
}

/** Somewhere in town: denser near the centre, inside the box. */
function inTown(city: City, rng: Rng): Position {
  const [minLon, minLat, maxLon, maxLat] = city.bbox;
  for (;;) {
    const p = offsetM(city.centre, rng.gauss() * 1800, rng.gauss() * 2200);
    if (p.lat > minLat && p.lat < maxLat && p.lon > minLon && p.lon < maxLon) return p;
  }
}

export function planFleet(opts: {
  seed: number;
  kits: number;
  vehicles: number;
  prefix: string;
  city: City;
}): Plan {
  const rng = createRng(opts.seed);
  const counters: Record<KitKind, number> = { native: 0, sck: 0, airrohr: 0 };
  const kits: KitSpec[] = [];
  for (let i = 0; i < opts.kits; i++) {
    const { kind, mobile, indoor } = kindAt(i, opts.kits);
    const n = ++counters[kind];
    const id = `${opts.prefix}-${kind}-${pad(n, 3)}`;
    const position = mobile || rng.chance(0.45) ? nearRoad(opts.city, rng) : inTown(opts.city, rng);
    const spec: KitSpec = { id, kind, name: '', mobile, indoor, position, sensors: [] };
    if (kind === 'native') {
      spec.sensors = mobile
        ? [...MOBILE_SENSORS]
        : [...NATIVE_SENSORS, ...(n % 3 === 0 ? (['co'] as Metric[]) : [])];
      if (indoor) spec.sensors = [...NATIVE_SENSORS, 'co2'];
      if (mobile) spec.speedKmh = rng.chance(0.5) ? rng.range(4, 6) : rng.range(12, 18);
      spec.name = mobile ? `Mobile kit ${n}` : indoor ? `Indoor kit ${n}` : `Air & noise kit ${n}`;
    } else if (kind === 'sck') {
      spec.sckFormat = n % 2 === 1 ? 'raw' : 'json';
      // Older SCK 2.0 boards carry a CCS811 (eCO2/TVOC); indoor kits often get an SCD30 for CO2.
      spec.sensors = [
        ...SCK_SENSORS,
        ...(n % 4 === 0 ? (['eco2', 'tvoc'] as Metric[]) : []),
        ...(indoor ? (['co2'] as Metric[]) : []),
      ];
      spec.name = `Smart Citizen Kit ${n}`;
    } else {
      spec.chipId = String(1_000_000 + Math.floor(rng.next() * 15_000_000));
      spec.sensors = [...AIRROHR_SENSORS, ...(n % 3 === 0 ? (['noise_laeq'] as Metric[]) : [])];
      spec.name = `sensor.community ${spec.chipId}`;
    }
    kits.push(spec);
  }
  const vehicles: VehicleSpec[] = [];
  for (let i = 0; i < opts.vehicles; i++) {
    const ev = i % 3 === 1;
    const model = rng.pick(ev ? CAR_MODELS.ev : CAR_MODELS.fuel);
    vehicles.push({
      id: `${opts.prefix}-car-${pad(i + 1, 2)}`,
      name: `${model} #${i + 1}`,
      ev,
      hasAir: i % 3 === 0,
      homeStation: opts.city.stations[i % opts.city.stations.length]!.id,
      odometerKm: Math.round(rng.range(3000, 90_000) * 10) / 10,
    });
  }
  return { kits, vehicles };
}
