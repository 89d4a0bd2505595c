import {
  correctedField,
  geohash,
  isDbMetric,
  levelToEnergy,
  type Metric,
  PM_CORRECTION_FIELD,
  POSITION_FIELDS,
  READING_TAGS,
  STORED_GEOHASH_LENGTH,
} from '@citytel/contract';
import type { InfluxSeries } from './client.ts';
import { type CorrectedMetric, isCorrectedMetric, methodOf } from './map-points.ts';
import { publicPosition } from './public-position.ts';
import { floorTo } from './time.ts';

/** What the rollups hold and how one pass over raw points builds them (the job is in rollup.ts). */
/**
 * Two rollups, both written from one pass over the raw points:
 * - per device (`readings_1h|1d`, tags device, kind, loc; fields `{metric}_sum|_count|_min|_max` and `n`,
 *   the points): the series endpoint reads them by device;
 * - per 6-cell (`map_1h|1d`, tag `gh`; one string field per metric, `n`): the map. InfluxDB 1.x's cost
 *   grows with series × fields × shards, and a city's cars add a series for every cell they visit, so the
 *   map's rollup is packed: one row per 6-cell and bucket lists, `;`-separated,
 *   `d|{device}|{pos}|{sum}|{count}|{max}` for each kit that does not move (`pos`: geohash of length 9 of
 *   its public position, indoor kits at their 7-cell centre) and `m|{7-cell}|{sum}|{count}|{max}|{devices}`
 *   for mobile readings by the 7-cell they were taken in. A 30-day whole-city map reads ~150 series.
 */
export type RollupStat = 'sum' | 'count' | 'min' | 'max';
/**
 * A level in dB (noise) is summed as energy, 10^(L/10), so that buckets combine into an exact energy mean
 * (ISO 1996-1; contract levels.ts): its sum field is `{metric}_esum`, and the sums in its packed map
 * entries are sums of energy.
 */
export const rollupField = (m: Metric, stat: RollupStat): string =>
  stat === 'sum' && isDbMetric(m) ? `${m}_esum` : `${m}_${stat}`;

export const POINT_COUNT_FIELD = 'n';
export const POSITION_LENGTH = 9;
export const MOBILE_CELL_LENGTH = 7;

/** Tags of the raw series a pass reads, and of the per-device rollups. */
export const GROUP_TAGS = [READING_TAGS.device, READING_TAGS.kind, READING_TAGS.loc];

/**
 * PM as the map serves it (version 3): each reading by its humidity-corrected value where it has one, its
 * measured value otherwise, packed like a metric in `{metric}_cx` with one more number per entry, the
 * readings counted corrected (`d|…|{max}|{corrected}`, `m|…|{devices}|{corrected}`), and the methods of
 * those in `{metric}_cm` (`id@version`, comma-separated): a 30-day map is as exact as a 1-hour one.
 */
export const correctedMapField = (m: CorrectedMetric): string => `${m}_cx`;
export const correctionMethodsField = (m: CorrectedMetric): string => `${m}_cm`;

/** The raw fields a pass reads: the metrics, the position, and the corrected PM with its method. */
export function passFields(metrics: readonly Metric[]): string[] {
  const corrected = metrics.filter(isCorrectedMetric);
  return [
    ...metrics,
    POSITION_FIELDS.lat,
    POSITION_FIELDS.lon,
    ...corrected.map(correctedField),
    ...(corrected.length ? [PM_CORRECTION_FIELD] : []),
  ];
}

/** Sum, count, min and max of each metric, and the points, of one rollup entry being built. */
class Stats {
  n = 0;
  readonly sum: number[];
  readonly count: number[];
  readonly min: number[];
  readonly max: number[];
  /** Values counted by their corrected value (the `_cx` slots). */
  readonly corrected: number[];
  constructor(k: number) {
    this.corrected = Array(k).fill(0);
    this.sum = Array(k).fill(0);
    this.count = Array(k).fill(0);
    this.min = Array(k).fill(Number.POSITIVE_INFINITY);
    this.max = Array(k).fill(Number.NEGATIVE_INFINITY);
  }

  /** Adds value `v`, whose summand (itself, or its energy for a level in dB) is `s`. */
  add(i: number, v: number, s: number): void {
    this.sum[i]! += s;
    this.count[i]!++;
    if (v < this.min[i]!) this.min[i] = v;
    if (v > this.max[i]!) this.max[i] = v;
  }
}

