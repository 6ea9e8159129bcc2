/**
 * A store opened for the hostile-input suite, with a dump of every table it holds (SQLite: every
 * table in sqlite_master; PostgreSQL: every table of the test's own schema), to show that a
 * rejected request changed nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStore, type Store } from '@baton/store';
import { PG_URL } from '../fixtures/harness';

export interface DumpedStore {
  name: string;
  store: Store;
  /** Every row of every table, as text, rows sorted. */
  dump(): Promise<Record<string, string[]>>;
  cleanup(): Promise<void>;
}

function canonicalRows(rows: unknown[]): string[] {
  return rows
    .map((r) =>
      JSON.stringify(r, (_k, v: unknown) =>
        Buffer.isBuffer(v) ? `hex:${v.toString('hex')}` : typeof v === 'bigint' ? String(v) : v,
      ),
    )
    .sort();
}

export async function openSqliteDumped(): Promise<DumpedStore> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-hostile-'));
  const file = join(dir, 'baton.db');
  const store = await openStore(file);
  const raw = new Database(file, { readonly: true, fileMustExist: true });
  return {
    name: 'sqlite',
    store,
    async dump() {
      const tables = raw
        .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
        .all() as { name: string }[];
      const out: Record<string, string[]> = {};
      for (const { name } of tables) {
        out[name] = canonicalRows(raw.prepare(`SELECT * FROM "${name.replace(/"/g, '""')}"`).all());
      }
      return out;
    },
    async cleanup() {
      raw.close();
      await store.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function openPostgresDumped(): Promise<DumpedStore> {
  if (!PG_URL) throw new Error('BATON_TEST_PG_URL is not set');
  const schema = `hostile_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const store = await openStore(PG_URL, { schema });
  const raw = new pg.Client({ connectionString: PG_URL });
  await raw.connect();
  return {
    name: 'postgres',
    store,
    async dump() {
      const tables = await raw.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables
          WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
        [schema],
      );
      if (tables.rows.length === 0) throw new Error(`no tables in schema ${schema}`);
      // one round trip: each table's rows as JSON text
      const sql = tables.rows
        .map(
          ({ table_name: t }) =>
            `SELECT '${t}' AS t, coalesce((SELECT json_agg(x)::text FROM "${schema}"."${t}" x), '[]') AS rows`,
        )
        .join(' UNION ALL ');
      const res = await raw.query<{ t: string; rows: string }>(sql);
      const out: Record<string, string[]> = {};
      for (const r of res.rows) out[r.t] = canonicalRows(JSON.parse(r.rows) as unknown[]);
      return out;
    },
    async cleanup() {
      await store.close().catch(() => undefined);
      await raw.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await raw.end();
    },
  };
}
