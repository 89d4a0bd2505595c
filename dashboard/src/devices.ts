import type { Metric } from '@citytel/contract';
import type { DeviceFeature, DeviceProps, LiveReading, LiveVehicle } from './api.ts';
import { getJson } from './api.ts';
import { NO_VALUE_COLOR, shadeFor } from './scale.ts';

/** A kit that has said nothing for this long is drawn faded. */
const STALE_MS = 60 * 60_000;

/**
 * Every kit (and car) of GET /api/v1/devices, kept up to date by the live stream: the data behind the
 * kit points, the panel and the "find a kit" list.
 */
export interface Devices {
  load(signal?: AbortSignal): Promise<void>;
  get(id: string): DeviceFeature | undefined;
  all(): DeviceFeature[];
  /** Merges a live reading; returns the device, or undefined for one the page does not know yet. */
  applyReading(r: LiveReading): DeviceFeature | undefined;
  applyVehicle(v: LiveVehicle): DeviceFeature | undefined;
  /** The kit points for `metric`, coloured by band, with `selected` marked. */
  layerData(metric: Metric, selected: string | null): GeoJSON.FeatureCollection;
}

export function createDevices(): Devices {
  const byId = new Map<string, DeviceFeature>();

  const normalise = (f: DeviceFeature): DeviceFeature | undefined => {
    const p = f?.properties;
    if (!p || typeof p.id !== 'string') return undefined;
    return {
      type: 'Feature',
      id: p.id,
      geometry: f.geometry?.type === 'Point' ? f.geometry : null,
      properties: { ...p, values: { ...(p.values ?? {}) }, bands: { ...(p.bands ?? {}) } },
    };
  };

  return {
    async load(signal) {
      const fc = await getJson<{ features?: DeviceFeature[] }>('/api/v1/devices', signal ? { signal } : {});
      const next = new Map<string, DeviceFeature>();
      for (const raw of fc.features ?? []) {
        const f = normalise(raw);
        if (!f) continue;
        // A reading heard live since the request left is newer than what the list says.
        const known = byId.get(f.id);
        if (known && (known.properties.valuesAt ?? '') > (f.properties.valuesAt ?? '')) {
          f.properties.values = { ...f.properties.values, ...known.properties.values };
          f.properties.valuesAt = known.properties.valuesAt;
          f.geometry = known.geometry ?? f.geometry;
        }
        next.set(f.id, f);
      }
      byId.clear();
      for (const [id, f] of next) byId.set(id, f);
    },
    get: (id) => byId.get(id),
    all: () => [...byId.values()],
    applyReading(r) {
      const f = byId.get(r.device);
      if (!f) return undefined;
      const p: DeviceProps = f.properties;
      Object.assign(p.values, r.values ?? {});
      Object.assign(p.bands, r.bands ?? {});
      if (!p.valuesAt || r.t > p.valuesAt) p.valuesAt = r.t;
      if (!p.lastSeen || r.t > p.lastSeen) p.lastSeen = r.t;
      if (typeof r.lat === 'number' && typeof r.lon === 'number') {
        f.geometry = { type: 'Point', coordinates: [r.lon, r.lat] };
      }
      return f;
    },
    applyVehicle(v) {
      const f = byId.get(v.vehicle);
      if (!f) return undefined;
      if (typeof v.lat === 'number' && typeof v.lon === 'number') {
        f.geometry = { type: 'Point', coordinates: [v.lon, v.lat] };
      }
      if (!f.properties.lastSeen || v.t > f.properties.lastSeen) f.properties.lastSeen = v.t;
      return f;
    },
    layerData(metric, selected) {
      const now = Date.now();
      const features: GeoJSON.Feature[] = [];
      for (const f of byId.values()) {
        if (!f.geometry) continue;
        const value = f.properties.values[metric];
        // Cars are on the map through their own layer; here only those whose air sensor measured this.
        if (f.properties.kind === 'vehicle' && value === undefined) continue;
        const shade = shadeFor(metric, value);
        const seen = f.properties.lastSeen ? Date.parse(f.properties.lastSeen) : 0;
        features.push({
          type: 'Feature',
          geometry: f.geometry,
          properties: {
            id: f.id,
            color: shade?.color ?? NO_VALUE_COLOR,
            level: shade?.level ?? 0,
            has: shade !== undefined,
            sort: (shade ? 100 : 0) + (shade?.level ?? 0) + (f.id === selected ? 1000 : 0),
            stale: now - seen > STALE_MS,
            selected: f.id === selected,
          },
        });
      }
      return { type: 'FeatureCollection', features };
    },
  };
}
