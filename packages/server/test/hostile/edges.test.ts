/**
 * The smaller edges of hostile input, over real HTTP on a real SQLite file: an empty JSON body where
 * the body is optional, feedback on an ended session, a session ended while waiting, a version
 * registered again with contradicting fields, a worker whose health answer names no version, the
 * request-timeout bound and a NOT_FOUND that does not echo a long URL.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/app';
import { counterV1 } from '../fixtures/agents';
import {
  ADMIN,
  TOKENS,
  TRAFFIC,
  call,
  newSession,
  startServer,
  stopServer,
  type Running,
} from '../fixtures/harness';
import { openSqliteDumped, type DumpedStore } from './store-dump';

let d: DumpedStore;
let r: Running;
const store = () => d.store;

beforeAll(async () => {
  d = await openSqliteDumped();
  r = await startServer(d.store, [counterV1], { limits: { healthIntervalMs: 0 } });
});

afterAll(async () => {
  if (r) await stopServer(r);
  await d?.cleanup();
});

describe('hostile input: the smaller edges', () => {
  it('an empty body with Content-Type: application/json is no body, accepted where the body is optional', async () => {
    const created = await call(r.http, 'POST', '/v1/agents/counter/sessions', { headers: TRAFFIC, raw: '' });
    expect(created.status).toBe(201);
    const headers = { ...TRAFFIC, 'x-session-token': created.body.sessionToken };
    const ended = await call(r.http, 'POST', `/v1/sessions/${created.body.sessionId}/end`, {
      headers,
      raw: '  ',
    });
    expect(ended.status).toBe(200);
    // where the body is required, an empty one is a VALIDATION error naming what is missing
    const s = await newSession(r.http, 'counter');
    const turn = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, { headers: s.headers, raw: '' });
    expect(turn.status).toBe(400);
    expect(turn.body.error.code).toBe('VALIDATION');
  });

  it('a __proto__ key is refused as such (JSON_KEY_REFUSED, with its path), not as invalid JSON', async () => {
    const res = await call(r.http, 'POST', '/v1/agents/counter/sessions', {
      headers: TRAFFIC,
      raw: '{"metadata":{"a":{"__proto__":{"admin":true}}}}',
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'JSON_KEY_REFUSED',
      details: { path: 'metadata.a.__proto__' },
    });
    // `constructor` and `prototype` are ordinary keys
    const ok = await call(r.http, 'POST', '/v1/agents/counter/sessions', {
      headers: TRAFFIC,
      raw: '{"metadata":{"constructor":{"prototype":1}}}',
    });
    expect(ok.status).toBe(201);
  });

  it('feedback on an ended session is refused with SESSION_CLOSED and records nothing', async () => {
    const s = await newSession(r.http, 'counter');
    await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: { input: { text: 'hi' } },
    });
    expect((await call(r.http, 'POST', `/v1/sessions/${s.id}/end`, { headers: s.headers })).status).toBe(200);
    const before = await store().listSessionAggregates({ agent: 'counter' });
    const res = await call(r.http, 'POST', `/v1/sessions/${s.id}/feedback`, {
      headers: s.headers,
      body: { signal: 'thumbs_down' },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('SESSION_CLOSED');
    expect(await store().listSessionAggregates({ agent: 'counter' })).toEqual(before);
  });

  it('a session ended while waiting no longer lists its wait, and its callback is refused', async () => {
    const s = await newSession(r.http, 'counter');
    const t = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: { input: { wait: true } },
    });
    expect(t.body.status).toBe('waiting');
    expect(t.body.waits).toHaveLength(1);
    const token = t.body.waits[0].token as string;
    const ended = await call(r.http, 'POST', `/v1/sessions/${s.id}/end`, { headers: s.headers });
    expect(ended.body).toMatchObject({ status: 'completed', waits: [] });
    const view = await call(r.http, 'GET', `/v1/sessions/${s.id}`, { headers: s.headers });
    expect(view.body.waits).toEqual([]);
    const cb = await call(r.http, 'POST', `/v1/callbacks/${token}`, {
      headers: TRAFFIC,
      body: { payload: { approved: true } },
    });
    expect(cb.status).toBe(409);
    expect(cb.body.error.code).toBe('WAIT_RESOLVED');
  });

  it('registering a version again with the same identity but other manifest fields is VERSION_CONFLICT', async () => {
    const m = counterV1.manifest();
    const again = await call(r.http, 'POST', '/v1/versions', { headers: ADMIN, body: m });
    expect(again.status).toBe(201);
    const res = await call(r.http, 'POST', '/v1/versions', {
      headers: ADMIN,
      body: { ...m, modelId: 'another-model' },
    });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'VERSION_CONFLICT', details: { fields: ['modelId'] } });
    expect((await store().getVersion('counter', 'v1')).modelId).toBe(m.modelId);
  });

  it('a worker whose /v1/health names no agent or version is a clear WORKER_ERROR', async () => {
    const fake: Server = createHttpServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, inflight: 0 }));
    });
    await new Promise<void>((res) => fake.listen(0, '127.0.0.1', res));
    try {
      const port = (fake.address() as { port: number }).port;
      const res = await call(r.http, 'POST', '/v1/workers', {
        headers: ADMIN,
        body: { url: `http://127.0.0.1:${port}` },
      });
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe('WORKER_ERROR');
      expect(res.body.error.message).toContain('without agent, version, identity');
      expect(res.body.error.message).not.toContain('undefined');
      expect(await store().listWorkers({})).toHaveLength(1); // only the in-process worker
    } finally {
      await new Promise((res) => fake.close(res));
    }
  });

  it('NOT_FOUND quotes at most 100 printable characters of the path', async () => {
    const res = await call(r.http, 'GET', `/v1/nothing/${'y'.repeat(5000)}`, { headers: ADMIN });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    expect(res.body.error.message.length).toBeLessThan(130);
  });

  it('an unbounded request timeout is refused at start; the bound is configurable', () => {
    expect(() =>
      createServer({ store: store(), tokens: TOKENS, logger: false, limits: { requestTimeoutMs: 0 } }),
    ).toThrow(/requestTimeoutMs/);
    const s = createServer({
      store: store(),
      tokens: TOKENS,
      logger: false,
      limits: { requestTimeoutMs: 5_000, headersTimeoutMs: 9_000 },
    });
    expect(s.app.server.requestTimeout).toBe(5_000);
    expect(s.app.server.headersTimeout).toBe(5_000);
    void s.app.close();
  });
});
