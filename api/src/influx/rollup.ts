import { MEASUREMENTS, METRIC_NAMES, type Metric, POSITION_FIELDS } from '@citytel/contract';
import type { Logger } from 'pino';
import type { InfluxQuery } from './client.ts';
import { ident, select, timeRange } from './influxql.ts';
import type { TierCoverage } from './plan.ts';
import { GROUP_TAGS, POINT_COUNT_FIELD, passFields, Rollup } from './rollup-build.ts';
import { floorTo, iso } from './time.ts';

export {
  correctedMapField,
  correctionMethodsField,
  type MapEntry,
  MOBILE_CELL_LENGTH,
  POINT_COUNT_FIELD,
  POSITION_LENGTH,
  parseMapEntries,
  type RollupStat,
  rollupField,
} from './rollup-build.ts';

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
export const MAP_MEASUREMENTS = { hour: 'map_1h', day: 'map_1d' } as const;

/**
 * InfluxDB 1.x pays for every series in every shard a query touches, and its default shard groups span a
 * week: rollups go to a retention policy of their own whose shards span ten years, so a 30-day map reads
 * one shard. On 2.x and 3.x the statement is refused and the rollups go to the bucket itself.
 */
export const ROLLUP_RP = 'citytel_rollups';

/**
 * Version of what the rollups hold, kept in `rollup_meta`. Version 2: levels in dB summed as energy.
 * Version 3: the map's PM also by corrected value where a reading has one (`{metric}_cx`, `_cm`). At
 * start a job finding rollups of an older version drops them and rebuilds them from the raw readings (its
 * backfill), since a packed map sum cannot tell which scale it was added on.
 */
export const ROLLUP_VERSION = 3;
export const ROLLUP_META = 'rollup_meta';

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
  let state: { hourFrom: number; hourTo: number; dayTo: number; rp: string | undefined } | undefined;
  let lastTarget: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let failures = 0;

  const readState = async () => {
    const rp = await rollupRetentionPolicy(influx);
    await upgradeRollups(influx, rp, log, now());
    const [first, last, lastDay, rawFirst] = await Promise.all([
      edgeTime(influx, 'first', POINT_COUNT_FIELD, ROLLUP_MEASUREMENTS.hour, rp),
      edgeTime(influx, 'last', POINT_COUNT_FIELD, ROLLUP_MEASUREMENTS.hour, rp),
      edgeTime(influx, 'last', POINT_COUNT_FIELD, ROLLUP_MEASUREMENTS.day, rp),
      edgeTime(influx, 'first', POSITION_FIELDS.lat, MEASUREMENTS.readings),
    ]);
    if (first !== undefined && last !== undefined) {
      state = {
        hourFrom: first,
        hourTo: last + HOUR,
        dayTo: Math.max(ceilDay(first), (lastDay ?? 0) + DAY),
        rp,
      };
    } else {
      const start = floorTo(rawFirst ?? now(), HOUR);
      state = { hourFrom: start, hourTo: start, dayTo: ceilDay(start), rp };
    }
    log.info(
      { from: iso(state.hourFrom), to: iso(state.hourTo), rp: rp ?? '(default)' },
      'rollup state read',
    );
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

  /** Reads [from, to) once and writes its hourly rollups, and the daily ones when it is a whole day. */
  const pass = async (metrics: Metric[], from: number, to: number, withDay: boolean) => {
    const hours = new Rollup(metrics);
    const days = withDay ? new Rollup(metrics) : undefined;
    const sql = select({
      fields: passFields(metrics).map(ident),
      from: MEASUREMENTS.readings,
      where: timeRange(from, to),
      groupBy: GROUP_TAGS,
    });
    for await (const chunk of influx.queryChunks(sql, { chunkSize: 20_000, timeoutMs: 600_000 })) {
      for (const series of chunk) {
        hours.add(series, HOUR);
        days?.add(series, DAY);
      }
    }
    const rp = state?.rp;
    await writeLines(influx, hours.lines(ROLLUP_MEASUREMENTS.hour, MAP_MEASUREMENTS.hour), rp);
    if (days) await writeLines(influx, days.lines(ROLLUP_MEASUREMENTS.day, MAP_MEASUREMENTS.day), rp);
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
      const { rp } = state;
      const tiers: TierCoverage[] = [
        { ...tier('hour', rp), step: HOUR, from: state.hourFrom, to: state.hourTo },
      ];
      const dayFrom = ceilDay(state.hourFrom);
      if (dayFrom < state.dayTo)
        tiers.push({ ...tier('day', rp), step: DAY, from: dayFrom, to: state.dayTo });
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

const tier = (t: 'hour' | 'day', rp: string | undefined) => ({
  measurement: ROLLUP_MEASUREMENTS[t],
  map: MAP_MEASUREMENTS[t],
  ...(rp ? { rp } : {}),
});

async function writeLines(
  influx: InfluxQuery,
  lines: Iterable<string>,
  rp: string | undefined,
): Promise<void> {
  let batch: string[] = [];
  for (const line of lines) {
    batch.push(line);
    if (batch.length >= 5000) {
      await influx.write(batch.join('\n'), { timeoutMs: 120_000, rp });
      batch = [];
    }
  }
  if (batch.length) await influx.write(batch.join('\n'), { timeoutMs: 120_000, rp });
}

/** The rollups' retention policy on 1.x (created if missing); undefined where the server has none (2.x, 3.x). */
async function rollupRetentionPolicy(influx: InfluxQuery): Promise<string | undefined> {
  try {
    await influx.query(
      `CREATE RETENTION POLICY ${ident(ROLLUP_RP)} ON ${ident(influx.db)} DURATION INF REPLICATION 1 SHARD DURATION 520w`,
    );
    return ROLLUP_RP;
  } catch {
    return undefined;
  }
}

/**
 * Drops rollups written before ROLLUP_VERSION (the job then rebuilds them from raw readings) and records
 * the version. Nothing is dropped on a database without rollups; the raw readings are never touched.
 */
async function upgradeRollups(
  influx: InfluxQuery,
  rp: string | undefined,
  log: Logger,
  at: number,
): Promise<void> {
  const versions = await influx.query(
    select({ fields: [`last(${ident('version')})`], from: ROLLUP_META, rp }),
  );
  const stored = versions[0]?.values[0]?.[1];
  if (typeof stored === 'number' && stored >= ROLLUP_VERSION) return;
  const any = await edgeTime(influx, 'last', POINT_COUNT_FIELD, ROLLUP_MEASUREMENTS.hour, rp);
  if (any !== undefined) {
    log.warn({ from: stored ?? 1, to: ROLLUP_VERSION }, 'rollups of an older version dropped; rebuilding');
    for (const m of [...Object.values(ROLLUP_MEASUREMENTS), ...Object.values(MAP_MEASUREMENTS)])
      await influx.query(`DROP MEASUREMENT ${ident(m)}`);
  }
  // Stamped now, not at 0: a 2.x bucket's retention would refuse a point from 1970.
  await influx.write(`${ROLLUP_META} version=${ROLLUP_VERSION}i ${at}`, { timeoutMs: 30_000, rp });
}

/** Time of the first or last value of `field`, or undefined when the measurement has none. */
async function edgeTime(
  influx: InfluxQuery,
  fn: 'first' | 'last',
  field: string,
  measurement: string,
  rp?: string,
) {
  const series = await influx.query(select({ fields: [`${fn}(${ident(field)})`], from: measurement, rp }));
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
