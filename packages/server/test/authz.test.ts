/**
 * Authorization boundaries over real HTTP on a real SQLite file: a worker token writes nothing to
 * the ledger or journal without a live capability of the turn; it registers and unregisters only
 * its own worker and calls no admin route; a read token reads and never mutates; several tokens
 * per scope are all accepted, and a removed one no longer is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '@baton/core';
import { httpLedgerClient, serveWorker } from '@baton/sdk';
import type { Store } from '@baton/store';
import { Capabilities } from '../src/capability';
import { rolloutRoutes } from '../src/rollout/api';
import { controllerRoutes } from '../src/rollout/leader-api';
import { counterV1, counterV2 } from './fixtures/agents';
import {
  ADMIN,
  call,
  newSession,
  sqliteTarget,
  startServer,
  stopServer,
  TRAFFIC,
  type Running,
} from './fixtures/harness';

type Method = 'GET' | 'POST' | 'DELETE';

const WORKER = { authorization: 'Bearer worker-token' };
const READ = { authorization: 'Bearer read-token' };
const TOKENS = {
  traffic: ['traffic-token', 'traffic-next'],
  admin: ['admin-token', 'admin-next'],
  worker: ['worker-token', 'worker-next'],
  read: ['read-token'],
};

let store: Store;
let cleanup: () => Promise<void>;
let r: Running;

beforeAll(async () => {
  const t = await sqliteTarget.open();
  store = t.store;
  cleanup = t.cleanup;
  r = await startServer(store, [counterV1], {
    tokens: TOKENS,
    routes: [rolloutRoutes(), controllerRoutes(() => null)],
  });
});

afterAll(async () => {
  await stopServer(r);
  await cleanup();
});

/** Everything a rejected call could have changed, to compare before and after. */
async function snapshot(sessionIds: string[]): Promise<unknown> {
  return {
    effects: (await store.listEffects({ limit: 1000 })).items,
    steps: await Promise.all(sessionIds.map((id) => store.listSteps(id, 'forged'))),
    sessions: (await store.listSessions({ limit: 1000 })).items,
    workers: await store.listWorkers(),
    versions: await store.listVersions(),
    rollouts: await store.listRollouts({}),
  };
}

describe('a worker token without a live capability of the turn', () => {
  it('writes no effect or journal entry for an idle, unknown or other session, nor with a forged or other-session capability', async () => {
    const idle = await newSession(r.http, 'counter');
    const other = await newSession(r.http, 'counter');
    const caps = r.server.ctx.capabilities;
    // a live turn of `other` (its lease is held), whose capability is presented for `idle`
    const lease = await store.acquireLease(other.id, 'test:other', 60_000);
    const otherCap = await caps.issue(other.id, 'forged', lease.epoch, 60_000);
    // a capability signed with another store's secret
    const foreign = await new Capabilities(
      { sharedSecret: async () => Buffer.alloc(32, 7) } as unknown as Store,
      systemClock,
    ).issue(idle.id, 'forged', 1, 60_000);
    const readOnly = await caps.issue(idle.id, 'forged', null, 60_000);
    const revoked = await caps.issue(idle.id, 'forged', 0, 60_000);
    const capabilities: Array<[string, Record<string, string>]> = [
      ['none', {}],
      ['garbage', { 'baton-capability': 'not-a-capability' }],
      ['forged', { 'baton-capability': foreign }],
      ["another session's", { 'baton-capability': otherCap }],
      ['read-only', { 'baton-capability': readOnly }],
      ['revoked (no lease)', { 'baton-capability': revoked }],
    ];
    const targets: Array<[string, { sessionId: string; agent: string }]> = [
      ['idle session', { sessionId: idle.id, agent: 'counter' }],
      ['unknown session', { sessionId: 'ses_does_not_exist', agent: 'counter' }],
      ["another agent's session", { sessionId: idle.id, agent: 'billing' }],
    ];
    const before = await snapshot([idle.id, other.id]);
    for (const [capName, capHeader] of capabilities) {
      for (const [targetName, t] of targets) {
        const headers = { ...WORKER, ...capHeader };
        const what = `${capName} capability, ${targetName}`;
        const intent = await call(r.http, 'POST', '/v1/worker/effects/intent', {
          headers,
          body: {
            idempotencyKey: `${t.sessionId}:forged:${capName}`,
            sessionId: t.sessionId,
            agent: t.agent,
            version: 'v1',
            turnId: 'forged',
            name: 'send_email',
            args: { to: 'victim@example.com' },
            compensation: null,
          },
        });
        expect(intent.status, what).toBe(403);
        expect(intent.body.error.code, what).toBe('CAPABILITY_INVALID');
        const step = await call(r.http, 'POST', '/v1/worker/steps', {
          headers,
          body: { sessionId: t.sessionId, turnId: 'forged', index: 0, name: 'x', result: { forged: true } },
        });
        expect(step.status, what).toBe(403);
        const read = await call(
          r.http,
          'GET',
          `/v1/worker/steps?sessionId=${encodeURIComponent(t.sessionId)}&turnId=forged`,
          { headers },
        );
        expect(read.status, what).toBe(403);
        const history = await call(
          r.http,
          'GET',
          `/v1/worker/history?sessionId=${encodeURIComponent(t.sessionId)}`,
          { headers },
        );
        // a read-only capability of the session may page its history; nothing else may
        expect(history.status, what).toBe(capName === 'read-only' && t.sessionId === idle.id ? 200 : 403);
      }
    }
    expect(await snapshot([idle.id, other.id])).toEqual(before);
    await store.releaseLease(lease);
  });

  it("cannot settle another turn's intent", async () => {
    const s = await newSession(r.http, 'counter');
    const lease = await store.acquireLease(s.id, 'test:t1', 60_000);
    const cap = await r.server.ctx.capabilities.issue(s.id, 't1', lease.epoch, 60_000);
    const key = `${s.id}:t1:0`;
    const made = await call(r.http, 'POST', '/v1/worker/effects/intent', {
      headers: { ...WORKER, 'baton-capability': cap },
      body: {
        idempotencyKey: key,
        sessionId: s.id,
        agent: 'counter',
        version: 'v1',
        turnId: 't1',
        name: 'x',
        args: {},
      },
    });
    expect(made.status).toBe(200);
    const stranger = await r.server.ctx.capabilities.issue(s.id, 't2', lease.epoch, 60_000);
    for (const headers of [WORKER, { ...WORKER, 'baton-capability': stranger }]) {
      const commit = await call(r.http, 'POST', '/v1/worker/effects/commit', {
        headers,
        body: { idempotencyKey: key, result: { forged: true } },
      });
      expect(commit.status).toBe(403);
    }
    expect((await store.getEffect(key)).status).toBe('intent');
    await store.releaseLease(lease);
  });
});

