import type { Map as MapLibre, StyleSpecification } from 'maplibre-gl';
import { getJson } from './api.ts';
import { BACKGROUND, composeStyle } from './style.ts';

/**
 * Streets under the data. By default an OpenStreetMap vector style that needs no key (OpenFreeMap's
 * "liberty": no registration, no API key, no cookies, no limit on views; OSM data under the ODbL, tiles
 * in the OpenMapTiles schema, both credited in the corner). With no network, the demo city's main roads,
 * river and stations from `city.geojson`, which the build makes from the simulator's plan of the city
 * (src/city-map.ts): never a blank page.
 *
 * Configured, last wins: `BASEMAP_STYLE_URL` at build time, `basemap` in `config.json` beside index.html
 * (editable in a deployment without rebuilding; the api serves it with its own settings), `?basemap=` in
 * the address. Values: `none` (the city fallback only); `osm` (the OpenStreetMap raster tiles); a tile URL
 * template with `{z}/{x}/{y}`; or a MapLibre style JSON URL.
 */

export const DEFAULT_BASEMAP = 'https://tiles.openfreemap.org/styles/liberty';

export interface RuntimeConfig {
  basemap: string | null;
  /** The offline map's GeoJSON (roads, water, stations), relative to the page; null for none. */
  fallback: string | null;
  /** Where the map opens before the kits are known: [lon, lat] and zoom. */
  center?: [number, number];
  zoom?: number;
  /** Licence of the open data, as the api serves it (OPEN_DATA_LICENSE). */
  license: string;
  /** The city's IANA time zone, for the hours of charts and profiles. */
  timeZone: string;
}

const OSM_TILES = 'https://tile.openstreetmap.org/{z}/{x}/{y}.png';
export const OSM_ATTRIBUTION =
  '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';
/** A basemap that has drawn no tile in this time is given up for the offline map. */
const BASEMAP_DEADLINE_MS = 8000;

const validZone = (z: unknown): z is string => {
  if (typeof z !== 'string' || !z) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: z });
    return true;
  } catch {
    return false;
  }
};

export async function loadRuntimeConfig(): Promise<RuntimeConfig> {
  const config: RuntimeConfig = {
    basemap: import.meta.env.BASEMAP_STYLE_URL || DEFAULT_BASEMAP,
    fallback: 'city.geojson',
    license: 'ODbL-1.0',
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
  try {
    // Beside index.html, whatever path the page is served under.
    const file = await getJson<Partial<RuntimeConfig>>('config.json', { timeoutMs: 2000 });
    if (typeof file.basemap === 'string') config.basemap = file.basemap;
    if (typeof file.fallback === 'string' || file.fallback === null) config.fallback = file.fallback;
    if (Array.isArray(file.center) && file.center.length === 2) config.center = file.center;
    if (typeof file.zoom === 'number') config.zoom = file.zoom;
    if (typeof file.license === 'string' && file.license) config.license = file.license;
    if (validZone(file.timeZone)) config.timeZone = file.timeZone;
  } catch {
    // no config.json: build-time settings only
  }
  const asked = new URLSearchParams(location.search).get('basemap');
  if (asked !== null) config.basemap = asked;
  if (config.basemap === 'none' || config.basemap === '') config.basemap = null;
  return config;
}

/**
 * The offline map: the city's water, roads (wider for busier ones) and stations from `url`, on the plain
 * background; the plain background alone when the file is missing.
 */
export async function loadFallbackStyle(url: string | null): Promise<StyleSpecification | null> {
  if (!url) return null;
  let data: GeoJSON.FeatureCollection;
  try {
    data = await getJson<GeoJSON.FeatureCollection>(url, { timeoutMs: 4000 });
    if (!Array.isArray(data?.features)) return null;
  } catch {
    return null;
  }
  const kind = (k: string) => ['==', ['get', 'kind'], k] as never;
  const width = (lo: number, hi: number) =>
    [
      'interpolate',
      ['exponential', 1.6],
      ['zoom'],
      11,
      ['*', lo, ['coalesce', ['get', 'traffic'], 1]],
      17,
      ['*', hi, ['coalesce', ['get', 'traffic'], 1]],
    ] as never;
  return {
    version: 8,
    sources: { city: { type: 'geojson', data, attribution: OSM_ATTRIBUTION } },
    layers: [
      { id: 'city-bg', type: 'background', paint: { 'background-color': BACKGROUND } },
      {
        id: 'city-water',
        type: 'line',
        source: 'city',
        filter: kind('water'),
        layout: { 'line-cap': 'round', 'line-join': 'round' },
        paint: {
          'line-color': '#9cc3e4',
          'line-width': ['interpolate', ['exponential', 1.6], ['zoom'], 11, 5, 17, 60],
        },
      },
      {
        id: 'city-roads-casing',
        type: 'line',
        source: 'city',
        filter: kind('road'),
        layout: { 'line-cap': 'round', 'line-join': 'round' },
        paint: { 'line-color': '#b9c2cc', 'line-width': width(3.5, 26) },
      },
      {
        id: 'city-roads',
        type: 'line',
        source: 'city',
        filter: kind('road'),
        layout: { 'line-cap': 'round', 'line-join': 'round' },
        paint: { 'line-color': '#ffffff', 'line-width': width(2, 20) },
      },
      {
        id: 'city-stations',
        type: 'circle',
        source: 'city',
        filter: kind('station'),
        paint: {
          'circle-color': '#16324f',
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 11, 2, 16, 5],
          'circle-stroke-color': '#ffffff',
          'circle-stroke-width': 1,
        },
      },
    ],
  };
}

