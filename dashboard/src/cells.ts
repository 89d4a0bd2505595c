import { geohash, geohashPolygon, type Metric } from '@citytel/contract';
import type { Map as MapLibre } from 'maplibre-gl';
import { type CellFeature, type CellProps, getJson, isAbort, type LiveReading, query } from './api.ts';
import { shadeFor } from './scale.ts';
import type { Window } from './state.ts';
import { setData } from './style.ts';
import { throttle } from './throttle.ts';

/** Live changes to the cells are drawn at most this often. */
const LIVE_DRAW_MS = 500;

/**
 * The city as cells of GET /api/v1/map. The cell size follows the zoom (geohash length 4 to 8), the box
 * asked for is the view with a margin so that small moves need no new request, and live readings adjust
 * the cell they fall in at once (the exact aggregates come back with the next refresh).
 */

export interface CellsQuery {
  metric: Metric;
  window: Window;
  /** End of the window (epoch ms) when replaying. */
  to: number | null;
}

export interface Cells {
  /** Loads the cells for the view if it is not already covered (or `force`). Resolves when drawn. */
  refresh(q: CellsQuery, force?: boolean): Promise<void>;
  applyReading(r: LiveReading, q: CellsQuery): boolean;
  /** Cells drawn now. */
  count(): number;
}

/** A cell is drawn at least this wide (CSS px): big enough to tap and to carry its band number. */
const MIN_CELL_PX = 24;

/**
 * Geohash length for a zoom: the smallest cells still at least MIN_CELL_PX wide on screen, so any screen
 * shows several cells whatever its size (a phone fitting a city gets neighbourhood cells of length 6, not
 * a few of length 5 that fill it). A cell of length n spans 360° / 2^⌈5n/2⌉ of longitude; a 512 px tile
 * holds 360° at zoom 0, so it is 2^(z + 9 − ⌈5n/2⌉) px wide. Length 8 (about 40 m) only in replay, when
 * kits are not shown; 3 at least.
 */
export function cellLengthFor(zoom: number, replay: boolean): number {
  const most = replay ? 8 : 7;
  for (let n = most; n > 3; n--) {
    if (2 ** (zoom + 9 - Math.ceil((5 * n) / 2)) >= MIN_CELL_PX) return n;
  }
  return 3;
}

interface Loaded {
  key: string;
  metric: Metric;
  to: number | null;
  bbox: [number, number, number, number];
  features: CellFeature[];
}

