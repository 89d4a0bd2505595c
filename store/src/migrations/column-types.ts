import type { ColumnDefinitionBuilder, CreateTableBuilder, Kysely } from 'kysely';

/**
 * The few column types that differ between the two backends. Migrations take these instead of
 * branching on the dialect themselves.
 */
export interface ColumnTypes {
  dialect: 'sqlite' | 'postgres';
  time: 'text' | 'timestamptz';
  bool: 'integer' | 'boolean';
  /** An auto-incrementing integer primary key. */
  serialPk: (table: AnyTable, name: string) => AnyTable;
}

// biome-ignore lint/suspicious/noExplicitAny: a table under construction, as Kysely's migrations type it
type AnyTable = CreateTableBuilder<any, any>;

export function columnTypes(dialect: 'sqlite' | 'postgres'): ColumnTypes {
  if (dialect === 'postgres') {
    return {
      dialect,
      time: 'timestamptz',
      bool: 'boolean',
      serialPk: (table, name) =>
        table.addColumn(name, 'bigint', (c: ColumnDefinitionBuilder) =>
          c.primaryKey().generatedByDefaultAsIdentity(),
        ),
    };
  }
  return {
    dialect,
    time: 'text',
    bool: 'integer',
    serialPk: (table, name) =>
      table.addColumn(name, 'integer', (c: ColumnDefinitionBuilder) => c.primaryKey().autoIncrement()),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema as it was, not as typed now
export type MigrationDb = Kysely<any>;
