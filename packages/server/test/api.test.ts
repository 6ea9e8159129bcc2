/**
 * The HTTP API over real HTTP on 127.0.0.1 with a real SQLite file: the happy path, SSE, callbacks
 * after a migration (on v2, with the wait's payload), and bad input (stable codes, nothing changed).
 */
import { waitDigest } from '@baton/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '@baton/store';
import { migrateSession } from '../src/migration';
import { counterV1, counterV2 } from './fixtures/agents';
import {
  ADMIN,
  TRAFFIC,
  call,
  newSession,
  sqliteTarget,
  startServer,
  stopServer,
  type Running,
} from './fixtures/harness';

let store: Store;
let cleanup: () => Promise<void>;
let r: Running;

beforeAll(async () => {
  const t = await sqliteTarget.open();
  store = t.store;
  cleanup = t.cleanup;
  r = await startServer(store, [counterV1, counterV2], { limits: { bodyBytes: 64 * 1024 } });
});

afterAll(async () => {
  await stopServer(r);
  await cleanup();
});

describe('traffic API', () => {
  it('creates a session on the stable version and runs turns with idempotent retries', async () => {
    const s = await newSession(r.http, 'counter');
    expect(s.version).toBe('v1');
    const t1 = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: { ...s.headers, 'idempotency-key': 'k1' },
      body: { input: { text: 'hello' } },
    });
    expect(t1.status).toBe(200);
    expect(t1.body).toMatchObject({
      output: { count: 1, version: 'v1' },
      version: 'v1',
      seq: 1,
      status: 'idle',
    });
    const again = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: { ...s.headers, 'idempotency-key': 'k1' },
      body: { input: { text: 'hello' } },
    });
    expect(again.body).toEqual(t1.body);
    const t2 = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: { input: { text: 'second' } },
    });
    expect(t2.body).toMatchObject({ output: { count: 2 }, seq: 2 });
    const view = await call(r.http, 'GET', `/v1/sessions/${s.id}`, { headers: s.headers });
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ sessionId: s.id, version: 'v1', seq: 2, status: 'idle', waits: [] });
    const page = await store.readHistory(s.id);
    expect(page.entries.filter((h) => h.role === 'user').map((h) => h.content)).toEqual([
      { text: 'hello' },
      { text: 'second' },
    ]);
  });

  it('streams a turn as server-sent events', async () => {
    const s = await newSession(r.http, 'counter');
    const res = await r.http.request({
      method: 'POST',
      path: `/v1/sessions/${s.id}/turns`,
      headers: { ...s.headers, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ input: { text: 'sse' } }),
    });
    expect(res.statusCode).toBe(200);
    expect(String(res.headers['content-type'])).toContain('text/event-stream');
    const text = await res.body.text();
    const events = text
      .split('\n\n')
      .filter(Boolean)
      .map((block) => {
        const ev = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        return { ev, data: data ? JSON.parse(data) : null };
      });
    expect(events.map((e) => e.ev)).toEqual(['started', 'output', 'done']);
    expect(events[1]!.data).toEqual({ output: { count: 1, version: 'v1' } });
    expect(events[2]!.data).toMatchObject({ seq: 1, status: 'idle', version: 'v1' });
  });

  it('a failing turn commits nothing, releases the lease and streams an error event', async () => {
    const s = await newSession(r.http, 'counter');
    const failed = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: { ...s.headers, 'idempotency-key': 'f1' },
      body: { input: { fail: true, effect: false } },
    });
    expect(failed.status).toBe(500);
    expect(failed.body.error.code).toBe('TURN_FAILED');
    expect(await store.getSession(s.id)).toMatchObject({ seq: 0, leaseOwner: null });

    const res = await r.http.request({
      method: 'POST',
      path: `/v1/sessions/${s.id}/turns`,
      headers: { ...s.headers, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ input: { fail: true, effect: false } }),
    });
    const text = await res.body.text();
    expect(text).toMatch(/^event: started\n/);
    expect(text).toMatch(/event: error\ndata: \{"error":\{"code":"TURN_FAILED"/);
    expect(text).not.toMatch(/event: done/);

    // the same key, retried without the failure, now runs and commits seq 1
    const ok = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: { ...s.headers, 'idempotency-key': 'f1' },
      body: { input: { effect: false } },
    });
    expect(ok.body).toMatchObject({ seq: 1, output: { count: 1 } });
  });

  it('records feedback and ends a session', async () => {
    const s = await newSession(r.http, 'counter');
    await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, { headers: s.headers, body: { input: {} } });
    const fb = await call(r.http, 'POST', `/v1/sessions/${s.id}/feedback`, {
      headers: s.headers,
      body: { signal: 'thumbs_down' },
    });
    expect(fb.status).toBe(204);
    const aggs = await store.listSessionAggregates({ agent: 'counter' });
    expect(aggs.find((a) => a.sessionId === s.id)?.signals).toMatchObject({ thumbs_down: 1 });
    const end = await call(r.http, 'POST', `/v1/sessions/${s.id}/end`, { headers: s.headers });
    expect(end.status).toBe(200);
    expect(end.body.status).toBe('completed');
    const after = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: { input: {} },
    });
    expect(after.status).toBe(409);
    expect(after.body.error.code).toBe('SESSION_CLOSED');
  });

  it('resumes a waiting session on v2 after it migrated, with the callback payload', async () => {
    const s = await newSession(r.http, 'counter');
    const w = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: { input: { text: 'need approval', wait: true } },
    });
    expect(w.body).toMatchObject({ status: 'waiting', version: 'v1' });
    const token = w.body.waits[0].token as string;
    expect(w.body.waits[0].name).toBe('approval');

    const m = await migrateSession(r.server.ctx, { sessionId: s.id, to: 'v2', rolloutId: null });
    expect(m).toMatchObject({ ok: true, from: 'v1', to: 'v2', fromSchema: 1, toSchema: 2 });
    const migrated = await store.getSession(s.id);
    expect(migrated).toMatchObject({ version: 'v2', status: 'waiting' });

    // a payload that violates the wait's schema is rejected and changes nothing
    const bad = await call(r.http, 'POST', `/v1/callbacks/${token}`, {
      headers: TRAFFIC,
      body: { payload: { approved: 'yes' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION');
    expect((await store.getSession(s.id)).seq).toBe(migrated.seq);

    const cb = await call(r.http, 'POST', `/v1/callbacks/${token}`, {
      headers: TRAFFIC,
      body: { payload: { approved: true } },
    });
    expect(cb.status).toBe(200);
    expect(cb.body).toMatchObject({
      version: 'v2',
      status: 'idle',
      output: {
        resumed: 'approval',
        approved: true,
        version: 'v2',
        tags: ['migrated-from-1', 'resumed-on-v2'],
      },
    });
    const cp = await store.getLatestCheckpoint(s.id);
    expect(cp).toMatchObject({ schemaVersion: 2, writtenBy: 'v2' });
    expect(cp!.body.state).toMatchObject({ approved: true, count: 1 });
    // the store knows the wait by its digest only
    await expect(store.getWait(token)).rejects.toMatchObject({ code: 'WAIT_NOT_FOUND' });
    expect((await store.getWait(waitDigest(token))).status).toBe('resolved');

    const twice = await call(r.http, 'POST', `/v1/callbacks/${token}`, {
      headers: TRAFFIC,
      body: { payload: { approved: false } },
    });
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('WAIT_RESOLVED');

    const listed = await call(r.http, 'GET', `/v1/migrations?session=${s.id}`, { headers: ADMIN });
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0]).toMatchObject({ sessionId: s.id, toVersion: 'v2', contextPolicy: 'carry' });
    const view = await call(r.http, 'GET', `/v1/sessions/${s.id}`, { headers: s.headers });
    expect(view.body.migrations).toHaveLength(1);
    expect(view.body.migrations[0]).toMatchObject({ fromVersion: 'v1', toVersion: 'v2', status: 'ok' });
  });

  it('a callback on a busy session waits for the lease, then resumes it', async () => {
    const s = await newSession(r.http, 'counter');
    const w = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: { input: { wait: true } },
    });
    const token = w.body.waits[0].token as string;
    // another router is busy with the session (e.g. migrating it) for a moment
    const lease = await store.acquireLease(s.id, 'other-router', 5_000);
    setTimeout(() => void store.releaseLease(lease), 200);
    const cb = await call(r.http, 'POST', `/v1/callbacks/${token}`, {
      headers: TRAFFIC,
      body: { payload: { approved: false } },
    });
    expect(cb.status).toBe(200);
    expect(cb.body).toMatchObject({
      seq: 2,
      status: 'idle',
      output: { resumed: 'approval', approved: false },
    });
  });

  it('migrates at the boundary when the route moves the session', async () => {
    const s = await newSession(r.http, 'counter');
    const fresh = await newSession(r.http, 'counter');
    await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, { headers: s.headers, body: { input: {} } });
    const route = await store.getRoute('counter');
    await store.setRoute({
      ...route!,
      candidate: 'v2',
      weight: 0,
      move: {
        from: 'v1',
        to: 'v2',
        percent: 100,
        policy: 'at-boundary',
        maxAgeMs: null,
        deadlinePassed: false,
      },
    });
    try {
      const t = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
        headers: s.headers,
        body: { input: { text: 'after' } },
      });
      expect(t.status).toBe(200);
      expect(t.body).toMatchObject({ version: 'v2', seq: 3, migrated: { from: 'v1', to: 'v2', seq: 2 } });
      expect(t.body.output).toEqual({ count: 2, version: 'v2' });
      const cps = await store.listCheckpoints(s.id);
      expect(cps.map((c) => c.seq).sort((a, b) => a - b)).toEqual([1, 2, 3]);

      // a session without state moves with its first turn, recorded in the same commit
      const first = await call(r.http, 'POST', `/v1/sessions/${fresh.id}/turns`, {
        headers: fresh.headers,
        body: { input: { text: 'hello' } },
      });
      expect(first.body).toMatchObject({ version: 'v2', seq: 1, migrated: { from: 'v1', to: 'v2', seq: 1 } });
      expect(await store.getSession(fresh.id)).toMatchObject({ version: 'v2', seq: 1 });
      expect(await store.getLatestCheckpoint(fresh.id)).toMatchObject({
        seq: 1,
        schemaVersion: 2,
        writtenBy: 'v2',
      });
      const migs = await store.listMigrations({ sessionId: fresh.id });
      expect(migs).toEqual([
        expect.objectContaining({
          seq: 1,
          fromVersion: 'v1',
          toVersion: 'v2',
          fromSchema: 1,
          toSchema: 2,
          status: 'ok',
        }),
      ]);
    } finally {
      await store.setRoute({ ...route!, candidate: null, weight: 0, move: null });
    }
  });
});

