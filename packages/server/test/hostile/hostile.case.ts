/**
 * The hostile-input suite, run against one backend: for every route of the server's route table,
 * requests an attacker would send (no or wrong token, NUL characters in path, query and body
 * columns, overlong and badly escaped path segments, deep JSON, `__proto__` keys, malformed JSON,
 * bad paging parameters, gate metrics named after Object.prototype members). Every one must be
 * answered with the documented `{error: {code, message}}` shape, a stable code matching the status,
 * no stack trace or token in the body, and a store whose every table is unchanged.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HTTP_STATUS } from '@baton/core';
import { shadowRoutes } from '../../src/shadow/api';
import { rolloutRoutes } from '../../src/rollout/api';
import { controllerRoutes } from '../../src/rollout/leader-api';
import { dashboardRoutes } from '../../src/dashboard';
import { DEFAULT_LIMITS } from '../../src/context';
import { counterV1, counterV2 } from '../fixtures/agents';
import { TOKENS, call, newSession, startServer, stopServer, type Running } from '../fixtures/harness';
import type { DumpedStore } from './store-dump';
import {
  badLimit,
  bodyWith,
  deepJson,
  fillPath,
  notAnObject,
  notJson,
  protoJson,
  withField,
  withNul,
} from './arbitraries';
import { CONTENT, routeSpecs, type RouteSpec, type Seeds } from './routes';

const RUNS = 4;
const DEPTH = DEFAULT_LIMITS.jsonDepth;
const MAX_PARAM = DEFAULT_LIMITS.maxParamLength;

interface Sent {
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** Raw body text (sent as application/json). */
  body?: string;
}

