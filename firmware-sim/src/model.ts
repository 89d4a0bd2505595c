import { METRICS, type Metric, type MetricValues, type Position } from '@citytel/contract';
import { type City, roadLines } from './city.ts';
import { distanceToPolylineM } from './geo.ts';
import { localTime } from './localtime.ts';
import { hashGauss, hashUnit, smoothNoise } from './rng.ts';

/**
 * What a kit would measure at a place and an instant: a deterministic function of (seed, device, time,
 * position), so two runs with one seed send the same values and a restart does not jump.
 *
 * Shapes follow what French urban stations (Air Breizh, Rennes) and citizen kits show: traffic peaks at
 * 8 h and 18 h local time for NO2 and PM, stronger near main roads; a regional background that drifts
 * over days; ozone highest in the afternoon and eaten by NO2; noise louder by day and near roads;
 * temperature lowest at dawn and highest mid-afternoon, humidity the other way round.
 */

export interface Site {
  id: string;
  position: Position;
  indoor?: boolean;
}

/** A sensor value as a kit reports it: a number, or null when the sensor gave nothing this time. */
export type SensorValues = Partial<Record<Metric, number | null>>;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** How far from a road its traffic still shows: NO2 falls to background within ~100–200 m. */
const ROAD_DECAY_M = 60;

const bump = (x: number, centre: number, width: number) => Math.exp(-(((x - centre) / width) ** 2) / 2);

/** Share of peak traffic at a local hour, weekdays with two rush hours, weekends a late flat hump. */
export function trafficFactor(hour: number, weekday: number): number {
  const weekend = weekday === 0 || weekday === 6;
  if (weekend) return 0.12 + 0.5 * bump(hour, 14, 3.5) + 0.15 * bump(hour, 11, 2);
  return 0.12 + 0.88 * bump(hour, 8, 1.2) + 0.8 * bump(hour, 18, 1.5) + 0.38 * bump(hour, 13, 3.2);
}

/** 0 in the dead of night (≈ 4 h) to 1 by day: people about, doors, voices. */
export const activity = (hour: number) => 0.5 - 0.5 * Math.cos((2 * Math.PI * (hour - 4)) / 24);

/**
 * Daily temperature shape in [-1, 1]: -1 at dawn (6 h), +1 at 15 h; warming over 9 hours, cooling over 15.
 */
export function diurnalShape(hour: number): number {
  const h = (hour - 6 + 24) % 24;
  return h < 9 ? -Math.cos((Math.PI * h) / 9) : Math.cos((Math.PI * (h - 9)) / 15);
}

