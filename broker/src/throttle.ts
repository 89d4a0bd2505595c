import { isIPv6 } from 'node:net';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Slows down repeated failed logins (CONTRACT §1), per bucket: the kind of credential and the address
 * (`token:198.51.100.7`). An attempt counts against its bucket from the moment it arrives until it ends: a
 * burst of parallel CONNECTs is checked a few at a time, never all at once (attempts in flight space the
 * queue by `baseDelayMs` each). Past `freeFailures` failures, each attempt waits `baseDelayMs`, doubling up
 * to `maxDelayMs`, and attempts of one bucket are answered one after the other; past `maxWaiting` queued attempts the rest are refused at once, without
 * moving the queue (so a flood cannot push the next slot into the far future). A bucket is forgotten
 * `windowMs` after its last attempt: the penalty is bounded (30 s an attempt) and ends with the attack.
 *
 * SCK tokens (6 characters, the only credential of a stock kit) are what this protects; id + secret logins
 * (190-bit secrets, nothing to guess) have a bucket of their own, so a token guesser behind a NAT does not
 * slow its neighbours' devices down, and auth.ts lets a credential it verified recently skip the queue.
 *
 * In cluster mode the buckets live in Redis (one Lua script per attempt start and end), so every broker
 * behind the load balancer counts the same attempts; unreachable Redis falls back to this broker's memory.
 */
export interface LoginThrottleOptions {
  freeFailures: number;
  /** A bucket is forgotten after this long without an attempt. */
  windowMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Attempts of one bucket queued on this broker at once. */
  maxWaiting: number;
  maxEntries: number;
  /**
   * A success clears its bucket, so a device whose secret was just fixed logs in at full speed again, but
   * not once it failed this many times in the window: someone holding one valid login could otherwise
   * reset their own slow-down between guesses.
   */
  stickyFailures: number;
}

export const DEFAULT_THROTTLE: LoginThrottleOptions = {
  freeFailures: 3,
  windowMs: 10 * 60_000,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxWaiting: 16,
  maxEntries: 50_000,
  stickyFailures: 20,
};

export type Outcome = 'failed' | 'succeeded' | 'abandoned';

/** One login attempt, admitted: `end` it exactly once with its outcome. */
export interface Attempt {
  waitedMs: number;
  end(outcome: Outcome): void;
}

export interface LoginThrottle {
  /**
   * Resolves when the attempt may be checked, or undefined when too many of its bucket already wait.
   * `freeInFlight`: attempts of the bucket that may be in flight at once before the ones beyond count as
   * failures (0 for SCK tokens: every one counts; more for secret logins, where nothing can be guessed and
   * many good devices may share one address).
   */
  admit(bucket: string, freeInFlight?: number): Promise<Attempt | undefined>;
  /** The wait the next attempt of `bucket` would get before queueing, in ms (this broker's memory). */
  delayFor(bucket: string, freeInFlight?: number): number;
  /** Drops expired buckets. */
  sweep(): void;
  readonly size: number;
}

interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** Where the counts live: this broker's memory, or Redis shared by every broker. */
interface Backend {
  /** Counts the attempt in flight and reserves its slot: the wait in ms, or -1 when it may not wait. */
  start(bucket: string, now: number, mayWait: boolean, freeInFlight: number): Promise<number> | number;
  end(bucket: string, now: number, outcome: Outcome): Promise<void> | void;
}

interface Entry {
  failures: number;
  inFlight: number;
  lastAt: number;
  /** When the last queued attempt is answered: the next one comes after it. */
  nextSlotAt: number;
}

/**
 * The wait before the next attempt of a bucket. Failures escalate it (doubling from `baseDelayMs` past
 * `freeFailures`, up to `maxDelayMs`). Attempts still in flight beyond `freeFailures` (+ `freeInFlight`)
 * only space it: each waits `baseDelayMs` after the one before, so a parallel burst is checked a few at a
 * time, yet many good kits behind one address (a NAT, a school, a restart after a power cut) all get in
 * within seconds instead of being pushed past their connect timeout, never to succeed.
 */
