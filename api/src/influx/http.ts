import { isDbMetric, type Metric, meanOfSum } from '@citytel/contract';
import { ApiError } from '../errors.ts';
import { InfluxError } from './client.ts';

/**
 * InfluxDB down or slow is a 503 the client may retry; a statement InfluxDB refused is our bug and stays a
 * 500 (logged by the error handler with the statement's error).
 */
export function influxFailure(err: unknown): unknown {
  if (err instanceof InfluxError && err.kind === 'missing') {
    return new ApiError('unavailable', err.message, { cause: err });
  }
  if (err instanceof InfluxError && err.kind !== 'query') {
    return new ApiError('unavailable', `InfluxDB is unavailable (${err.kind}); retry later`, { cause: err });
  }
  return err;
}

/** Three decimals: beyond any kit's resolution, and a third of the bytes of a full double. */
export const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/**
 * A mean to 3 decimals. The sum is first rounded to 6 decimals, the precision readings are stored with,
 * so that the answer does not depend on the order InfluxDB and the api added the values in (a mean of
 * exactly x.xxx5 would otherwise round either way).
 */
export const mean3 = (sum: number, count: number): number => round3(Math.round(sum * 1e6) / 1e6 / count);

/**
 * The mean of a metric from the sum of its summands and their count, to 3 decimals: the arithmetic mean
 * (`mean3`), or for a level in dB the energy mean from the sum of 10^(L/10) (ISO 1996-1; contract levels.ts).
 */
export const metricMean3 = (metric: Metric, sum: number, count: number): number =>
  isDbMetric(metric) ? round3(meanOfSum(metric, sum, count)) : mean3(sum, count);
