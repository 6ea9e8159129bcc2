/**
 * Session lifecycle edges: wait deadlines fired through the router, corrupt checkpoints quarantined
 * (invariant 4), failed migrations leaving the session on its origin version (invariant 5).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SimulatedClock, waitDigest } from '@baton/core';
import { openStore, type Store } from '@baton/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateSession } from '../src/migration';
import { counterBroken, counterV1, counterV2 } from './fixtures/agents';
import { call, newSession, startServer, stopServer, type Running } from './fixtures/harness';

const clock = new SimulatedClock(Date.UTC(2026, 5, 1));
let dir: string;
let file: string;
let store: Store;
let r: Running;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'baton-lifecycle-'));
  file = join(dir, 'baton.db');
  store = await openStore(file, { now: () => clock.now() });
  r = await startServer(store, [counterV1, counterV2, counterBroken], {
    clock,
    limits: { healthIntervalMs: 0 },
  });
});

afterAll(async () => {
  await stopServer(r);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('wait deadlines', () => {
  it('runs a timeout turn once the deadline passed, and only then', async () => {
    const s = await newSession(r.http, 'counter');
    const w = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: { input: { wait: true } },
    });
    const token = w.body.waits[0].token as string;
    // the controller fires a wait by the digest the store lists it under
    const [stored] = await store.listWaits({ sessionId: s.id, status: 'pending' });
    expect(stored!.token).toBe(waitDigest(token));
    expect(await r.server.router.expireWait(stored!.token)).toBeNull();
    expect((await store.getSession(s.id)).seq).toBe(1);

    await clock.advance(61_000);
    const res = await r.server.router.expireWait(stored!.token);
    expect(res).toMatchObject({ seq: 2, status: 'idle', output: { timedOut: 'approval' } });
    expect((await store.getWait(stored!.token)).status).not.toBe('pending');
    expect(await r.server.router.expireWait(stored!.token)).toBeNull();
    const late = await call(r.http, 'POST', `/v1/callbacks/${token}`, {
      headers: { authorization: 'Bearer traffic-token' },
      body: { payload: { approved: true } },
    });
    expect(late.body.error.code).toBe('WAIT_RESOLVED');
  });
});

describe('a callback racing the timeout of its wait', () => {
  it('answers WAIT_RESOLVED when the timeout turn committed while the callback was on its way', async () => {
    const s = await newSession(r.http, 'counter');
    const w = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: { input: { wait: true } },
    });
    const token = w.body.waits[0].token as string;
    await clock.advance(61_000);
    // the interleaving: the callback reads the wait (still pending), then the deadline's timeout
    // turn commits before the callback's turn takes the lease
    const st = r.server.ctx.store;
    const getWait = st.getWait.bind(st);
    let timedOut: unknown = null;
    st.getWait = async (digest: string) => {
      const rec = await getWait(digest);
      st.getWait = getWait;
      timedOut = await r.server.router.expireWait(digest);
      return rec;
    };
    try {
      const late = await call(r.http, 'POST', `/v1/callbacks/${token}`, {
        headers: { authorization: 'Bearer traffic-token' },
        body: { payload: { approved: true } },
      });
      expect(timedOut).toMatchObject({ seq: 2, output: { timedOut: 'approval' } });
      expect(late.status).toBe(409);
      expect(late.body.error).toMatchObject({ code: 'WAIT_RESOLVED', details: { status: 'resolved' } });
      // nothing else ran: the timeout turn is the last checkpoint, the session is idle
      expect(await store.getSession(s.id)).toMatchObject({ seq: 2, status: 'idle' });
    } finally {
      st.getWait = getWait;
    }
  });
});

describe('corrupt checkpoints', () => {
  it('quarantines the session instead of loading the checkpoint', async () => {
    const s = await newSession(r.http, 'counter');
    await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, { headers: s.headers, body: { input: {} } });
    const db = new Database(file);
    try {
      // the state part of checkpoint #1, stored by its hash
      const row = db
        .prepare(
          `SELECT p.id, p.body FROM checkpoints c JOIN checkpoint_parts p
             ON p.session_id = c.session_id AND p.hash = c.state_hash WHERE c.session_id = ? AND c.seq = 1`,
        )
        .get(s.id) as { id: number; body: Buffer };
      const text = Buffer.from(row.body).toString('utf8').replace('"count":1', '"count":9');
      db.prepare('UPDATE checkpoint_parts SET body = ? WHERE id = ?').run(Buffer.from(text, 'utf8'), row.id);
    } finally {
      db.close();
    }
    const t = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: { input: {} },
    });
    expect(t.status).toBe(409);
    expect(t.body.error.code).toBe('SESSION_QUARANTINED');
    const rec = await store.getSession(s.id);
    expect(rec).toMatchObject({ status: 'quarantined', seq: 1, leaseOwner: null });
    expect(rec.reason).toMatch(/corrupt checkpoint/);
    const again = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: { input: {} },
    });
    expect(again.body.error.code).toBe('SESSION_QUARANTINED');
  });
});

describe('failed migrations', () => {
  it('leave the session on its origin version with the reason recorded', async () => {
    const s = await newSession(r.http, 'counter');
    await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, { headers: s.headers, body: { input: {} } });
    const res = await migrateSession(r.server.ctx, { sessionId: s.id, to: 'v2-broken', rolloutId: null });
    expect(res).toMatchObject({ ok: false, code: 'STATE_INVALID' });
    const rec = await store.getSession(s.id);
    expect(rec).toMatchObject({ version: 'v1', seq: 1, status: 'idle', leaseOwner: null });
    const failed = await store.listMigrations({ sessionId: s.id });
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ fromVersion: 'v1', toVersion: 'v2-broken', status: 'failed' });
    expect(failed[0]!.error).toMatch(/STATE_INVALID/);
  });

  it('a dry run reports the outcome and writes nothing', async () => {
    const s = await newSession(r.http, 'counter');
    await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, { headers: s.headers, body: { input: {} } });
    const bad = await migrateSession(r.server.ctx, {
      sessionId: s.id,
      to: 'v2-broken',
      rolloutId: null,
      dryRun: true,
    });
    expect(bad.ok).toBe(false);
    const good = await migrateSession(r.server.ctx, {
      sessionId: s.id,
      to: 'v2',
      rolloutId: null,
      dryRun: true,
    });
    expect(good).toMatchObject({ ok: true, seq: 1 });
    expect(await store.listMigrations({ sessionId: s.id })).toEqual([]);
    expect((await store.getSession(s.id)).version).toBe('v1');
  });

  it('at a boundary, the turn still runs on the origin version', async () => {
    const s = await newSession(r.http, 'counter');
    await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, { headers: s.headers, body: { input: {} } });
    const route = (await store.getRoute('counter'))!;
    await store.setRoute({
      ...route,
      move: {
        from: 'v1',
        to: 'v2-broken',
        percent: 100,
        policy: 'at-boundary',
        maxAgeMs: null,
        deadlinePassed: false,
      },
    });
    try {
      const t = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
        headers: s.headers,
        body: { input: {} },
      });
      expect(t.status).toBe(200);
      expect(t.body).toMatchObject({ version: 'v1', seq: 2, output: { count: 2, version: 'v1' } });
      expect(t.body.migrated).toBeUndefined();
      expect((await store.listMigrations({ sessionId: s.id, status: 'failed' })).length).toBe(1);
    } finally {
      await store.setRoute({ ...route, move: null });
    }
  });

  it('a busy session is not migrated and keeps its lease holder', async () => {
    const s = await newSession(r.http, 'counter');
    await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, { headers: s.headers, body: { input: {} } });
    await store.acquireLease(s.id, 'other-router', 10_000);
    const res = await migrateSession(r.server.ctx, { sessionId: s.id, to: 'v2', rolloutId: null });
    expect(res).toMatchObject({ ok: false, code: 'SESSION_BUSY' });
    expect(await store.getSession(s.id)).toMatchObject({ version: 'v1', leaseOwner: 'other-router' });
  });
});