describe('bad input changes nothing', () => {
  it('rejects missing, unknown and wrong-scope tokens', async () => {
    const s = await newSession(r.http, 'counter');
    const none = await call(r.http, 'POST', '/v1/agents/counter/sessions', { body: {} });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('UNAUTHORIZED');
    const unknown = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: { ...s.headers, authorization: 'Bearer wrong' },
      body: { input: {} },
    });
    expect(unknown.body.error.code).toBe('UNAUTHORIZED');
    const adminOnTraffic = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: { ...s.headers, ...ADMIN },
      body: { input: {} },
    });
    expect(adminOnTraffic.status).toBe(403);
    expect(adminOnTraffic.body.error.code).toBe('FORBIDDEN');
    const trafficOnAdmin = await call(r.http, 'GET', '/v1/sessions', { headers: TRAFFIC });
    expect(trafficOnAdmin.body.error.code).toBe('FORBIDDEN');
    const trafficOnWorker = await call(r.http, 'GET', '/v1/worker/steps?sessionId=a&turnId=b', {
      headers: TRAFFIC,
    });
    expect(trafficOnWorker.body.error.code).toBe('FORBIDDEN');
    expect((await store.getSession(s.id)).seq).toBe(0);
  });

  it('rejects a wrong or missing session token', async () => {
    const s = await newSession(r.http, 'counter');
    const wrong = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: { ...TRAFFIC, 'x-session-token': 'not-it' },
      body: { input: {} },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.code).toBe('FORBIDDEN');
    const missing = await call(r.http, 'GET', `/v1/sessions/${s.id}`, { headers: TRAFFIC });
    expect(missing.body.error.code).toBe('FORBIDDEN');
    expect((await store.getSession(s.id)).seq).toBe(0);
  });

  it('answers unknown sessions, agents, tokens and routes with NOT_FOUND codes', async () => {
    const sess = await call(r.http, 'POST', '/v1/sessions/ses_nope/turns', {
      headers: { ...TRAFFIC, 'x-session-token': 'x' },
      body: { input: {} },
    });
    expect(sess.status).toBe(404);
    expect(sess.body.error.code).toBe('SESSION_NOT_FOUND');
    const agent = await call(r.http, 'POST', '/v1/agents/nobody/sessions', { headers: TRAFFIC, body: {} });
    expect(agent.body.error.code).toBe('NOT_FOUND');
    const wait = await call(r.http, 'POST', '/v1/callbacks/nope', { headers: TRAFFIC, body: { payload: 1 } });
    expect(wait.body.error.code).toBe('WAIT_NOT_FOUND');
    const route = await call(r.http, 'GET', '/v1/nothing', { headers: TRAFFIC });
    expect(route.status).toBe(404);
    expect(route.body.error.code).toBe('NOT_FOUND');
  });

  it('rejects bad JSON, bad shapes and oversize bodies', async () => {
    const s = await newSession(r.http, 'counter');
    const badJson = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      raw: '{"input": ',
    });
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe('VALIDATION');
    const noInput = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: {},
    });
    expect(noInput.body.error.code).toBe('VALIDATION');
    const extra = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: { input: 1, other: 2 },
    });
    expect(extra.body.error.code).toBe('VALIDATION');
    const badKey = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: { ...s.headers, 'idempotency-key': 'x'.repeat(300) },
      body: { input: 1 },
    });
    expect(badKey.body.error.code).toBe('VALIDATION');
    const badSignal = await call(r.http, 'POST', `/v1/sessions/${s.id}/feedback`, {
      headers: s.headers,
      body: { signal: 'meh' },
    });
    expect(badSignal.body.error.code).toBe('VALIDATION');
    const big = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: { input: 'x'.repeat(100 * 1024) },
    });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect((await store.getSession(s.id)).seq).toBe(0);
    expect(await store.listCheckpoints(s.id)).toEqual([]);
  });

  it('answers a second concurrent turn with SESSION_BUSY and Retry-After', async () => {
    const s = await newSession(r.http, 'counter');
    await store.acquireLease(s.id, 'someone-else', 5_000);
    const busy = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: { input: {} },
    });
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe('SESSION_BUSY');
    expect(Number(busy.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const view = await call(r.http, 'GET', `/v1/sessions/${s.id}`, { headers: s.headers });
    expect(view.body.status).toBe('running');
    expect((await store.getSession(s.id)).seq).toBe(0);
  });
});