const delayOf = (
  o: LoginThrottleOptions,
  failures: number,
  inFlight: number,
  freeInFlight: number,
): number => {
  const escalated =
    failures < o.freeFailures
      ? 0
      : Math.min(o.baseDelayMs * 2 ** Math.min(failures - o.freeFailures, 30), o.maxDelayMs);
  const spacing = inFlight - freeInFlight >= o.freeFailures ? o.baseDelayMs : 0;
  return Math.max(escalated, spacing);
};

const entryDelay = (o: LoginThrottleOptions, e: Entry | undefined, freeInFlight: number) =>
  e ? delayOf(o, e.failures, e.inFlight, freeInFlight) : 0;

function memoryBackend(o: LoginThrottleOptions, clock: Clock) {
  const entries = new Map<string, Entry>();
  const live = (bucket: string): Entry | undefined => {
    const entry = entries.get(bucket);
    if (entry && clock.now() - entry.lastAt > o.windowMs && entry.inFlight === 0) {
      entries.delete(bucket);
      return undefined;
    }
    return entry;
  };
  const sweep = () => {
    const now = clock.now();
    for (const [key, entry] of entries) {
      if (now - entry.lastAt > o.windowMs && entry.inFlight === 0) entries.delete(key);
    }
  };
  const backend: Backend = {
    start(bucket, now, mayWait, freeInFlight) {
      let entry = live(bucket);
      const delay = entryDelay(o, entry, freeInFlight);
      if (delay > 0 && !mayWait) return -1;
      if (!entry) {
        if (entries.size >= o.maxEntries) {
          sweep();
          // Still full: forget the bucket that was touched longest ago (Map keeps insertion order).
          if (entries.size >= o.maxEntries) entries.delete(entries.keys().next().value!);
        }
        entry = { failures: 0, inFlight: 0, lastAt: now, nextSlotAt: 0 };
        entries.set(bucket, entry);
      }
      entry.inFlight++;
      entry.lastAt = now;
      if (delay === 0) return 0;
      const slot = Math.max(now, entry.nextSlotAt) + delay;
      entry.nextSlotAt = slot;
      return slot - now;
    },
    end(bucket, now, outcome) {
      const entry = entries.get(bucket);
      if (!entry) return;
      entry.inFlight = Math.max(0, entry.inFlight - 1);
      if (outcome === 'failed') {
        entry.failures++;
        entry.lastAt = now;
      } else if (outcome === 'succeeded' && entry.failures < o.stickyFailures) {
        entry.failures = 0;
      }
    },
  };
  return {
    backend,
    sweep,
    delayFor: (bucket: string, freeInFlight = 0) => entryDelay(o, live(bucket), freeInFlight),
    get size() {
      return entries.size;
    },
  };
}

const START_SCRIPT = `
local k = KEYS[1]
local now = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
local f = tonumber(redis.call('HGET', k, 'f') or '0')
local p = tonumber(redis.call('HGET', k, 'p') or '0')
local delay = 0
if f >= free then
  delay = math.min(tonumber(ARGV[3]) * 2 ^ math.min(f - free, 30), tonumber(ARGV[4]))
end
if p - tonumber(ARGV[7]) >= free then delay = math.max(delay, tonumber(ARGV[3])) end
if delay > 0 and ARGV[6] ~= '1' then return -1 end
redis.call('HINCRBY', k, 'p', 1)
redis.call('PEXPIRE', k, ARGV[5])
if delay == 0 then return 0 end
local slot = math.max(now, tonumber(redis.call('HGET', k, 's') or '0')) + delay
redis.call('HSET', k, 's', slot)
return slot - now`;

const END_SCRIPT = `
local k = KEYS[1]
if redis.call('EXISTS', k) == 0 then return 0 end
if redis.call('HINCRBY', k, 'p', -1) < 0 then redis.call('HSET', k, 'p', 0) end
if ARGV[1] == 'failed' then
  redis.call('HINCRBY', k, 'f', 1)
  redis.call('PEXPIRE', k, ARGV[3])
elseif ARGV[1] == 'succeeded' then
  if tonumber(redis.call('HGET', k, 'f') or '0') < tonumber(ARGV[2]) then redis.call('HSET', k, 'f', 0) end
end
return 1`;

