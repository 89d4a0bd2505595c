import { implausibleTimeReason, isPlausibleTime } from '@citytel/contract';
import { type Outcome, prefixOf } from './outcome.ts';
import { nanos, type TimeSource } from './points.ts';
import type { QualityState } from './quality.ts';

/** A message's receive time and what resolving its readings' times needs: made once per message. */
export interface Clock {
  at: Date;
  /** `at` in epoch ms. */
  ms: number;
  source: 'broker' | 'ingest';
  /** Oldest device time taken, before `ms`. */
  maxAgeMs: number;
  /** The worker's per-device state of the flags that need history. */
  quality: QualityState;
}

/**
 * Which clock the i-th reading of a message takes its time from: the device's when plausible, else the
 * broker's stamp (CONTRACT §2; `resolveTime`), counted. The time is then the device's (`r.ts`), or the
 * clock's with the reading's index as nanoseconds (see `nanos`). A replaced device time is reported as a
 * field rejection so the kit's owner can see the clock drift. Returns the source only: nothing is
 * allocated for a reading.
 */
export function sourceOf(
  out: Outcome,
  r: { ts?: Date | undefined },
  i: number,
  many: boolean,
  clock: Clock,
): TimeSource {
  // `"ts":1e308` parses to an Invalid Date (NaN), which is not plausible.
  if (r.ts !== undefined && isPlausibleTime(r.ts.getTime(), clock.ms, clock.maxAgeMs)) {
    out.times.device++;
    return 'device';
  }
  if (r.ts) {
    const t = r.ts.getTime();
    out.fields.push({
      field: `${prefixOf(many, i)}ts`,
      reason: 'bad_time',
      detail: `device time ${Number.isNaN(t) ? 'invalid' : `${r.ts.toISOString()} is ${implausibleTimeReason(t, clock.ms, clock.maxAgeMs)}`}; receive time used`,
    });
  }
  out.times[clock.source]++;
  return clock.source;
}

/** The time of `sourceOf`, as line-protocol text (vehicle points, mobile kits). */
export function timeOf(out: Outcome, r: { ts?: Date | undefined }, i: number, many: boolean, clock: Clock) {
  const source = sourceOf(out, r, i, many, clock);
  return { time: source === 'device' ? nanos(r.ts!) : nanos(clock.at, i), source };
}
