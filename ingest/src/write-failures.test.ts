import { HttpError } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import { classifyWriteError, requeueDelayMs } from './write-failures.ts';

describe('classifyWriteError', () => {
  it('drops what InfluxDB refuses for good, holds what an operator can fix, retries the rest', () => {
    const of = (status: number) => classifyWriteError(new HttpError(status, 'x'));
    expect([400, 422].map(of)).toEqual(['refused', 'refused']);
    expect([401, 403, 404, 413].map(of)).toEqual(['hold', 'hold', 'hold', 'hold']);
    expect([429, 500, 503].map(of)).toEqual(['retry', 'retry', 'retry']);
    expect(classifyWriteError(new Error('ECONNREFUSED'))).toBe('retry');
  });
});

describe('requeueDelayMs', () => {
  it('doubles from the minimum with each failure in a row, up to the maximum', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => requeueDelayMs(n, undefined, 100, 2000))).toEqual([
      100, 200, 400, 800, 1600, 2000,
    ]);
    expect(requeueDelayMs(10_000, new Error('down'), 100, 2000)).toBe(2000);
  });

  it("waits at least the error's retryAfter(), as the client reads it (the header's number, taken as ms)", () => {
    expect(new HttpError(503, 'busy', '', '3000').retryAfter()).toBe(3000);
    expect(requeueDelayMs(1, new HttpError(503, 'busy', '', '3000'), 100, 2000)).toBe(3000);
    expect(requeueDelayMs(6, new HttpError(503, 'busy', '', '1000'), 100, 2000)).toBe(2000);
  });
});
