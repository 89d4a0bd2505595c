import { isIPv6 } from 'node:net';

/**
 * Slows down repeated failed logins from one address (CONTRACT §1). After `freeFailures` failures, each
 * further attempt waits before it is answered, `baseDelayMs` doubling up to `maxDelayMs`. Attempts from a
 * throttled address are also answered one after the other, so opening many connections at once guesses
 * no faster; past `maxWaiting` queued attempts the rest are refused at once. SCK tokens are short (6
 * characters), so this is what keeps guessing them slow.
 */
export interface LoginThrottleOptions {
  freeFailures: number;
  /** An address is forgotten after this long without a failure. */
  windowMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxWaiting: number;
  maxEntries: number;
  /**
   * A success clears an address, so a device whose secret was just fixed logs in at full speed again, but
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

export type Admission = { go: true; waitedMs: number } | { go: false };

export interface LoginThrottle {
  /** Resolves when an attempt from `address` may be answered, or `{ go: false }` when too many already wait. */
  admit(address: string): Promise<Admission>;
  failed(address: string): void;
  succeeded(address: string): void;
  /** The wait the next attempt from `address` would get before queueing, in ms. */
  delayFor(address: string): number;
  /** Drops expired addresses. */
  sweep(): void;
  readonly size: number;
}

interface Entry {
  failures: number;
  lastFailureAt: number;
  /** When the last queued attempt is answered: the next one comes after it. */
  nextSlotAt: number;
  waiting: number;
}

export function createLoginThrottle(
  options: Partial<LoginThrottleOptions> = {},
  clock: { now(): number; sleep(ms: number): Promise<void> } = realClock,
): LoginThrottle {
  const o = { ...DEFAULT_THROTTLE, ...options };
  const entries = new Map<string, Entry>();

  const live = (address: string): Entry | undefined => {
    const key = addressKey(address);
    const entry = entries.get(key);
    if (entry && clock.now() - entry.lastFailureAt > o.windowMs && entry.waiting === 0) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };

  const delayOf = (entry: Entry | undefined): number => {
    if (!entry || entry.failures < o.freeFailures) return 0;
    const doublings = Math.min(entry.failures - o.freeFailures, 30);
    return Math.min(o.baseDelayMs * 2 ** doublings, o.maxDelayMs);
  };

  const sweep = () => {
    const now = clock.now();
    for (const [key, entry] of entries) {
      if (now - entry.lastFailureAt > o.windowMs && entry.waiting === 0) entries.delete(key);
    }
  };

  return {
    async admit(address) {
      const entry = live(address);
      const delay = delayOf(entry);
      if (!entry || delay === 0) return { go: true, waitedMs: 0 };
      if (entry.waiting >= o.maxWaiting) return { go: false };
      const now = clock.now();
      const slot = Math.max(now, entry.nextSlotAt) + delay;
      entry.nextSlotAt = slot;
      entry.waiting++;
      try {
        await clock.sleep(slot - now);
      } finally {
        entry.waiting--;
      }
      return { go: true, waitedMs: slot - now };
    },

    failed(address) {
      const key = addressKey(address);
      const now = clock.now();
      const entry = live(address);
      if (entry) {
        entry.failures++;
        entry.lastFailureAt = now;
        return;
      }
      if (entries.size >= o.maxEntries) {
        sweep();
        // Still full: forget the address that failed longest ago (Map keeps insertion order).
        if (entries.size >= o.maxEntries) entries.delete(entries.keys().next().value!);
      }
      entries.set(key, { failures: 1, lastFailureAt: now, nextSlotAt: 0, waiting: 0 });
    },

    succeeded(address) {
      const entry = live(address);
      if (entry && entry.failures < o.stickyFailures) entries.delete(addressKey(address));
    },

    delayFor: (address) => delayOf(live(address)),
    sweep,
    get size() {
      return entries.size;
    },
  };
}

const realClock = {
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