describe('admin API', () => {
  it('lists versions, workers, sessions, checkpoints, effects and metrics', async () => {
    const s = await newSession(r.http, 'counter');
    await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, { headers: s.headers, body: { input: {} } });
    const versions = await call(r.http, 'GET', '/v1/versions?agent=counter', { headers: ADMIN });
    expect(versions.body.items.map((v: { label: string }) => v.label).sort()).toEqual(['v1', 'v2']);
    const workers = await call(r.http, 'GET', '/v1/workers', { headers: ADMIN });
    expect(workers.body.items).toHaveLength(2);
    const sessions = await call(r.http, 'GET', '/v1/sessions?agent=counter&limit=500', { headers: ADMIN });
    const mine = sessions.body.items.find((x: { id: string }) => x.id === s.id);
    expect(mine).toMatchObject({ version: 'v1', seq: 1 });
    expect(mine.tokenHash).toBeUndefined();
    const cps = await call(r.http, 'GET', `/v1/sessions/${s.id}/checkpoints`, { headers: ADMIN });
    expect(cps.body.items.map((c: { seq: number }) => c.seq)).toEqual([1]);
    const effects = await call(r.http, 'GET', `/v1/effects?agent=counter&status=committed`, {
      headers: ADMIN,
    });
    expect(effects.body.items.some((e: { sessionId: string }) => e.sessionId === s.id)).toBe(true);
    const badStatus = await call(r.http, 'GET', '/v1/sessions?status=weird', { headers: ADMIN });
    expect(badStatus.body.error.code).toBe('VALIDATION');
    const metrics = await call(r.http, 'GET', '/metrics', { headers: ADMIN });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/baton_turns_total\{agent="counter",version="v1",outcome="idle"\} \d+/);
    expect(metrics.body).toMatch(/baton_sessions\{agent="counter",version="v1",status="idle"\} \d+/);
    expect((await call(r.http, 'GET', '/healthz')).body).toEqual({ ok: true });
    const ready = await call(r.http, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ ok: true, store: 'sqlite', workers: { maxAgeMs: 10_000 } });
    expect(ready.body.versions).toContainEqual(expect.objectContaining({ agent: 'counter', version: 'v1' }));
  });
});
