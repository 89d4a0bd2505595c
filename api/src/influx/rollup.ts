import { MEASUREMENTS, METRIC_NAMES, type Metric, POSITION_FIELDS, READING_TAGS } from '@citytel/contract';
import type { Logger } from 'pino';
import type { InfluxQuery, InfluxSeries } from './client.ts';
import { ident, select, timeRange } from './influxql.ts';
import type { TierCoverage } from './plan.ts';
import { floorTo, iso } from './time.ts';

/**
 * The api's own rollup job: hourly and daily aggregates of `readings`, so that a 30-day map reads
 * thousands of points per series instead of millions.
 *
 * Why a job of the api rather than 1.x continuous queries: it needs only what all three InfluxDB lines
 * share (InfluxQL SELECT on /query and line protocol on /write; 2.x has no continuous queries and 3.x
 * neither), it backfills the history already stored at first start (a CQ only covers intervals after its
 * creation), and it knows exactly which hours it has completed, which the query planner (plan.ts) needs to
 * combine rollups with raw points and stay exact at the window edges. Rollups keep sums and counts, not
 * means, so that any number of buckets combine into an exact mean.
 *
 * The job reads raw points in one chunked pass per slice and aggregates them here: InfluxDB 1.x pays per
 * series and per field for every aggregate, and 60 aggregates over a city's mobile series cost it minutes
 * per day of data, where one pass over the points costs seconds. A whole day read at once gives its hours
 * and the day itself.
 *
 * Each run after an hour closes recomputes the last `latenessMs` of hours (and any day they reach into),
 * so readings that arrive late (kits that buffer while offline) are folded in; later than that, they are
 * in the raw data only. Several api instances may all run it: they write the same points, which InfluxDB
 * overwrites idempotently.
 */

export const HOUR = 3_600_000;
export const DAY = 86_400_000;

export const ROLLUP_MEASUREMENTS = { hour: 'readings_1h', day: 'readings_1d' } as const;

/** Rollup fields: `{metric}_sum|_count|_min|_max`, plus the sums of positions and the point count. */
export type RollupStat = 'sum' | 'count' | 'min' | 'max';
export const rollupField = (m: Metric | 'lat' | 'lon', stat: RollupStat): string => `${m}_${stat}`;
export const POINT_COUNT_FIELD = 'n';

const GROUP_TAGS = [READING_TAGS.device, READING_TAGS.kind, READING_TAGS.loc, READING_TAGS.geohash];

export interface RollupOptions {
  influx: InfluxQuery;
  log: Logger;
  /** Between checks for a newly closed hour (default 60 s). */
  intervalMs?: number;
  /** How long after an hour closes it is first aggregated: writes in flight land first (default 60 s). */
  settleMs?: number;
  /** Closed hours recomputed after each new one (default 2 h). */
  latenessMs?: number;
  now?: () => number;
}

export interface Rollups {
  /** What each tier holds completely right now; empty until the job has read its state. */
  coverage(): TierCoverage[];
  /** Reads the stored state, then runs every `intervalMs` until stopped. */
  start(): void;
  /** One run: catches up to the last closed hour (and day); nothing when no hour closed since the last. */
  runOnce(): Promise<void>;
  stop(): Promise<void>;
}

