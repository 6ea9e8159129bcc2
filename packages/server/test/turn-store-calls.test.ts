/**
 * The hot path's store calls, counted on the real store behind a Proxy, over real HTTP: a turn
 * costs three (beginTurn with the session-token check folded in, the agent's route when the cache
 * does not hold it, appendCheckpoint) on both backends; a request with a bad token changes nothing;
 * a move the controller revoked is never made from a stale cached route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MoveRule } from '@baton/core';
import type { Store } from '@baton/store';
import { counterV1, counterV2, noop } from './fixtures/agents';
import {
  PG_URL,
  TRAFFIC,
  call,
  newSession,
  postgresTarget,
  sqliteTarget,
  startServer,
  stopServer,
  type Running,
  type StoreTarget,
} from './fixtures/harness';

/** A move rule's terms that move every session at its next boundary. */
const AT_BOUNDARY = { policy: 'at-boundary', maxAgeMs: null, deadlinePassed: false } as const;

/** The store behind a Proxy that records the name of every method called on it. */
function counted(store: Store): { store: Store; calls: string[] } {
  const calls: string[] = [];
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      return (...args: unknown[]) => {
        calls.push(prop);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

const targets: Array<{ t: StoreTarget; skip: boolean }> = [
  { t: sqliteTarget, skip: false },
  { t: postgresTarget, skip: !PG_URL && process.env.CI !== 'true' },
];

for (const { t, skip } of targets) {
  describe.skipIf(skip)(`turn store calls on ${t.name}`, () => {
    let cleanup: () => Promise<void>;
    let raw: Store;
    let calls: string[];
    let r: Running;

    beforeAll(async () => {
      const opened = await t.open();
      cleanup = opened.cleanup;
      raw = opened.store;
      const c = counted(raw);
      calls = c.calls;
      // a cached route lives long here: only the revision beginTurn reads can make it stale
      r = await startServer(c.store, [noop, counterV1, counterV2], { limits: { routeCacheMs: 60_000 } });
      // the process-wide secrets (turn capabilities) are read once, by a first turn of another agent
      const w = await newSession(r.http, 'counter');
      const warm = await turn(w, 'warm-up', { text: 'x', effect: false });
      expect(warm.status, JSON.stringify(warm.body)).toBe(200);
    });

    afterAll(async () => {
      await stopServer(r);
      await cleanup();
    });

    function turn(s: { id: string; headers: Record<string, string> }, key: string, input: unknown) {
      return call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
        headers: { ...s.headers, 'idempotency-key': key },
        body: { input },
      });
    }

    it('a turn makes three store calls: beginTurn, the route (not cached yet), appendCheckpoint', async () => {
      const s = await newSession(r.http, 'noop');
      calls.length = 0;
      const res = await turn(s, 'k1', 'hello');
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(calls).toEqual(['beginTurn', 'getRoute', 'appendCheckpoint']);
      // with the route cached (same revision), two
      calls.length = 0;
      const next = await turn(s, 'k2', 'again');
      expect(next.status, JSON.stringify(next.body)).toBe(200);
      expect(calls).toEqual(['beginTurn', 'appendCheckpoint']);
    });

    it('a wrong or missing session token changes nothing: no lease, no write', async () => {
      const s = await newSession(r.http, 'noop');
      expect((await turn(s, 'k1', 'hello')).status).toBe(200);
      const before = await raw.getSession(s.id);
      calls.length = 0;
      const wrong = await turn({ id: s.id, headers: { ...TRAFFIC, 'x-session-token': 'not-it' } }, 'k2', 'x');
      expect(wrong.status).toBe(403);
      expect(wrong.body.error).toMatchObject({ code: 'FORBIDDEN', message: 'wrong session token' });
      expect(calls).toEqual(['beginTurn']);
      const missing = await turn({ id: s.id, headers: TRAFFIC }, 'k3', 'x');
      expect(missing.status).toBe(403);
      expect(missing.body.error).toMatchObject({ code: 'FORBIDDEN', message: 'missing X-Session-Token' });
      // a retried key with a wrong token does not get the stored result either
      const replay = await turn(
        { id: s.id, headers: { ...TRAFFIC, 'x-session-token': 'not-it' } },
        'k1',
        'x',
      );
      expect(replay.status).toBe(403);
      expect(await raw.getSession(s.id)).toEqual(before);
      expect(await raw.getTurnResult(s.id, 'k2')).toBeUndefined();
      // an unknown session is still SESSION_NOT_FOUND, token or not
      const unknown = await turn({ id: 'ses_unknown', headers: TRAFFIC }, 'k1', 'x');
      expect(unknown.status).toBe(404);
    });

    it('a move the controller revoked is never made from a stale cached route', async () => {
      const a = await newSession(r.http, 'counter');
      const b = await newSession(r.http, 'counter');
      expect([a.version, b.version]).toEqual(['v1', 'v1']);
      const route = (await raw.getRoute('counter'))!;
      const move: MoveRule = { ...AT_BOUNDARY, from: 'v1', to: 'v2', percent: 100 };
      await raw.setRoute({ ...route, move, rolloutId: null });
      // a's turn reads the route with the move and caches it: a moves
      const ta = await turn(a, 'k1', { text: 'a', effect: false });
      expect(ta.status, JSON.stringify(ta.body)).toBe(200);
      expect(ta.body.version).toBe('v2');
      // the controller revokes the move (a new revision); the cache still holds the old route
      const moved = (await raw.getRoute('counter'))!;
      // (at once: the revision is the route's content, not its timestamp)
      await raw.setRoute({ ...moved, move: null });
      const tb = await turn(b, 'k1', { text: 'b', effect: false });
      expect(tb.status, JSON.stringify(tb.body)).toBe(200);
      expect(tb.body.version).toBe('v1');
      expect(tb.body.migrated).toBeUndefined();
      expect((await raw.getSession(b.id)).version).toBe('v1');
      expect(await raw.listMigrations({ sessionId: b.id })).toEqual([]);
    });
  });
}
