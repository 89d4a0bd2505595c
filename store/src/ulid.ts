import { randomBytes } from 'node:crypto';

/** Crockford's base32, as the ULID spec (github.com/ulid/spec) uses: no I, L, O, U. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

let lastMs = -1;
let lastRandom: number[] = [];

/**
 * A ULID: 48 bits of milliseconds then 80 random bits, 26 characters that sort as text in creation order.
 * Within one millisecond the random part is incremented (the spec's monotonic mode), so ids made by one
 * process sort exactly in the order they were made; that order is the audit trail's "newest first".
 */
export function newUlid(nowMs: number = Date.now()): string {
  let random: number[];
  if (nowMs <= lastMs) {
    random = increment(lastRandom);
    nowMs = lastMs;
  } else {
    const bytes = randomBytes(16);
    random = Array.from({ length: 16 }, (_, i) => bytes[i]! & 31);
  }
  lastMs = nowMs;
  lastRandom = random;
  let time = '';
  let t = nowMs;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time + random.map((d) => ALPHABET[d]).join('');
}

function increment(digits: number[]): number[] {
  const out = [...digits];
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 31) {
      out[i]!++;
      return out;
    }
    out[i] = 0;
  }
  // 2^80 ids in one millisecond: wrapping would break the order, and cannot happen in practice.
  throw new Error('ULID random part overflow');
}

/** `bk_01J...`, `cmd_01J...`: a prefixed ULID, valid under the contract's id rules. */
export const newPrefixedId = (prefix: 'bk' | 'cmd'): string => `${prefix}_${newUlid()}`;
