import type {
  GeoJSONSource,
  LayerSpecification,
  Map as MapLibre,
  SourceSpecification,
  StyleSpecification,
} from 'maplibre-gl';

/**
 * The map style: a base (a plain background, or the configured basemap) with the data layers on top. The
 * data live here too, so that swapping the base (basemap loaded, or given up) keeps every layer as it was.
 */

export const SOURCE_IDS = ['cells', 'track', 'devices', 'vehicles'] as const;
export type SourceId = (typeof SOURCE_IDS)[number];

/**
 * From this zoom the kits themselves are drawn over the cells: low enough that a whole city fitted on a
 * phone (about zoom 11) shows them; their band numbers come from LEVELS_MIN_ZOOM on.
 */
export const POINTS_MIN_ZOOM = 10;
const LEVELS_MIN_ZOOM = 12.5;

export const BACKGROUND = '#eef1f4';

const empty = (): GeoJSON.FeatureCollection => ({ type: 'FeatureCollection', features: [] });
const data: Record<SourceId, GeoJSON.FeatureCollection> = {
  cells: empty(),
  track: empty(),
  devices: empty(),
  vehicles: empty(),
};
const view = { replay: false, visible: { cells: true, kits: true, cars: false } };

export function setData(map: MapLibre, id: SourceId, fc: GeoJSON.FeatureCollection): void {
  data[id] = fc;
  (map.getSource(id) as GeoJSONSource | undefined)?.setData(fc);
}

export const getData = (id: SourceId): GeoJSON.FeatureCollection => data[id];

/** Once the style has loaded: what was set before it (data, visibility) is applied to it. */
export function syncStyle(map: MapLibre): void {
  for (const id of SOURCE_IDS) setData(map, id, data[id]);
  setView(map, {});
}

const LAYER_GROUPS: Record<keyof typeof view.visible, string[]> = {
  cells: ['cells-fill', 'cells-line', 'cells-level'],
  kits: ['devices-circle', 'devices-level', 'track-casing', 'track-line'],
  cars: ['vehicles'],
};

/** Shows or hides a group of layers; in replay, the kits' live points are hidden and cells stay opaque. */
export function setView(
  map: MapLibre,
  patch: { replay?: boolean; visible?: Partial<typeof view.visible> },
): void {
  if (patch.replay !== undefined) view.replay = patch.replay;
  Object.assign(view.visible, patch.visible ?? {});
  if (!map.getLayer('cells-fill')) return;
  for (const [group, ids] of Object.entries(LAYER_GROUPS) as Array<[keyof typeof view.visible, string[]]>) {
    const on = view.visible[group] && !(group === 'kits' && view.replay);
    for (const id of ids) map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
  }
  map.setPaintProperty('cells-fill', 'fill-opacity', cellOpacity());
  map.setLayerZoomRange('cells-level', 0, cellLevelMaxZoom());
}

/** Band numbers on cells until the kits' own take over; in replay, the cells are all there is. */
const cellLevelMaxZoom = () => (view.replay ? 24 : LEVELS_MIN_ZOOM + 1);

const cellOpacity = () =>
  view.replay ? 0.7 : (['interpolate', ['linear'], ['zoom'], 12, 0.6, 16, 0.3] as const);

const visibility = (group: keyof typeof view.visible) =>
  view.visible[group] && !(group === 'kits' && view.replay) ? 'visible' : 'none';

