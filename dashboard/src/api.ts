import type { Band, Metric } from '@citytel/contract';

/**
 * The api's public read shapes (CONTRACT §4; api/src/routes/*.ts), as far as the page uses them. Every
 * answer is read defensively: a missing member is treated as empty, never as a crash.
 */

export interface CellProps {
  cell: string;
  mean: number;
  max: number;
  count: number;
  devices: number;
  band: Band | null;
}
export type CellFeature = GeoJSON.Feature<GeoJSON.Polygon, CellProps>;
export interface MapAnswer {
  metric: Metric;
  unit: string;
  cell: number;
  window: string;
  from: string;
  to: string;
  features: CellFeature[];
}

export interface DeviceProps {
  id: string;
  kind: 'sck' | 'airrohr' | 'native' | 'vehicle';
  name: string | null;
  mobile: boolean;
  indoor: boolean;
  lastSeen: string | null;
  valuesAt: string | null;
  values: Partial<Record<Metric, number>>;
  bands: Partial<Record<Metric, Band>>;
  vehicle?: Record<string, number | boolean>;
}
export interface DeviceFeature {
  type: 'Feature';
  id: string;
  geometry: GeoJSON.Point | null;
  properties: DeviceProps;
}

export interface SeriesAnswer {
  device: string;
  metric: Metric;
  fn: string;
  every: string;
  unit?: string;
  points: Array<{ t: string; v: number | null }>;
}

/** `reading` event of GET /api/v1/stream. */
export interface LiveReading {
  device: string;
  kind: DeviceProps['kind'];
  t: string;
  lat: number | null;
  lon: number | null;
  values: Partial<Record<Metric, number>>;
  bands?: Partial<Record<Metric, Band>>;
}

/** `vehicle` event of GET /api/v1/stream: telemetry or a status change. */
export interface LiveVehicle {
  vehicle: string;
  t: string;
  lat?: number;
  lon?: number;
  online?: boolean;
  locked?: boolean;
  [field: string]: unknown;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Where the api is: the page's own origin unless `?api=` says otherwise (a dashboard served apart). */
export const API_BASE = (new URLSearchParams(location.search).get('api') ?? '').replace(/\/$/, '');

/**
 * GET a JSON document; gives up after `timeoutMs` (an unreachable server never hangs the page) or when
 * `signal` aborts. A non-2xx answer throws HttpError with the api's error message.
 */
export async function getJson<T>(
  url: string,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<T> {
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? 15_000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const full = url.startsWith('/api/') ? `${API_BASE}${url}` : url;
  const r = await fetch(full, { signal, headers: { Accept: 'application/json' } });
  if (!r.ok) {
    const body = (await r.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
    throw new HttpError(r.status, body?.error?.message ?? `${r.status} ${r.statusText}`);
  }
  return (await r.json()) as T;
}

export const isAbort = (err: unknown): boolean => err instanceof DOMException && err.name === 'AbortError';

export const query = (params: Record<string, string | number | undefined>): string => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  return q.toString();
};
