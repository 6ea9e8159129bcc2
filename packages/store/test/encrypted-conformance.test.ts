/**
 * The store conformance suite again on both backends with encryption at rest on: every handle the
 * suite opens (children included) seals under the same key, so every behaviour holds through the cipher.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe } from 'vitest';
import { PostgresStore } from '../src/postgres';
import { SqliteStore } from '../src/sqlite';
import { cipherFor } from '../src/cipher';
import { storeConformance } from './conformance.case';

const encryption = { keys: `ck:${randomBytes(32).toString('base64')}` };
const cipher = cipherFor(encryption);

storeConformance('sqlite, encrypted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-store-enc-'));
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
    open: async (opts) => new SqliteStore(file, { ...opts, encryption }),
    rawQuery: async (sql) => withDb((db) => db.prepare(sql).all() as Array<Record<string, unknown>>),
    rawExec: async (sql) => withDb((db) => void db.exec(sql)),
    childTarget: `sqlite:${file}`,
    childOptions: { encryption },
    windowChoice: 'own',
    teardown: async () => rmSync(dir, { recursive: true, force: true }),
    cipher,
  };
});

const url = process.env.BATON_TEST_PG_URL;
describe.skipIf(!url)('store conformance: postgres, encrypted', () => {
  if (!url) return;
  storeConformance('postgres, encrypted', () => {
    const schema = `baton_test_enc_${process.pid}_${Date.now().toString(36)}`;
    const raw = new pg.Pool({ connectionString: url, max: 2, options: `-c search_path=${schema}` });
    return {
      open: (opts) => PostgresStore.open(url, { ...opts, encryption, schema, poolSize: 4 }),
      rawQuery: async (sql) => (await raw.query(sql)).rows as Array<Record<string, unknown>>,
      rawExec: async (sql) => {
        await raw.query(sql);
      },
      childTarget: url,
      childOptions: { schema, poolSize: 2, encryption },
      windowChoice: 'guess',
      teardown: async () => {
        await raw.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await raw.end();
      },
      cipher,
    };
  });
});
