import { createHash } from 'node:crypto';

/** `Authorization: Basic base64(user:password)` (RFC 7617); the password may contain colons. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  const m = header?.match(/^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Verified credentials kept in memory for `ttlMs`: the airrohr firmware posts every 145 s and a secret
 * check is a deliberately slow scrypt. Keys are sha256(id:secret), so the clear secret is never held; only
 * successes are cached, and a removed device stops being accepted once its entry expires.
 */
export class CredentialCache<T> {
  private readonly entries = new Map<string, { value: T; expires: number }>();
  constructor(
    private readonly ttlMs = 5 * 60_000,
    private readonly maxEntries = 50_000,
  ) {}

  static key(user: string, password: string): string {
    return createHash('sha256').update(user).update('\0').update(password).digest('hex');
  }

  get(key: string, now = Date.now()): T | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: T, now = Date.now()): void {
    // Oldest first: a Map iterates in insertion order.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.delete(key);
    this.entries.set(key, { value, expires: now + this.ttlMs });
  }

  get size(): number {
    return this.entries.size;
  }
}

export interface FailedLoginThrottleOptions {
  /** Failures (and attempts still in flight) an address may have before it waits (default 5). */
  freeFailures?: number;
  /** First wait once past them, doubled at each further failure (default 1 s)... */
  baseDelayMs?: number;
  /** ...up to this (default 5 min): a NAT's good devices are never locked out for longer. */
  maxDelayMs?: number;
  /** An address with no failure for this long starts afresh (default 15 min). */
  forgetMs?: number;
  /** Addresses remembered at most (default 100 000; the oldest are forgotten first). */
  maxAddresses?: number;
  now?: () => number;
}

interface AddressState {
  failures: number;
  inFlight: number;
  blockedUntil: number;
  lastFailure: number;
}

export type ThrottleDecision =
  | { ok: true; done(success: boolean): void }
  | { ok: false; retryAfterMs: number };

/**
 * Failed credential checks per client address, decided before the slow hash runs: a guesser pays nothing
 * to ask, so it must be refused before scrypt is spent on it. Attempts still in flight count as failures
 * until they end, so a burst of parallel requests gets no more checks than one after the other. Past
 * `freeFailures`, each further failure doubles the wait, up to `maxDelayMs`. A success does not clear the
 * count (a guesser behind the same NAT as a good device would otherwise get fresh tries); the count is
 * forgotten `forgetMs` after the last failure.
 */
export class FailedLoginThrottle {
  private readonly byAddress = new Map<string, AddressState>();
  private readonly free: number;
  private readonly base: number;
  private readonly max: number;
  private readonly forget: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;

  constructor(opts: FailedLoginThrottleOptions = {}) {
    this.free = opts.freeFailures ?? 5;
    this.base = opts.baseDelayMs ?? 1000;
    this.max = opts.maxDelayMs ?? 5 * 60_000;
    this.forget = opts.forgetMs ?? 15 * 60_000;
    this.maxAddresses = opts.maxAddresses ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  begin(address: string): ThrottleDecision {
    const now = this.now();
    let s = this.byAddress.get(address);
    if (s && s.inFlight === 0 && now - s.lastFailure > this.forget) {
      this.byAddress.delete(address);
      s = undefined;
    }
    if (s && now < s.blockedUntil) return { ok: false, retryAfterMs: s.blockedUntil - now };
    if (s && s.failures + s.inFlight >= this.free && s.inFlight > 0) {
      // Past the free tries, one check at a time: the others wait for its outcome.
      return { ok: false, retryAfterMs: this.base };
    }
    if (!s) {
      if (this.byAddress.size >= this.maxAddresses)
        this.byAddress.delete(this.byAddress.keys().next().value!);
      s = { failures: 0, inFlight: 0, blockedUntil: 0, lastFailure: now };
      this.byAddress.set(address, s);
    }
    const state = s;
    state.inFlight++;
    let ended = false;
    return {
      ok: true,
      done: (success) => {
        if (ended) return;
        ended = true;
        state.inFlight--;
        if (success) return;
        const t = this.now();
        state.failures++;
        state.lastFailure = t;
        const over = state.failures - this.free;
        if (over >= 0) state.blockedUntil = t + Math.min(this.max, this.base * 2 ** Math.min(over, 30));
      },
    };
  }

  get size(): number {
    return this.byAddress.size;
  }
}
