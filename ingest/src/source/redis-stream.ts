import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { lowestFloor, nextId, parseGroups, parseReply, type StreamEntry } from './stream-replies.ts';
import type { MessageSource, SourceHandlers, SourceStats } from './types.ts';

export interface RedisStreamSourceOptions {
  url: string;
  key: string;
  group: string;
  /** This worker's name in the group: unique per worker, stable across its restarts. */
  consumer: string;
  /** Entries idle this long in another consumer's pending list are taken over (their worker died). */
  claimIdleMs: number;
  /** Entries per read, at most. */
  count: number;
  /** How often the stream is trimmed and dead workers' entries looked for. */
  trimEveryMs: number;
  /** Longest a blocking read waits for new entries (it also paces claims). */
  blockMs?: number;
  /** Longest an acknowledgement waits to be sent with others. */
  ackEveryMs?: number;
  log: Logger;
}

export interface RedisStreamStats extends SourceStats {
  /** Entries taken over from consumers that stopped acknowledging. */
  claimed: number;
  /** Entries removed from the stream by this worker's trims. */
  trimmed: number;
  /** Pending entries already gone from the stream (trimmed by something else): acknowledged, not delivered. */
  missing: number;
}

export interface RedisStreamSource extends MessageSource {
  stats(): RedisStreamStats;
}

/** Acknowledgements sent in one XACK, at most. */
const ACK_CHUNK = 2000;

/**
 * Cluster mode's source: the entries clustered brokers append to one Redis Stream, read as one consumer of
 * a group. An entry is acknowledged (XACK) once its points are written, so one still pending when its
 * worker dies is taken over by another (XAUTOCLAIM) after the claim idle time; a restarted worker first
 * takes back its own pending entries. Two connections: one for the blocking read, one for the rest.
 */
