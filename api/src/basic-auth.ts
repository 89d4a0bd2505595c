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
