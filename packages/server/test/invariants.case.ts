/**
 * Invariants 1–3 and 6 under concurrency, shared by every store backend: two routers on one store,
 * 200 sessions × several turns, each turn submitted concurrently to both routers with the same
 * Idempotency-Key, re-submitted afterwards, and raced by a different turn on the same session.
 */
import { expect } from 'vitest';
import { isDeepStrictEqual } from 'node:util';
import type { Pool } from 'undici';
import { executions, counterV1 } from './fixtures/agents';
import { call, newSession, startServer, stopServer, type StoreTarget } from './fixtures/harness';

const SESSIONS = 200;
const TURNS = 4;

async function submit(http: Pool, id: string, headers: Record<string, string>, key: string, text: string) {
  for (let attempt = 0; attempt < 2_000; attempt++) {
    const r = await call(http, 'POST', `/v1/sessions/${id}/turns`, {
      headers: { ...headers, 'idempotency-key': key },
      body: { input: { text } },
    });
    if (r.status === 200) return r.body as Record<string, unknown>;
    if (r.status === 409 && r.body.error.code === 'SESSION_BUSY') {
      await new Promise((res) => setTimeout(res, 2 + Math.random() * 8));
      continue;
    }
    throw new Error(`turn ${key}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  throw new Error(`turn ${key}: still busy after many attempts`);
}

export async function invariantCase(target: StoreTarget): Promise<void> {
  const t = await target.open();
  const storeB = await t.openAnother();
  const a = await startServer(t.store, [counterV1]);
  const b = await startServer(storeB, [counterV1]);
  try {
    const sessions = await Promise.all(
      Array.from({ length: SESSIONS }, (_, i) => newSession(i % 2 === 0 ? a.http : b.http, 'counter')),
    );
    const results = new Map<string, Array<Record<string, unknown>>>();
    const record = (key: string, body: Record<string, unknown>): void => {
      const list = results.get(key) ?? [];
      list.push(body);
      results.set(key, list);
    };
    const keysOf = new Map<string, Set<string>>();

    await Promise.all(
      sessions.map(async (s) => {
        const keys = new Set<string>();
        keysOf.set(s.id, keys);
        for (let i = 0; i < TURNS; i++) {
          const key = `${s.id}:k${i}`;
          keys.add(key);
          const racers: Array<Promise<void>> = [
            submit(a.http, s.id, s.headers, key, `m${i}`).then((r) => record(key, r)),
            submit(b.http, s.id, s.headers, key, `m${i}`).then((r) => record(key, r)),
            submit(a.http, s.id, s.headers, key, `m${i}`).then((r) => record(key, r)),
          ];
          if (i === 1) {
            const other = `${s.id}:x${i}`;
            keys.add(other);
            racers.push(submit(b.http, s.id, s.headers, other, `x${i}`).then((r) => record(other, r)));
          }
          await Promise.all(racers);
          // a sequential retry of the same key returns the first result
          record(key, await submit(i % 2 ? a.http : b.http, s.id, s.headers, key, `m${i}`));
        }
      }),
    );

    // every submission of a key saw the same result
    for (const [key, list] of results) {
      for (const r of list) expect(isDeepStrictEqual(r, list[0]), `results of ${key} differ`).toBe(true);
    }

    const store = t.store;
    for (const s of sessions) {
      const keys = keysOf.get(s.id)!;
      const n = keys.size;
      const rec = await store.getSession(s.id);
      // invariant 1: present, one version, gap-free sequence
      expect(rec.version).toBe('v1');
      expect(rec.seq).toBe(n);
      const seqs = (await store.listCheckpoints(s.id, { limit: 100 }))
        .map((c) => c.seq)
        .sort((x, y) => x - y);
      expect(seqs).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      // no turn applied twice
      const cp = await store.getLatestCheckpoint(s.id);
      expect((cp!.body.state as { count: number }).count).toBe(n);
      const userTurns = (await store.readHistory(s.id, { limit: 1000 })).entries.filter(
        (h) => h.role === 'user',
      );
      expect(userTurns).toHaveLength(n);
      expect(new Set(userTurns.map((h) => h.turnId)).size).toBe(n);
      // result seqs are exactly 1..n, one per key
      const resultSeqs = [...keys].map((k) => results.get(k)![0]!.seq as number).sort((x, y) => x - y);
      expect(resultSeqs).toEqual(seqs);
      // invariant 3: one committed effect per turn, each executed once
      const effects = await store.listEffects({ sessionId: s.id, limit: 1000 });
      const committed = effects.items.filter((e) => e.status === 'committed');
      expect(committed).toHaveLength(n);
      expect(new Set(committed.map((e) => e.idempotencyKey)).size).toBe(n);
      for (let c = 1; c <= n; c++) expect(executions.get(`${s.id}#${c}`), `effect ${s.id}#${c}`).toBe(1);
    }
    const all = await store.listSessions({ agent: 'counter', limit: 1000 });
    expect(all.items.length).toBeGreaterThanOrEqual(SESSIONS);
  } finally {
    await stopServer(a);
    await stopServer(b);
    await t.cleanup();
  }
}