export function createCells(map: MapLibre, onState: (s: 'ok' | 'error' | 'empty') => void): Cells {
  let loaded: Loaded | undefined;
  let inflight: AbortController | undefined;
  let inflightKey = '';
  // The api may answer from a shared map computed a little earlier (stale-while-revalidate): readings that
  // came live after it was computed are laid over it again, so a refresh never takes back what was shown.
  let recent: LiveReading[] = [];
  const remember = (r: LiveReading) => {
    recent.push(r);
    if (recent.length > RECENT_MAX) recent = recent.slice(-RECENT_MAX / 2);
  };

  const drawLive = throttle(() => {
    if (loaded) draw(loaded);
  }, LIVE_DRAW_MS);

  const draw = ({ metric, to, features }: Loaded) => {
    const out: GeoJSON.Feature[] = features.map((f) => {
      const shade = shadeFor(metric, f.properties.mean);
      return {
        type: 'Feature',
        geometry: f.geometry,
        properties: {
          ...f.properties,
          band: null,
          color: shade?.color ?? '#6b7c93',
          level: shade?.level ?? 0,
        },
      };
    });
    setData(map, 'cells', { type: 'FeatureCollection', features: out });
    const el = map.getContainer();
    // What is drawn, for people reading the page's state (and the end-to-end test).
    el.dataset.cellsMetric = metric;
    el.dataset.cellsTo = to === null ? 'live' : new Date(to).toISOString();
    el.dataset.cellsCount = String(features.length);
  };

  const viewBox = (): [number, number, number, number] => {
    const b = map.getBounds();
    const w = b.getEast() - b.getWest();
    const h = b.getNorth() - b.getSouth();
    return [
      Math.max(-180, b.getWest() - w / 2),
      Math.max(-85, b.getSouth() - h / 2),
      Math.min(180, b.getEast() + w / 2),
      Math.min(85, b.getNorth() + h / 2),
    ];
  };
  const covers = (outer: number[], b: ReturnType<MapLibre['getBounds']>) =>
    outer[0]! <= b.getWest() &&
    outer[1]! <= b.getSouth() &&
    outer[2]! >= b.getEast() &&
    outer[3]! >= b.getNorth();

  return {
    async refresh(q, force = false) {
      const cell = cellLengthFor(map.getZoom(), q.to !== null);
      const key = `${q.metric}|${q.window}|${q.to ?? 'live'}|${cell}`;
      if (!force && loaded?.key === key && covers(loaded.bbox, map.getBounds())) return;
      if (!force && inflight && inflightKey === key) return;
      inflight?.abort();
      const abort = new AbortController();
      inflight = abort;
      inflightKey = key;
      const bbox = viewBox().map(
        (v, i) => (i < 2 ? Math.floor(v * 1000) : Math.ceil(v * 1000)) / 1000,
      ) as Loaded['bbox'];
      const params = query({
        metric: q.metric,
        window: q.window,
        cell,
        bbox: bbox.join(','),
        to: q.to === null ? undefined : new Date(q.to).toISOString(),
      });
      try {
        const answer = await getJson<{ features?: CellFeature[]; to?: string }>(`/api/v1/map?${params}`, {
          signal: abort.signal,
        });
        const features = (answer.features ?? []).filter(
          (f) => f?.geometry?.type === 'Polygon' && f.properties,
        );
        loaded = { key, metric: q.metric, to: q.to, bbox, features };
        if (q.to === null && answer.to) {
          const computedAt = Date.parse(answer.to);
          recent = recent.filter((r) => Date.parse(r.t) > Date.now() - RECENT_MS);
          for (const r of recent) {
            const t = Date.parse(r.t);
            // Newer than the answer: added. Just before it: maybe not yet written when it was computed, so
            // it may only raise the max (which counting it twice cannot make wrong), not the mean.
            if (t > computedAt) addTo(loaded, r);
            else if (t > computedAt - INGEST_LAG_MS) addTo(loaded, r, true);
          }
        }
        draw(loaded);
        onState(features.length ? 'ok' : 'empty');
      } catch (err) {
        if (!isAbort(err)) onState('error');
      } finally {
        if (inflight === abort) inflight = undefined;
      }
    },

    applyReading(r, q) {
      if (q.to !== null) return false;
      remember(r);
      if (!loaded || !addTo(loaded, r)) return false;
      drawLive();
      return true;
    },

    count: () => loaded?.features.length ?? 0,
  };
}

/** Live readings kept to lay again over a refreshed answer computed before they arrived. */
const RECENT_MAX = 2000;
const RECENT_MS = 10 * 60_000;

/** How long a reading may take to reach InfluxDB: the time before an answer within which it may be missing. */
const INGEST_LAG_MS = 10_000;

/**
 * Adds a live reading to the cell it was taken in (a new cell if none); false when it has no value to add.
 * `maxOnly`: it may be counted in the cell already, so only its max may change.
 */
function addTo(loaded: Loaded, r: LiveReading, maxOnly = false): boolean {
  const v = r.values?.[loaded.metric];
  if (v === undefined || typeof r.lat !== 'number' || typeof r.lon !== 'number') return false;
  const cell = geohash({ lat: r.lat, lon: r.lon }, Number(loaded.key.split('|')[3]));
  let f = loaded.features.find((c) => c.properties.cell === cell);
  if (!f) {
    const props: CellProps = { cell, mean: v, max: v, count: 0, devices: 1, band: null };
    f = { type: 'Feature', geometry: geohashPolygon(cell), properties: props };
    loaded.features.push(f);
  }
  const p = f.properties;
  if (!maxOnly) {
    p.mean = (p.mean * p.count + v) / (p.count + 1);
    p.count += 1;
  }
  p.max = Math.max(p.max, v);
  return true;
}