/** The network base style for `basemap`, or null (none given, or not reachable in time). */
export async function loadBaseStyle(basemap: string | null): Promise<StyleSpecification | null> {
  if (!basemap) return null;
  const tiles = basemap === 'osm' ? OSM_TILES : basemap;
  if (tiles.includes('{z}')) {
    return {
      version: 8,
      sources: {
        basemap: {
          type: 'raster',
          tiles: [tiles],
          tileSize: 256,
          maxzoom: 19,
          attribution: tiles === OSM_TILES ? OSM_ATTRIBUTION : '',
        },
      },
      layers: [
        { id: 'basemap-bg', type: 'background', paint: { 'background-color': BACKGROUND } },
        { id: 'basemap', type: 'raster', source: 'basemap', paint: { 'raster-saturation': -0.35 } },
      ],
    };
  }
  try {
    const style = await getJson<StyleSpecification>(new URL(basemap, location.href).href, {
      timeoutMs: 6000,
    });
    return style && style.version === 8 && Array.isArray(style.layers) ? style : null;
  } catch {
    return null;
  }
}

/**
 * Lays `base` under the data (above its roads, below its labels). If none of its sources has delivered a
 * tile by the deadline, the offline map comes back and `onGiveUp` says so: a dead tile server never
 * leaves the page without streets.
 */
export function applyBase(
  map: MapLibre,
  base: StyleSpecification,
  fallback: StyleSpecification | null,
  onGiveUp: () => void,
): void {
  const baseSources = new Set(Object.keys(base.sources));
  map.setStyle(composeStyle(base), { diff: true });
  if (baseSources.size === 0) return;
  let loaded = false;
  const onData = (e: { dataType?: string; sourceId?: string; tile?: unknown }) => {
    if (e.dataType === 'source' && e.tile && e.sourceId && baseSources.has(e.sourceId)) loaded = true;
  };
  map.on('data', onData);
  setTimeout(() => {
    map.off('data', onData);
    if (loaded) return;
    map.setStyle(composeStyle(fallback), { diff: true });
    onGiveUp();
  }, BASEMAP_DEADLINE_MS);
}
