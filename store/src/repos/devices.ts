import { isSckToken } from '@citytel/contract';
import type { Kysely } from 'kysely';
import { isUniqueViolation } from '../errors.ts';
import { bit, iso, toDevice } from '../mapping.ts';
import type { Database } from '../schema.ts';
import {
  dummySecretHash,
  hashSckToken,
  hashSecret,
  newDeviceSecret,
  newSckToken,
  verifySecretHash,
} from '../secrets.ts';
import {
  type Device,
  type DeviceRepo,
  type NewDevice,
  type ProvisionedDevice,
  StoreConflictError,
} from '../types.ts';
import type { Toucher } from './touch.ts';

/** Token collisions are one in millions per kit; a few fresh draws settle any that happen. */
const TOKEN_ATTEMPTS = 5;

export function createDeviceRepo(db: Kysely<Database>, touch: Toucher): DeviceRepo {
  let salt: Promise<string> | undefined;
  const installSalt = (): Promise<string> => {
    salt ??= db
      .selectFrom('meta')
      .select('value')
      .where('key', '=', 'sck_token_salt')
      .executeTakeFirstOrThrow()
      .then((r) => r.value);
    salt.catch(() => {
      salt = undefined;
    });
    return salt;
  };

  const get = async (id: string): Promise<Device | undefined> => {
    const row = await db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toDevice(row);
  };

  const conflict = (id: string) => new StoreConflictError(`device ${id} already exists`);

  async function insert(
    input: NewDevice,
    credentials: { secret_hash: string | null; token_hash: string | null },
  ) {
    const row = await db
      .insertInto('devices')
      .values({
        id: input.id,
        kind: input.kind,
        operator_id: input.operatorId ?? null,
        name: input.name ?? null,
        lat: input.lat ?? null,
        lon: input.lon ?? null,
        mobile: bit(input.mobile),
        indoor: bit(input.indoor),
        public_track: bit(input.publicTrack),
        ...credentials,
        created_at: iso(new Date()),
        last_seen_at: null,
        firmware: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toDevice(row);
  }

  /** A fresh token that is nobody's client id: no device is named like it (CONTRACT §1's client-id rule). */
  async function drawToken(): Promise<{ token: string; token_hash: string }> {
    for (let attempt = 1; ; attempt++) {
      const token = newSckToken();
      if (!(await get(token)) || attempt >= TOKEN_ATTEMPTS)
        return { token, token_hash: await hashSckToken(token, await installSalt()) };
    }
  }

  /** The `sck` row holding this token, disabled or not. */
  const rowBySckToken = async (token: string) =>
    db
      .selectFrom('devices')
      .selectAll()
      .where('token_hash', '=', await hashSckToken(token, await installSalt()))
      .where('kind', '=', 'sck')
      .executeTakeFirst();

  async function createSck(input: NewDevice): Promise<ProvisionedDevice> {
    for (let attempt = 1; ; attempt++) {
      const { token, token_hash } = await drawToken();
      try {
        return { device: await insert(input, { secret_hash: null, token_hash }), token };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        if (await get(input.id)) throw conflict(input.id);
        if (attempt >= TOKEN_ATTEMPTS) throw new StoreConflictError('could not draw an unused SCK token');
      }
    }
  }

  return {
    get,

    async create(input) {
      // Cheap early answer for the common case; the insert below still catches a concurrent twin.
      if (await get(input.id)) throw conflict(input.id);
      if (input.kind === 'sck') return createSck(input);
      // A device named like a kit's token would share its client id (CONTRACT §1).
      if (isSckToken(input.id) && (await rowBySckToken(input.id)))
        throw new StoreConflictError(`device id ${input.id} is taken`);
      const secret = newDeviceSecret();
      const secret_hash = await hashSecret(secret);
      try {
        return { device: await insert(input, { secret_hash, token_hash: null }), secret };
      } catch (err) {
        throw isUniqueViolation(err) ? conflict(input.id) : err;
      }
    },

    async list(filter = {}) {
      let q = db.selectFrom('devices').selectAll().orderBy('id');
      if (filter.kind) q = q.where('kind', '=', filter.kind);
      if (filter.operatorId) q = q.where('operator_id', '=', filter.operatorId);
      return (await q.execute()).map(toDevice);
    },

    async verifySecret(id, secret) {
      const row = await db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
      const ok = await verifySecretHash(secret, row?.secret_hash ?? (await dummySecretHash()));
      // a disabled device is refused like a wrong secret, by every caller (broker, airrohr bridge)
      return ok && row?.secret_hash && !row.disabled ? toDevice(row) : undefined;
    },

    async findBySckToken(token) {
      if (!isSckToken(token)) return undefined;
      const row = await rowBySckToken(token);
      return row && !row.disabled ? toDevice(row) : undefined;
    },

    touch: (id, at, firmware) => touch([{ id, at, firmware }]),

    async setDisabled(id, disabled) {
      const row = await db
        .updateTable('devices')
        .set({ disabled: bit(disabled) })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return row && toDevice(row);
    },

    async rotateCredentials(id) {
      const device = await get(id);
      if (!device) return undefined;
      if (device.kind === 'sck') {
        for (let attempt = 1; ; attempt++) {
          const { token, token_hash } = await drawToken();
          try {
            const row = await db
              .updateTable('devices')
              .set({ token_hash })
              .where('id', '=', id)
              .returningAll()
              .executeTakeFirst();
            return row && { device: toDevice(row), token };
          } catch (err) {
            if (!isUniqueViolation(err) || attempt >= TOKEN_ATTEMPTS) throw err;
          }
        }
      }
      const secret = newDeviceSecret();
      const row = await db
        .updateTable('devices')
        .set({ secret_hash: await hashSecret(secret) })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return row && { device: toDevice(row), secret };
    },

    async loginTag(id) {
      const row = await db
        .selectFrom('devices')
        .select(['secret_hash', 'token_hash', 'disabled'])
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row || row.disabled) return undefined;
      // the end of the hash: salted and random, so it changes with every new secret or token
      return (row.secret_hash ?? row.token_hash ?? '').slice(-16) || undefined;
    },

    async remove(id) {
      const res = await db.deleteFrom('devices').where('id', '=', id).executeTakeFirst();
      await db.deleteFrom('rejections').where('device_id', '=', id).execute();
      return res.numDeletedRows > 0n;
    },
  };
}
