import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vehicle } from '../firmware-sim/src/vehicles/obu.ts';
import { type CarsharingStack, startCarsharingStack, waitFor } from './helpers/carsharing-stack.ts';

/**
 * GBFS 3.0 end to end: the api with the simulator's cars (which register their stations, types and home
 * stations as an operator would), every feed fetched over HTTP and validated against MobilityData's JSON
 * schemas for v3.0 (test/fixtures/gbfs-v3.0, see its README), and the rules the schemas cannot say: ids
 * that rotate after each trip, never a booked or moving car, fuel as a fraction, ttl = Cache-Control.
 */

const FIXTURES = join(import.meta.dirname, 'fixtures', 'gbfs-v3.0');
const REALTIME_TTL = 7;
const STATIC_TTL = 120;

// ajv-formats is CommonJS: its default export is the plugin under Node's ESM interop.
const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;
// The schemas carry ajv-errors' `errorMessage`, not a validation keyword: allowed, not enforced.
const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
const validators = new Map<string, ValidateFunction>();
for (const f of readdirSync(FIXTURES).filter((x) => x.endsWith('.json'))) {
  validators.set(f.replace(/\.json$/, ''), ajv.compile(JSON.parse(readFileSync(join(FIXTURES, f), 'utf8'))));
}

let stack: CarsharingStack;
let cars: Vehicle[];

interface Fetched {
  status: number;
  cacheControl: string | null;
  // biome-ignore lint/suspicious/noExplicitAny: feeds are read field by field
  body: any;
}

async function get(url: string): Promise<Fetched> {
  const r = await fetch(url);
  return { status: r.status, cacheControl: r.headers.get('cache-control'), body: await r.json() };
}

/** Fetches a feed and checks it against its schema and the envelope rules; returns its data. */
async function feed(url: string, name: string, ttl: number) {
  const f = await get(url);
  expect(f.status, url).toBe(200);
  const validate = validators.get(name)!;
  const ok = validate(f.body);
  expect(ok ? [] : validate.errors, `${url} against the v3.0 schema of ${name}`).toEqual([]);
  expect(f.body.version).toBe('3.0');
  expect(f.body.ttl).toBe(ttl);
  expect(f.cacheControl).toBe(`public, max-age=${ttl}`);
  expect(Date.parse(f.body.last_updated)).toBeLessThanOrEqual(Date.now() + 1000);
  return f.body;
}

const vehicleStatus = async (prefix = '/gbfs') =>
  (await feed(`${stack.baseUrl}${prefix}/vehicle_status.json`, 'vehicle_status', REALTIME_TTL)).data
    .vehicles as Array<Record<string, unknown> & { vehicle_id: string; station_id: string }>;

beforeAll(async () => {
  stack = await startCarsharingStack({
    vehicles: 6,
    seed: 42,
    env: {
      GBFS_REALTIME_TTL_S: String(REALTIME_TTL),
      GBFS_STATIC_TTL_S: String(STATIC_TTL),
      GBFS_FEED_EMAIL: 'open-data@citiz.example',
      BOOKING_GRACE_S: '60',
      AUTO_LOCK_AFTER_S: '0',
    },
  });
  cars = stack.sim.vehicles.filter((v) => v.car.state.phase === 'parked');
  expect(cars.length).toBeGreaterThanOrEqual(4);
  // Parked, locked, reporting: free to book. Driving ones are not (checked below).
  await waitFor(
    'the parked cars in vehicle_status',
    async () => (await vehicleStatus()).length === cars.length,
    20_000,
  );
});

afterAll(async () => {
  await stack?.close();
});

