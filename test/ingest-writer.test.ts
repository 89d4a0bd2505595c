import { setTimeout as sleep } from 'node:timers/promises';
import { createWriter, type Writer, type WriterOptions } from '@citytel/ingest';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { influxQuery, startTestInflux } from './helpers/influx.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const T0 = Date.UTC(2026, 10, 22, 10, 0);

function options(url: string, db: string, over: Partial<WriterOptions> = {}): WriterOptions {
  return {
    url,
    db,
    batchLines: 500,
    batchBytes: 1_000_000,
    flushMs: 20,
    gzipBytes: 1000,
    maxInFlight: 10_000,
    retryMinMs: 100,
    retryMaxMs: 400,
    timeoutMs: 2000,
    ...over,
  };
}

/** Writes `n` lines as messages of `per` lines; resolves each message's promise when it is written. */
function writeMessages(writer: Writer, measurement: string, n: number, per: number): Promise<void>[] {
  const done: Promise<void>[] = [];
  for (let i = 0; i < n; i += per) {
    const lines: string[] = [];
    for (let j = i; j < Math.min(n, i + per); j++)
      lines.push(`${measurement},device=d${j % 7} v=${j} ${T0 + j}000000`);
    done.push(new Promise((resolve) => writer.write(lines, resolve)));
  }
  return done;
}

const count = async (url: string, db: string, measurement: string) =>
  (await influxQuery(url, db, `SELECT count(v) FROM ${measurement}`))[0]?.values[0]?.[1] ?? 0;

describe('the writer', () => {
  let influx: Awaited<ReturnType<typeof startTestInflux>>;
  beforeAll(async () => {
    influx = await startTestInflux();
  });
  afterAll(async () => {
    await influx?.close();
  });

  it('writes to the 1.x /write endpoint and calls back once the points are queryable', async () => {
    const writer = createWriter(options(influx.url, influx.db), log);
    try {
      await Promise.all(writeMessages(writer, 'first', 1200, 100));
      expect(await count(influx.url, influx.db, 'first')).toBe(1200);
      const s = writer.stats();
      expect(s.pending).toBe(0);
      expect(s.written).toBe(1200);
      expect(s.batches).toBeGreaterThanOrEqual(3);
      expect(s.batchLines.max).toBeLessThanOrEqual(500);
    } finally {
      writer.close();
    }
  });

  it('holds every point while InfluxDB is down and writes them all when it is back', async () => {
    const writer = createWriter(options(influx.url, influx.db), log);
    try {
      await influx.stop();
      let written = 0;
      const done = writeMessages(writer, 'outage', 3000, 50).map((p) => p.then(() => written++));
      await sleep(1500);
      expect(written).toBe(0);
      expect(writer.pending()).toBe(3000);
      expect(writer.stats().up).toBe(false);
      await influx.restart();
      await Promise.all(done);
      expect(await count(influx.url, influx.db, 'outage')).toBe(3000);
      expect(writer.stats()).toMatchObject({ pending: 0, written: 3000, refused: 0, up: true });
    } finally {
      writer.close();
    }
  });

  it('counts and lets go of points InfluxDB refuses for good; the rest of the batch is written', async () => {
    const writer = createWriter(options(influx.url, influx.db), log);
    try {
      await new Promise<void>((resolve) => writer.write([`conflict v=1 ${T0}000000`], resolve));
      // A string where a float was stored: 400 "partial write: field type conflict".
      await new Promise<void>((resolve) =>
        writer.write([`conflict v="text" ${T0 + 1}000000`, `conflict v=3 ${T0 + 2}000000`], resolve),
      );
      expect(writer.stats().refused).toBe(2);
      expect(await count(influx.url, influx.db, 'conflict')).toBe(2);
    } finally {
      writer.close();
    }
  });

  it('holds points for a database that does not exist yet, and writes them once it does', async () => {
    const writer = createWriter(options(influx.url, 'later'), log);
    try {
      let written = false;
      const done = new Promise<void>((resolve) => writer.write([`late v=1 ${T0}000000`], resolve)).then(
        () => {
          written = true;
        },
      );
      await sleep(600);
      expect(written).toBe(false);
      expect(writer.stats().requeued).toBeGreaterThan(0);
      await fetch(`${influx.url}/query`, {
        method: 'POST',
        body: new URLSearchParams({ q: 'CREATE DATABASE later' }),
      });
      await done;
      expect(await count(influx.url, 'later', 'late')).toBe(1);
    } finally {
      writer.close();
    }
  });

  it('writes a redelivered line onto the same point', async () => {
    const writer = createWriter(options(influx.url, influx.db), log);
    try {
      await Promise.all([...writeMessages(writer, 'twice', 10, 5), ...writeMessages(writer, 'twice', 10, 5)]);
      expect(writer.stats().written).toBe(20);
      expect(await count(influx.url, influx.db, 'twice')).toBe(10);
    } finally {
      writer.close();
    }
  });
});
