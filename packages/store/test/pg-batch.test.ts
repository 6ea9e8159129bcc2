/**
 * PostgreSQL: the group commit's constant statement (pg-batch.ts). Each test checks that its batch
 * went as that one statement, and what every append of it wrote or did not write.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { HistoryEntry } from '@baton/core';
import { PostgresStore } from '../src/postgres';
import type { PostgresStoreOptions } from '../src/postgres';
import { BATCH_APPEND_SQL } from '../src/pg-batch';
import type { AppendCheckpointInput } from '../src/store';

const url = process.env.BATON_TEST_PG_URL;
const KEYS = { keys: `k1:${Buffer.alloc(32, 3).toString('base64')}` };

function entries(turn: number): HistoryEntry[] {
  return [
    { role: 'user', content: `question ${turn} ${'é'.repeat(turn)}`, turnId: `t${turn}`, at: 1000 + turn },
    { role: 'agent', content: `answer ${turn}`, turnId: `t${turn}`, at: 1001 + turn },
  ];
}

function turn(sessionId: string, expectedSeq: number, extra: Partial<AppendCheckpointInput> = {}) {
  return {
    sessionId,
    expectedSeq,
    schemaVersion: 1,
    writtenBy: 'v1',
    body: { state: { n: expectedSeq + 1 }, context: { recent: `context ${expectedSeq + 1}` }, waits: [] },
    history: entries(expectedSeq + 1),
    ...extra,
  };
}

/** What an append refused writes nothing to: the session, its log and its checkpoints. */
async function snapshot(store: PostgresStore, id: string) {
  return {
    session: await store.getSession(id),
    history: (await store.readHistory(id)).entries,
    checkpoints: await store.listCheckpoints(id),
  };
}

describe.skipIf(!url)('postgres: a group commit as one constant statement', () => {
  const schemas: string[] = [];
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  let n = 0;

  /** A fresh store, and a count of the constant statements it sent. */
  async function open(opts: PostgresStoreOptions = {}) {
    const schema = `baton_test_batch_${process.pid}_${n++}`;
    schemas.push(schema);
    const store = await PostgresStore.open(url!, { ...opts, schema, poolSize: 4 });
    const sent = { batches: 0 };
    const query = store.pool.query.bind(store.pool) as (...a: unknown[]) => unknown;
    (store.pool as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      if ((a[0] as { text?: string }).text === BATCH_APPEND_SQL) sent.batches++;
      return query(...a);
    };
    return { store, sent, schema };
  }

  afterAll(async () => {
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await admin.end();
  });

  for (const encrypted of [false, true]) {
    it(`applies or refuses each turn commit on its own${encrypted ? ' (encrypted)' : ''}`, async () => {
      const { store, sent } = await open(encrypted ? { encryption: KEYS } : {});
      try {
        const ids = [];
        for (let i = 0; i < 5; i++)
          ids.push((await store.createSession({ agent: 'a', version: 'v1', tokenHash: 'x' })).id);
        const [owned, stale, busy, wrongOwner, plain] = ids as [string, string, string, string, string];
        for (const id of ids) await store.appendCheckpoint(turn(id, 0));
        await store.acquireLease(owned, 'router-a', 30_000);
        await store.acquireLease(busy, 'router-a', 30_000);
        await store.acquireLease(wrongOwner, 'router-a', 30_000);
        const untouched = [stale, busy, wrongOwner];
        const before = await Promise.all(untouched.map((id) => snapshot(store, id)));
        const results = await store.appendCheckpoints([
          turn(owned, 1, {
            leaseOwner: 'router-a',
            turnResult: { key: 'k1', result: { out: 'done' } },
            session: { status: 'waiting' },
          }),
          turn(stale, 0),
          { ...turn(busy, 1), requireNoLease: true },
          turn(wrongOwner, 1, { leaseOwner: 'router-b' }),
          turn(plain, 1),
        ]);
        expect(sent.batches).toBe(1);
        expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
          'ok',
          'SEQUENCE_CONFLICT',
          'SESSION_BUSY',
          'LEASE_LOST',
          'ok',
        ]);
        for (const id of [owned, plain]) {
          expect(await store.getSession(id)).toMatchObject({ seq: 2 });
          const cp = (await store.getLatestCheckpoint(id))!;
          expect(cp).toMatchObject({ seq: 2, historyLength: 4, body: turn(id, 1).body });
          const log = await store.readHistory(id);
          expect(log.entries.map((e) => e.content)).toEqual(
            [...entries(1), ...entries(2)].map((e) => e.content),
          );
        }
        // the lease was released with the commit, and the turn's result is stored under its key
        expect(await store.getSession(owned)).toMatchObject({ leaseOwner: null, status: 'waiting' });
        const again = await store.beginTurn(owned, 'k1', 'router-a', 30_000);
        expect(again).toEqual({ kind: 'replayed', result: { out: 'done' } });
        const after = await Promise.all(untouched.map((id) => snapshot(store, id)));
        expect(after).toEqual(before);
      } finally {
        await store.close();
      }
    });
  }

  it('compacts in the batch: the newest checkpoints and every part they use stay', async () => {
    const { store, sent, schema } = await open({ keepCheckpoints: 2 });
    try {
      const partOf: Record<string, string> = {};
      const ids = [];
      for (let i = 0; i < 3; i++)
        ids.push((await store.createSession({ agent: 'a', version: 'v1', tokenHash: 'x' })).id);
      for (let seq = 0; seq < 6; seq++) {
        const results = await store.appendCheckpoints(
          ids.map((id) => {
            const t = turn(id, seq);
            // the context part stays the same from the second checkpoint on: it outlives the
            // checkpoints compacted away that used it
            return seq >= 2
              ? { ...t, body: { ...t.body, context: null }, unchanged: { context: partOf[id]! } }
              : t;
          }),
        );
        expect(results.every((r) => r.ok)).toBe(true);
        for (const [k, id] of ids.entries()) {
          const r = results[k]!;
          if (r.ok && seq === 1) partOf[id] = r.meta.parts.context;
        }
      }
      expect(sent.batches).toBe(6);
      for (const id of ids) {
        expect((await store.listCheckpoints(id)).map((c) => c.seq)).toEqual([6, 5]);
        for (const seq of [5, 6]) {
          const cp = await store.getCheckpoint(id, seq);
          expect(cp.body).toEqual({ ...turn(id, seq - 1).body, context: { recent: 'context 2' } });
        }
        const parts = await admin.query(
          `SELECT count(*)::int AS n FROM "${schema}".checkpoint_parts WHERE session_id = $1`,
          [id],
        );
        // the two kept checkpoints' states and their one shared context
        expect(parts.rows[0].n).toBe(3);
      }
    } finally {
      await store.close();
    }
  });
});
