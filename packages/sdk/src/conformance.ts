/**
 * Protocol conformance probes for a worker speaking docs/worker-protocol.md over HTTP, in any
 * language. Each probe sends real requests and reports what it saw; nothing is mocked.
 */
import type { TurnRequest, TurnResponse, WorkerHealthResponse } from '@baton/core';

export interface ConformanceOptions {
  /** Base URL of the worker, e.g. `http://127.0.0.1:8081`. */
  url: string;
  /** Bearer token the worker requires on turn/migrate, if any. */
  token?: string;
  agent: string;
  version: string;
  /** The input of the first turn (default `{kind: 'message', message: 'hello'}`). */
  firstInput?: TurnRequest['input'];
  /** Session id to use (default a fresh random one). */
  sessionId?: string;
}

export interface ConformanceResult {
  name: string;
  ok: boolean;
  detail: string;
}

const STATUSES = new Set(['idle', 'waiting', 'completed', 'failed']);

async function call(
  o: ConformanceOptions,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  raw?: string,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${o.url.replace(/\/$/, '')}${path}`, {
    method,
    headers: {
      ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
    },
    ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = { unparsable: text.slice(0, 200) };
  }
  return { status: res.status, body: parsed };
}

function turnShapeProblem(r: any, schemaVersion: number): string | null {
  if (!r || typeof r !== 'object') return 'body is not an object';
  if (!('state' in r)) return 'missing state';
  if (!Array.isArray(r.history) || r.history.length === 0)
    return 'history must list the entries of this turn';
  if (!STATUSES.has(r.status)) return `status ${String(r.status)} is not idle|waiting|completed|failed`;
  if (!Array.isArray(r.waits)) return 'waits must be an array';
  if (r.status === 'waiting' && r.waits.length === 0) return 'status waiting without waits';
  if (r.schemaVersion !== schemaVersion)
    return `schemaVersion ${r.schemaVersion} differs from health (${schemaVersion})`;
  const t = r.telemetry;
  if (!t || typeof t !== 'object') return 'missing telemetry';
  for (const k of ['latencyMs', 'reasoningSteps', 'tokensIn', 'tokensOut', 'contextUtilization'])
    if (typeof t[k] !== 'number') return `telemetry.${k} must be a number`;
  if (!t.toolCalls || typeof t.toolCalls !== 'object') return 'telemetry.toolCalls must be an object';
  if (!t.metrics || typeof t.metrics !== 'object') return 'telemetry.metrics must be an object';
  if (!Array.isArray(t.signals)) return 'telemetry.signals must be an array';
  return null;
}

function errorCode(r: { status: number; body: any }): string {
  return typeof r.body?.error?.code === 'string' ? r.body.error.code : `(no error code, status ${r.status})`;
}

/** Runs the probes in order and returns one result per probe. */
export async function checkWorkerConformance(o: ConformanceOptions): Promise<ConformanceResult[]> {
  const out: ConformanceResult[] = [];
  const add = (name: string, ok: boolean, detail: string): void => void out.push({ name, ok, detail });
  const sessionId = o.sessionId ?? `ses_conf_${Math.random().toString(36).slice(2, 10)}`;
  const session = { id: sessionId, agent: o.agent, version: o.version, tenant: null };
  const deadline = (): number => Date.now() + 30_000;

  const h = await call(o, 'GET', '/v1/health');
  const health = h.body as WorkerHealthResponse;
  const healthOk =
    h.status === 200 &&
    health?.ok === true &&
    health.agent === o.agent &&
    health.version === o.version &&
    typeof health.identity === 'string' &&
    Number.isInteger(health.schemaVersion) &&
    typeof health.inflight === 'number';
  add('health', healthOk, `status ${h.status}: ${JSON.stringify(h.body)}`);
  const schemaVersion = Number.isInteger(health?.schemaVersion) ? health.schemaVersion : 1;

  const first: TurnRequest = {
    session,
    checkpoint: null,
    input: o.firstInput ?? { kind: 'message', message: 'hello' },
    turnId: `${sessionId}-t1`,
    deadline: deadline(),
  };
  const t1 = await call(o, 'POST', '/v1/turn', first);
  const p1 =
    t1.status === 200
      ? turnShapeProblem(t1.body, schemaVersion)
      : `status ${t1.status}: ${JSON.stringify(t1.body)}`;
  add('first turn (checkpoint null)', p1 === null, p1 ?? 'ok');

  const r1 = t1.body as TurnResponse;
  const cp = {
    seq: 1,
    schemaVersion,
    body: {
      state: r1?.state,
      history: r1?.history ?? [],
      context: r1?.context ?? null,
      waits: r1?.waits ?? [],
    },
  };
  if (p1 === null && r1.status !== 'completed' && r1.status !== 'failed') {
    const t2 = await call(o, 'POST', '/v1/turn', {
      ...first,
      checkpoint: cp,
      input: { kind: 'message', message: 'again' },
      turnId: `${sessionId}-t2`,
      deadline: deadline(),
    });
    const p2 =
      t2.status === 200
        ? turnShapeProblem(t2.body, schemaVersion)
        : `status ${t2.status}: ${JSON.stringify(t2.body)}`;
    add('second turn on the returned checkpoint', p2 === null, p2 ?? 'ok');

    const replay = await call(o, 'POST', '/v1/turn', { ...first, deadline: deadline() });
    const same =
      replay.status === 200 &&
      JSON.stringify(replay.body.state) === JSON.stringify(r1.state) &&
      JSON.stringify(replay.body.output) === JSON.stringify(r1.output);
    add(
      'retry of the first turn (same turnId) gives the same state and output',
      same,
      `status ${replay.status}`,
    );
  }

  const wrong = await call(o, 'POST', '/v1/turn', {
    ...first,
    session: { ...session, version: `${o.version}-other` },
  });
  add(
    'turn for another version → 409 VERSION_CONFLICT',
    wrong.status === 409 && errorCode(wrong) === 'VERSION_CONFLICT',
    `${wrong.status} ${errorCode(wrong)}`,
  );

  const newer = await call(o, 'POST', '/v1/turn', {
    ...first,
    turnId: `${sessionId}-t9`,
    checkpoint: { ...cp, schemaVersion: schemaVersion + 1 },
  });
  add(
    'turn on another schema version → 422 MIGRATION_FAILED',
    newer.status === 422 && errorCode(newer) === 'MIGRATION_FAILED',
    `${newer.status} ${errorCode(newer)}`,
  );

  const stray = await call(o, 'POST', '/v1/turn', {
    ...first,
    turnId: `${sessionId}-t10`,
    checkpoint: cp,
    input: { kind: 'callback', token: 'no-such-token', name: 'x', payload: {} },
  });
  add(
    'callback for a wait that is not pending → 404 WAIT_NOT_FOUND',
    stray.status === 404 && errorCode(stray) === 'WAIT_NOT_FOUND',
    `${stray.status} ${errorCode(stray)}`,
  );

  const malformed = await call(o, 'POST', '/v1/turn', undefined, '{"session": 1');
  add(
    'unparsable body → 400 VALIDATION',
    malformed.status === 400 && errorCode(malformed) === 'VALIDATION',
    `${malformed.status} ${errorCode(malformed)}`,
  );

  const unknownKind = await call(o, 'POST', '/v1/turn', { ...first, input: { kind: 'telepathy' } });
  add(
    'unknown input kind → 400 VALIDATION',
    unknownKind.status === 400 && errorCode(unknownKind) === 'VALIDATION',
    `${unknownKind.status} ${errorCode(unknownKind)}`,
  );

  if (p1 === null) {
    const m = await call(o, 'POST', '/v1/migrate', {
      session: { id: sessionId, agent: o.agent, version: `${o.version}-origin` },
      checkpoint: cp,
      targetSchemaVersion: schemaVersion,
      dryRun: true,
    });
    add(
      'migrate to its own schema (dry run) → ok',
      m.status === 200 &&
        m.body?.ok === true &&
        m.body.schemaVersion === schemaVersion &&
        !!m.body.body &&
        Array.isArray(m.body.body.waits) &&
        (m.body.contextPolicy === 'carry' || m.body.contextPolicy === 'rebuild'),
      `${m.status} ${JSON.stringify(m.body).slice(0, 200)}`,
    );
  }
  const noPath = await call(o, 'POST', '/v1/migrate', {
    session: { id: sessionId, agent: o.agent, version: o.version },
    checkpoint: { ...cp, schemaVersion: schemaVersion + 7 },
    targetSchemaVersion: schemaVersion,
    dryRun: true,
  });
  add(
    'migrate without a migration path → 200 {ok:false, MIGRATION_FAILED}',
    noPath.status === 200 && noPath.body?.ok === false && noPath.body.error?.code === 'MIGRATION_FAILED',
    `${noPath.status} ${JSON.stringify(noPath.body).slice(0, 200)}`,
  );

  const route = await call(o, 'GET', '/v1/nothing-here');
  add(
    'unknown route → 404 with an error body',
    route.status === 404 && typeof route.body?.error?.code === 'string',
    `${route.status}`,
  );
  return out;
}
