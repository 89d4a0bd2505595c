import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { isUniqueViolation } from '../errors.ts';
import { bit, iso, toOperator } from '../mapping.ts';
import type { Database } from '../schema.ts';
import { hashOperatorToken, newOperatorToken } from '../secrets.ts';
import { type Operator, type OperatorRepo, StoreConflictError } from '../types.ts';

export const BOOTSTRAP_ADMIN_ID = 'admin';

export function createOperatorRepo(db: Kysely<Database>, log?: Logger): OperatorRepo {
  const get = async (id: string): Promise<Operator | undefined> => {
    const row = await db.selectFrom('operators').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toOperator(row);
  };

  const verifyToken = async (token: string): Promise<Operator | undefined> => {
    const row = await db
      .selectFrom('operators')
      .selectAll()
      .where('token_hash', '=', hashOperatorToken(token))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row && toOperator(row);
  };

  /** The bootstrap token last applied, so that the same variable never undoes a rotation or revocation. */
  const BOOTSTRAP_META = 'bootstrap_admin_token_hash';
  const setMeta = async (key: string, value: string) => {
    const updated = await db.updateTable('meta').set({ value }).where('key', '=', key).executeTakeFirst();
    if (updated.numUpdatedRows === 0n) await db.insertInto('meta').values({ key, value }).execute();
  };

  const create: OperatorRepo['create'] = async (input) => {
    const token = input.token ?? newOperatorToken();
    try {
      const row = await db
        .insertInto('operators')
        .values({
          id: input.id,
          name: input.name,
          admin: bit(input.admin),
          token_hash: hashOperatorToken(token),
          created_at: iso(new Date()),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return { operator: toOperator(row), token };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      if (await get(input.id)) throw new StoreConflictError(`operator ${input.id} already exists`);
      throw new StoreConflictError('this token already belongs to another operator');
    }
  };

  return {
    create,
    get,
    verifyToken,

    async ensureBootstrapAdmin(token) {
      const owner = await verifyToken(token);
      if (owner) return owner;
      const hash = hashOperatorToken(token);
      try {
        const { operator } = await create({
          id: BOOTSTRAP_ADMIN_ID,
          name: 'Administrator',
          admin: true,
          token,
        });
        await setMeta(BOOTSTRAP_META, hash);
        return operator;
      } catch (err) {
        if (!(err instanceof StoreConflictError)) throw err;
      }
      // Another process bootstrapped at the same moment with the same token...
      const raced = await verifyToken(token);
      if (raced) return raced;
      const applied = await db
        .selectFrom('meta')
        .select('value')
        .where('key', '=', BOOTSTRAP_META)
        .executeTakeFirst();
      if (applied?.value === hash) {
        log?.warn(
          { operator: BOOTSTRAP_ADMIN_ID },
          'BOOTSTRAP_ADMIN_TOKEN was rotated or revoked since it was applied: not restored (set a new value to recover)',
        );
        return undefined;
      }
      // ...or BOOTSTRAP_ADMIN_TOKEN was changed since the first start: the variable is the installation's
      // recovery key, so the admin account takes the new token (the old one stops working).
      await db
        .updateTable('operators')
        .set({ token_hash: hash, admin: 1, revoked_at: null })
        .where('id', '=', BOOTSTRAP_ADMIN_ID)
        .execute();
      await setMeta(BOOTSTRAP_META, hash);
      log?.warn({ operator: BOOTSTRAP_ADMIN_ID }, 'BOOTSTRAP_ADMIN_TOKEN changed: admin token replaced');
      const admin = await verifyToken(token);
      if (!admin) throw new Error('could not set the bootstrap admin token');
      return admin;
    },

    async rotateToken(id) {
      const token = newOperatorToken();
      const row = await db
        .updateTable('operators')
        .set({ token_hash: hashOperatorToken(token), revoked_at: null })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return row && { operator: toOperator(row), token };
    },

    async revokeToken(id) {
      const row = await db
        .updateTable('operators')
        // unique and never a SHA-256 hex digest: no token matches it
        .set({ token_hash: `revoked:${randomBytes(16).toString('hex')}`, revoked_at: iso(new Date()) })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return row && toOperator(row);
    },

    async list() {
      return (await db.selectFrom('operators').selectAll().orderBy('id').execute()).map(toOperator);
    },
  };
}
