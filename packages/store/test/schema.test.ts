/**
 * The schema written once (src/schema): how it renders to each dialect, the version numbers each
 * backend records, and — on real databases — that a fresh store gets exactly the schema that a
 * store of the first release (the golden fixtures) has after its upgrade in place.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { MigrationSpec } from '../src/schema/migrations';
import { renderMigrations } from '../src/schema/render';
import { POSTGRES_SCHEMA, POSTGRES_SCHEMA_MIGRATIONS } from '../src/schema/postgres';
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA } from '../src/schema/sqlite';
import { PostgresStore } from '../src/postgres';
import { SqliteStore } from '../src/sqlite';

const golden = join(dirname(fileURLToPath(import.meta.url)), 'golden');
const url = process.env.BATON_TEST_PG_URL;

describe('schema: migration numbers', () => {
  it('each backend keeps the versions and names its stores recorded (PostgreSQL has one more, its 2)', () => {
    const shared = [
      'history log, checkpoint parts, lease epochs',
      'effect attempts and resolutions, session keys, evaluation queue',
      'wait tokens stored as digests',
      'compensation state beside the effect status',
      'sessions by version and status over time; sessions by tenant',
    ];
    expect(SQLITE_MIGRATIONS.map((m) => [m.version, m.name])).toEqual(
      ['initial', ...shared].map((n, i) => [i + 1, n]),
    );
    expect(POSTGRES_SCHEMA_MIGRATIONS.map((m) => [m.version, m.name])).toEqual(
      ['initial', 'checkpoint bodies compressed with lz4 where the server supports it', ...shared].map(
        (n, i) => [i + 1, n],
      ),
    );
  });

  it('the data steps run after the same migration on both backends', () => {
    const steps = (ms: typeof SQLITE_MIGRATIONS) => ms.filter((m) => m.data).map((m) => [m.name, m.data]);
    expect(steps(SQLITE_MIGRATIONS)).toEqual([
      ['history log, checkpoint parts, lease epochs', 'legacy checkpoints'],
      ['wait tokens stored as digests', 'wait digests'],
    ]);
    expect(steps(POSTGRES_SCHEMA_MIGRATIONS)).toEqual(steps(SQLITE_MIGRATIONS));
    expect(SQLITE_MIGRATIONS.find((m) => m.data === 'legacy checkpoints')?.version).toBe(2);
    expect(POSTGRES_SCHEMA_MIGRATIONS.find((m) => m.data === 'legacy checkpoints')?.version).toBe(3);
  });
});

describe('schema: rendering', () => {
  const spec: MigrationSpec[] = [
    {
      name: 'one of each',
      sql: `CREATE TABLE t (id CTEXT PRIMARY KEY, n INT NOT NULL, at BIGINT, r REAL NOT NULL,
  b BOOL NOT NULL DEFAULT FALSE, body BODY NOT NULL, j JSON, INTERVAL_INT TEXT);
CREATE TABLE u (id SERIAL PRIMARY KEY);`,
      native: ['pending evaluations index'],
    },
    { name: 'postgres only', only: 'postgres', sql: 'CREATE INDEX t_n ON t (n);' },
    {
      name: 'repeatable',
      repeatable: true,
      sql: `ALTER TABLE t ADD COLUMN c INT;
CREATE TABLE w (a TEXT PRIMARY KEY);
CREATE UNIQUE INDEX w_a ON w (a);
CREATE INDEX w_b ON w (a);`,
      native: ['refuse legacy checkpoints'],
    },
  ];
  const s = renderMigrations(spec, SQLITE_SCHEMA);
  const p = renderMigrations(spec, POSTGRES_SCHEMA);

  it('writes each portable type as the dialect names it, whole words only, then the native objects', () => {
    expect(s[0]?.sql).toBe(
      `CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL, at INTEGER, r REAL NOT NULL,
  b INTEGER NOT NULL DEFAULT 0, body BLOB NOT NULL, j TEXT, INTERVAL_INT TEXT);
CREATE TABLE u (id INTEGER PRIMARY KEY);
CREATE INDEX evaluation_jobs_pending ON evaluation_jobs (status, created_at);`,
    );
    expect(p[0]?.sql).toBe(
      `CREATE TABLE t (id TEXT COLLATE "C" PRIMARY KEY, n INTEGER NOT NULL, at BIGINT, r DOUBLE PRECISION NOT NULL,
  b BOOLEAN NOT NULL DEFAULT false, body TEXT NOT NULL, j JSONB, INTERVAL_INT TEXT);
CREATE TABLE u (id BIGSERIAL PRIMARY KEY);
CREATE INDEX evaluation_jobs_pending ON evaluation_jobs (created_at, id) WHERE status = 'pending';`,
    );
  });

  it('numbers a migration only on the dialect it is for', () => {
    expect(s.map((m) => [m.version, m.name])).toEqual([
      [1, 'one of each'],
      [2, 'repeatable'],
    ]);
    expect(p.map((m) => [m.version, m.name])).toEqual([
      [1, 'one of each'],
      [2, 'postgres only'],
      [3, 'repeatable'],
    ]);
  });

  it('a repeatable migration gets IF NOT EXISTS where the dialect has it (not in its native objects)', () => {
    expect(s[1]?.sql.split('\n').slice(0, 4)).toEqual([
      'ALTER TABLE t ADD COLUMN c INTEGER;',
      'CREATE TABLE w (a TEXT PRIMARY KEY);',
      'CREATE UNIQUE INDEX w_a ON w (a);',
      'CREATE INDEX w_b ON w (a);',
    ]);
    expect(s[1]?.sql).toMatch(/\nCREATE TRIGGER checkpoints_refuse_legacy BEFORE INSERT/);
    expect(p[2]?.sql.split('\n').slice(0, 4)).toEqual([
      'ALTER TABLE t ADD COLUMN IF NOT EXISTS c INTEGER;',
      'CREATE TABLE IF NOT EXISTS w (a TEXT PRIMARY KEY);',
      'CREATE UNIQUE INDEX IF NOT EXISTS w_a ON w (a);',
      'CREATE INDEX IF NOT EXISTS w_b ON w (a);',
    ]);
    expect(p[2]?.sql).toMatch(/\nCREATE OR REPLACE FUNCTION baton_refuse_legacy_checkpoint\(\)/);
    expect(p[2]?.sql).toMatch(/\nCREATE TRIGGER checkpoints_refuse_legacy BEFORE INSERT/);
  });
});

const norm = (s: string | null) =>
  (s ?? '')
    .replace(/\s+/g, ' ')
    .replace(/\(\s+/g, '(')
    .replace(/\s+\)/g, ')')
    .replace(/\s*,\s*/g, ', ')
    .trim();

