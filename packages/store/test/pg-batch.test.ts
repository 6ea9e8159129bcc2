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

  for (const encrypted of [false, true]) {
    it(`writes a router's turn commit (waits resolved and cleared, result, telemetry and aggregate) as one append at a time would${encrypted ? ' (encrypted)' : ''}`, async () => {
      const batched = await open(encrypted ? { encryption: KEYS } : {});
      const single = await open(encrypted ? { encryption: KEYS } : {});
      const telemetry = (sessionId: string, n: number, extra: Record<string, unknown> = {}) => ({
        sessionId,
        agent: 'a',
        version: 'v1',
        turnId: `t${n}`,
        at: 5000 + n,
        latencyMs: 12.5 + n,
        toolCalls: { search: 2, email: n },
        reasoningSteps: 3,
        tokensIn: 100 + n,
        tokensOut: 50,
        contextUtilization: 0.25,
        metrics: { quality: 0.5 + n / 10 },
        signals: ['thumbs_up', 'thumbs_up', 'retry'],
        ...extra,
      });
      const wait = (token: string) => ({
        token,
        name: 'approval',
        deadline: 9_999_999,
        schema: null,
        createdAt: 1,
      });
      /** Three sessions: the first turn leaves two waits pending on each, the second is the batch. */
      const run = async (s: typeof batched, grouped: boolean) => {
        const ids: string[] = [];
        for (let i = 0; i < 3; i++)
          ids.push((await s.store.createSession({ agent: 'a', version: 'v1', tokenHash: 'x' })).id);
        for (const [i, id] of ids.entries()) {
          const first = turn(id, 0);
          await s.store.appendCheckpoint({
            ...first,
            body: { ...first.body, waits: [wait(`w${i}a`), wait(`w${i}b`)] },
            waits: [wait(`w${i}a`), wait(`w${i}b`)],
            telemetry: telemetry(id, 0),
          });
        }
        const second = [
          // a wait resolved, the other cleared, with telemetry
          turn(ids[0]!, 1, {
            resolvedWaits: ['w0a'],
            waits: [],
            turnResult: { key: 'k', result: { out: 1 } },
            telemetry: telemetry(ids[0]!, 1),
          }),
          // both cleared; a turn that failed
          turn(ids[1]!, 1, {
            waits: [],
            telemetry: telemetry(ids[1]!, 1, { error: 'TOOL_FAILED', signals: [] }),
          }),
          // the waits left alone, no telemetry
          turn(ids[2]!, 1, { session: { status: 'waiting' } }),
        ];
        if (grouped) {
          const results = await s.store.appendCheckpoints(second);
          expect(results.every((r) => r.ok)).toBe(true);
        } else {
          for (const a of second) await s.store.appendCheckpoint(a);
        }
        const rows = async (sql: string) => (await admin.query(sql.replaceAll('$S', `"${s.schema}"`))).rows;
        const out = [];
        for (const id of ids) {
          const q = (sql: string) => rows(sql.replaceAll('$ID', `'${id}'`));
          out.push({
            session: await s.store.getSession(id).then((x) => ({ seq: x.seq, status: x.status })),
            waits: await q('SELECT token, status FROM $S.waits WHERE session_id = $ID ORDER BY token'),
            telemetry:
              await q(`SELECT agent, version, turn_id, seq, at, latency_ms, tool_calls, reasoning_steps,
              tokens_in, tokens_out, context_utilization, metrics, signals, error
              FROM $S.turn_telemetry WHERE session_id = $ID ORDER BY seq`),
            aggregate: await q(`SELECT version, agent, first_at, last_at, turns, errors, tool_calls, tool_mix,
              reasoning_steps, tokens_in, tokens_out, latency_ms_sum, latency_ms_max, context_utilization_max, metrics,
              signals, completed FROM $S.session_aggregates WHERE session_id = $ID`),
            replay: await s.store
              .beginTurn(id, 'k', 'r', 1000)
              .then((b) => (b.kind === 'replayed' ? b.result : null)),
          });
        }
        return out;
      };
      try {
        const viaBatch = await run(batched, true);
        expect(batched.sent.batches).toBe(1);
        const oneByOne = await run(single, false);
        expect(single.sent.batches).toBe(0);
        expect(viaBatch).toEqual(oneByOne);
        // and what that is
        expect(viaBatch.map((s) => s.waits)).toEqual([
          [{ token: 'w0a', status: 'resolved' }],
          [],
          [
            { token: 'w2a', status: 'pending' },
            { token: 'w2b', status: 'pending' },
          ],
        ]);
        expect(viaBatch.map((s) => s.aggregate[0]?.turns)).toEqual([2, 2, 1]);
        expect(viaBatch[1]!.aggregate[0]).toMatchObject({ errors: 1 });
        expect(viaBatch[0]!.replay).toEqual({ out: 1 });
        expect(viaBatch[2]!.session).toEqual({ seq: 2, status: 'waiting' });
      } finally {
        await batched.store.close();
        await single.store.close();
      }
    });
  }
});