export function createRedisStreamSource(opts: RedisStreamSourceOptions): RedisStreamSource {
  const log = opts.log;
  const blockMs = opts.blockMs ?? 1000;
  const ackEveryMs = opts.ackEveryMs ?? 20;
  // Commands wait for the connection (offline queue, no retry limit): Redis being away is a pause, never a
  // loss. Those in flight when it dropped are sent again (without autoResend ioredis settles them never);
  // the reply of a read lost with its connection is in this consumer's pending list, read again after a
  // reconnect. The timeout catches a connection that died without a word (it exceeds the blocking read).
  const connect = (name: string) =>
    new Redis(opts.url, {
      connectionName: `citytel-ingest-${opts.consumer}-${name}`,
      lazyConnect: true,
      maxRetriesPerRequest: null,
      commandTimeout: blockMs + 10_000,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    });
  const reader = connect('read');
  const cmd = connect('cmd');

  let handlers: SourceHandlers | undefined;
  let delivering = true;
  let closed = false;
  let loop: Promise<void> | undefined;
  /** Entries read by this worker and not yet acknowledged, with whether they were handed over yet. */
  const owned = new Map<string, { delivered: boolean }>();
  let acks: string[] = [];
  let ackTimer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;
  let maintenance: NodeJS.Timeout | undefined;
  let lastClaim = Date.now();
  let pausedSince: number | undefined;
  let wake: (() => void) | undefined;
  /** Resolves on pause(): a hand-over waiting for capacity gives up then. */
  let onPause: () => void = () => undefined;
  const paused = new Promise<void>((r) => {
    onPause = r;
  });
  /** Entries handed over and not yet acknowledged. */
  let open = 0;
  const s = { received: 0, acked: 0, pausedMs: 0, reconnects: 0, claimed: 0, trimmed: 0, missing: 0 };

  // Redis being away is one warning and one line when it is back; the attempts in between are debug lines.
  let downSince: number | undefined;
  const trouble = (err: unknown, msg: string) => {
    if (downSince === undefined) {
      downSince = Date.now();
      log.warn({ err: String((err as Error)?.message ?? err) }, msg);
    } else log.debug({ err: String((err as Error)?.message ?? err) }, msg);
  };
  let readyOnce = false;
  let resync = true;
  reader.on('ready', () => {
    if (readyOnce) {
      s.reconnects++;
      resync = true;
    }
    readyOnce = true;
    if (downSince !== undefined) log.info({ downMs: Date.now() - downSince }, 'reconnected to Redis');
    downSince = undefined;
  });
  for (const c of [reader, cmd]) c.on('error', (err) => trouble(err, 'redis connection failed'));

  function ack(id: string) {
    const o = owned.get(id);
    if (!o) return;
    owned.delete(id);
    if (o.delivered) open--;
    acks.push(id);
    if (acks.length >= ACK_CHUNK) void flushAcks();
    else ackTimer ??= setTimeout(() => void flushAcks(), ackEveryMs);
  }

  /** One XACK at a time, every id sent in order; on an error they are kept and sent again (XACK is idempotent). */
  function flushAcks(): Promise<void> {
    clearTimeout(ackTimer);
    ackTimer = undefined;
    if (flushing) return flushing.then(() => (acks.length ? flushAcks() : undefined));
    if (!acks.length) return Promise.resolve();
    const ids = acks.splice(0, ACK_CHUNK);
    flushing = cmd.xack(opts.key, opts.group, ...ids).then(
      () => {
        s.acked += ids.length;
      },
      (err) => {
        acks = ids.concat(acks);
        trouble(err, 'acknowledgements not sent yet');
      },
    );
    return flushing.then(() => {
      flushing = undefined;
      if (acks.length && !closed) ackTimer ??= setTimeout(() => void flushAcks(), ackEveryMs);
    });
  }

  function deliver(e: StreamEntry) {
    owned.set(e.id, { delivered: true });
    open++;
    s.received++;
    let once = false;
    handlers!.onMessage({
      topic: e.topic,
      payload: e.payload,
      retain: false,
      ack: () => {
        if (once) return;
        once = true;
        ack(e.id);
      },
    });
  }

  /**
   * Hands entries over one at a time, asking for capacity after each one like the MQTT source. Those not
   * handed over when paused stay pending under this consumer: read again at restart, or claimed.
   */
  async function handOver(entries: StreamEntry[]) {
    for (const e of entries) if (!owned.has(e.id)) owned.set(e.id, { delivered: false });
    for (const e of entries) {
      if (!delivering) return;
      if (owned.get(e.id)?.delivered) continue;
      if (e.missing) {
        s.missing++;
        log.warn({ id: e.id }, 'pending entry no longer in the stream (trimmed by something else)');
        ack(e.id);
        continue;
      }
      deliver(e);
      const wait = handlers!.backpressure();
      if (wait) {
        pausedSince ??= Date.now();
        await Promise.race([wait, paused]);
        s.pausedMs += Date.now() - pausedSince;
        pausedSince = undefined;
      }
    }
  }

  async function ensureGroup() {
    try {
      // From the stream's start: entries brokers appended before any worker existed are ingest's too.
      await reader.xgroup('CREATE', opts.key, opts.group, '0', 'MKSTREAM');
      log.info({ key: opts.key, group: opts.group }, 'consumer group created');
    } catch (err) {
      if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
    }
  }

  const read = (id: string, block: boolean) =>
    reader.callBuffer(
      'XREADGROUP',
      'GROUP',
      opts.group,
      opts.consumer,
      'COUNT',
      opts.count,
      ...(block ? ['BLOCK', blockMs] : []),
      'STREAMS',
      opts.key,
      id,
    );

  /** This consumer's own pending entries, from the start of its list (after a restart or a reconnect). */
  async function readOwnPending() {
    for (let after = '0'; delivering; ) {
      const entries = parseReply(await read(after, false));
      if (!entries.length) return;
      after = entries[entries.length - 1]!.id;
      await handOver(entries);
    }
  }

  /** Entries of consumers silent longer than the claim idle time (XAUTOCLAIM walks the whole pending list). */
  async function claimIdle() {
    lastClaim = Date.now();
    for (let cursor = '0-0'; delivering; ) {
      const reply = (await reader.callBuffer(
        'XAUTOCLAIM',
        opts.key,
        opts.group,
        opts.consumer,
        opts.claimIdleMs,
        cursor,
        'COUNT',
        opts.count,
      )) as [Buffer, unknown, Buffer[]?];
      const entries = parseReply([[opts.key, reply[1]]]);
      // Entries in the pending list but gone from the stream: Redis drops them from the list itself.
      s.missing += reply[2]?.length ?? 0;
      const fresh = entries.filter((e) => !owned.has(e.id));
      if (fresh.length) {
        s.claimed += fresh.length;
        log.info({ entries: fresh.length }, 'took over entries of a silent consumer');
      }
      await handOver(entries);
      cursor = reply[0].toString();
      if (cursor === '0-0') return;
    }
  }

  async function run() {
    let failures = 0;
    while (delivering) {
      try {
        if (resync) {
          resync = false;
          await ensureGroup();
          await readOwnPending();
        }
        if (Date.now() - lastClaim >= Math.min(opts.trimEveryMs, opts.claimIdleMs)) await claimIdle();
        if (!delivering) break;
        await handOver(parseReply(await read('>', true)));
        failures = 0;
      } catch (err) {
        if (!delivering) break;
        resync = true;
        trouble(err, 'stream read failed');
        failures++;
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, Math.min(100 * 2 ** failures, 2000));
        });
        wake = undefined;
      }
    }
  }

  /**
   * Keeps this worker's entries from looking idle to the others (XCLAIM to itself, JUSTID: no delivery
   * counted) while it holds them — a long InfluxDB outage must not make the group pass them around — and
   * trims the stream below what every group has acknowledged.
   */
  let maintaining = false;
  let lastMaintenanceWarn = 0;
  async function maintain() {
    if (closed || maintaining) return;
    maintaining = true;
    try {
      const ids = [...owned.keys()];
      for (let i = 0; i < ids.length; i += ACK_CHUNK) {
        await cmd.xclaim(opts.key, opts.group, opts.consumer, 0, ...ids.slice(i, i + ACK_CHUNK), 'JUSTID');
      }
      await trim();
    } catch (err) {
      // Not a connection matter (those are logged as such): at most one line a minute.
      if (Date.now() - lastMaintenanceWarn > 60_000) {
        lastMaintenanceWarn = Date.now();
        log.warn({ err: String((err as Error)?.message ?? err) }, 'stream maintenance failed');
      }
    } finally {
      maintaining = false;
    }
  }

  /**
   * XTRIM MINID to the lowest id some group still needs: its lowest pending id, or past its last-delivered
   * id when nothing is pending. Floors only move up (new entries have higher ids), so reading the groups
   * and trimming in two steps is safe; a group created later from an older id finds those entries gone.
   */
  async function trim() {
    const groups = parseGroups(await cmd.xinfo('GROUPS', opts.key));
    const floors: string[] = [];
    for (const g of groups) {
      if (g.pending > 0) {
        const summary = (await cmd.xpending(opts.key, g.name)) as [number, string | null, ...unknown[]];
        floors.push(summary[1] ?? nextId(g.lastDeliveredId));
      } else floors.push(nextId(g.lastDeliveredId));
    }
    const floor = lowestFloor(floors);
    if (!floor) return;
    const removed = await cmd.xtrim(opts.key, 'MINID', floor);
    if (removed > 0) {
      s.trimmed += removed;
      log.debug({ removed, floor }, 'stream trimmed');
    }
  }

  return {
    async start(h) {
      handlers = h;
      // Like the MQTT source with its broker, start waits for Redis (commands queue until it answers).
      await Promise.all([ensureGroup(), cmd.ping()]);
      log.info({ key: opts.key, group: opts.group, consumer: opts.consumer }, 'reading the ingest stream');
      loop = run();
      // Held entries are refreshed well within the claim idle time, whatever the trim interval.
      maintenance = setInterval(() => void maintain(), Math.min(opts.trimEveryMs, opts.claimIdleMs / 3));
      maintenance.unref();
    },
    pause() {
      delivering = false;
      onPause();
      wake?.();
    },
    async close() {
      delivering = false;
      onPause();
      wake?.();
      clearInterval(maintenance);
      // Ends the blocking read at once; what a read in flight brought stays pending under this consumer.
      reader.disconnect();
      await loop;
      // Redis away at shutdown must not hold the stop: unsent acknowledgements mean redelivery, not loss.
      await Promise.race([flushAcks(), new Promise((r) => setTimeout(r, 2000).unref())]);
      closed = true;
      clearTimeout(ackTimer);
      cmd.disconnect();
    },
    stats: () => ({
      connected: reader.status === 'ready' && cmd.status === 'ready',
      received: s.received,
      unacked: open + acks.length,
      acked: s.acked,
      paused: pausedSince !== undefined,
      pausedMs: s.pausedMs + (pausedSince === undefined ? 0 : Date.now() - pausedSince),
      reconnects: s.reconnects,
      claimed: s.claimed,
      trimmed: s.trimmed,
      missing: s.missing,
    }),
  };
}
