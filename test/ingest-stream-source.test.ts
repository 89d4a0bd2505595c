import { setTimeout as sleep } from 'node:timers/promises';
import { INGEST_STREAM, stamp, streamEntryFields } from '@citytel/contract';
import {
  createRedisStreamSource,
  type RedisStreamSource,
  type RedisStreamSourceOptions,
  type SourceMessage,
} from '@citytel/ingest';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/ingest.ts';
import { startTestRedis, type TestRedis } from './helpers/redis.ts';

/**
 * The Redis Stream source alone, against a real redis-server: what it delivers, when it acknowledges,
 * what it gives back, takes over and trims. End to end through InfluxDB: ingest-stream.test.ts.
 */
let redis: TestRedis;
let r: Redis;
let n = 0;
const sources: RedisStreamSource[] = [];
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

beforeAll(async () => {
  redis = await startTestRedis();
  r = new Redis(redis.url);
});

afterAll(async () => {
  r?.disconnect();
  await redis?.close();
});

afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.close()));
});

/** A fresh stream key per test, so tests do not see each other's groups. */
const freshKey = () => `test:ingest:${++n}`;

function source(key: string, over: Partial<RedisStreamSourceOptions> = {}) {
  const s = createRedisStreamSource({
    url: redis.url,
    key,
    group: INGEST_STREAM.group,
    consumer: 'w1',
    claimIdleMs: 30_000,
    count: 100,
    trimEveryMs: 100,
    blockMs: 200,
    log,
    ...over,
  });
  sources.push(s);
  return s;
}

/** XADDs as the brokers do: topic, and the payload stamped with the receive time. */
async function append(key: string, count: number, from = 0): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < from + count; i++) {
    const payload = stamp(Buffer.from(JSON.stringify({ pm25: i })), 1_764_000_000_000 + i);
    ids.push((await r.xadd(key, '*', ...streamEntryFields(`sensors/kit-${i}/readings`, payload)))!);
  }
  return ids;
}

/** Collects what a source delivers; `hold` keeps the acks for the test to release. */
function collector(opts: { hold?: boolean; gate?: () => Promise<void> | undefined } = {}) {
  const got: SourceMessage[] = [];
  return {
    got,
    handlers: {
      onMessage(m: SourceMessage) {
        got.push(m);
        if (!opts.hold) m.ack();
      },
      backpressure: () => opts.gate?.(),
    },
  };
}

const pendingCount = async (key: string, group: string = INGEST_STREAM.group) =>
  Number(((await r.xpending(key, group)) as [number])[0]);