/** Sine of the sun's elevation (simple declination + hour-angle formula; good to a degree or two). */
export function sunSine(ms: number, p: Position): number {
  const d = new Date(ms);
  const dayOfYear = Math.floor((ms - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY);
  const decl = ((23.44 * Math.PI) / 180) * Math.sin((2 * Math.PI * (284 + dayOfYear)) / 365);
  const solarHour = d.getUTCHours() + d.getUTCMinutes() / 60 + p.lon / 15;
  const ha = (15 * (solarHour - 12) * Math.PI) / 180;
  const lat = (p.lat * Math.PI) / 180;
  return Math.sin(lat) * Math.sin(decl) + Math.cos(lat) * Math.cos(decl) * Math.cos(ha);
}

const round = (x: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
/** Decimals a kit prints: hundredths for the weather, whole numbers for light and CO2, tenths otherwise. */
const digitsOf = (m: Metric) =>
  m === 'temperature' || m === 'pressure' ? 2 : m === 'light' || m === 'co2' || m === 'eco2' ? 0 : 1;
const clampMetric = (m: Metric, x: number) => Math.min(METRICS[m].max, Math.max(METRICS[m].min, x));

export interface Model {
  /** Every metric the model knows, as a perfect kit at that site would measure it. */
  values(site: Site, ms: number): MetricValues;
  /**
   * What a real kit reports: only its sensors, with its own small bias, and now and then a sensor that
   * gives nothing (null) — a reboot, a fan stuck, a bus error — as real kits do.
   */
  reading(site: Site, ms: number, sensors: readonly Metric[]): SensorValues;
  /** 0 far from any main road, ~1 on a busy one. */
  roadProximity(p: Position): number;
}

export interface ModelOptions {
  seed: number;
  city: City;
  /** Probability that one sensor gives nothing in one reading. */
  dropout?: number;
}

export function createModel({ seed, city, dropout = 0.015 }: ModelOptions): Model {
  const roads = roadLines(city);
  const tz = city.timeZone;

  function roadProximity(p: Position): number {
    let sum = 0;
    for (const r of roads) sum += r.traffic * Math.exp(-distanceToPolylineM(p, r.line) / ROAD_DECAY_M);
    return Math.min(1.2, sum);
  }

  function values(site: Site, ms: number): MetricValues {
    const { hour, weekday, dayOfYear } = localTime(ms, tz);
    const traffic = trafficFactor(hour, weekday);
    const prox = roadProximity(site.position);
    const act = activity(hour);
    // Regional background: one value for the whole city, drifting over hours and days.
    const drift = Math.exp(
      0.45 * smoothNoise(ms, 18 * HOUR, seed, 'bg') + 0.3 * smoothNoise(ms, 5 * DAY, seed, 'bg5'),
    );
    const winter = 0.5 + 0.5 * Math.cos((2 * Math.PI * (dayOfYear - 15)) / 365); // 1 mid-January, 0 mid-July
    const summer = 1 - winter;
    // Evening wood-burning in winter: a known PM source in Breton towns.
    const heating = winter * bump(hour, 21, 2);
    // Per-second jitter: what a sensor's own noise looks like between two readings.
    const jitter = (m: string, sd: number) => 1 + sd * hashGauss(seed, site.id, m, Math.floor(ms / 1000));

    const pm25Out =
      (6 * drift * (0.8 + 0.5 * winter) + traffic * (2 + 9 * prox) + 6 * heating) * jitter('pm25', 0.06);
    const no2Bg = 10 * drift * (0.8 + 0.4 * winter);
    const no2Out = (no2Bg + traffic * (7 + 48 * prox)) * jitter('no2', 0.07);
    const o3Out = Math.max(
      2,
      (45 + 30 * summer) * (0.8 + 0.5 * bump(hour, 15, 3.2)) * (1 + 0.15 * smoothNoise(ms, DAY, seed, 'o3')) -
        0.8 * (no2Out - no2Bg),
    );
    const temp = diurnalShape(hour);
    const tMean = 12.5 - 6.5 * Math.cos((2 * Math.PI * (dayOfYear - 20)) / 365);
    const weather = smoothNoise(ms, 2 * DAY, seed, 'weather');
    const sun = sunSine(ms, site.position);
    const clouds = 0.3 + 0.7 * (0.5 + 0.5 * smoothNoise(ms, 3 * HOUR, seed, 'clouds'));
    // Civil twilight (sun down to ~6° below the horizon) fades from ~400 lux to nothing.
    const daylight =
      sun > 0 ? 110_000 * sun ** 1.15 * clouds : sun > -0.1 ? 400 * ((sun + 0.1) / 0.1) ** 2 : 0;
    // Along a road the street lamps are what a kit sees at night.
    const streetLight = prox > 0.2 ? 12 : 3;
    const pressure =
      1013 + 9 * smoothNoise(ms, 3 * DAY, seed, 'p') + 2.5 * smoothNoise(ms, 12 * HOUR, seed, 'p12');

    let v: MetricValues;
    if (site.indoor) {
      const occupied = bump(hour, 20, 3) + 0.6 * bump(hour, 8, 1.2);
      v = {
        pm25: pm25Out * 0.5 + 4 * bump(hour, 19.5, 0.7),
        no2: no2Out * 0.4,
        o3: o3Out * 0.2,
        co: 0.15 + 0.05 * traffic,
        noise_laeq: 30 + 12 * act + 4 * occupied,
        temperature: 20.2 + 1.2 * temp + 0.8 * occupied,
        humidity: 46 + 6 * weather + 4 * occupied,
        light: (sun > 0 ? 120 + 400 * sun * clouds : 0) + (hour >= 18 && hour < 23.5 ? 260 : 0),
        co2: 430 + 700 * occupied,
        eco2: 420 + 650 * occupied,
        tvoc: 60 + 180 * occupied,
      };
    } else {
      const amp = 3.5 + 2.5 * summer;
      v = {
        pm25: pm25Out,
        no2: no2Out,
        o3: o3Out,
        co: (0.2 + 0.5 * traffic * prox) * jitter('co', 0.05),
        noise_laeq: 40 + 12 * act + prox * (9 + 9 * traffic),
        temperature: tMean + amp * temp + 3 * weather + 0.4 * prox,
        humidity: 78 - 14 * temp * (amp / 5) - 8 * weather,
        light: Math.max(daylight, streetLight),
        co2: 420 + 40 * traffic * prox,
        eco2: 410 + 60 * traffic * prox,
        tvoc: 40 + 30 * traffic * prox,
      };
    }
    // PM10/PM2.5 runs 1.3–1.8 in town (coarse dust, brakes); PM1 ≈ 0.7 × PM2.5.
    const ratio = 1.3 + 0.5 * (0.5 + 0.5 * smoothNoise(ms, 6 * HOUR, seed, site.id, 'ratio'));
    v.pm10 = v.pm25! * ratio;
    v.pm1 = v.pm25! * (0.7 + 0.03 * hashGauss(seed, site.id, 'pm1', Math.floor(ms / 1000)));
    v.noise_laeq = v.noise_laeq! + 1.5 * hashGauss(seed, site.id, 'noise', Math.floor(ms / 1000));
    v.pressure = pressure;
    v.battery = 100 - 30 * hashUnit(seed, site.id, 'battery', Math.floor(ms / DAY));

    const out: MetricValues = {};
    for (const [m, x] of Object.entries(v) as [Metric, number][]) {
      out[m] = round(clampMetric(m, x), digitsOf(m));
    }
    return out;
  }

  function reading(site: Site, ms: number, sensors: readonly Metric[]): SensorValues {
    const all = values(site, ms);
    const out: SensorValues = {};
    const slot = Math.floor(ms / 1000);
    for (const m of sensors) {
      // A sensor may be out for hours (a 6-hour block now and then) or miss a single reading.
      const outage = hashUnit(seed, site.id, m, 'outage', Math.floor(ms / (6 * HOUR))) < 0.01;
      if (outage || hashUnit(seed, site.id, m, 'drop', slot) < dropout) {
        out[m] = null;
        continue;
      }
      const x = all[m];
      if (x === undefined) continue;
      // Each kit's own calibration: a few per cent on gases and particles, tenths on the weather.
      const bias =
        m === 'temperature'
          ? 0.3 * hashGauss(seed, site.id, m, 'bias')
          : m === 'pressure'
            ? 0.6 * hashGauss(seed, site.id, m, 'bias')
            : m === 'noise_laeq'
              ? 0.8 * hashGauss(seed, site.id, m, 'bias')
              : 0;
      const scale = bias === 0 ? 1 + 0.06 * hashGauss(seed, site.id, m, 'scale') : 1;
      out[m] = round(clampMetric(m, x * scale + bias), digitsOf(m));
    }
    return out;
  }

  return { values, reading, roadProximity };
}

/** Only the numbers of a reading: what encoders take. */
export function presentValues(v: SensorValues): MetricValues {
  const out: MetricValues = {};
  for (const [m, x] of Object.entries(v)) if (typeof x === 'number') out[m as Metric] = x;
  return out;
}

/** The sensors whose value is null in this reading. */
export const missingSensors = (v: SensorValues): Metric[] =>
  Object.entries(v)
    .filter(([, x]) => x === null)
    .map(([m]) => m as Metric);
