import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../src/sqlite';
import { storeConformance } from './conformance.case';

storeConformance('sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-store-'));
  const file = join(dir, 'baton.db');
  const raw = () => {
    const db = new Database(file);
    db.pragma('busy_timeout = 5000');
    return db;
  };
  return {
    open: async (opts) => new SqliteStore(file, opts),
    rawQuery: async (sql) => {
      const db = raw();
      try {
        return db.prepare(sql).all() as Array<Record<string, unknown>>;
      } finally {
        db.close();
      }
    },
    rawExec: async (sql) => {
      const db = raw();
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
    childTarget: `sqlite:${file}`,
    childOptions: {},
    windowChoice: 'own',
    teardown: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
