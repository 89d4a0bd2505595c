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
      .executeTakeFirst();
    return row && toOperator(row);
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
      try {
        return (await create({ id: BOOTSTRAP_ADMIN_ID, name: 'Administrator', admin: true, token })).operator;
      } catch (err) {
        if (!(err instanceof StoreConflictError)) throw err;
      }
      // Another process bootstrapped at the same moment with the same token...
      const raced = await verifyToken(token);
      if (raced) return raced;
      // ...or BOOTSTRAP_ADMIN_TOKEN was changed since the first start: the variable is the installation's
      // recovery key, so the admin account takes the new token (the old one stops working).
      await db
        .updateTable('operators')
        .set({ token_hash: hashOperatorToken(token), admin: 1 })
        .where('id', '=', BOOTSTRAP_ADMIN_ID)
        .execute();
      log?.warn({ operator: BOOTSTRAP_ADMIN_ID }, 'BOOTSTRAP_ADMIN_TOKEN changed: admin token replaced');
      const admin = await verifyToken(token);
      if (!admin) throw new Error('could not set the bootstrap admin token');
      return admin;
    },
  };
}