describe('the Redis Stream source', () => {
  it('delivers each entry with its topic and stamped payload, byte for byte, and acknowledges it', async () => {
    const key = freshKey();
    const c = collector();
    const s = source(key);
    await s.start(c.handlers);
    const ids = await append(key, 50);
    await eventually('all delivered', () => c.got.length === 50);
    expect(c.got[7]!.topic).toBe('sensors/kit-7/readings');
    expect(c.got[7]!.payload.equals(stamp(Buffer.from('{"pm25":7}'), 1_764_000_000_007))).toBe(true);
    expect(c.got.every((m) => m.retain === false)).toBe(true);
    await eventually('all acknowledged', async () => (await pendingCount(key)) === 0);
    expect(s.stats()).toMatchObject({ connected: true, received: 50, acked: 50, unacked: 0 });
    expect(ids).toHaveLength(50);
  });

  it('keeps an entry pending until it is acknowledged, in any order', async () => {
    const key = freshKey();
    const c = collector({ hold: true });
    const s = source(key);
    await s.start(c.handlers);
    await append(key, 10);
    await eventually('all delivered', () => c.got.length === 10);
    expect(await pendingCount(key)).toBe(10);
    for (const i of [9, 3, 5]) c.got[i]!.ack();
    c.got[3]!.ack(); // a second call is a no-op
    await eventually('three acknowledged', async () => (await pendingCount(key)) === 7);
    expect(s.stats()).toMatchObject({ received: 10, acked: 3, unacked: 7 });
  });

  it('gives a restarted worker its own pending entries first, then new ones', async () => {
    const key = freshKey();
    const first = collector({ hold: true });
    const a = source(key);
    await a.start(first.handlers);
    await append(key, 20);
    await eventually('delivered', () => first.got.length === 20);
    for (const m of first.got.slice(0, 5)) m.ack();
    await eventually('five acknowledged', async () => (await pendingCount(key)) === 15);
    await a.close();

    await append(key, 5, 20);
    const again = collector();
    await source(key).start(again.handlers);
    await eventually('delivered again', () => again.got.length === 20);
    const pm = again.got.map(
      (m) => JSON.parse(m.payload.subarray(m.payload.indexOf(0, 1) + 1).toString()).pm25,
    );
    expect(pm).toEqual([...Array.from({ length: 15 }, (_, i) => i + 5), 20, 21, 22, 23, 24]);
    await eventually('all acknowledged', async () => (await pendingCount(key)) === 0);
  });

  it("takes over a silent worker's entries after the claim idle time, never a live worker's", async () => {
    const key = freshKey();
    // w2 reads 10 entries and dies without a word; w1 holds its own 10 (a long write) and stays alive.
    await r.xgroup('CREATE', key, INGEST_STREAM.group, '0', 'MKSTREAM');
    await append(key, 10);
    const dead = (await r.xreadgroup('GROUP', INGEST_STREAM.group, 'w2', 'STREAMS', key, '>')) as [
      string,
      unknown[],
    ][];
    expect(dead[0]![1]).toHaveLength(10);
    const live = collector({ hold: true });
    await source(key, { consumer: 'w1', claimIdleMs: 60_000 }).start(live.handlers);
    await append(key, 10, 10);
    await eventually('w1 has its own', () => live.got.length === 10);

    const taker = collector();
    const w3 = source(key, { consumer: 'w3', claimIdleMs: 600 });
    await w3.start(taker.handlers);
    await eventually('w2 entries taken over', () => taker.got.length === 10, 10_000);
    expect(taker.got.map((m) => m.topic)).toEqual(
      Array.from({ length: 10 }, (_, i) => `sensors/kit-${i}/readings`),
    );
    await sleep(1500);
    // w1 kept its entries fresh while it held them: nobody took them.
    expect(taker.got).toHaveLength(10);
    expect(w3.stats().claimed).toBe(10);
    const summary = (await r.xpending(key, INGEST_STREAM.group)) as [
      number,
      string,
      string,
      [string, string][],
    ];
    expect(summary[0]).toBe(10);
    expect(summary[3]).toEqual([['w1', '10']]);
  });

  it('trims only below what every group has acknowledged', async () => {
    const key = freshKey();
    await r.xgroup('CREATE', key, INGEST_STREAM.group, '0', 'MKSTREAM');
    await r.xgroup('CREATE', key, 'archive', '0');
    await append(key, 30);
    // The archive group, lagging: it read 20 and acknowledged the first 10.
    const read = (await r.xreadgroup('GROUP', 'archive', 'a1', 'COUNT', 20, 'STREAMS', key, '>')) as [
      string,
      [string, unknown][],
    ][];
    const archiveIds = read[0]![1].map((e) => e[0]);
    await r.xack(key, 'archive', ...archiveIds.slice(0, 10));

    const c = collector();
    const s = source(key);
    await s.start(c.handlers);
    await eventually('ingest has all', () => c.got.length === 30);
    await eventually('trimmed below the archive group', async () => (await r.xlen(key)) === 20, 5000);
    await sleep(500);
    expect(await r.xlen(key)).toBe(20);
    const first = (await r.xrange(key, '-', '+', 'COUNT', 1)) as [string, unknown][];
    expect(first[0]![0]).toBe(archiveIds[10]);

    // The archive catches up: everything goes, except nothing that was never delivered to it.
    await r.xack(key, 'archive', ...archiveIds.slice(10));
    await eventually('trimmed below the archive read position', async () => (await r.xlen(key)) === 10, 5000);
    await r.xreadgroup('GROUP', 'archive', 'a1', 'COUNT', 100, 'STREAMS', key, '>').then((rep) => {
      const ids = (rep as [string, [string, unknown][]][])[0]![1].map((e) => e[0]);
      return r.xack(key, 'archive', ...ids);
    });
    await eventually('empty', async () => (await r.xlen(key)) === 0, 5000);
    expect(s.stats().trimmed).toBe(30);
  });

  it('takes nothing more while the pipeline says hold on, nor after pause()', async () => {
    const key = freshKey();
    let release: (() => void) | undefined;
    let holding = true;
    const c = collector({
      gate: () => (holding ? new Promise<void>((r) => (release = r)) : undefined),
    });
    const s = source(key);
    await s.start(c.handlers);
    await append(key, 20);
    await eventually('one delivered', () => c.got.length === 1);
    await sleep(500);
    expect(c.got).toHaveLength(1);
    expect(s.stats().paused).toBe(true);
    holding = false;
    release!();
    await eventually('the rest delivered', () => c.got.length === 20);
    expect(s.stats().paused).toBe(false);
    expect(s.stats().pausedMs).toBeGreaterThanOrEqual(400);

    s.pause();
    await append(key, 5, 20);
    await sleep(600);
    expect(c.got).toHaveLength(20);
  });

  it('hands a malformed entry over like any message and acknowledges it', async () => {
    const key = freshKey();
    const c = collector();
    await source(key).start(c.handlers);
    await r.xadd(key, '*', 'x', 'no topic');
    await r.xadd(key, '*', 't', 'sensors/kit-1/readings');
    await eventually('both delivered', () => c.got.length === 2);
    expect(c.got.map((m) => [m.topic, m.payload.length])).toEqual([
      ['', 0],
      ['sensors/kit-1/readings', 0],
    ]);
    await eventually('acknowledged', async () => (await pendingCount(key)) === 0);
  });

  it('reconnects after its connections are dropped and loses nothing', async () => {
    const key = freshKey();
    const c = collector();
    const s = source(key);
    await s.start(c.handlers);
    let appended = 0;
    for (let round = 0; round < 3; round++) {
      await append(key, 30, appended);
      appended += 30;
      await sleep(100);
      await r.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await append(key, 30, appended);
      appended += 30;
    }
    await eventually(
      'everything delivered',
      () => new Set(c.got.map((m) => m.topic)).size === appended,
      15_000,
    );
    await eventually('all acknowledged', async () => (await pendingCount(key)) === 0);
    expect(s.stats().reconnects).toBeGreaterThanOrEqual(3);
    expect(s.stats().connected).toBe(true);
  });
});