function redisBackend(redis: Redis, prefix: string, o: LoginThrottleOptions): Backend {
  return {
    async start(bucket, now, mayWait, freeInFlight) {
      const args = [
        now,
        o.freeFailures,
        o.baseDelayMs,
        o.maxDelayMs,
        o.windowMs,
        mayWait ? '1' : '0',
        freeInFlight,
      ];
      return Number(await redis.eval(START_SCRIPT, 1, prefix + bucket, ...args));
    },
    async end(bucket, _now, outcome) {
      await redis.eval(END_SCRIPT, 1, prefix + bucket, outcome, o.stickyFailures, o.windowMs);
    },
  };
}

export interface SharedThrottle {
  redis: Redis;
  /** Key prefix of the buckets, e.g. `citytel:ingest:login-throttle:`. */
  prefix: string;
  log: Logger;
}

export function createLoginThrottle(
  options: Partial<LoginThrottleOptions> = {},
  clock: Clock = realClock,
  shared?: SharedThrottle,
): LoginThrottle {
  const o = { ...DEFAULT_THROTTLE, ...options };
  const memory = memoryBackend(o, clock);
  const remote = shared ? redisBackend(shared.redis, shared.prefix, o) : undefined;
  // Attempts queued on this broker, per bucket (maxWaiting is a bound on this process's memory).
  const waiting = new Map<string, number>();
  let warnedAt = 0;

  const hold = (bucket: string) => waiting.set(bucket, (waiting.get(bucket) ?? 0) + 1);
  const release = (bucket: string) => {
    const left = (waiting.get(bucket) ?? 1) - 1;
    if (left > 0) waiting.set(bucket, left);
    else waiting.delete(bucket);
  };

  /** Redis, else (unreachable, or not configured) this broker's memory. */
  const startRemote = async (
    bucket: string,
    mayWait: boolean,
    freeInFlight: number,
  ): Promise<{ wait: number; backend: Backend }> => {
    try {
      return { wait: await remote!.start(bucket, clock.now(), mayWait, freeInFlight), backend: remote! };
    } catch (err) {
      if (clock.now() - warnedAt > 60_000) {
        warnedAt = clock.now();
        shared?.log.warn(
          { err: (err as Error).message },
          'login throttle: redis unreachable, counting locally',
        );
      }
      return {
        wait: memory.backend.start(bucket, clock.now(), mayWait, freeInFlight) as number,
        backend: memory.backend,
      };
    }
  };

  return {
    async admit(bucket, freeInFlight = 0) {
      let wait: number;
      let backend: Backend;
      if (remote) {
        // A queue place is held across the round trip, so that a burst of CONNECTs arriving in one turn
        // of the event loop sees its own size.
        const queued = waiting.get(bucket) ?? 0;
        hold(bucket);
        ({ wait, backend } = await startRemote(bucket, queued < o.maxWaiting, freeInFlight));
        if (wait <= 0) release(bucket);
      } else {
        // synchronous: each attempt of a burst is counted before the next one is looked at
        backend = memory.backend;
        const mayWait = (waiting.get(bucket) ?? 0) < o.maxWaiting;
        wait = memory.backend.start(bucket, clock.now(), mayWait, freeInFlight) as number;
        if (wait > 0) hold(bucket);
      }
      if (wait < 0) return undefined;
      let ended = false;
      const attempt: Attempt = {
        waitedMs: wait,
        end(outcome) {
          if (ended) return;
          ended = true;
          Promise.resolve(backend.end(bucket, clock.now(), outcome)).catch(() => undefined);
        },
      };
      if (wait === 0) return attempt;
      try {
        await clock.sleep(wait);
      } finally {
        release(bucket);
      }
      return attempt;
    },
    delayFor: (bucket, freeInFlight) => memory.delayFor(bucket, freeInFlight),
    sweep: () => memory.sweep(),
    get size() {
      return memory.size;
    },
  };
}

const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms: number) =>
    new Promise<void>((resolve) => {
      // unref: a login waiting out its delay must not hold the process open at shutdown
      setTimeout(resolve, ms).unref();
    }),
};

/**
 * The unit an address is throttled by: an IPv4 address, or the /64 prefix of an IPv6 one (one subscriber
 * usually holds a whole /64, so throttling single IPv6 addresses would throttle nobody).
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') && tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/** The bucket of a login: its kind of credential and its address's key. */
export const throttleBucket = (kind: 'token' | 'secret', address: string): string =>
  `${kind}:${addressKey(address)}`;
