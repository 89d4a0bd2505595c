import type { Metric } from '@citytel/contract';
import { getJson, query } from './api.ts';
import { NO_VALUE_COLOR, shadeFor } from './scale.ts';

/** How far back a mobile kit's or car's track goes, and the gap past which it is not joined up. */
const TRACK_FROM = '-2h';
const MAX_GAP_MS = 10 * 60_000;

type ExportPoint = GeoJSON.Feature<GeoJSON.Point, Record<string, unknown> & { time?: string }>;

/**
 * The recent track of a device that moves, from the open-data export (one position per minute), as line
 * segments each coloured by the band of the value measured at its end.
 */
export async function loadTrack(
  device: string,
  metric: Metric,
  signal: AbortSignal,
): Promise<GeoJSON.FeatureCollection> {
  const params = query({ device, metric, from: TRACK_FROM, every: '1m', format: 'geojson' });
  const fc = await getJson<{ features?: ExportPoint[] }>(`/api/v1/export?${params}`, {
    signal,
    timeoutMs: 20_000,
  });
  const pts = (fc.features ?? [])
    .filter((f) => f?.geometry?.type === 'Point' && typeof f.properties?.time === 'string')
    .map((f) => ({ t: Date.parse(f.properties.time!), at: f.geometry.coordinates, v: f.properties[metric] }))
    .sort((a, b) => a.t - b.t);
  const features: GeoJSON.Feature[] = [];
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]!;
    const b = pts[i]!;
    if (b.t - a.t > MAX_GAP_MS) continue;
    const v = typeof b.v === 'number' ? b.v : undefined;
    features.push({
      type: 'Feature',
      geometry: { type: 'LineString', coordinates: [a.at, b.at] },
      properties: { color: shadeFor(metric, v)?.color ?? NO_VALUE_COLOR },
    });
  }
  return { type: 'FeatureCollection', features };
}
