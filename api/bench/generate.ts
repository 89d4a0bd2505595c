import { geohash, MEASUREMENTS, READING_TAGS } from '@citytel/contract';
import type { InfluxQuery } from '../src/influx/client.ts';

/**
 * A month of a city, written straight to InfluxDB in the schema ingest writes (contract influx-schema.ts):
 * fixed kits every 5 minutes, mobile kits (cars with an air block) every minute during the day while they
 * roam. Lines are generated time slice after time slice, the order in which a live city writes them, and
 * posted in batches with a few requests in flight.
 */

export const CITY = { minLat: 48.08, maxLat: 48.14, minLon: -1.75, maxLon: -1.62 };

export interface CityShape {
  fixed: number;
  mobile: number;
  days: number;
  /** Minutes between two readings of a fixed kit. */
  fixedEveryMin: number;
  /** Minutes between two readings of a mobile kit while it drives (07:00–19:00 UTC). */
  mobileEveryMin: number;
}

export const DEFAULT_SHAPE: CityShape = {
  fixed: 1100,
  mobile: 50,
  days: 30,
  fixedEveryMin: 5,
  mobileEveryMin: 1,
};

/** Readings the shape holds, counted the way `write` produces them. */
export function readingCount(s: CityShape): number {
  const fixed = s.fixed * Math.floor((s.days * 1440) / s.fixedEveryMin);
  const mobile = s.mobile * s.days * Math.floor((12 * 60) / s.mobileEveryMin);
  return fixed + mobile;
}

export const kitId = (i: number) => `kit-${String(i).padStart(4, '0')}`;
export const carId = (i: number) => `car-${String(i).padStart(3, '0')}`;

function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const r1 = (v: number) => Math.round(v * 10) / 10;

export async function writeCity(
  influx: InfluxQuery,
  shape: CityShape,
  end: number,
  progress: (written: number) => void,
): Promise<number> {
  const rnd = prng(7);
  const start = end - shape.days * 86_400_000;
  const fixed = Array.from({ length: shape.fixed }, (_, i) => {
    const lat = CITY.minLat + rnd() * (CITY.maxLat - CITY.minLat);
    const lon = CITY.minLon + rnd() * (CITY.maxLon - CITY.minLon);
    const noise = i % 3 === 0;
    const kind = i % 4 === 0 ? 'sck' : i % 4 === 1 ? 'airrohr' : 'native';
    const loc = i % 10 === 0 ? 'indoor' : 'fixed';
    const key = `${MEASUREMENTS.readings},${READING_TAGS.device}=${kitId(i)},${READING_TAGS.geohash}=${geohash({ lat, lon })},${READING_TAGS.kind}=${kind},${READING_TAGS.loc}=${loc}`;
    return { key, pos: `lat=${lat.toFixed(6)},lon=${lon.toFixed(6)}`, noise, base: 4 + rnd() * 12 };
  });
  const cars = Array.from({ length: shape.mobile }, () => ({
    lat: CITY.minLat + rnd() * (CITY.maxLat - CITY.minLat),
    lon: CITY.minLon + rnd() * (CITY.maxLon - CITY.minLon),
    heading: rnd() * 2 * Math.PI,
  }));

  const inFlight = new Set<Promise<void>>();
  let batch: string[] = [];
  let written = 0;
  const flush = async () => {
    if (!batch.length) return;
    const body = batch.join('\n');
    const n = batch.length;
    batch = [];
    const p = writeRetrying(influx, body).then(() => {
      written += n;
      progress(written);
    });
    inFlight.add(p);
    p.finally(() => inFlight.delete(p)).catch(() => {});
    // Two requests in flight keep InfluxDB busy without queueing gigabytes in this process.
    if (inFlight.size >= 2) await Promise.race(inFlight);
  };

  const step = 60_000;
  for (let t = start; t < end; t += step) {
    const minute = Math.floor(t / step);
    const hour = new Date(t).getUTCHours();
    // A day's rhythm: traffic peaks at 08:00 and 18:00 raise particles and noise.
    const rush = Math.exp(-((hour - 8) ** 2) / 4) + Math.exp(-((hour - 18) ** 2) / 4);
    if (minute % shape.fixedEveryMin === 0) {
      for (const k of fixed) {
        const pm25 = r1(k.base * (0.6 + rush) + rnd() * 6);
        let fields = `pm25=${pm25},pm10=${r1(pm25 * 1.6 + rnd() * 4)},temperature=${r1(8 + rnd() * 6)},humidity=${r1(60 + rnd() * 30)}`;
        if (k.noise) fields += `,noise_laeq=${r1(45 + rush * 15 + rnd() * 12)}`;
        batch.push(`${k.key} ${fields},${k.pos},tsrc="device" ${t}`);
      }
    }
    if (hour >= 7 && hour < 19 && minute % shape.mobileEveryMin === 0) {
      cars.forEach((c, i) => {
        // About 25 km/h, turning now and then, bouncing off the city's edges.
        c.heading += (rnd() - 0.5) * 0.6;
        c.lat += Math.cos(c.heading) * 0.0037 * shape.mobileEveryMin;
        c.lon += Math.sin(c.heading) * 0.0056 * shape.mobileEveryMin;
        if (c.lat < CITY.minLat || c.lat > CITY.maxLat) c.heading = Math.PI - c.heading;
        if (c.lon < CITY.minLon || c.lon > CITY.maxLon) c.heading = -c.heading;
        c.lat = Math.min(CITY.maxLat, Math.max(CITY.minLat, c.lat));
        c.lon = Math.min(CITY.maxLon, Math.max(CITY.minLon, c.lon));
        const p = { lat: c.lat, lon: c.lon };
        const pm25 = r1(10 + rush * 15 + rnd() * 10);
        batch.push(
          `${MEASUREMENTS.readings},${READING_TAGS.device}=${carId(i)},${READING_TAGS.geohash}=${geohash(p)},${READING_TAGS.kind}=vehicle,${READING_TAGS.loc}=mobile ` +
            `pm25=${pm25},pm10=${r1(pm25 * 1.5)},noise_laeq=${r1(60 + rnd() * 15)},lat=${c.lat.toFixed(6)},lon=${c.lon.toFixed(6)},tsrc="device" ${t}`,
        );
      });
    }
    if (batch.length >= 20_000) await flush();
  }
  await flush();
  await Promise.all(inFlight);
  return written;
}

/**
 * InfluxDB 1.x answers `{"error":"timeout"}` when a write outlasts its coordinator write-timeout (10 s) on
 * a busy machine, though the points usually land: writing the same points again is harmless.
 */
async function writeRetrying(influx: InfluxQuery, body: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await influx.write(body, { timeoutMs: 300_000 });
      return;
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, attempt * 2000));
    }
  }
}
