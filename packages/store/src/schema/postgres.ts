/** The store's schema as PostgreSQL DDL. */
import { LEGACY_WRITER } from '../common';
import { STORE_MIGRATIONS } from './migrations';
import { renderMigrations } from './render';
import type { SchemaDialect } from './render';

/** TOAST compression with lz4 for these columns (`table ALTER COLUMN column`), where the server has it. */
function lz4(...columns: string[]): string {
  return `DO $d$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
${columns.map((c) => `    ALTER TABLE ${c} SET COMPRESSION lz4;\n`).join('')}  END IF;
END $d$;`;
}

export const POSTGRES_SCHEMA: SchemaDialect = {
  name: 'postgres',
  repeatable: true,
  native: {
    // PostgreSQL only: a session aggregate is upserted inside the one statement of a checkpoint
    // append (a data-modifying CTE), so its JSON counters are merged in SQL there; SQLite merges
    // them in TypeScript inside its synchronous transaction and needs no function
    'aggregate merge functions': `
CREATE FUNCTION baton_merge_counts(a TEXT, b TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $f$
  SELECT coalesce(jsonb_object_agg(k, v), '{}'::jsonb)::text FROM (
    SELECT key AS k, sum(value::numeric) AS v
    FROM (SELECT * FROM jsonb_each_text(a::jsonb) UNION ALL SELECT * FROM jsonb_each_text(b::jsonb)) x
    GROUP BY key) y
$f$;
CREATE FUNCTION baton_merge_metrics(a TEXT, b TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $f$
  SELECT coalesce(jsonb_object_agg(k, jsonb_build_object('sum', s, 'count', c)), '{}'::jsonb)::text FROM (
    SELECT key AS k, sum((value->>'sum')::numeric) AS s, sum((value->>'count')::numeric) AS c
    FROM (SELECT * FROM jsonb_each(a::jsonb) UNION ALL SELECT * FROM jsonb_each(b::jsonb)) x
    GROUP BY key) y
$f$;`,
    'checkpoint bodies compressed': lz4('checkpoints ALTER COLUMN body'),
    // a PostgreSQL trigger runs a function (PL/pgSQL) where SQLite's carries its body inline;
    // dropped and created again, so that the repeatable migration it belongs to can run twice
    'refuse legacy checkpoints': `
CREATE OR REPLACE FUNCTION baton_refuse_legacy_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  RAISE EXCEPTION '${LEGACY_WRITER}';
END $f$;
DROP TRIGGER IF EXISTS checkpoints_refuse_legacy ON checkpoints;
CREATE TRIGGER checkpoints_refuse_legacy BEFORE INSERT ON checkpoints FOR EACH ROW WHEN (NEW.format <> 2)
  EXECUTE FUNCTION baton_refuse_legacy_checkpoint();`,
    'log bodies compressed': lz4('checkpoint_parts ALTER COLUMN body', 'history ALTER COLUMN body'),
    // only the pending jobs, in claim order (a partial index)
    'pending evaluations index': `CREATE INDEX evaluation_jobs_pending ON evaluation_jobs (created_at, id) WHERE status = 'pending';`,
  },
};

/** The store's own schema, in order (see migrations.ts), without the data steps' code. */
export const POSTGRES_SCHEMA_MIGRATIONS = renderMigrations(STORE_MIGRATIONS, POSTGRES_SCHEMA);
