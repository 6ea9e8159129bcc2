/**
 * The version fence: once this release upgraded a store, a server of the previous release cannot
 * write checkpoints into it (its INSERT, the old layout without the history log, is refused with a
 * clear message), so mixed fleets fail loudly instead of forking a session's history.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/index';

const here = dirname(fileURLToPath(import.meta.url));
const PG_URL = process.env.BATON_TEST_PG_URL;

/** The INSERT the previous release ran for every checkpoint (packages/store/src/sqlite.ts at that commit). */
const OLD_INSERT = `INSERT INTO checkpoints (session_id, seq, schema_version, written_by, hash, size, created_at, body)
  VALUES ($1, $2, 1, 'v1', 'h', 2, 0, $3)`;

describe('version fence', () => {
  it('sqlite: a previous-release writer is refused after the upgrade; nothing is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-fence-'));
    try {
      const file = join(dir, 'old.sqlite');
      copyFileSync(join(here, 'golden', 'store-v1.sqlite'), file);
      const store = await openStore(file);
      const s = (await store.listSessions({ limit: 1 })).items[0]!;
      await store.close();
      const db = new Database(file);
      try {
        const before = db.prepare('SELECT count(*) AS n FROM checkpoints').get() as { n: number };
        expect(() =>
          db.prepare(OLD_INSERT.replace(/\$\d/g, '?')).run(s.id, s.seq + 1, Buffer.from('{}')),
        ).toThrow(/previous Baton release cannot write/);
        expect(db.prepare('SELECT count(*) AS n FROM checkpoints').get()).toEqual(before);
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!PG_URL)('postgres: a previous-release writer is refused after the upgrade', async () => {
    const schema = `fence_${randomBytes(4).toString('hex')}`;
    const store = await openStore(PG_URL!, { schema });
    const raw = new pg.Client({ connectionString: PG_URL });
    await raw.connect();
    try {
      const s = await store.createSession({ agent: 'a', version: 'v1', tokenHash: 'x' });
      await raw.query(`SET search_path TO ${schema}`);
      await expect(raw.query(OLD_INSERT, [s.id, 1, '{}'])).rejects.toThrow(
        /previous Baton release cannot write/,
      );
      const n = await raw.query('SELECT count(*)::int AS n FROM checkpoints');
      expect(n.rows[0].n).toBe(0);
    } finally {
      await raw.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await raw.end();
      await store.close();
    }
  });
});
