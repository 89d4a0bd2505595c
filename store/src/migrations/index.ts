import type { Migration, MigrationProvider } from 'kysely';
import * as m001 from './001_devices.ts';
import * as m002 from './002_operators.ts';
import * as m003 from './003_rejections.ts';
import * as m004 from './004_bookings.ts';
import * as m005 from './005_commands.ts';
import * as m006 from './006_revocation.ts';
import * as m007 from './007_audit.ts';
import * as m010 from './010_booking_return.ts';
import * as m011 from './011_stations.ts';
import * as m012 from './012_vehicle_types.ts';
import * as m013 from './013_gbfs_systems.ts';
import * as m014 from './014_roaming.ts';
import * as m017 from './017_device_public_track.ts';
import { type ColumnTypes, columnTypes, type MigrationDb } from './column-types.ts';

type Step = { up(db: MigrationDb, t: ColumnTypes): Promise<void> };

/** In order; migrations are only ever added (later: bookings, commands), never edited once released. */
const STEPS: Record<string, Step> = {
  '001_devices': m001,
  '002_operators': m002,
  '003_rejections': m003,
  '004_bookings': m004,
  '005_commands': m005,
  '006_revocation': m006,
  '007_audit': m007,
  '010_booking_return': m010,
  '011_stations': m011,
  '012_vehicle_types': m012,
  '013_gbfs_systems': m013,
  '014_roaming': m014,
  '017_device_public_track': m017,
};

/** In-code provider: no file-system scanning, so it works the same under tsx, vitest and a bundle. */
export function migrationProvider(dialect: 'sqlite' | 'postgres'): MigrationProvider {
  const t = columnTypes(dialect);
  return {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, step] of Object.entries(STEPS)) out[name] = { up: (db) => step.up(db, t) };
      return out;
    },
  };
}