export function createRollups(opts: RollupOptions): Rollups {
  const { influx } = opts;
  const log = opts.log.child({ component: 'rollup' });
  const now = opts.now ?? Date.now;
  const intervalMs = opts.intervalMs ?? 60_000;
  const settleMs = opts.settleMs ?? 60_000;
  const latenessMs = opts.latenessMs ?? 2 * HOUR;

  /** Hours are complete in [hourFrom, hourTo); days in [ceilDay(hourFrom), dayTo). */
  let state: { hourFrom: number; hourTo: number; dayTo: number } | undefined;
  let lastTarget: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let failures = 0;

  const readState = async () => {
    const [first, last, lastDay, rawFirst] = await Promise.all([
      edgeTime(influx, 'first', POINT_COUNT_FIELD, ROLLUP_MEASUREMENTS.hour),
      edgeTime(influx, 'last', POINT_COUNT_FIELD, ROLLUP_MEASUREMENTS.hour),
      edgeTime(influx, 'last', POINT_COUNT_FIELD, ROLLUP_MEASUREMENTS.day),
      edgeTime(influx, 'first', POSITION_FIELDS.lat, MEASUREMENTS.readings),
    ]);
    if (first !== undefined && last !== undefined) {
      state = { hourFrom: first, hourTo: last + HOUR, dayTo: Math.max(ceilDay(first), (lastDay ?? 0) + DAY) };
    } else {
      const start = floorTo(rawFirst ?? now(), HOUR);
      state = { hourFrom: start, hourTo: start, dayTo: ceilDay(start) };
    }
    log.info({ from: iso(state.hourFrom), to: iso(state.hourTo) }, 'rollup state read');
  };

  const run = async () => {
    const target = floorTo(now() - settleMs, HOUR);
    if (target === lastTarget) return;
    if (!state) await readState();
    const s = state!;
    const metrics = await storedMetrics(influx);
    const startAt = Math.max(s.hourFrom, Math.min(s.hourTo, target) - latenessMs);
    const passedDays = new Set<number>();
    // Whole closed days in one pass each (the backfill, and catching up after a stop); hours otherwise.
    for (let a = startAt; a < target && !stopped; ) {
      const day = floorTo(a, DAY);
      const whole = a === day && day + DAY <= target;
      const b = whole ? day + DAY : Math.min(target, day + DAY);
      await pass(metrics, a, b, whole);
      s.hourTo = Math.max(s.hourTo, b);
      if (whole) {
        passedDays.add(day);
        s.dayTo = Math.max(s.dayTo, day + DAY);
      }
      a = b;
    }
    // Closed days the recomputed hours reach into, read again whole so that late readings count in them.
    for (
      let d = Math.max(ceilDay(s.hourFrom), floorTo(startAt, DAY));
      d + DAY <= target && !stopped;
      d += DAY
    ) {
      if (passedDays.has(d)) continue;
      await pass(metrics, d, d + DAY, true);
      s.dayTo = Math.max(s.dayTo, d + DAY);
    }
    if (!stopped) lastTarget = target;
  };

  /** Reads [from, to) once and writes its hourly rollups, and the daily one when it is a whole day. */
  const pass = async (metrics: Metric[], from: number, to: number, withDay: boolean) => {
    const hours = new Map<string, Acc>();
    const days = new Map<string, Acc>();
    const sql = select({
      fields: [...metrics, POSITION_FIELDS.lat, POSITION_FIELDS.lon].map(ident),
      from: MEASUREMENTS.readings,
      where: timeRange(from, to),
      groupBy: GROUP_TAGS,
    });
    for await (const chunk of influx.queryChunks(sql, { chunkSize: 20_000, timeoutMs: 600_000 })) {
      for (const series of chunk) accumulate(series, metrics, hours, withDay ? days : undefined);
    }
    await writeAll(influx, ROLLUP_MEASUREMENTS.hour, hours, metrics);
    if (withDay) await writeAll(influx, ROLLUP_MEASUREMENTS.day, days, metrics);
  };

  const tick = () => {
    running = run()
      .then(() => {
        if (failures > 0) log.info({ after: failures }, 'rollup recovered');
        failures = 0;
      })
      .catch((err: Error) => {
        // One line per outage, then one every 10 failures: InfluxDB down must not flood the log.
        if (failures++ % 10 === 0)
          log.warn({ err: err.message, failures }, 'rollup run failed; retrying next interval');
      })
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };

  return {
    coverage() {
      if (!state || state.hourTo <= state.hourFrom) return [];
      const tiers: TierCoverage[] = [
        { measurement: ROLLUP_MEASUREMENTS.hour, step: HOUR, from: state.hourFrom, to: state.hourTo },
      ];
      const dayFrom = ceilDay(state.hourFrom);
      if (dayFrom < state.dayTo)
        tiers.push({ measurement: ROLLUP_MEASUREMENTS.day, step: DAY, from: dayFrom, to: state.dayTo });
      return tiers;
    },
    start() {
      stopped = false;
      if (!timer && !running) tick();
    },
    async runOnce() {
      await running;
      await run();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}

const ceilDay = (ms: number): number => Math.ceil(ms / DAY) * DAY;

/** One rollup point being built: per metric sum, count, min, max; positions summed over all points. */
interface Acc {
  tags: string;
  t: number;
  sum: number[];
  count: number[];
  min: number[];
  max: number[];
  lat: number;
  lon: number;
  n: number;
}

function accumulate(
  series: InfluxSeries,
  metrics: Metric[],
  hours: Map<string, Acc>,
  days?: Map<string, Acc>,
): void {
  const tags = GROUP_TAGS.filter((t) => series.tags?.[t])
    .map((t) => `${t}=${escapeTag(series.tags![t]!)}`)
    .join(',');
  const col = (name: string) => series.columns.indexOf(name);
  const metricCols = metrics.map(col);
  const latCol = col(POSITION_FIELDS.lat);
  const lonCol = col(POSITION_FIELDS.lon);
  const bucket = (map: Map<string, Acc>, t: number): Acc => {
    const key = `${tags} ${t}`;
    let a = map.get(key);
    if (!a) {
      const k = metrics.length;
      a = {
        tags,
        t,
        sum: Array(k).fill(0),
        count: Array(k).fill(0),
        min: Array(k).fill(Infinity),
        max: Array(k).fill(-Infinity),
        lat: 0,
        lon: 0,
        n: 0,
      };
      map.set(key, a);
    }
    return a;
  };
  for (const row of series.values) {
    const t = row[0] as number;
    const accs = days
      ? [bucket(hours, floorTo(t, HOUR)), bucket(days, floorTo(t, DAY))]
      : [bucket(hours, floorTo(t, HOUR))];
    const lat = latCol >= 0 ? row[latCol] : undefined;
    const lon = lonCol >= 0 ? row[lonCol] : undefined;
    for (const a of accs) {
      if (typeof lat === 'number' && typeof lon === 'number') {
        a.lat += lat;
        a.lon += lon;
        a.n++;
      }
      for (let i = 0; i < metricCols.length; i++) {
        const v = metricCols[i]! >= 0 ? row[metricCols[i]!] : undefined;
        if (typeof v !== 'number') continue;
        a.sum[i]! += v;
        a.count[i]!++;
        if (v < a.min[i]!) a.min[i] = v;
        if (v > a.max[i]!) a.max[i] = v;
      }
    }
  }
}

async function writeAll(
  influx: InfluxQuery,
  measurement: string,
  accs: Map<string, Acc>,
  metrics: Metric[],
): Promise<void> {
  let lines: string[] = [];
  for (const a of accs.values()) {
    if (a.n === 0) continue;
    const fields: string[] = [];
    metrics.forEach((m, i) => {
      if (a.count[i] === 0) return;
      fields.push(
        `${rollupField(m, 'sum')}=${floatText(a.sum[i]!)}`,
        `${rollupField(m, 'count')}=${a.count[i]}i`,
        `${rollupField(m, 'min')}=${floatText(a.min[i]!)}`,
        `${rollupField(m, 'max')}=${floatText(a.max[i]!)}`,
      );
    });
    fields.push(
      `${rollupField('lat', 'sum')}=${floatText(a.lat)}`,
      `${rollupField('lon', 'sum')}=${floatText(a.lon)}`,
      `${POINT_COUNT_FIELD}=${a.n}i`,
    );
    lines.push(`${measurement}${a.tags ? `,${a.tags}` : ''} ${fields.join(',')} ${a.t}`);
    if (lines.length >= 5000) {
      await influx.write(lines.join('\n'), { timeoutMs: 120_000 });
      lines = [];
    }
  }
  if (lines.length) await influx.write(lines.join('\n'), { timeoutMs: 120_000 });
}

/** A float that line protocol reads back as a float, never as an integer. */
const floatText = (v: number): string => (Number.isInteger(v) ? `${v}.0` : String(v));

/** Line protocol tag values escape commas, spaces and equals signs. */
const escapeTag = (v: string): string => v.replace(/([,= \\])/g, '\\$1');

/** Time of the first or last value of `field`, or undefined when the measurement has none. */
async function edgeTime(influx: InfluxQuery, fn: 'first' | 'last', field: string, measurement: string) {
  const series = await influx.query(select({ fields: [`${fn}(${ident(field)})`], from: measurement }));
  const t = series[0]?.values[0]?.[0];
  return typeof t === 'number' ? t : undefined;
}

/** The metrics stored so far (reading absent fields would cost InfluxDB for nothing); all when it cannot say. */
async function storedMetrics(influx: InfluxQuery): Promise<Metric[]> {
  try {
    const series = await influx.query(`SHOW FIELD KEYS FROM ${ident(MEASUREMENTS.readings)}`);
    const present = new Set(series.flatMap((s) => s.values.map((v) => String(v[0]))));
    return METRIC_NAMES.filter((m) => present.has(m));
  } catch {
    return [...METRIC_NAMES];
  }
}