/** One 6-cell in one bucket: its fixed kits by device and position, its mobile readings by 7-cell. */
interface MapCell {
  gh: string;
  t: number;
  n: number;
  fixed: Map<string, Stats>;
  mobile: Map<string, { stats: Stats; devices: Array<Set<string>> }>;
  /** Correction methods seen, by `_cx` slot. */
  methods: Map<number, Set<string>>;
}

/** Per-device and per-cell statistics of one pass, by bucket. */
export class Rollup {
  private readonly devices = new Map<string, { tags: string; t: number; stats: Stats }>();
  private readonly cells = new Map<string, MapCell>();
  private readonly db: boolean[];
  /** The `_cx` slots, after the metrics' own: each a corrected metric and its index among the metrics. */
  private readonly cx: Array<{ m: CorrectedMetric; i: number }>;
  constructor(private readonly metrics: Metric[]) {
    this.db = metrics.map(isDbMetric);
    this.cx = metrics.flatMap((m, i) => (isCorrectedMetric(m) ? [{ m, i }] : []));
  }

  add(series: InfluxSeries, step: number): void {
    const tags = series.tags ?? {};
    const device = tags[READING_TAGS.device] ?? '';
    const loc = tags[READING_TAGS.loc] ?? '';
    const mobile = loc === 'mobile';
    const deviceTags = GROUP_TAGS.filter((t) => tags[t])
      .map((t) => `${t}=${escapeTag(tags[t]!)}`)
      .join(',');
    const k = this.metrics.length;
    const slots = k + this.cx.length;
    const col = (name: string) => series.columns.indexOf(name);
    const metricCols = this.metrics.map(col);
    const cxCols = this.cx.map(({ m }) => col(correctedField(m)));
    const pmcCol = col(PM_CORRECTION_FIELD);
    const latCol = col(POSITION_FIELDS.lat);
    const lonCol = col(POSITION_FIELDS.lon);
    for (const row of series.values) {
      const t = floorTo(row[0] as number, step);
      const d = this.entry(this.devices, `${deviceTags} ${t}`, () => ({
        tags: deviceTags,
        t,
        stats: new Stats(slots),
      })).stats;
      d.n++;
      const lat = row[latCol];
      const lon = row[lonCol];
      let place: Stats | undefined;
      let seen: Array<Set<string>> | undefined;
      let cell: MapCell | undefined;
      if (typeof lat === 'number' && typeof lon === 'number') {
        const p = mobile ? { lat, lon } : publicPosition({ lat, lon }, loc);
        const fine = geohash(p, mobile ? MOBILE_CELL_LENGTH : POSITION_LENGTH);
        const gh = fine.slice(0, STORED_GEOHASH_LENGTH);
        cell = this.entry(this.cells, `${gh} ${t}`, () => ({
          gh,
          t,
          n: 0,
          fixed: new Map(),
          mobile: new Map(),
          methods: new Map(),
        }));
        cell.n++;
        if (mobile) {
          const m = this.entry(cell.mobile, fine, () => ({
            stats: new Stats(slots),
            devices: Array.from({ length: slots }, () => new Set<string>()),
          }));
          place = m.stats;
          seen = m.devices;
        } else place = this.entry(cell.fixed, `${device}|${fine}`, () => new Stats(slots));
      }
      for (let i = 0; i < k; i++) {
        const v = metricCols[i]! >= 0 ? row[metricCols[i]!] : undefined;
        if (typeof v !== 'number') continue;
        const e = this.db[i] ? levelToEnergy(v) : v;
        d.add(i, v, e);
        place?.add(i, v, e);
        seen?.[i]?.add(device);
      }
      if (!place || !cell) continue;
      for (let j = 0; j < this.cx.length; j++) {
        const i = metricCols[this.cx[j]!.i]!;
        const measured = i >= 0 ? row[i] : undefined;
        if (typeof measured !== 'number') continue;
        const c = cxCols[j]! >= 0 ? row[cxCols[j]!] : undefined;
        const method = typeof c === 'number' ? methodOf(row[pmcCol]) : undefined;
        const v = method !== undefined ? (c as number) : measured;
        place.add(k + j, v, v);
        seen?.[k + j]?.add(device);
        if (method === undefined) continue;
        place.corrected[k + j]!++;
        this.entry(cell.methods, j, () => new Set<string>()).add(method);
      }
    }
  }

