import { describe, expect, it } from 'vitest';
import {
  hashOperatorToken,
  hashSckToken,
  hashSecret,
  newInstallSalt,
  newSckToken,
  verifySecretHash,
} from './secrets.ts';

describe('device secrets', () => {
  it('are stored as salted scrypt hashes with their parameters', async () => {
    const a = await hashSecret('s3cret');
    const b = await hashSecret('s3cret');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(a).not.toBe(b);
    expect(await verifySecretHash('s3cret', a)).toBe(true);
    expect(await verifySecretHash('s3cret!', a)).toBe(false);
  });

  it('refuse malformed stored hashes instead of throwing', async () => {
    for (const bad of [
      '',
      'plain',
      'scrypt$16384$8$1$salt',
      'bcrypt$1$2$3$AAAA$AAAA',
      'scrypt$x$8$1$AAAA$AAAA',
    ]) {
      expect(await verifySecretHash('s3cret', bad)).toBe(false);
    }
  });
});

describe('SCK tokens', () => {
  it('are 6 characters of [a-z0-9]', () => {
    const tokens = Array.from({ length: 200 }, newSckToken);
    expect(tokens.every((t) => /^[a-z0-9]{6}$/.test(t))).toBe(true);
    expect(new Set(tokens).size).toBeGreaterThan(195);
  });

  it('hash the same under one installation salt and differently under another', async () => {
    const salt = newInstallSalt();
    expect(await hashSckToken('abc123', salt)).toBe(await hashSckToken('abc123', salt));
    expect(await hashSckToken('abc123', salt)).not.toBe(await hashSckToken('abc124', salt));
    expect(await hashSckToken('abc123', salt)).not.toBe(await hashSckToken('abc123', newInstallSalt()));
  });
});

describe('operator tokens', () => {
  it('are stored as SHA-256 hex', () => {
    expect(hashOperatorToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
