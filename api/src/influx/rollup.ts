import { MEASUREMENTS, METRIC_NAMES, type Metric, POSITION_FIELDS, READING_TAGS } from '@citytel/contract';
import type { Logger } from 'pino';
import { type InfluxQuery, type InfluxSeries, rowsOf } from './client.ts';
import { as, ident, select, timeRange } from './influxql.ts';
import type { TierCoverage } from './plan.ts';
import { floorTo, iso } from './time.ts';

/**
 * The api's own rollup job: hourly and daily aggregates of `readings`, so that a 30-day map reads
 * thousands of points instead of millions.
 *
 * Why a job of the api rather than 1.x continuous queries: it needs only what all three InfluxDB lines
 * share (InfluxQL SELECT on /query and line protocol on /write; 2.x has no continuous queries and 3.x
 * neither), it backfills the history already stored at first start (a CQ only covers intervals after its
 * creation), and it knows exactly which hours it has completed, which the query planner (plan.ts) needs to
 * combine rollups with raw points and stay exact at the window edges. Rollups keep sums and counts, not
 * means, so that any number of buckets combine into an exact mean.
 *
 * Each run recomputes the last `latenessMs` of closed hours, so readings that arrive late (kits that
 * buffer while offline) are folded in; later than that, they are in the raw data only. Several api
 * instances may all run it: they write the same points, which InfluxDB overwrites idempotently.
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
  /** Between runs (default 60 s). */
  intervalMs?: number;
  /** How long after an hour closes it is first aggregated: writes in flight land first (default 60 s). */
  settleMs?: number;
  /** Closed hours recomputed on every run (default 2 h). */
  latenessMs?: number;
  /** Hours aggregated per query while catching up (default 24). */
  sliceHours?: number;
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
  const sliceMs = (opts.sliceHours ?? 24) * HOUR;

  /** Hours are complete in [hourFrom, hourTo); days in [dayFrom, dayTo). */
  let state: { hourFrom: number; hourTo: number } | undefined;
  let metrics: Metric[] = [...METRIC_NAMES];
  let lastTarget: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let failures = 0;

  const readState = async () => {
    const [first, last, rawFirst] = await Promise.all([
      edgeTime(influx, 'first', POINT_COUNT_FIELD, ROLLUP_MEASUREMENTS.hour),
      edgeTime(influx, 'last', POINT_COUNT_FIELD, ROLLUP_MEASUREMENTS.hour),
      edgeTime(influx, 'first', POSITION_FIELDS.lat, MEASUREMENTS.readings),
    ]);
    if (first !== undefined && last !== undefined) {
      state = { hourFrom: first, hourTo: last + HOUR };
    } else {
      const start = floorTo(rawFirst ?? now(), HOUR);
      state = { hourFrom: start, hourTo: start };
    }
    log.info({ from: iso(state.hourFrom), to: iso(state.hourTo) }, 'rollup state read');
  };

  const run = async () => {
    // Nothing to do until another hour has closed: each hour costs InfluxDB one pass over its points.
    const target = floorTo(now() - settleMs, HOUR);
    if (target === lastTarget) return;
    if (!state) await readState();
    const s = state!;
    // Only the metrics stored so far: aggregates of absent fields would cost InfluxDB for nothing.
    const present = await fieldKeys(influx, MEASUREMENTS.readings);
    if (present) metrics = METRIC_NAMES.filter((m) => present.has(m));
    // In slices, so that a restart after a long stop, or a first start on years of data, resumes where it
    // was and the coverage grows as it goes. The last `latenessMs` of closed hours are done again.
    const startAt = Math.max(s.hourFrom, Math.min(s.hourTo, target) - latenessMs);
    for (let a = startAt; a < target && !stopped; a += sliceMs) {
      const b = Math.min(target, a + sliceMs);
      await aggregateHours(a, b);
      s.hourTo = Math.max(s.hourTo, b);
      const dayFrom = Math.max(ceilDay(s.hourFrom), floorTo(a, DAY));
      const dayTo = floorTo(s.hourTo, DAY);
      if (dayFrom < dayTo) await aggregateDays(dayFrom, dayTo);
    }
    if (!stopped) lastTarget = target;
  };

  const aggregateHours = async (from: number, to: number) => {
    const fields: string[] = [];
    for (const m of metrics) {
      fields.push(
        as(`sum(${ident(m)})`, rollupField(m, 'sum')),
        as(`count(${ident(m)})`, rollupField(m, 'count')),
        as(`min(${ident(m)})`, rollupField(m, 'min')),
        as(`max(${ident(m)})`, rollupField(m, 'max')),
      );
    }
    fields.push(
      as(`sum(${ident(POSITION_FIELDS.lat)})`, rollupField('lat', 'sum')),
      as(`sum(${ident(POSITION_FIELDS.lon)})`, rollupField('lon', 'sum')),
      as(`count(${ident(POSITION_FIELDS.lat)})`, POINT_COUNT_FIELD),
    );
    const q = select({
      fields,
      from: MEASUREMENTS.readings,
      where: timeRange(from, to),
      groupBy: [{ time: HOUR }, ...GROUP_TAGS],
      fill: 'none',
    });
    await writeRollup(ROLLUP_MEASUREMENTS.hour, await influx.query(q, { timeoutMs: 120_000 }));
  };

  const aggregateDays = async (from: number, to: number) => {
    const fields: string[] = [];
    for (const m of metrics) {
      for (const stat of ['sum', 'count', 'min', 'max'] as const) {
        const f = rollupField(m, stat);
        fields.push(as(`${stat === 'count' ? 'sum' : stat}(${ident(f)})`, f));
      }
    }
    for (const f of [rollupField('lat', 'sum'), rollupField('lon', 'sum'), POINT_COUNT_FIELD]) {
      fields.push(as(`sum(${ident(f)})`, f));
    }
    const q = select({
      fields,
      from: ROLLUP_MEASUREMENTS.hour,
      where: timeRange(from, to),
      groupBy: [{ time: DAY }, ...GROUP_TAGS],
      fill: 'none',
    });
    await writeRollup(ROLLUP_MEASUREMENTS.day, await influx.query(q, { timeoutMs: 120_000 }));
  };

  const writeRollup = async (measurement: string, series: InfluxSeries[]) => {
    let lines: string[] = [];
    for (const s of series) {
      const tags = GROUP_TAGS.filter((t) => s.tags?.[t])
        .map((t) => `${t}=${escapeTag(s.tags![t]!)}`)
        .join(',');
      for (const row of rowsOf(s)) {
        const line = rollupLine(measurement, tags, row);
        if (line) lines.push(line);
        if (lines.length >= 5000) {
          await influx.write(lines.join('\n'));
          lines = [];
        }
      }
    }
    if (lines.length) await influx.write(lines.join('\n'));
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
      const dayFrom = ceilDay(state.hourFrom);
      const dayTo = floorTo(state.hourTo, DAY);
      const tiers: TierCoverage[] = [
        { measurement: ROLLUP_MEASUREMENTS.hour, step: HOUR, from: state.hourFrom, to: state.hourTo },
      ];
      if (dayFrom < dayTo)
        tiers.push({ measurement: ROLLUP_MEASUREMENTS.day, step: DAY, from: dayFrom, to: dayTo });
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

/** One rollup point in line protocol; counts are integers, every other field a float. */
function rollupLine(measurement: string, tags: string, row: Record<string, unknown>): string | undefined {
  const fields: string[] = [];
  for (const [k, v] of Object.entries(row)) {
    if (k === 'time' || typeof v !== 'number' || !Number.isFinite(v)) continue;
    if (k.endsWith('_count') || k === POINT_COUNT_FIELD) {
      if (v > 0 || k === POINT_COUNT_FIELD) fields.push(`${k}=${Math.round(v)}i`);
    } else fields.push(`${k}=${floatText(v)}`);
  }
  if (!fields.length || typeof row.time !== 'number') return undefined;
  return `${measurement}${tags ? `,${tags}` : ''} ${fields.join(',')} ${row.time}`;
}

/** A float that line protocol reads back as a float (never `5i`, never exponent-less surprises). */
const floatText = (v: number): string => (Number.isInteger(v) ? `${v}.0` : String(v));

/** Line protocol tag values escape commas, spaces and equals signs. */
const escapeTag = (v: string): string => v.replace(/([,= \\])/g, '\\$1');

/** Time of the first or last value of `field`, or undefined when the measurement has none. */
async function edgeTime(influx: InfluxQuery, fn: 'first' | 'last', field: string, measurement: string) {
  const series = await influx.query(select({ fields: [`${fn}(${ident(field)})`], from: measurement }));
  const t = series[0]?.values[0]?.[0];
  return typeof t === 'number' ? t : undefined;
}

/** Field names stored in a measurement, or undefined when the server cannot say (the job then asks for all). */
async function fieldKeys(influx: InfluxQuery, measurement: string): Promise<Set<string> | undefined> {
  try {
    const series = await influx.query(`SHOW FIELD KEYS FROM ${ident(measurement)}`);
    return new Set(series.flatMap((s) => s.values.map((v) => String(v[0]))));
  } catch {
    return undefined;
  }
}
