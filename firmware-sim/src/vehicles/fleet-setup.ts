import type { Logger } from 'pino';
import { type City, stationPosition } from '../city.ts';
import type { VehicleSpec } from '../plan.ts';

/** Makes and models the simulator's cars come in, with their published figures (maker's WLTP sheets). */
const MODELS: Record<
  string,
  { propulsion: 'electric' | 'combustion'; maxRangeKm: number; gCo2Km: number; riderCapacity: number }
> = {
  'Renault Zoe': { propulsion: 'electric', maxRangeKm: 390, gCo2Km: 0, riderCapacity: 5 },
  'Peugeot e-208': { propulsion: 'electric', maxRangeKm: 400, gCo2Km: 0, riderCapacity: 5 },
  'Dacia Spring': { propulsion: 'electric', maxRangeKm: 225, gCo2Km: 0, riderCapacity: 4 },
  'Renault Clio': { propulsion: 'combustion', maxRangeKm: 800, gCo2Km: 118, riderCapacity: 5 },
  'Peugeot 208': { propulsion: 'combustion', maxRangeKm: 750, gCo2Km: 121, riderCapacity: 5 },
  'Toyota Yaris': { propulsion: 'combustion', maxRangeKm: 850, gCo2Km: 92, riderCapacity: 5 },
};

/** Every third station is in an underground car park, where the cars' uplink is cut (offline unlock). */
export const isUnderground = (city: City, stationId: string): boolean =>
  city.stations.findIndex((s) => s.id === stationId) % 3 === 2;

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-');
export const modelOf = (spec: VehicleSpec): string => spec.name.replace(/ #\d+$/, '');

/**
 * Tells the api what the public may know of the simulated fleet (GBFS): the stations its cars use, one
 * vehicle type per model, each car's type and home station; as an operator does once, idempotent (PUT).
 */
export async function registerFleet(opts: {
  apiUrl: string;
  token: string;
  city: City;
  cars: Array<{ id: string; spec: VehicleSpec }>;
  log: Logger;
}): Promise<void> {
  const put = async (path: string, body: unknown) => {
    const r = await fetch(`${opts.apiUrl}${path}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`PUT ${path}: ${r.status} ${await r.text()}`);
  };
  const stations = new Set(opts.cars.map((c) => c.spec.homeStation));
  for (const id of stations) {
    const s = opts.city.stations.find((x) => x.id === id)!;
    const p = stationPosition(opts.city, id);
    const count = opts.cars.filter((c) => c.spec.homeStation === id).length;
    await put(`/api/v1/stations/${id}`, {
      name: s.name,
      lat: p.lat,
      lon: p.lon,
      parkingType: isUnderground(opts.city, id) ? 'underground_parking' : 'street_parking',
      capacity: count,
      charging: opts.cars.some((c) => c.spec.homeStation === id && c.spec.ev),
    });
  }
  for (const model of new Set(opts.cars.map((c) => modelOf(c.spec)))) {
    const m = MODELS[model];
    if (!m) continue;
    const [make, ...rest] = model.split(' ');
    await put(`/api/v1/vehicle-types/${slug(model)}`, { ...m, make, model: rest.join(' ') });
  }
  for (const c of opts.cars) {
    if (!MODELS[modelOf(c.spec)]) continue;
    await put(`/api/v1/vehicles/${c.id}/placement`, {
      vehicleTypeId: slug(modelOf(c.spec)),
      stationId: c.spec.homeStation,
    });
  }
  opts.log.info({ stations: stations.size, cars: opts.cars.length }, 'fleet registered for GBFS');
}

/** The platform's public key for booking lists; undefined when the api does not offer one (older api). */
export async function fetchPlatformKey(apiUrl: string): Promise<string | undefined> {
  const r = await fetch(`${apiUrl}/api/v1/carsharing/signing-key`);
  if (!r.ok) return undefined;
  return ((await r.json()) as { publicKeyPem?: string }).publicKeyPem;
}
