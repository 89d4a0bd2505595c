import type { Map as MapLibre } from 'maplibre-gl';
import { getJson, HttpError, type LiveVehicle } from './api.ts';
import { setData } from './style.ts';

/**
 * The shared cars of GET /api/v1/vehicles: its public view (`{view: "public", vehicles: [...]}`) lists the
 * cars free to book, at their station's position. The layer exists only once that endpoint answers: a
 * 404 (carsharing not deployed) hides its toggle for good, any other failure is retried later. The answer
 * is read loosely (a GeoJSON FeatureCollection, or a list, bare or under `vehicles` / `items` / `data`, of
 * objects with `id` or `vehicleId`, a position and what is known of their state), so an operator's view
 * or another fleet api draws too.
 */

export interface Car {
  id: string;
  lon: number;
  lat: number;
  state: 'available' | 'busy' | 'offline';
  name?: string;
  station?: string;
  fuel?: number;
  battery?: number;
}

const REFRESH_MS = 30_000;
/** After a car was seen leaving, the list is read again this much later. */
const AFTER_CHANGE_MS = 3000;

type Loose = Record<string, unknown>;
const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
const str = (x: unknown): string | undefined => (typeof x === 'string' && x ? x : undefined);

function position(o: Loose): [number, number] | undefined {
  for (const p of [o, o.position, o.location, o.station] as Loose[]) {
    if (!p || typeof p !== 'object') continue;
    const lat = num(p.lat) ?? num(p.latitude);
    const lon = num(p.lon) ?? num(p.lng) ?? num(p.longitude);
    if (lat !== undefined && lon !== undefined) return [lon, lat];
  }
  return undefined;
}

function stateOf(o: Loose): Car['state'] {
  if (o.online === false) return 'offline';
  if (typeof o.available === 'boolean') return o.available ? 'available' : 'busy';
  const s = str(o.status) ?? str(o.state);
  if (s) return /avail|free|idle|libre/i.test(s) ? 'available' : /offline/i.test(s) ? 'offline' : 'busy';
  return o.booking || o.currentBooking ? 'busy' : 'available';
}

export function normaliseCars(body: unknown): Car[] {
  const b = body as Loose;
  const list: unknown[] = Array.isArray(body)
    ? body
    : (([b?.features, b?.vehicles, b?.items, b?.data].find(Array.isArray) as unknown[] | undefined) ?? []);
  const cars: Car[] = [];
  for (const raw of list) {
    if (!raw || typeof raw !== 'object') continue;
    const f = raw as Loose;
    const o = (
      f.type === 'Feature' ? { ...(f.properties as Loose), id: (f.properties as Loose)?.id ?? f.id } : f
    ) as Loose;
    const geom = f.geometry as { type?: string; coordinates?: number[] } | undefined;
    const at =
      geom?.type === 'Point' && geom.coordinates?.length === 2
        ? (geom.coordinates as [number, number])
        : position(o);
    const id = str(o.id) ?? str(o.vehicleId);
    if (!id || !at) continue;
    const station = o.station as Loose | string | undefined;
    cars.push({
      id,
      lon: at[0],
      lat: at[1],
      state: stateOf(o),
      ...(str(o.name) ? { name: str(o.name) } : {}),
      ...(typeof station === 'string'
        ? { station }
        : str(station?.name)
          ? { station: str(station?.name) }
          : {}),
      ...((num(o.fuelPct) ?? num(o.fuel_pct)) !== undefined
        ? { fuel: num(o.fuelPct) ?? num(o.fuel_pct) }
        : {}),
      ...((num(o.batteryPct) ?? num(o.battery_pct)) !== undefined
        ? { battery: num(o.batteryPct) ?? num(o.battery_pct) }
        : {}),
    });
  }
  return cars;
}

export interface Vehicles {
  /** Whether the carsharing api answered (the layer and its toggle exist). */
  readonly available: boolean;
  get(id: string): Car | undefined;
  applyLive(v: LiveVehicle): void;
}

export function createVehicles(map: MapLibre, onAvailable: (yes: boolean) => void): Vehicles {
  const cars = new Map<string, Car>();
  let available = false;
  let gone = false;

  const draw = () =>
    setData(map, 'vehicles', {
      type: 'FeatureCollection',
      features: [...cars.values()].map((c) => ({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [c.lon, c.lat] },
        properties: { id: c.id, state: c.state },
      })),
    });

  let timer: ReturnType<typeof setTimeout> | undefined;
  const schedule = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(load, ms);
  };
  /** A reading of the list soon, at most every few seconds however many cars report. */
  let lastSoon = 0;
  const soon = () => {
    if (Date.now() - lastSoon < AFTER_CHANGE_MS * 3) return;
    lastSoon = Date.now();
    schedule(AFTER_CHANGE_MS);
  };
  const load = async () => {
    if (gone) return;
    try {
      const body = await getJson<unknown>('/api/v1/vehicles', { timeoutMs: 10_000 });
      cars.clear();
      for (const c of normaliseCars(body)) cars.set(c.id, c);
      draw();
      if (!available) {
        available = true;
        onAvailable(true);
      }
    } catch (err) {
      // 404: no carsharing here. 401/403: the fleet is not public on this deployment. Either way, no layer.
      if (err instanceof HttpError && [401, 403, 404, 405].includes(err.status)) {
        gone = true;
        if (available) {
          available = false;
          onAvailable(false);
        }
        return;
      }
    }
    schedule(REFRESH_MS);
  };
  void load();

  return {
    get available() {
      return available;
    },
    get: (id) => cars.get(id),
    applyLive(v) {
      // A free car stays drawn at its station (the public view shows no live position); one that goes
      // offline, is unlocked or starts its engine is no longer free: it leaves the layer until the api
      // lists it again. A status change (`online` is in status events only) or a car not listed that
      // stands locked may make a car free: the list is read again shortly.
      if (gone || !available) return;
      const c = cars.get(v.vehicle);
      if (c && (v.online === false || v.locked === false || v.ignition === true)) {
        cars.delete(v.vehicle);
        draw();
        schedule(AFTER_CHANGE_MS);
      } else if ('online' in v || (!c && v.locked === true && v.ignition !== true)) {
        soon();
      }
    },
  };
}
