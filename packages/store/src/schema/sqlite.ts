/** The store's schema as SQLite DDL. */
import { LEGACY_WRITER } from '../common';
import { STORE_MIGRATIONS } from './migrations';
import { renderMigrations } from './render';
import type { SchemaDialect } from './render';

export const SQLITE_SCHEMA: SchemaDialect = {
  name: 'sqlite',
  types: {
    text: 'TEXT',
    key: 'TEXT',
    int: 'INTEGER',
    bigint: 'INTEGER',
    real: 'REAL',
    bool: 'INTEGER',
    // checkpoint and history bodies as their UTF-8 bytes
    body: 'BLOB',
    json: 'TEXT',
    // the rowid
    serial: 'INTEGER',
  },
  bool: (v) => (v ? '1' : '0'),
  // SQLite's ADD COLUMN has no IF NOT EXISTS; its migrations run in one synchronous transaction
  repeatable: false,
  compress: () => '',
  native: {
    // aggregates are merged in TypeScript, inside the synchronous write transaction
    'aggregate merge functions': '',
    'refuse legacy checkpoints': `
CREATE TRIGGER checkpoints_refuse_legacy BEFORE INSERT ON checkpoints WHEN NEW.format <> 2
BEGIN
  SELECT RAISE(ABORT, '${LEGACY_WRITER}');
END`,
  },
};

/** The store's own schema, in order (see migrations.ts). */
export const SQLITE_MIGRATIONS = renderMigrations(STORE_MIGRATIONS, SQLITE_SCHEMA);