export function hostileCase(open: () => Promise<DumpedStore>): void {
  let d: DumpedStore;
  let r: Running;
  let seeds: Seeds;
  let sessionHeaders: Record<string, string>;
  let secrets: string[];
  const rejected: Record<string, number> = {};

  beforeAll(async () => {
    d = await open();
    r = await startServer(d.store, [counterV1, counterV2], {
      limits: { healthIntervalMs: 0 },
      routes: [rolloutRoutes(), shadowRoutes(), controllerRoutes(() => null), dashboardRoutes()],
    });
    const s = await newSession(r.http, 'counter');
    const turn = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: { input: { text: 'seed' } },
    });
    if (turn.status !== 200) throw new Error(`seed turn: ${turn.status} ${JSON.stringify(turn.body)}`);
    seeds = { sessionId: s.id, agent: 'counter', stable: 'v1', candidate: 'v2' };
    sessionHeaders = s.headers;
    secrets = [...TOKENS.traffic, ...TOKENS.admin, ...TOKENS.worker, s.headers['x-session-token']!];
  });

  afterAll(async () => {
    if (r) await stopServer(r);
    await d?.cleanup();
  });

  function authHeaders(auth: RouteSpec['auth']): Record<string, string> {
    if (auth === 'none') return {};
    if (auth === 'session') return sessionHeaders;
    if (auth === 'any') return { authorization: `Bearer ${TOKENS.traffic[0]}` };
    return { authorization: `Bearer ${TOKENS[auth][0]}` };
  }

  async function send(req: Sent): Promise<{ status: number; text: string }> {
    const res = await r.http.request({
      method: req.method as 'GET',
      path: req.path,
      headers: {
        ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...req.headers,
      },
      ...(req.body !== undefined ? { body: req.body } : {}),
    });
    return { status: res.statusCode, text: await res.body.text() };
  }

  /** Send `req`, expecting a rejection with one of `codes`, and the store exactly as it was. */
  async function expectRejected(req: Sent, codes: string[], what: string): Promise<void> {
    const before = await d.dump();
    const res = await send(req);
    const label = `${what}: ${req.method} ${req.path.slice(0, 120)} -> ${res.status} ${res.text.slice(0, 300)}`;
    expect(res.status, label).toBeGreaterThanOrEqual(400);
    expect(res.status, label).toBeLessThan(500);
    const body = JSON.parse(res.text) as { error: { code: string; message: string; details?: unknown } };
    expect(Object.keys(body), label).toEqual(['error']);
    expect(codes, label).toContain(body.error.code);
    expect(HTTP_STATUS[body.error.code as keyof typeof HTTP_STATUS], label).toBe(res.status);
    expect(typeof body.error.message, label).toBe('string');
    expect(
      Object.keys(body.error).every((k) => ['code', 'message', 'details'].includes(k)),
      label,
    ).toBe(true);
    expect(res.text, label).not.toMatch(/\n\s+at |\.[jt]s:\d+|node_modules/);
    for (const s of secrets) expect(res.text.includes(s), `${label}: a token in the body`).toBe(false);
    expect(await d.dump(), `${label}: the store changed`).toEqual(before);
    rejected[what] = (rejected[what] ?? 0) + 1;
  }

  const routes = (): [string, string, RouteSpec][] => {
    const specs = routeSpecs(seeds);
    return r.server.routeTable.map(({ method, url }) => [method, url, specs[`${method} ${url}`]!]);
  };

  it('has a case for every route of the route table, and no case for a route that does not exist', () => {
    const specs = routeSpecs(seeds);
    const table = r.server.routeTable.map(({ method, url }) => `${method} ${url}`);
    expect(table.length).toBeGreaterThan(30);
    expect(table.filter((k) => !Object.hasOwn(specs, k))).toEqual([]);
    expect(Object.keys(specs).filter((k) => !table.includes(k))).toEqual([]);
  });

  it('refuses a missing or unknown token (and a token of the wrong scope)', async () => {
    for (const [method, url, spec] of routes()) {
      if (spec.auth === 'none') continue;
      const path = fillPath(url, spec.params ?? {});
      const body = spec.body ? JSON.stringify(spec.body()).replace(JSON.stringify(CONTENT), '1') : undefined;
      await expectRejected({ method, path, ...(body ? { body } : {}) }, ['UNAUTHORIZED'], 'no token');
      await expectRejected(
        { method, path, headers: { authorization: 'Bearer not-a-token' }, ...(body ? { body } : {}) },
        ['UNAUTHORIZED'],
        'unknown token',
      );
      // admin routes may also take the worker token (a worker registers itself) or the read token: traffic is never one
      const wrong = spec.auth === 'admin' ? 'traffic' : 'admin';
      // a route for a token of any scope has no wrong scope
      if (spec.auth !== 'session' && spec.auth !== 'any') {
        await expectRejected(
          { method, path, headers: authHeaders(wrong), ...(body ? { body } : {}) },
          ['FORBIDDEN'],
          'wrong scope',
        );
      }
    }
  });

  it('refuses a NUL character in any path parameter or query value (INVALID_CHARACTER)', async () => {
    for (const [method, url, spec] of routes()) {
      const headers = authHeaders(spec.auth);
      const body = spec.body ? JSON.stringify(spec.body()).replace(JSON.stringify(CONTENT), '1') : undefined;
      const base = fillPath(url, spec.params ?? {});
      await fc.assert(
        fc.asyncProperty(withNul, fc.constantFrom(...(spec.query ?? []), 'x'), async (v, name) => {
          const q = `${base}?${encodeURIComponent(name)}=${encodeURIComponent(v)}`;
          await expectRejected(
            { method, path: q, headers, ...(body ? { body } : {}) },
            ['INVALID_CHARACTER'],
            'NUL in query',
          );
        }),
        { numRuns: RUNS },
      );
      for (const p of Object.keys(spec.params ?? {})) {
        await fc.assert(
          fc.asyncProperty(withNul, async (v) => {
            const path = fillPath(url, { ...spec.params, [p]: v });
            await expectRejected(
              { method, path, headers, ...(body ? { body } : {}) },
              ['INVALID_CHARACTER'],
              'NUL in path',
            );
          }),
          { numRuns: RUNS },
        );
      }
    }
  });

  it('refuses overlong and badly escaped path parameters without echoing them', async () => {
    for (const [method, url, spec] of routes()) {
      const headers = authHeaders(spec.auth);
      for (const p of Object.keys(spec.params ?? {})) {
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: MAX_PARAM + 1, max: MAX_PARAM + 2000 }), async (n) => {
            const long = `q${'z'.repeat(n - 1)}`;
            const path = fillPath(url, { ...spec.params, [p]: long });
            await expectRejected({ method, path, headers }, ['PARAM_TOO_LONG'], 'overlong path parameter');
            const res = await send({ method, path, headers });
            expect(res.text.includes('zzzzzzzzzz')).toBe(false);
          }),
          { numRuns: 2 },
        );
        for (const bad of ['%zz', '%E0%A4%A', '%', 'a%2']) {
          const path = fillPath(url, { ...spec.params, [p]: '\u0001' }).replace('%01', bad);
          await expectRejected({ method, path, headers }, ['BAD_URL'], 'bad percent-escape');
        }
      }
    }
  });

  it('refuses non-decimal or out-of-range limits, positions and unknown cursors', async () => {
    for (const [method, url, spec] of routes()) {
      const headers = authHeaders(spec.auth);
      const base = fillPath(url, spec.params ?? {});
      const sep = base.includes('?') ? '&' : '?';
      const extra = spec.query?.includes('sessionId') ? `sessionId=${seeds.sessionId}&` : '';
      if (spec.limit) {
        await fc.assert(
          fc.asyncProperty(badLimit, async (v) => {
            const path = `${base}${sep}${extra}limit=${encodeURIComponent(v)}`;
            await expectRejected({ method, path, headers }, ['VALIDATION'], 'bad limit');
          }),
          { numRuns: RUNS * 2 },
        );
      }
      for (const name of spec.ints ?? []) {
        for (const v of ['0x10', '1e2', ' 10', '-1', '1.5']) {
          const path = `${base}${sep}${extra}${name}=${encodeURIComponent(v)}`;
          await expectRejected({ method, path, headers }, ['VALIDATION'], 'bad position');
        }
      }
      if (spec.cursor) {
        await fc.assert(
          fc.asyncProperty(
            fc.oneof(
              fc.string({ maxLength: 30 }).filter((x) => !x.includes('\0')),
              fc.constantFrom('', 'ses_0', 'effects.AAAA', 'sessions.', 'sessions.!!', 'sessions.AA=='),
            ),
            async (v) => {
              const path = `${base}${sep}cursor=${encodeURIComponent(v)}`;
              await expectRejected({ method, path, headers }, ['INVALID_CURSOR'], 'bad cursor');
            },
          ),
          { numRuns: RUNS * 2 },
        );
      }
    }
    // a cursor of another list is not a cursor of this one
    const effects = await call(r.http, 'GET', '/v1/effects?limit=1', { headers: authHeaders('admin') });
    expect(effects.status).toBe(200);
    const foreign = `effects.${Buffer.from(seeds.sessionId).toString('base64url')}`;
    await expectRejected(
      { method: 'GET', path: `/v1/sessions?cursor=${foreign}`, headers: authHeaders('admin') },
      ['INVALID_CURSOR'],
      'foreign cursor',
    );
  });

  it('refuses deep JSON, __proto__ keys and malformed JSON in every body', async () => {
    for (const [method, url, spec] of routes()) {
      if (!spec.body) continue;
      const headers = authHeaders(spec.auth);
      const path = fillPath(url, spec.params ?? {});
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: DEPTH + 1, max: 12_000 }),
          fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }),
          async (depth, shape) => {
            await expectRejected(
              { method, path, headers, body: bodyWith(spec, deepJson(depth, shape)) },
              ['JSON_TOO_DEEP'],
              'deep JSON',
            );
          },
        ),
        { numRuns: RUNS },
      );
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 8 }), async (depth) => {
          await expectRejected(
            { method, path, headers, body: bodyWith(spec, protoJson(depth)) },
            ['JSON_KEY_REFUSED'],
            '__proto__ key',
          );
        }),
        { numRuns: RUNS },
      );
      await fc.assert(
        fc.asyncProperty(notAnObject, async (value) => {
          await expectRejected(
            { method, path, headers, body: JSON.stringify(value) },
            ['VALIDATION'],
            'not an object',
          );
        }),
        { numRuns: RUNS },
      );
      await fc.assert(
        fc.asyncProperty(notJson, async (text) => {
          await expectRejected({ method, path, headers, body: text }, ['VALIDATION'], 'malformed JSON');
        }),
        { numRuns: RUNS },
      );
    }
  });

  it('refuses a NUL character in body fields kept in their own column', async () => {
    for (const [method, url, spec] of routes()) {
      if (!spec.body || !spec.columns) continue;
      const headers = authHeaders(spec.auth);
      const path = fillPath(url, spec.params ?? {});
      for (const field of spec.columns) {
        await fc.assert(
          fc.asyncProperty(withNul, async (v) => {
            const body = JSON.stringify(withField(spec.body!(), field, v)).replace(
              JSON.stringify(CONTENT),
              '1',
            );
            await expectRejected(
              { method, path, headers, body },
              spec.columnCodes ?? ['INVALID_CHARACTER'],
              'NUL in a body column',
            );
          }),
          { numRuns: 2 },
        );
      }
    }
  });

  it('refuses a gate metric named after an Object.prototype member; no rollout starts', async () => {
    for (const metric of [
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'metric.__proto__',
      'eval.constructor',
    ]) {
      for (const dry of ['', '?dryRun=true']) {
        const gates = [{ metric, test: 'mann-whitney', tolerance: 0.1, direction: 'higher-is-better' }];
        await expectRejected(
          {
            method: 'POST',
            path: `/v1/rollouts${dry}`,
            headers: authHeaders('admin'),
            body: JSON.stringify({ agent: seeds.agent, to: seeds.candidate, steps: [{ fill: 100 }], gates }),
          },
          ['VALIDATION'],
          'gate metric',
        );
      }
    }
    const list = await call(r.http, 'GET', '/v1/rollouts', { headers: authHeaders('admin') });
    expect(list.body.items).toEqual([]);
  });

  it('keeps NUL characters inside JSON content: stored and returned unchanged', async () => {
    const content = { text: 'a\u0000b', ['k\u0000']: ['\u0000'] };
    const created = await call(r.http, 'POST', `/v1/agents/${seeds.agent}/sessions`, {
      headers: authHeaders('traffic'),
      body: { metadata: { content } },
    });
    expect(created.status).toBe(201);
    const headers = { ...authHeaders('traffic'), 'x-session-token': created.body.sessionToken };
    const turn = await call(r.http, 'POST', `/v1/sessions/${created.body.sessionId}/turns`, {
      headers,
      body: { input: { text: 'x\u0000y', content } },
    });
    expect(turn.status).toBe(200);
    const view = await call(r.http, 'GET', `/v1/sessions/${created.body.sessionId}`, { headers });
    expect(view.body.metadata).toEqual({ content });
    const history = await call(r.http, 'GET', `/v1/sessions/${created.body.sessionId}/history`, { headers });
    expect(history.body.entries[0].content).toEqual({ text: 'x\u0000y', content });
  });

  it('covered every kind of hostile request', () => {
    for (const what of [
      'no token',
      'NUL in query',
      'NUL in path',
      'overlong path parameter',
      'bad percent-escape',
      'bad limit',
      'bad cursor',
      'deep JSON',
      '__proto__ key',
      'malformed JSON',
      'not an object',
      'NUL in a body column',
      'gate metric',
    ]) {
      expect(rejected[what] ?? 0, what).toBeGreaterThan(0);
    }
  });
}
