/**
 * An effect left in doubt blocks its turn (EFFECT_IN_DOUBT) until an operator resolves it over
 * the admin API; the retry then replays the resolution. The resolution races a late commit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPABILITY_HEADER } from '@baton/core';
import { turnIdOf } from '../src/router';
import { counterV1 } from './fixtures/agents';
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

const WORKER = { authorization: 'Bearer worker-token' };

describe('resolving an effect in doubt (POST /v1/effects/{id}/resolve)', () => {
  let r: Running;
  let t: Awaited<ReturnType<typeof sqliteTarget.open>>;
  beforeAll(async () => {
    t = await sqliteTarget.open();
    r = await startServer(t.store, [counterV1]);
  });
  afterAll(async () => {
    await stopServer(r);
    await t.cleanup();
  });

  /**
   * The headers of a slow worker still inside that turn: the turn's lease held (as its router
   * would) and a live capability for it. `release` lets the turn be retried afterwards.
   */
  async function slowWorker(sessionId: string, turnId: string) {
    const lease = await t.store.acquireLease(sessionId, `slow:${turnId}`, 30_000);
    const cap = await r.server.ctx.capabilities.issue(sessionId, turnId, lease.epoch, 30_000);
    return { headers: { ...WORKER, [CAPABILITY_HEADER]: cap }, release: () => t.store.releaseLease(lease) };
  }

  /** A session whose turn `key` finds its first effect recorded by a crashed attempt. */
  async function inDoubt(key: string) {
    const s = await newSession(r.http, 'counter');
    const turnId = turnIdOf(s.id, key);
    const { effect } = await t.store.recordEffectIntent({
      idempotencyKey: `${s.id}:${turnId}:0`,
      sessionId: s.id,
      agent: 'counter',
      version: 'v1',
      turnId,
      name: 'notify',
      args: { session: s.id, n: 1 },
      compensation: null,
      attemptId: 'att_crashed',
    });
    const headers = { ...s.headers, 'idempotency-key': key };
    const turn = () => call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, { headers, body: { input: {} } });
    const blocked = await turn();
    expect(blocked.status).toBe(409);
    expect(blocked.body.error.code).toBe('EFFECT_IN_DOUBT');
    return { s, effect, turn };
  }

  it('committed: recorded with who and why, the retry replays the result; a second resolution and a late commit are 409', async () => {
    const { effect, turn } = await inDoubt('k1');
    const path = `/v1/effects/${effect.id}/resolve`;
    const body = { status: 'committed', result: { sent: 'by hand' }, by: 'ana', reason: 'in the mail log' };
    expect((await call(r.http, 'POST', path, { headers: TRAFFIC, body })).status).toBe(403);
    const ok = await call(r.http, 'POST', path, { headers: ADMIN, body });
    expect(ok.status).toBe(200);
    expect(ok.body.effect).toMatchObject({
      status: 'committed',
      result: { sent: 'by hand' },
      resolution: { status: 'committed', by: 'ana', reason: 'in the mail log' },
    });
    const again = await call(r.http, 'POST', path, {
      headers: ADMIN,
      body: { status: 'failed', error: 'no', by: 'bo', reason: 'r' },
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('CONFLICT');
    const slow = await slowWorker(effect.sessionId, effect.turnId);
    const late = await call(r.http, 'POST', '/v1/worker/effects/commit', {
      headers: slow.headers,
      body: { idempotencyKey: effect.idempotencyKey, result: { sent: 'late' } },
    });
    await slow.release();
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('CONFLICT');
    const retry = await turn();
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ seq: 1, output: { count: 1 } });
    const listed = await call(r.http, 'GET', `/v1/effects?session=${effect.sessionId}`, { headers: ADMIN });
    expect(listed.body.items[0]).toMatchObject({ result: { sent: 'by hand' }, resolution: { by: 'ana' } });
  });

  it('failed: the retry raises the recorded failure; a commit that came first makes the resolution 409', async () => {
    const { effect, turn } = await inDoubt('k2');
    const res = await call(r.http, 'POST', `/v1/effects/${effect.id}/resolve`, {
      headers: ADMIN,
      body: { status: 'failed', error: 'never sent', by: 'ana', reason: 'not in the log' },
    });
    expect(res.status).toBe(200);
    const retry = await turn();
    expect(retry.status).toBe(500);
    expect(retry.body.error.code).toBe('EFFECT_FAILED');

    const second = await inDoubt('k3');
    const slow = await slowWorker(second.effect.sessionId, second.effect.turnId);
    const first = await call(r.http, 'POST', '/v1/worker/effects/commit', {
      headers: slow.headers,
      body: { idempotencyKey: second.effect.idempotencyKey, result: { sent: 'slow worker' } },
    });
    await slow.release();
    expect(first.status).toBe(200);
    const lost = await call(r.http, 'POST', `/v1/effects/${second.effect.id}/resolve`, {
      headers: ADMIN,
      body: { status: 'failed', error: 'x', by: 'ana', reason: 'r' },
    });
    expect(lost.status).toBe(409);
    expect(lost.body.error).toMatchObject({ code: 'CONFLICT', details: { status: 'committed' } });
    expect((await second.turn()).status).toBe(200);
  });

  it('validates the body and answers 404 for an unknown effect', async () => {
    const bad = [
      { status: 'committed', by: 'ana' },
      { status: 'failed', by: 'ana', reason: 'r' },
      { status: 'compensated', by: 'ana', reason: 'r' },
    ];
    for (const body of bad) {
      const res = await call(r.http, 'POST', '/v1/effects/e_x/resolve', { headers: ADMIN, body });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION');
    }
    const missing = await call(r.http, 'POST', '/v1/effects/e_none/resolve', {
      headers: ADMIN,
      body: { status: 'failed', error: 'x', by: 'ana', reason: 'r' },
    });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('EFFECT_NOT_FOUND');
  });
});