/** Every admin route, with a body that would be accepted from an admin where one is needed. */
const ADMIN_ROUTES: Array<[Method, string, unknown?]> = [
  ['POST', '/v1/versions', { ...counterV2.manifest() }],
  ['GET', '/v1/effects'],
  ['POST', '/v1/effects/eff_x/resolve', { status: 'failed', error: 'x', by: 'me', reason: 'x' }],
  ['GET', '/v1/sessions/ses_x/checkpoints'],
  ['GET', '/v1/sessions/ses_x/checkpoints/1'],
  ['POST', '/v1/rollouts', { agent: 'counter', to: 'v2', steps: [{ fill: 100, migrate: 100 }] }],
  ['POST', '/v1/rollouts/forecast', { agent: 'counter', to: 'v2', steps: [{ fill: 100 }] }],
  ['POST', '/v1/rollouts/preflight', { agent: 'counter', to: 'v2', steps: [{ fill: 100 }] }],
  ['POST', '/v1/migrate/check', { agent: 'counter', to: 'v2', steps: [{ fill: 100 }] }],
  ['GET', '/v1/rollouts/r_x/report'],
  ['POST', '/v1/rollouts/r_x/promote', {}],
  ['POST', '/v1/rollouts/r_x/pause', {}],
  ['POST', '/v1/rollouts/r_x/resume', {}],
  ['POST', '/v1/rollouts/r_x/abort', {}],
  ['POST', '/v1/rollouts/r_x/compensate', {}],
];
/** The read-only routes: a read token gets them, as an admin does. */
const READ_ROUTES: string[] = [
  '/metrics',
  '/v1/rollouts',
  '/v1/controller',
  '/v1/versions',
  '/v1/workers',
  '/v1/sessions',
  '/v1/migrations',
];