describe('schema: a fresh store has the schema of a first-release store upgraded in place', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('sqlite: every table, index and trigger (text normalised) and the recorded migrations', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-schema-'));
    dirs.push(dir);
    const schemaOf = async (file: string) => {
      await new SqliteStore(file).close();
      const db = new Database(file, { readonly: true });
      try {
        const objects = db
          .prepare(
            `SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`,
          )
          .all() as Array<{ type: string; name: string; sql: string | null }>;
        const migrations = db
          .prepare('SELECT version, name FROM baton_schema_migrations ORDER BY version')
          .all();
        return { objects: objects.map((o) => ({ ...o, sql: norm(o.sql) })), migrations };
      } finally {
        db.close();
      }
    };
    copyFileSync(join(golden, 'store-v1.sqlite'), join(dir, 'golden.db'));
    const upgraded = await schemaOf(join(dir, 'golden.db'));
    const fresh = await schemaOf(join(dir, 'fresh.db'));
    expect(fresh.objects.length).toBeGreaterThan(40);
    expect(fresh).toEqual(upgraded);
  });

  describe.skipIf(!url)('postgres', () => {
    it('columns (types, collations, defaults, compression), indexes, constraints, triggers, functions', async () => {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      const tag = `${process.pid}_${Date.now().toString(36)}`;
      const fresh = `baton_schema_fresh_${tag}`;
      const upgraded = `baton_schema_golden_${tag}`;
      try {
        const dump = readFileSync(join(golden, 'store-v1.pgdump.sql'), 'utf8')
          .split('\n')
          .filter((line) => !/^\\(un)?restrict\b/.test(line))
          .join('\n')
          .replaceAll('baton_golden_v1', upgraded);
        await admin.query(dump);
        await admin.query('RESET search_path');
        for (const schema of [fresh, upgraded]) await (await PostgresStore.open(url!, { schema })).close();
        const a = await pgSchema(admin, fresh);
        expect(a.columns.length).toBeGreaterThan(200);
        expect(a).toEqual(await pgSchema(admin, upgraded));
      } finally {
        for (const s of [fresh, upgraded]) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
        await admin.end();
      }
    });
  });
});

async function pgSchema(c: pg.Client, schema: string) {
  const q = async (sql: string) =>
    JSON.parse(JSON.stringify((await c.query(sql, [schema])).rows).replaceAll(schema, 'S')) as unknown[];
  return {
    columns: await q(`SELECT c.table_name, c.ordinal_position, c.column_name, c.data_type, c.collation_name,
        c.is_nullable, c.column_default, a.attcompression::text AS compression
      FROM information_schema.columns c
      JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass
        AND a.attname = c.column_name
      WHERE c.table_schema = $1 ORDER BY c.table_name, c.ordinal_position`),
    indexes: await q(
      `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`,
    ),
    constraints: await q(`SELECT cl.relname AS t, co.conname, co.contype, pg_get_constraintdef(co.oid) AS def
      FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
      WHERE n.nspname = $1 ORDER BY cl.relname, co.conname`),
    triggers:
      await q(`SELECT event_object_table, trigger_name, action_timing, event_manipulation, action_condition,
        action_statement FROM information_schema.triggers WHERE trigger_schema = $1 ORDER BY trigger_name`),
    functions: await q(`SELECT p.proname, pg_get_functiondef(p.oid) AS def FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 ORDER BY p.proname`),
    sequences: await q(`SELECT sequence_name, data_type FROM information_schema.sequences
      WHERE sequence_schema = $1 ORDER BY sequence_name`),
    migrations: (
      await c.query(`SELECT version, name FROM "${schema}".baton_schema_migrations ORDER BY version`)
    ).rows,
  };
}
