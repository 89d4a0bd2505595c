import {
  MAX_RATE_PER_MIN,
  METRIC_NAMES,
  type Metric,
  type MetricValues,
  QUALITY_FLAGS,
  RH_HIGH,
} from '@citytel/contract';

/**
 * Quality flags that need what a device sent before (contract quality.ts): a metric `stuck` on one value
 * for `stuckReadings` readings in a row, and a `jump` of a quantity with inertia faster than it can change.
 * The state is a few numbers per device and metric, kept by the worker that reads the device's messages
 * (in cluster mode a device's messages may go to several workers: each then sees part of its readings,
 * so a stuck run is found later, never falsely). Lost on restart: the first readings after it start
 * new runs.
 */

export interface QualityOptions {
  /** Readings in a row with one value that flag `stuck` (0: never). */
  stuckReadings: number;
}

const K = METRIC_NAMES.length;
const RATE: Float64Array = Float64Array.from(METRIC_NAMES, (m) => MAX_RATE_PER_MIN[m] ?? Number.NaN);
const INDEX = new Map<string, number>(METRIC_NAMES.map((m, i) => [m, i]));

interface DeviceState {
  last: Float64Array;
  /** Time of `last`, per metric (NaN before any). */
  at: Float64Array;
  run: Int32Array;
}

export class QualityState {
  private readonly devices = new Map<string, DeviceState>();
  constructor(private readonly opts: QualityOptions) {}

  /**
   * The `stuck`, `jump` and `rh_high` flags of a reading of `device` at `ms`, after updating its state.
   * Readings are taken in the order they arrive: a late one (a time before the last) is flagged against
   * nothing and leaves the state as it was.
   */
  flags(device: string, values: MetricValues, ms: number): number {
    let s = this.devices.get(device);
    if (!s) {
      s = {
        last: new Float64Array(K).fill(Number.NaN),
        at: new Float64Array(K).fill(Number.NaN),
        run: new Int32Array(K),
      };
      this.devices.set(device, s);
    }
    let flags = 0;
    const stuckAt = this.opts.stuckReadings;
    // Keys in METRIC_NAMES order (as decoders make them) are found by a forward scan, as points.ts does;
    // any other order takes a lookup.
    const names = METRIC_NAMES;
    let next = 0;
    for (const m in values) {
      let i = next;
      while (i < K && names[i] !== m) i++;
      if (i === K) {
        const j = INDEX.get(m);
        if (j === undefined) continue;
        i = j;
      } else next = i + 1;
      const v = values[m as Metric];
      if (v === undefined) continue;
      const before = s.at[i]!;
      if (before > ms) continue;
      const last = s.last[i]!;
      if (v === last) {
        s.run[i]!++;
        if (stuckAt > 0 && s.run[i]! >= stuckAt) flags |= QUALITY_FLAGS.stuck;
      } else {
        s.run[i] = 1;
        const rate = RATE[i]!;
        // A minute at least between the two: the bound is per minute; noise over seconds is no jump.
        if (!Number.isNaN(rate) && !Number.isNaN(before)) {
          const minutes = Math.max((ms - before) / 60_000, 1);
          if (Math.abs(v - last) / minutes > rate) flags |= QUALITY_FLAGS.jump;
        }
      }
      s.last[i] = v;
      s.at[i] = ms;
    }
    const rh = values.humidity;
    if (rh !== undefined && rh >= RH_HIGH) flags |= QUALITY_FLAGS.rh_high;
    return flags;
  }

  /** Devices with state (for tests and the stats). */
  get size(): number {
    return this.devices.size;
  }
}