describe('scopes', () => {
  it('a worker token calls no admin or read-only route', async () => {
    const before = await snapshot([]);
    for (const [method, url, body] of ADMIN_ROUTES) {
      const res = await call(r.http, method, url, { headers: WORKER, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body.error.code, `${method} ${url}`).toBe('FORBIDDEN');
    }
    for (const url of READ_ROUTES) {
      expect((await call(r.http, 'GET', url, { headers: WORKER })).status, url).toBe(403);
    }
    expect(await snapshot([])).toEqual(before);
  });

  it('a read token gets the read-only routes and nothing else, and mutates nothing', async () => {
    const s = await newSession(r.http, 'counter');
    for (const url of READ_ROUTES) {
      const res = await call(r.http, 'GET', url, { headers: READ });
      expect(res.status, url).toBe(200);
    }
    const before = await snapshot([s.id]);
    for (const [method, url, body] of ADMIN_ROUTES) {
      const res = await call(r.http, method, url, { headers: READ, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${url}`).toBe(403);
    }
    const traffic: Array<[Method, string, unknown?]> = [
      ['POST', '/v1/agents/counter/sessions', {}],
      ['POST', `/v1/sessions/${s.id}/turns`, { input: { kind: 'message', message: 'hi' } }],
      ['GET', `/v1/sessions/${s.id}`],
      ['GET', `/v1/sessions/${s.id}/history`],
      ['POST', `/v1/sessions/${s.id}/feedback`, { signal: 'thumbs_up' }],
      ['POST', `/v1/sessions/${s.id}/end`, {}],
      ['POST', '/v1/callbacks/some-token', { payload: {} }],
      ['POST', '/v1/workers', { url: 'http://127.0.0.1:1' }],
      ['DELETE', '/v1/workers/wrk_x'],
      ['POST', '/v1/worker/effects/intent', {}],
    ];
    for (const [method, url, body] of traffic) {
      const res = await call(r.http, method, url, {
        headers: { ...s.headers, ...READ },
        ...(body ? { body } : {}),
      });
      expect(res.status, `${method} ${url}`).toBe(403);
    }
    expect(await snapshot([s.id])).toEqual(before);
  });

  it('every token of a scope is accepted, and a removed one is refused (rotation)', async () => {
    for (const t of ['traffic-token', 'traffic-next']) {
      const res = await call(r.http, 'POST', '/v1/agents/counter/sessions', {
        headers: { authorization: `Bearer ${t}` },
        body: {},
      });
      expect(res.status, t).toBe(201);
    }
    for (const t of ['admin-token', 'admin-next']) {
      expect(
        (await call(r.http, 'GET', '/v1/effects', { headers: { authorization: `Bearer ${t}` } })).status,
      ).toBe(200);
    }
    // the same store served with the old tokens removed: the new ones work, the old ones no longer
    const next = await startServer(store, [counterV1], {
      tokens: { traffic: ['traffic-next'], admin: ['admin-next'], worker: ['worker-next'] },
    });
    try {
      const old = await call(next.http, 'POST', '/v1/agents/counter/sessions', {
        headers: TRAFFIC,
        body: {},
      });
      expect(old.status).toBe(401);
      expect((await call(next.http, 'GET', '/v1/effects', { headers: ADMIN })).status).toBe(401);
      const fresh = await call(next.http, 'POST', '/v1/agents/counter/sessions', {
        headers: { authorization: 'Bearer traffic-next' },
        body: {},
      });
      expect(fresh.status).toBe(201);
    } finally {
      await stopServer(next);
    }
  });
});

describe('worker registration with the worker token', () => {
  it('a worker registers itself, cannot unregister another worker, and unregisters itself with its key', async () => {
    const ledger = httpLedgerClient(r.url, 'worker-token');
    const a = await serveWorker(counterV1, { port: 0, host: '127.0.0.1', ledger, token: 'worker-token' });
    const b = await serveWorker(counterV1, { port: 0, host: '127.0.0.1', ledger, token: 'worker-token' });
    try {
      const regA = await call(r.http, 'POST', '/v1/workers', {
        headers: WORKER,
        body: { url: a.url, manifest: counterV1.manifest() },
      });
      expect(regA.status).toBe(201);
      expect(regA.body.workerKey).toEqual(expect.any(String));
      // an operator registers b with the admin token (no key: admins need none)
      const regB = await call(r.http, 'POST', '/v1/workers', { headers: ADMIN, body: { url: b.url } });
      expect(regB.status).toBe(201);
      expect(regB.body.workerKey).toBeUndefined();
      const ids = async (): Promise<string[]> => (await store.listWorkers()).map((w) => w.id).sort();
      const both = await ids();
      expect(both).toEqual(expect.arrayContaining([regA.body.id, regB.body.id]));

      // a's key does not unregister b; no key does not unregister a
      for (const [id, headers] of [
        [regB.body.id, { ...WORKER, 'baton-worker-key': regA.body.workerKey }],
        [regA.body.id, WORKER],
        [regA.body.id, { ...WORKER, 'baton-worker-key': 'x'.repeat(43) }],
      ] as const) {
        const res = await call(r.http, 'DELETE', `/v1/workers/${id}`, { headers });
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      }
      expect(await ids()).toEqual(both);

      const own = await call(r.http, 'DELETE', `/v1/workers/${regA.body.id}`, {
        headers: { ...WORKER, 'baton-worker-key': regA.body.workerKey },
      });
      expect(own.status).toBe(204);
      expect(await ids()).not.toContain(regA.body.id);
      // the operator still unregisters any worker with the admin token
      expect((await call(r.http, 'DELETE', `/v1/workers/${regB.body.id}`, { headers: ADMIN })).status).toBe(
        204,
      );
      expect(await ids()).not.toContain(regB.body.id);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
