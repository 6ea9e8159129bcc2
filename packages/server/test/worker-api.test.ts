/**
 * The worker ledger API over HTTP (worker token): the same semantics as the in-process ledger
 * client. Every call presents the turn capability of a turn holding the session's lease.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '@baton/store';
import { counterV1 } from './fixtures/agents';
import {
  call,
  newSession,
  sqliteTarget,
  startServer,
  stopServer,
  TRAFFIC,
  type Running,
} from './fixtures/harness';

const WORKER = { authorization: 'Bearer worker-token' };

/** Worker headers with the capability of turn `turnId`, which takes the session's lease. */
async function underLease(sessionId: string, turnId: string): Promise<Record<string, string>> {
  const lease = await store.acquireLease(sessionId, `test:${turnId}`, 60_000);
  const cap = await r.server.ctx.capabilities.issue(sessionId, turnId, lease.epoch, 60_000);
  return { ...WORKER, 'baton-capability': cap };
}
let store: Store;
let cleanup: () => Promise<void>;
let r: Running;

beforeAll(async () => {
  const t = await sqliteTarget.open();
  store = t.store;
  cleanup = t.cleanup;
  r = await startServer(store, [counterV1]);
});

afterAll(async () => {
  await stopServer(r);
  await cleanup();
});

describe('worker ledger API', () => {
  it('records an intent once, commits it, and answers retries with the stored record', async () => {
    const s = await newSession(r.http, 'counter');
    const intent = {
      idempotencyKey: `${s.id}:t1:0`,
      sessionId: s.id,
      agent: 'counter',
      version: 'v1',
      turnId: 't1',
      name: 'send_email',
      args: { to: 'a@example.com' },
      compensation: 'send_apology',
    };
    const WORKER = await underLease(s.id, 't1');
    const first = await call(r.http, 'POST', '/v1/worker/effects/intent', { headers: WORKER, body: intent });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ existing: false, effect: { status: 'intent', rolloutId: null } });
    const again = await call(r.http, 'POST', '/v1/worker/effects/intent', { headers: WORKER, body: intent });
    expect(again.body).toMatchObject({ existing: true, effect: { id: first.body.effect.id } });
    const commit = await call(r.http, 'POST', '/v1/worker/effects/commit', {
      headers: WORKER,
      body: { idempotencyKey: intent.idempotencyKey, result: { messageId: 'm1' } },
    });
    expect(commit.body.effect).toMatchObject({ status: 'committed', result: { messageId: 'm1' } });
    const retry = await call(r.http, 'POST', '/v1/worker/effects/intent', { headers: WORKER, body: intent });
    expect(retry.body).toMatchObject({
      existing: true,
      effect: { status: 'committed', result: { messageId: 'm1' } },
    });
    const failKey = { ...intent, idempotencyKey: `${s.id}:t1:1` };
    await call(r.http, 'POST', '/v1/worker/effects/intent', { headers: WORKER, body: failKey });
    const failed = await call(r.http, 'POST', '/v1/worker/effects/fail', {
      headers: WORKER,
      body: { idempotencyKey: failKey.idempotencyKey, error: 'smtp down' },
    });
    expect(failed.body.effect).toMatchObject({ status: 'failed', error: 'smtp down' });
  });

  it('attaches the rollout of the agent route to new intents', async () => {
    const s = await newSession(r.http, 'counter');
    const route = (await store.getRoute('counter'))!;
    await store.setRoute({ ...route, rolloutId: 'ro_test' });
    const WORKER = await underLease(s.id, 't9');
    try {
      const res = await call(r.http, 'POST', '/v1/worker/effects/intent', {
        headers: WORKER,
        body: {
          idempotencyKey: `${s.id}:t9:0`,
          sessionId: s.id,
          agent: 'counter',
          version: 'v1',
          turnId: 't9',
          name: 'create_ticket',
          args: {},
          compensation: null,
        },
      });
      expect(res.body.effect.rolloutId).toBe('ro_test');
    } finally {
      await store.setRoute(route);
    }
  });

  it('journals steps of an in-flight turn', async () => {
    const s = await newSession(r.http, 'counter');
    const WORKER = await underLease(s.id, 'tx');
    const put = await call(r.http, 'POST', '/v1/worker/steps', {
      headers: WORKER,
      body: { sessionId: s.id, turnId: 'tx', index: 0, name: 'plan', result: { plan: ['a'] } },
    });
    expect(put.status).toBe(204);
    const got = await call(r.http, 'GET', `/v1/worker/steps?sessionId=${s.id}&turnId=tx`, {
      headers: WORKER,
    });
    expect(got.body).toEqual({ steps: [{ index: 0, name: 'plan', result: { plan: ['a'] } }] });
  });

  it('refuses a call without a live capability of its turn with 403 CAPABILITY_INVALID', async () => {
    const s = await newSession(r.http, 'counter');
    const body = {
      idempotencyKey: `${s.id}:tc:0`,
      sessionId: s.id,
      agent: 'counter',
      version: 'v1',
      turnId: 'tc',
      name: 'x',
      args: {},
      compensation: null,
    };
    const none = await call(r.http, 'POST', '/v1/worker/effects/intent', { headers: WORKER, body });
    expect(none.status).toBe(403);
    expect(none.body.error).toMatchObject({ code: 'CAPABILITY_INVALID' });
    const live = await underLease(s.id, 'tc');
    const other = await call(r.http, 'POST', '/v1/worker/effects/intent', {
      headers: live,
      body: { ...body, turnId: 'another', idempotencyKey: `${s.id}:another:0` },
    });
    expect(other.status).toBe(403);
    expect((await call(r.http, 'POST', '/v1/worker/effects/intent', { headers: live, body })).status).toBe(
      200,
    );
    await store.releaseLease({ sessionId: s.id, owner: 'test:tc', expiresAt: 0, epoch: 0 });
    const late = await call(r.http, 'POST', '/v1/worker/effects/commit', {
      headers: live,
      body: { idempotencyKey: body.idempotencyKey, result: {} },
    });
    expect(late.status).toBe(403);
    expect(late.body.error.details).toMatchObject({ reason: expect.stringContaining('revoked') });
    expect((await store.getEffect(body.idempotencyKey)).status).toBe('intent');
  });

  it('rejects other scopes and malformed bodies without recording anything', async () => {
    const s = await newSession(r.http, 'counter');
    const body = {
      idempotencyKey: `${s.id}:bad:0`,
      sessionId: s.id,
      agent: 'counter',
      version: 'v1',
      turnId: 'bad',
      name: 'x',
      args: {},
      compensation: null,
    };
    const traffic = await call(r.http, 'POST', '/v1/worker/effects/intent', { headers: TRAFFIC, body });
    expect(traffic.status).toBe(403);
    const none = await call(r.http, 'POST', '/v1/worker/effects/intent', { body });
    expect(none.status).toBe(401);
    const malformed = await call(r.http, 'POST', '/v1/worker/effects/intent', {
      headers: WORKER,
      body: { ...body, idempotencyKey: '' },
    });
    expect(malformed.body.error.code).toBe('VALIDATION');
    const badStep = await call(r.http, 'POST', '/v1/worker/steps', {
      headers: WORKER,
      body: { sessionId: s.id, turnId: 'bad', index: -1, name: 'n', result: 1 },
    });
    expect(badStep.body.error.code).toBe('VALIDATION');
    expect((await store.listEffects({ sessionId: s.id })).items).toEqual([]);
    expect(await store.listSteps(s.id, 'bad')).toEqual([]);
  });
});
