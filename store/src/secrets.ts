import { createHash, randomBytes, randomInt, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt cost: 16 MiB and about 50 ms per hash, the interactive-login figures of RFC 7914 §2. */
export const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 } as const;

const SCK_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

function scryptAsync(secret: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  // Without maxmem, Node refuses parameters above 32 MiB; leave headroom for stored hashes with larger N.
  const options = { ...opts, maxmem: 256 * (opts.N ?? SCRYPT.N) * (opts.r ?? SCRYPT.r) };
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A device's MQTT / Basic-auth password: 32 letters and digits (~190 bits). Not base64url: a secret starting
 * with `-` is read as an option by `mosquitto_pub -P` and by firmware config tools.
 */
export const newDeviceSecret = (): string => {
  let s = '';
  for (let i = 0; i < 32; i++) s += ALNUM[randomInt(ALNUM.length)];
  return s;
};

/** `scrypt$N$r$p$<salt b64>$<hash b64>`: the parameters travel with the hash so they can be raised later. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const { N, r, p, keylen } = SCRYPT;
  const hash = await scryptAsync(secret, salt, keylen, { N, r, p });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifySecretHash(secret: string, encoded: string): Promise<boolean> {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const expected = Buffer.from(parts[5] ?? '', 'base64');
  if (!N || !r || !p || expected.length === 0) return false;
  const actual = await scryptAsync(secret, salt, expected.length, { N, r, p });
  return timingSafeEqual(actual, expected);
}

let dummyHash: Promise<string> | undefined;
/**
 * A hash to verify against when the device is unknown, so that a wrong id costs the same time as a
 * wrong secret and login timing does not tell which ids exist.
 */
export const dummySecretHash = (): Promise<string> => {
  dummyHash ??= hashSecret(newDeviceSecret());
  return dummyHash;
};

/** A Smart Citizen kit token: 6 characters of [a-z0-9] (CONTRACT §1). */
export function newSckToken(): string {
  let token = '';
  for (let i = 0; i < 6; i++) token += SCK_ALPHABET[randomInt(SCK_ALPHABET.length)];
  return token;
}

/**
 * SCK tokens have only 36^6 ≈ 2.2e9 values: a fast hash of a stolen database would give every token
 * back in seconds, so they get scrypt like secrets. The kit sends its token as the only credential, so
 * the lookup must find the device from the token alone; a per-row salt would mean one scrypt per
 * registered kit on every connection. Hence one salt per installation (random, kept in the `meta`
 * table): the hash is deterministic, the lookup is one indexed query plus one scrypt, and precomputed
 * tables are useless across installations. Brute force still costs ~50 ms per guess.
 */
export async function hashSckToken(token: string, installSalt: string): Promise<string> {
  const { N, r, p, keylen } = SCRYPT;
  const hash = await scryptAsync(token, Buffer.from(installSalt, 'base64'), keylen, { N, r, p });
  return hash.toString('base64');
}

export const newInstallSalt = (): string => randomBytes(16).toString('base64');

/** An operator bearer token: 32 random bytes, 43 base64url characters. */
export const newOperatorToken = (): string => randomBytes(32).toString('base64url');

/**
 * Operator tokens carry 256 random bits, so nothing can be brute-forced and a fast hash is right (the
 * way GitHub stores its tokens): a lookup costs one SHA-256. A hand-chosen BOOTSTRAP_ADMIN_TOKEN goes
 * through the same hash; choosing it long and random is the operator's job.
 */
export const hashOperatorToken = (token: string): string => createHash('sha256').update(token).digest('hex');
