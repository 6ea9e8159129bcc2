/**
 * The OpenAPI document over real HTTP on a real SQLite file: served at `GET /v1/openapi.json` to a
 * token of any scope, describing exactly the routes the server registers, valid by `redocly
 * lint` (run offline, as a child process, with the repository's config), and true to what the
 * routes answer (answers parsed with the same schemas the document is generated from).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  ERROR_CODES,
  HTTP_STATUS,
  isRetryable,
  controllerStatusSchema,
  createdSessionSchema,
  effectPageSchema,
  historyPageSchema,
  migrationListSchema,
  rolloutStatusSchema,
  sessionPageSchema,
  sessionViewSchema,
  turnResultSchema,
  versionListSchema,
  workerListSchema,
  type ErrorCode,
  type SessionView as ApiSessionView,
  type TurnResult as ApiTurnResult,
} from '@baton/core';
import type { Store } from '@baton/store';
import { dashboardRoutes } from '../src/dashboard';
import { openApiPath } from '../src/openapi/document';
import { ROUTE_DOCS } from '../src/openapi/routes';
import { rolloutRoutes } from '../src/rollout/api';
import { controllerRoutes } from '../src/rollout/leader-api';
import type { SessionView, TurnResult } from '../src/router';
import { shadowRoutes } from '../src/shadow/api';
import { counterV1, counterV2 } from './fixtures/agents';
import {
  ADMIN,
  call,
  newSession,
  sqliteTarget,
  startServer,
  stopServer,
  type Running,
} from './fixtures/harness';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TOKENS = {
  traffic: ['traffic-token'],
  admin: ['admin-token'],
  worker: ['worker-token'],
  read: ['read-token'],
};
const METHODS = ['get', 'post', 'put', 'delete', 'patch'];

let store: Store;
let cleanup: () => Promise<void>;
let r: Running;
let doc: { paths: Record<string, Record<string, unknown>> } & Record<string, unknown>;

beforeAll(async () => {
  const t = await sqliteTarget.open();
  store = t.store;
  cleanup = t.cleanup;
  r = await startServer(store, [counterV1, counterV2], {
    tokens: TOKENS,
    routes: [rolloutRoutes(), shadowRoutes(), controllerRoutes(() => null), dashboardRoutes()],
  });
  const res = await call(r.http, 'GET', '/v1/openapi.json', {
    headers: { authorization: 'Bearer read-token' },
  });
  expect(res.status).toBe(200);
  doc = res.body;
});

afterAll(async () => {
  await stopServer(r);
  await cleanup();
});

function operations(d: typeof doc): string[] {
  return Object.entries(d.paths).flatMap(([p, item]) =>
    Object.keys(item)
      .filter((m) => METHODS.includes(m))
      .map((m) => `${m.toUpperCase()} ${p}`),
  );
}

describe('GET /v1/openapi.json', () => {
  it('is an OpenAPI 3.1 document for a token of any scope, and nothing without one', async () => {
    expect(doc.openapi).toBe('3.1.0');
    for (const token of ['traffic-token', 'admin-token', 'worker-token']) {
      const res = await call(r.http, 'GET', '/v1/openapi.json', {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status, token).toBe(200);
      expect(res.body).toEqual(doc);
    }
    const anon = await call(r.http, 'GET', '/v1/openapi.json');
    expect(anon.status).toBe(401);
    expect(anon.body.error.code).toBe('UNAUTHORIZED');
  });

  it('describes every route the server registers, and no other', () => {
    const registered = r.server.routeTable.map(({ method, url }) => `${method} ${openApiPath(url)}`);
    expect(registered.length).toBeGreaterThan(50);
    expect([...operations(doc)].sort()).toEqual([...new Set(registered)].sort());
  });

  it('has no route description the server does not register (but the dashboard-missing fallback)', () => {
    const registered = new Set(r.server.routeTable.map(({ method, url }) => `${method} ${url}`));
    const stale = Object.keys(ROUTE_DOCS).filter((k) => !registered.has(k));
    expect(stale).toEqual(['GET /dashboard/']);
  });

  it('passes redocly lint with the repository config, with no error and no warning', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'baton-openapi-'));
    try {
      const file = path.join(dir, 'openapi.json');
      await writeFile(file, JSON.stringify(doc));
      const bin = path.join(ROOT, 'node_modules', '.bin', 'redocly');
      const run = await promisify(execFile)(
        bin,
        ['lint', file, '--config', path.join(ROOT, 'redocly.yaml'), '--format', 'json'],
        {
          cwd: dir,
          env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
          maxBuffer: 16 * 1024 * 1024,
        },
      ).catch((e: { stdout?: string; stderr?: string; code?: number }) => e);
      const out = JSON.parse(String(run.stdout)) as {
        totals: { errors: number; warnings: number };
        problems: Array<{ ruleId: string; message: string; location?: unknown }>;
      };
      expect(out.problems.map((p) => `${p.ruleId}: ${p.message} ${JSON.stringify(p.location)}`)).toEqual([]);
      expect(out.totals).toMatchObject({ errors: 0, warnings: 0 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives every operation but the dashboard redirect a 2xx answer, and every one the error answers', () => {
    const without: string[] = [];
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(item as Record<string, { responses: Record<string, unknown> }>)) {
        const codes = Object.keys(op.responses);
        if (!codes.some((c) => /^2\d\d$/.test(c))) without.push(`${m.toUpperCase()} ${p}`);
        expect(codes, `${m} ${p}`).toEqual(expect.arrayContaining(['4XX', '5XX']));
      }
    }
    expect(without).toEqual(['GET /dashboard']);
  });

  it('lists every error code in docs/http-api.md with the status it is answered with and its retryability', async () => {
    const text = await readFile(path.join(ROOT, 'docs', 'http-api.md'), 'utf8');
    const rows = [...text.matchAll(/^\| (`[A-Z_]+`(?:, `[A-Z_]+`)*) \| (\d{3}) \| (yes|no) \|/gm)];
    const listed: string[] = [];
    for (const [, codes, status, retryable] of rows) {
      for (const code of codes!.match(/[A-Z_]+/g)!) {
        listed.push(code);
        expect(HTTP_STATUS[code as ErrorCode], code).toBe(Number(status));
        expect(isRetryable(code as ErrorCode) ? 'yes' : 'no', code).toBe(retryable);
      }
    }
    expect(listed.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
});

describe('the answers match the schemas the document is generated from', () => {
  it('traffic: create, turn, view, history', async () => {
    const created = await call(r.http, 'POST', '/v1/agents/counter/sessions', {
      headers: { authorization: 'Bearer traffic-token' },
      body: { tenant: 'acme' },
    });
    expect(created.status).toBe(201);
    createdSessionSchema.strict().parse(created.body);
    const headers = { authorization: 'Bearer traffic-token', 'x-session-token': created.body.sessionToken };
    const id = created.body.sessionId as string;
    const turn = await call(r.http, 'POST', `/v1/sessions/${id}/turns`, {
      headers,
      body: { input: { text: 'hi' } },
    });
    expect(turn.status).toBe(200);
    turnResultSchema.strict().parse(turn.body);
    const view = await call(r.http, 'GET', `/v1/sessions/${id}`, { headers });
    sessionViewSchema.strict().parse(view.body);
    const history = await call(r.http, 'GET', `/v1/sessions/${id}/history`, { headers });
    historyPageSchema.strict().parse(history.body);
    expect(history.body.entries.length).toBeGreaterThan(0);
  });

  it('admin and read: versions, workers, sessions, controller', async () => {
    await newSession(r.http, 'counter');
    const read = { authorization: 'Bearer read-token' };
    expect(
      versionListSchema.parse((await call(r.http, 'GET', '/v1/versions', { headers: read })).body).items,
    ).not.toEqual([]);
    expect(
      workerListSchema.parse((await call(r.http, 'GET', '/v1/workers', { headers: read })).body).items,
    ).not.toEqual([]);
    const sessions = sessionPageSchema.parse(
      (await call(r.http, 'GET', '/v1/sessions', { headers: ADMIN })).body,
    );
    expect(sessions.items.length).toBeGreaterThan(0);
    controllerStatusSchema
      .strict()
      .parse((await call(r.http, 'GET', '/v1/controller', { headers: read })).body);
  });

  it('rollouts and the ledger: a rollout started, its status, the effects and migrations', async () => {
    const started = await call(r.http, 'POST', '/v1/rollouts', {
      headers: ADMIN,
      body: { agent: 'counter', to: 'v2', steps: [{ fill: 100 }] },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const status = rolloutStatusSchema.parse(started.body);
    const again = await call(r.http, 'GET', `/v1/rollouts/${status.id}`, { headers: ADMIN });
    expect(rolloutStatusSchema.parse(again.body).id).toBe(status.id);
    effectPageSchema.strict().parse((await call(r.http, 'GET', '/v1/effects', { headers: ADMIN })).body);
    migrationListSchema
      .strict()
      .parse((await call(r.http, 'GET', '/v1/migrations', { headers: ADMIN })).body);
  });

  it("types: the router's answers are the API's types", () => {
    expectTypeOf<TurnResult>().toExtend<ApiTurnResult>();
    expectTypeOf<SessionView>().toExtend<ApiSessionView>();
  });
});
