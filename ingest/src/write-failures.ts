import { HttpError } from '@influxdata/influxdb-client';

type Failure = 'retry' | 'hold' | 'refused';

/**
 * What to do with a failed write. InfluxDB refusing the data itself (400 with a type conflict or a limit,
 * 422) will refuse it again: those lines are dropped, counted and logged. A server down, slow or overloaded
 * (network errors, 429, 5xx) is retried by the client. Anything else (401/403 bad credentials, 404 no such
 * database, 413 batch too large) is an operator's fix away: the lines are held and retried, never lost.
 */
export function classifyWriteError(err: Error): Failure {
  if (!(err instanceof HttpError)) return 'retry';
  if (err.statusCode === 400 || err.statusCode === 422) return 'refused';
  return err.statusCode >= 429 ? 'retry' : 'hold';
}

/**
 * How long a batch the client gave up on waits before it is sent again: the server's `Retry-After` when it
 * gave one, else doubling from `minMs` with each failure in a row, at most `maxMs`.
 */
export function requeueDelayMs(
  failures: number,
  error: Error | undefined,
  minMs: number,
  maxMs: number,
): number {
  const after = error instanceof HttpError ? error.retryAfter() : 0;
  return Math.max(after, Math.min(maxMs, minMs * 2 ** Math.min(failures - 1, 20)));
}