function dataLayers(): LayerSpecification[] {
  const level = ['concat', 'lvl-', ['to-string', ['get', 'level']]] as const;
  return [
    {
      id: 'cells-fill',
      type: 'fill',
      source: 'cells',
      layout: { visibility: visibility('cells') },
      paint: { 'fill-color': ['get', 'color'], 'fill-opacity': cellOpacity() as never },
    },
    {
      id: 'cells-line',
      type: 'line',
      source: 'cells',
      layout: { visibility: visibility('cells') },
      paint: {
        'line-color': '#ffffff',
        'line-opacity': 0.8,
        'line-width': ['interpolate', ['linear'], ['zoom'], 8, 0.3, 14, 1.2],
      },
    },
    {
      id: 'cells-level',
      type: 'symbol',
      source: 'cells',
      maxzoom: cellLevelMaxZoom(),
      filter: ['>', ['get', 'level'], 0],
      layout: { visibility: visibility('cells'), 'icon-image': level as never, 'icon-padding': 6 },
    },
    {
      id: 'track-casing',
      type: 'line',
      source: 'track',
      layout: { visibility: visibility('kits'), 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': '#1f2933', 'line-width': 8, 'line-opacity': 0.55 },
    },
    {
      id: 'track-line',
      type: 'line',
      source: 'track',
      layout: { visibility: visibility('kits'), 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': ['get', 'color'], 'line-width': 5 },
    },
    {
      id: 'devices-circle',
      type: 'circle',
      source: 'devices',
      minzoom: POINTS_MIN_ZOOM,
      layout: { visibility: visibility('kits'), 'circle-sort-key': ['get', 'sort'] },
      paint: {
        'circle-color': ['get', 'color'],
        'circle-radius': [
          'interpolate',
          ['linear'],
          ['zoom'],
          POINTS_MIN_ZOOM,
          ['case', ['get', 'has'], 4.5, 3],
          12,
          ['case', ['get', 'has'], 6, 3.5],
          15,
          ['case', ['get', 'has'], 11, 5],
          18,
          ['case', ['get', 'has'], 14, 6],
        ],
        'circle-stroke-color': ['case', ['get', 'selected'], '#0b57d0', '#1f2933'],
        'circle-stroke-width': ['case', ['get', 'selected'], 3.5, 1.5],
        'circle-opacity': ['case', ['get', 'stale'], 0.45, 1],
        'circle-stroke-opacity': ['case', ['get', 'stale'], 0.5, 1],
      },
    },
    {
      id: 'devices-level',
      type: 'symbol',
      source: 'devices',
      minzoom: LEVELS_MIN_ZOOM,
      filter: ['>', ['get', 'level'], 0],
      layout: {
        visibility: visibility('kits'),
        'icon-image': level as never,
        'icon-allow-overlap': true,
        'icon-ignore-placement': true,
      },
    },
    {
      id: 'vehicles',
      type: 'symbol',
      source: 'vehicles',
      layout: {
        visibility: visibility('cars'),
        'icon-image': ['concat', 'car-', ['get', 'state']],
        'icon-allow-overlap': true,
        'icon-size': ['interpolate', ['linear'], ['zoom'], 10, 0.7, 15, 1],
      },
    },
  ];
}

export const plainStyle = (): StyleSpecification => ({
  version: 8,
  sources: {},
  layers: [{ id: 'background', type: 'background', paint: { 'background-color': BACKGROUND } }],
});

/**
 * `base` (or the plain background) with the data sources, holding their current data. The data's areas,
 * lines and points go above the base's roads and below its first label, so street and place names stay
 * readable over the colours; the data's own symbols (band numbers, cars) go on top.
 */
export function composeStyle(base: StyleSpecification | null): StyleSpecification {
  const b = base ?? plainStyle();
  const sources: Record<string, SourceSpecification> = { ...b.sources };
  for (const id of SOURCE_IDS) sources[id] = { type: 'geojson', data: data[id] };
  const firstLabel = b.layers.findIndex((l) => l.type === 'symbol');
  const cut = firstLabel < 0 ? b.layers.length : firstLabel;
  const layers = dataLayers();
  return {
    ...b,
    sources,
    layers: [
      ...b.layers.slice(0, cut),
      ...layers.filter((l) => l.type !== 'symbol'),
      ...b.layers.slice(cut),
      ...layers.filter((l) => l.type === 'symbol'),
    ],
  };
}

export const DATA_SOURCE_IDS: ReadonlySet<string> = new Set(SOURCE_IDS);
