import type { Map as MapLibre, StyleSpecification } from 'maplibre-gl';
import { getJson } from './api.ts';
import { composeStyle } from './style.ts';

/**
 * The basemap is optional: the page draws its data on a plain background with no network, and an
 * OpenStreetMap raster or vector style is laid under the data when one is configured and reachable.
 *
 * Configured, last wins: `BASEMAP_STYLE_URL` at build time, `basemap` in `config.json` beside index.html
 * (editable in a deployment without rebuilding), `?basemap=` in the address. Values: `none`; `osm` (the
 * OpenStreetMap raster tiles); a tile URL template with `{z}/{x}/{y}`; or a MapLibre style JSON URL.
 */

export interface RuntimeConfig {
  basemap: string | null;
  /** Where the map opens before the kits are known: [lon, lat] and zoom. */
  center?: [number, number];
  zoom?: number;
}

const OSM_TILES = 'https://tile.openstreetmap.org/{z}/{x}/{y}.png';
const OSM_ATTRIBUTION = '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';
/** A basemap that has drawn no tile in this time is given up for the plain background. */
const BASEMAP_DEADLINE_MS = 8000;

export async function loadRuntimeConfig(): Promise<RuntimeConfig> {
  const config: RuntimeConfig = { basemap: import.meta.env.BASEMAP_STYLE_URL || null };
  try {
    // Beside index.html, whatever path the page is served under; a missing file is the normal case.
    const file = await getJson<Partial<RuntimeConfig>>('config.json', { timeoutMs: 2000 });
    if (typeof file.basemap === 'string') config.basemap = file.basemap;
    if (Array.isArray(file.center) && file.center.length === 2) config.center = file.center;
    if (typeof file.zoom === 'number') config.zoom = file.zoom;
  } catch {
    // no config.json: build-time settings only
  }
  const asked = new URLSearchParams(location.search).get('basemap');
  if (asked !== null) config.basemap = asked;
  if (config.basemap === 'none' || config.basemap === '') config.basemap = null;
  return config;
}

/** The base style for `basemap`, or null for the plain background (none given, or not reachable in time). */
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
        { id: 'basemap-bg', type: 'background', paint: { 'background-color': '#eef1f4' } },
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
 * Lays `base` under the data. If none of its sources has delivered a tile by the deadline, the plain
 * background comes back and `onGiveUp` says so: a dead tile server never leaves the page blank.
 */
export function applyBase(map: MapLibre, base: StyleSpecification, onGiveUp: () => void): void {
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
    map.setStyle(composeStyle(null), { diff: true });
    onGiveUp();
  }, BASEMAP_DEADLINE_MS);
}
