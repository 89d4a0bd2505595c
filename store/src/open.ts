import { sql } from 'kysely';
import type { Logger } from 'pino';
import { connect } from './dialect.ts';
import { migrate } from './migrate.ts';
import { createAuditRepo } from './repos/audit.ts';
import { createBookingRepo } from './repos/bookings.ts';
import { createCommandRepo } from './repos/commands.ts';
import { createDeviceRepo } from './repos/devices.ts';
import { createFleetRegistryRepo } from './repos/fleet-registry.ts';
import { createOfflineEventRepo } from './repos/offline-events.ts';
import { createOperatorRepo } from './repos/operators.ts';
import { createRejectionRepo } from './repos/rejections.ts';
import { createRoamingRepo } from './repos/roaming.ts';
import { createToucher } from './repos/touch.ts';
import type { Store } from './types.ts';

export interface OpenStoreOptions {
  /** Where the embedded SQLite file lives (`${dataDir}/citytel.db`); created when missing. */
  dataDir: string;
  /** `postgres://` or `postgresql://` selects PostgreSQL; unset or empty, the embedded file; else an error. */
  databaseUrl?: string | undefined;
  log?: Logger | undefined;
}

/** Opens the store and brings its schema up to date; safe when several processes open it at once. */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const log = opts.log?.child({ component: 'store' });
  const { db, dialect, location } = connect({ ...opts, log });
  try {
    await migrate(db, dialect, location, log);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  const touchMany = createToucher(db, dialect);
  let closed: Promise<void> | undefined;
  return {
    dialect,
    devices: createDeviceRepo(db, touchMany),
    operators: createOperatorRepo(db, log),
    rejections: createRejectionRepo(db),
    bookings: createBookingRepo(db),
    commands: createCommandRepo(db),
    audit: createAuditRepo(db),
    fleet: createFleetRegistryRepo(db),
    roaming: createRoamingRepo(db),
    offlineEvents: createOfflineEventRepo(db),
    touchMany,
    async ping() {
      await sql`select 1`.execute(db);
    },
    close() {
      closed ??= db.destroy();
      return closed;
    },
  };
}