  *lines(deviceMeasurement: string, mapMeasurement: string): Generator<string> {
    for (const { tags, t, stats: s } of this.devices.values()) {
      const fields: string[] = [];
      this.metrics.forEach((m, i) => {
        if (s.count[i] === 0) return;
        fields.push(
          `${rollupField(m, 'sum')}=${floatText(s.sum[i]!)}`,
          `${rollupField(m, 'count')}=${s.count[i]}i`,
          `${rollupField(m, 'min')}=${floatText(s.min[i]!)}`,
          `${rollupField(m, 'max')}=${floatText(s.max[i]!)}`,
        );
      });
      fields.push(`${POINT_COUNT_FIELD}=${s.n}i`);
      yield `${deviceMeasurement},${tags} ${fields.join(',')} ${t}`;
    }
    for (const c of this.cells.values()) {
      const fields: string[] = [];
      this.metrics.forEach((m, i) => {
        const entries: string[] = [];
        for (const [key, s] of c.fixed) {
          if (s.count[i]) entries.push(`d|${key}|${s.sum[i]}|${s.count[i]}|${s.max[i]}`);
        }
        for (const [cell, { stats: s, devices }] of c.mobile) {
          if (s.count[i]) entries.push(`m|${cell}|${s.sum[i]}|${s.count[i]}|${s.max[i]}|${devices[i]!.size}`);
        }
        if (entries.length) fields.push(`${m}="${entries.join(';')}"`);
      });
      this.cx.forEach(({ m }, j) => {
        const i = this.metrics.length + j;
        const entries: string[] = [];
        for (const [key, s] of c.fixed) {
          if (s.count[i]) entries.push(`d|${key}|${s.sum[i]}|${s.count[i]}|${s.max[i]}|${s.corrected[i]}`);
        }
        for (const [cell, { stats: s, devices }] of c.mobile) {
          if (s.count[i])
            entries.push(
              `m|${cell}|${s.sum[i]}|${s.count[i]}|${s.max[i]}|${devices[i]!.size}|${s.corrected[i]}`,
            );
        }
        if (entries.length) fields.push(`${correctedMapField(m)}="${entries.join(';')}"`);
        const methods = c.methods.get(j);
        if (methods?.size)
          fields.push(`${correctionMethodsField(m)}="${[...methods].sort().join(',').replace(/"/g, '')}"`);
      });
      fields.push(`${POINT_COUNT_FIELD}=${c.n}i`);
      yield `${mapMeasurement},gh=${c.gh} ${fields.join(',')} ${c.t}`;
    }
  }

  private entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
    let v = map.get(key);
    if (v === undefined) {
      v = make();
      map.set(key, v);
    }
    return v;
  }
}

/** One entry of a packed map rollup (see the schema above). */
export type MapEntry =
  | { kind: 'd'; device: string; pos: string; sum: number; count: number; max: number; corrected: number }
  | {
      kind: 'm';
      cell: string;
      sum: number;
      count: number;
      max: number;
      devices: number;
      corrected: number;
    };

export function parseMapEntries(text: string): MapEntry[] {
  const out: MapEntry[] = [];
  for (const e of text.split(';')) {
    const p = e.split('|');
    // A `_cx` entry has one more number: the readings counted corrected.
    if (p[0] === 'd' && (p.length === 6 || p.length === 7)) {
      out.push({
        kind: 'd',
        device: p[1]!,
        pos: p[2]!,
        sum: Number(p[3]),
        count: Number(p[4]),
        max: Number(p[5]),
        corrected: p.length === 7 ? Number(p[6]) : 0,
      });
    } else if (p[0] === 'm' && (p.length === 6 || p.length === 7)) {
      out.push({
        kind: 'm',
        cell: p[1]!,
        sum: Number(p[2]),
        count: Number(p[3]),
        max: Number(p[4]),
        devices: Number(p[5]),
        corrected: p.length === 7 ? Number(p[6]) : 0,
      });
    }
  }
  return out;
}

/** A float that line protocol reads back as a float, never as an integer. */
const floatText = (v: number): string => (Number.isInteger(v) ? `${v}.0` : String(v));

/** Line protocol tag values escape commas, spaces and equals signs. */
const escapeTag = (v: string): string => v.replace(/([,= \\])/g, '\\$1');
