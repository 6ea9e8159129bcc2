/** The store's schema as SQLite DDL. */
import { LEGACY_WRITER } from '../common';
import { STORE_MIGRATIONS } from './migrations';
import { renderMigrations } from './render';
import type { SchemaDialect } from './render';

export const SQLITE_SCHEMA: SchemaDialect = {
  name: 'sqlite',
  // SQLite's ADD COLUMN has no IF NOT EXISTS; its migrations run in one synchronous transaction
  repeatable: false,
  native: {
    // aggregates are merged in TypeScript, inside the synchronous write transaction
    'aggregate merge functions': '',
    'checkpoint bodies compressed': '',
    'log bodies compressed': '',
    'refuse legacy checkpoints': `
CREATE TRIGGER checkpoints_refuse_legacy BEFORE INSERT ON checkpoints WHEN NEW.format <> 2
BEGIN
  SELECT RAISE(ABORT, '${LEGACY_WRITER}');
END;`,
    'pending evaluations index':
      'CREATE INDEX evaluation_jobs_pending ON evaluation_jobs (status, created_at);',
  },
};

/** The store's own schema, in order (see migrations.ts). */
export const SQLITE_MIGRATIONS = renderMigrations(STORE_MIGRATIONS, SQLITE_SCHEMA);