describe('GBFS 3.0', () => {
  it('has schemas that refuse what GBFS refuses (the check checks)', () => {
    const envelope = { last_updated: '2026-11-22T10:00:00Z', ttl: 0, version: '3.0' };
    const car = { vehicle_id: 'x', is_reserved: false, is_disabled: false, station_id: 's' };
    expect(validators.get('vehicle_status')!({ ...envelope, data: { vehicles: [car] } })).toBe(true);
    const full = { ...car, current_fuel_percent: 62 };
    expect(validators.get('vehicle_status')!({ ...envelope, data: { vehicles: [full] } })).toBe(false);
    expect(validators.get('vehicle_status')!({ ...envelope, ttl: -1, data: { vehicles: [] } })).toBe(false);
    expect(validators.get('gbfs')!({ ...envelope, data: { feeds: [{ name: 'vehicle_status' }] } })).toBe(
      false,
    );
  });

  it('lists every system in manifest.json, and every feed of each at a URL that answers and validates', async () => {
    const manifest = await feed(`${stack.baseUrl}/gbfs/manifest.json`, 'manifest', STATIC_TTL);
    const ids = manifest.data.datasets.map((d: { system_id: string }) => d.system_id);
    expect(ids).toEqual(['citytel', 'citytel_autre-coop', 'citytel_citiz-rennes']);
    expect(manifest.data.datasets[0].versions).toEqual([
      { version: '3.0', url: `${stack.baseUrl}/gbfs/gbfs.json` },
    ]);
    for (const d of manifest.data.datasets) {
      const discovery = await feed(d.versions[0].url, 'gbfs', STATIC_TTL);
      const names = discovery.data.feeds.map((f: { name: string }) => f.name);
      expect(names).toEqual([
        'system_information',
        'vehicle_types',
        'station_information',
        'station_status',
        'vehicle_status',
      ]);
      for (const f of discovery.data.feeds) {
        const ttl = f.name === 'station_status' || f.name === 'vehicle_status' ? REALTIME_TTL : STATIC_TTL;
        await feed(f.url, f.name, ttl);
      }
    }
  });

  it('describes the system, its car types and its real stations', async () => {
    const info = (
      await feed(
        `${stack.baseUrl}/gbfs/operators/citiz-rennes/system_information.json`,
        'system_information',
        STATIC_TTL,
      )
    ).data;
    expect(info).toMatchObject({
      system_id: 'citytel_citiz-rennes',
      name: [{ text: 'Citiz Rennes Métropole', language: 'fr' }],
      feed_contact_email: 'open-data@citiz.example',
      timezone: 'Europe/Paris',
      license_id: 'ODbL-1.0',
      manifest_url: `${stack.baseUrl}/gbfs/manifest.json`,
    });
    const types = (await feed(`${stack.baseUrl}/gbfs/vehicle_types.json`, 'vehicle_types', STATIC_TTL)).data
      .vehicle_types;
    for (const t of types) {
      expect(t.form_factor).toBe('car');
      expect(['electric', 'combustion']).toContain(t.propulsion_type);
      expect(t.max_range_meters).toBeGreaterThan(100_000);
      expect(t.make[0].text).toMatch(/^(Renault|Peugeot|Dacia|Toyota)$/);
    }
    const stations = (
      await feed(`${stack.baseUrl}/gbfs/station_information.json`, 'station_information', STATIC_TTL)
    ).data.stations;
    const homes = new Set(stack.sim.vehicles.map((v) => v.spec.homeStation));
    expect(new Set(stations.map((s: { station_id: string }) => s.station_id))).toEqual(homes);
    const status = (await feed(`${stack.baseUrl}/gbfs/station_status.json`, 'station_status', REALTIME_TTL))
      .data.stations;
    const free = await vehicleStatus();
    for (const s of status) {
      expect(s.num_vehicles_available).toBe(free.filter((v) => v.station_id === s.station_id).length);
    }
  });

  it('shows only free cars, at their station, with nothing private and fuel as a fraction', async () => {
    // The feed follows the cars' reports, a moment behind the simulator's own state: wait for them to agree.
    const free = await waitFor('vehicle_status in step with the cars', async () => {
      const listed = await vehicleStatus();
      const driving = stack.sim.vehicles.filter((v) => v.car.state.phase === 'driving');
      return listed.length === stack.sim.vehicles.length - driving.length && listed;
    });
    for (const v of free) {
      expect(Object.keys(v).sort()).toEqual(
        [
          'current_fuel_percent',
          'current_range_meters',
          'home_station_id',
          'is_disabled',
          'is_reserved',
          'last_reported',
          'station_id',
          'vehicle_id',
          'vehicle_type_id',
        ].sort(),
      );
      expect(v.current_fuel_percent as number).toBeGreaterThanOrEqual(0);
      expect(v.current_fuel_percent as number).toBeLessThanOrEqual(1);
      for (const c of stack.sim.vehicles) expect(v.vehicle_id).not.toContain(c.id);
    }
    // by field name: a rotated id is random text, and may spell "lon" by chance
    const keys = free.flatMap((v) => Object.keys(v));
    for (const word of ['lat', 'lon', 'locked', 'door', 'ignition', 'odometer', 'speed'])
      expect(keys.filter((k) => k.includes(word))).toEqual([]);
  });

  it('never shows a booked or moving car, and rotates a car’s id after its trip', async () => {
    const car = cars[0]!;
    const station = car.spec.homeStation;
    const idAt = async () => {
      const ids = (await vehicleStatus()).filter((v) => v.station_id === station).map((v) => v.vehicle_id);
      return ids;
    };
    const before = await idAt();
    expect(before.length).toBe(1);
    const others = (await vehicleStatus()).filter((v) => v.station_id !== station).map((v) => v.vehicle_id);

    const now = Date.now();
    const b = await stack.http('POST', '/api/v1/bookings', {
      token: stack.operator.token,
      body: {
        vehicleId: car.id,
        memberId: 'gbfs-gaby',
        start: new Date(now - 1000).toISOString(),
        end: new Date(now + 2500).toISOString(),
      },
    });
    expect(b.status).toBe(201);
    expect(await idAt()).toEqual([]);
    const status = (await feed(`${stack.baseUrl}/gbfs/station_status.json`, 'station_status', REALTIME_TTL))
      .data.stations;
    expect(status.find((s: { station_id: string }) => s.station_id === station).num_vehicles_available).toBe(
      0,
    );

    // Back after the trip: the same car under a new id; the others keep theirs.
    const after = await waitFor('the car free again', async () => {
      const ids = await idAt();
      return ids.length === 1 ? ids : undefined;
    });
    expect(after[0]).not.toBe(before[0]);
    expect((await vehicleStatus()).filter((v) => v.station_id !== station).map((v) => v.vehicle_id)).toEqual(
      others,
    );

    // A car that moves (engine on, 30 km/h) is gone at once, whatever else it says.
    const mover = cars[1]!;
    const s = mover.car.state;
    Object.assign(s, { speedKmh: 30, ignition: true });
    await mover.publishTelemetry();
    await waitFor('the moving car gone', async () =>
      (await vehicleStatus()).every((v) => v.station_id !== mover.spec.homeStation),
    );
    Object.assign(s, { speedKmh: 0, ignition: false });
    await mover.publishTelemetry();
  });

  it('publishes an operator’s pricing plans and names a default for each of its types', async () => {
    const put = await stack.http('PUT', '/api/v1/gbfs/system', {
      token: stack.operator.token,
      body: {
        url: 'https://citiz.example/rennes',
        pricingPlans: [
          {
            plan_id: 'classique',
            name: 'Classique',
            currency: 'EUR',
            price: 0,
            is_taxable: true,
            description: '2,50 € de l’heure et 0,35 € du km',
            per_min_pricing: [{ start: 0, rate: 2.5, interval: 60 }],
            per_km_pricing: [{ start: 0, rate: 0.35, interval: 1 }],
          },
        ],
      },
    });
    expect(put.status).toBe(204);
    const prefix = `${stack.baseUrl}/gbfs/operators/citiz-rennes`;
    const discovery = await feed(`${prefix}/gbfs.json`, 'gbfs', STATIC_TTL);
    expect(discovery.data.feeds.map((f: { name: string }) => f.name)).toContain('system_pricing_plans');
    const plans = (await feed(`${prefix}/system_pricing_plans.json`, 'system_pricing_plans', STATIC_TTL)).data
      .plans;
    expect(plans).toMatchObject([{ plan_id: 'citiz-rennes:classique', currency: 'EUR' }]);
    const types = (await feed(`${prefix}/vehicle_types.json`, 'vehicle_types', STATIC_TTL)).data
      .vehicle_types;
    for (const t of types) expect(t.default_pricing_plan_id).toBe('citiz-rennes:classique');
    // The network publishes plans only once every operator with cars has some; autre-coop has no types.
    expect((await get(`${stack.baseUrl}/gbfs/system_pricing_plans.json`)).status).toBe(200);
    expect((await get(`${stack.baseUrl}/gbfs/operators/autre-coop/system_pricing_plans.json`)).status).toBe(
      404,
    );
    expect((await get(`${stack.baseUrl}/gbfs/operators/nobody/gbfs.json`)).status).toBe(404);
  });

  it('lets an operator register only its own stations and cars', async () => {
    const r = await stack.http('PUT', `/api/v1/stations/${cars[0]!.spec.homeStation}`, {
      token: stack.other.token,
      body: { name: 'Hijack', lat: 48.1, lon: -1.6 },
    });
    expect([r.status, r.body.error.code]).toEqual([403, 'forbidden']);
    const p = await stack.http('PUT', `/api/v1/vehicles/${cars[0]!.id}/placement`, {
      token: stack.other.token,
      body: { vehicleTypeId: 'x', stationId: null },
    });
    expect([p.status, p.body.error.code]).toEqual([403, 'not_your_vehicle']);
    expect((await stack.http('PUT', '/api/v1/gbfs/system', { body: {} })).status).toBe(401);
  });
});
