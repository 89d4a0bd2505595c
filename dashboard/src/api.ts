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

/*
 * What a kit's page reads beyond the map. Each reader answers `undefined` when the api does not (yet)
 * serve it — a route missing (404), a member absent — so the page leaves that section out instead of
 * showing an error: the page works against an api older or newer than itself.
 */

export interface CitySeriesAnswer {
  metric: Metric;
  every: string;
  points: Array<{ t: string; v: number | null; kits: number }>;
}

export interface ProfileAnswer {
  device: string;
  metric: Metric;
  days: number;
  timeZone: string;
  hours: Array<{ hour: number; v: number | null; n: number }>;
}

/** One day's noise indicators of the END (Directive 2002/49/EC): Lden and Lnight in dB(A), local day. */
export interface NoiseDay {
  date: string;
  lden: number | null;
  lnight: number | null;
  /** The day lacked readings for a trustworthy value. */
  incomplete: boolean;
}

/** A measured value's quality, as the api flags it ("ok" when it says nothing is wrong). */
export type QualityFlags = string[];

/** A PM value corrected for humidity beside the measured one, with the method that made it. */
export interface Corrected {
  value: number;
  method: string | null;
}

const absent = (err: unknown) => err instanceof HttpError && (err.status === 404 || err.status === 400);

async function optional<T>(url: string, signal?: AbortSignal): Promise<T | undefined> {
  try {
    return await getJson<T>(url, signal ? { signal } : {});
  } catch (err) {
    if (absent(err)) return undefined;
    throw err;
  }
}

/** GET /api/v1/city/series: the city's median of `metric`, or undefined where the api has no such route. */
export async function citySeries(
  metric: Metric,
  from: string,
  every: string,
  signal?: AbortSignal,
): Promise<CitySeriesAnswer | undefined> {
  const a = await optional<CitySeriesAnswer>(`/api/v1/city/series?${query({ metric, from, every })}`, signal);
  return a && Array.isArray(a.points) ? a : undefined;
}

/** GET /api/v1/devices/{id}/profile: the kit's average day, or undefined. */
export async function hourProfile(
  id: string,
  metric: Metric,
  days: 7 | 30,
  timeZone: string,
  signal?: AbortSignal,
): Promise<ProfileAnswer | undefined> {
  const a = await optional<ProfileAnswer>(
    `/api/v1/devices/${encodeURIComponent(id)}/profile?${query({ metric, days, tz: timeZone })}`,
    signal,
  );
  return a && Array.isArray(a.hours) && a.hours.length === 24 ? a : undefined;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
/** A level given as a number, or as the api's period object `{level, hours, coverage, complete}`. */
const level = (v: unknown): number | null =>
  v !== null && typeof v === 'object' ? num((v as Record<string, unknown>).level) : num(v);

/**
 * GET /api/v1/devices/{id}/noise-indicators: daily Lden and Lnight of the last `days` days, or undefined
 * while the api does not compute them. Read loosely: `days` or `indicators`, `date` or `day`.
 */
export async function noiseIndicators(
  id: string,
  days: number,
  signal?: AbortSignal,
): Promise<NoiseDay[] | undefined> {
  const a = await optional<Record<string, unknown>>(
    // local dates, `to` (today) excluded by the api; a UTC date is the city's within a day
    `/api/v1/devices/${encodeURIComponent(id)}/noise-indicators?${query({
      from: new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10),
    })}`,
    signal,
  );
  const rows = (a?.days ?? a?.indicators) as Array<Record<string, unknown>> | undefined;
  if (!Array.isArray(rows)) return undefined;
  const out: NoiseDay[] = [];
  for (const r of rows) {
    const date = typeof r.date === 'string' ? r.date : typeof r.day === 'string' ? r.day : null;
    if (!date) continue;
    const flags = r.flags ?? r.flag;
    out.push({
      date: date.slice(0, 10),
      lden: level(r.lden ?? r.Lden),
      lnight: level(r.lnight ?? r.Lnight),
      incomplete: r.complete === false || r.incomplete === true || (Array.isArray(flags) && flags.length > 0),
    });
  }
  // a kit with no level in any period yet (new, or no noise sensor): nothing to draw
  return out.some((d) => d.lden !== null || d.lnight !== null) ? out : undefined;
}

/** The quality flags of a kit's latest value of `m`, when the api gives them. */
export function qualityOf(p: DeviceProps, m: Metric): QualityFlags | undefined {
  const all =
    (p as unknown as { flags?: Record<string, unknown>; quality?: Record<string, unknown> }).flags ??
    (p as unknown as { quality?: Record<string, unknown> }).quality;
  const f = all?.[m];
  if (Array.isArray(f)) return f.filter((x): x is string => typeof x === 'string');
  if (typeof f === 'string') return f === '' ? [] : f.split(',');
  return undefined;
}

/** The corrected value of a kit's latest PM reading, when the api gives one. */
export function correctedOf(p: DeviceProps, m: Metric): Corrected | undefined {
  const c = (p as unknown as { corrected?: Record<string, unknown> }).corrected?.[m];
  if (typeof c === 'number' && Number.isFinite(c)) return { value: c, method: null };
  if (c && typeof c === 'object') {
    const o = c as Record<string, unknown>;
    const v = num(o.value ?? o.v);
    if (v !== null) return { value: v, method: typeof o.method === 'string' ? o.method : null };
  }
  const flat = num((p.values as Record<string, unknown>)[`${m}_corrected`]);
  return flat === null ? undefined : { value: flat, method: null };
}
