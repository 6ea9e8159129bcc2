import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, it } from 'vitest';
import { SqliteStore } from '../src/sqlite';
import { PostgresStore } from '../src/postgres';
import { encryptionSuite } from './encryption.case';

encryptionSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-enc-'));
  const file = join(dir, 'baton.db');
  const withDb = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(file);
    db.pragma('busy_timeout = 5000');
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  return {
    open: async (opts) => new SqliteStore(file, opts),
    rawQuery: async (sql) => withDb((db) => db.prepare(sql).all() as Array<Record<string, unknown>>),
    rawExec: async (sql) => withDb((db) => void db.exec(sql)),
    rawDump: async () =>
      [file, `${file}-wal`]
        .filter((f) => existsSync(f))
        .map((f) => readFileSync(f).toString('latin1'))
        .join('\n'),
    teardown: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

const url = process.env.BATON_TEST_PG_URL;
const ci = process.env.CI === 'true';
if (!url && !ci) console.warn('skipping the PostgreSQL encryption suite: BATON_TEST_PG_URL is not set');

describe.skipIf(url || !ci)('encryption at rest: postgres (CI without a server)', () => {
  it('needs BATON_TEST_PG_URL under CI=true', () => {
    throw new Error('BATON_TEST_PG_URL is not set, and CI=true requires the PostgreSQL run');
  });
});

describe.skipIf(!url)('encryption at rest: postgres', () => {
  if (!url) return;
  let n = 0;
  encryptionSuite('postgres', async () => {
    const schema = `baton_enc_${process.pid}_${Date.now().toString(36)}_${++n}`;
    const raw = new pg.Pool({ connectionString: url, max: 2, options: `-c search_path=${schema}` });
    await raw.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    return {
      open: (opts) => PostgresStore.open(url, { ...opts, schema, poolSize: 2 }),
      rawQuery: async (sql) => (await raw.query(sql)).rows as Array<Record<string, unknown>>,
      rawExec: async (sql) => {
        await raw.query(sql);
      },
      rawDump: async () => {
        const tables = await raw.query<{ t: string }>(
          'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1',
          [schema],
        );
        const out: string[] = [];
        for (const { t } of tables.rows) {
          const rows = await raw.query<{ j: string }>(`SELECT row_to_json(x)::text AS j FROM "${t}" x`);
          for (const r of rows.rows) out.push(r.j);
        }
        return out.join('\n');
      },
      teardown: async () => {
        await raw.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await raw.end();
      },
    };
  });
});
