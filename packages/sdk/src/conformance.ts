/**
 * Protocol conformance probes for a worker speaking docs/worker-protocol.md over HTTP, in any
 * language. Each probe sends real requests and reports what it saw; nothing is mocked.
 */
import { WORKER_PROTOCOL } from '@baton/core';
import type { TurnRequest, TurnResponse, WorkerHealthResponse } from '@baton/core';
import { bodyOf, partsAfter, turnShapeProblem, unchangedProblem, viewOf } from './conformance-shapes';
import type { ProbeCheckpoint } from './conformance-shapes';

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
  /**
   * The protocol to probe (default 2, which this SDK speaks). With 1 the probes send protocol-1
   * requests (the whole history in `checkpoint.body`), as an old router does.
   */
  protocol?: 1 | 2;
  /**
   * Probes that an effect naming a compensation its version does not declare fails the turn with
   * `VALIDATION` before its intent is recorded: `input` is a first-turn input on which the agent
   * calls such an effect; `ledgerKeys`, when given, lists the idempotency keys the ledger holds for
   * a session (so the probe can see that no intent was recorded).
   */
  undeclaredCompensation?: {
    input: TurnRequest['input'];
    ledgerKeys?: (sessionId: string) => Promise<string[]>;
  };
}

export interface ConformanceResult {
  name: string;
  ok: boolean;
  detail: string;
}

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

function errorCode(r: { status: number; body: any }): string {
  return typeof r.body?.error?.code === 'string' ? r.body.error.code : `(no error code, status ${r.status})`;
}

/** Entries the probes pretend precede the window of a protocol-2 second turn (never sent). */
const WINDOW_OFFSET = 40;

/** Runs the probes in order and returns one result per probe. */
export async function checkWorkerConformance(o: ConformanceOptions): Promise<ConformanceResult[]> {
  const out: ConformanceResult[] = [];
  const add = (name: string, ok: boolean, detail: string): void => void out.push({ name, ok, detail });
  const protocol = o.protocol ?? WORKER_PROTOCOL;
  const sessionId = o.sessionId ?? `ses_conf_${Math.random().toString(36).slice(2, 10)}`;
  const session = { id: sessionId, agent: o.agent, version: o.version, tenant: null };
  const deadline = (): number => Date.now() + 30_000;
  /** The capability probes present; a worker only echoes it to the router it calls back. */
  const capability = `cap_conformance_${sessionId}`;
  /** A turn request of the probed protocol; `offset` places a protocol-2 window inside the log. */
  const turnReq = (cp: ProbeCheckpoint | null, over: Record<string, unknown>, offset = 0): unknown => {
    const base = {
      session,
      input: o.firstInput ?? { kind: 'message', message: 'hello' },
      deadline: deadline(),
    };
    if (protocol === 1) return { ...base, checkpoint: cp ? bodyOf(cp) : null, ...over };
    const v = cp ? viewOf(cp, offset) : null;
    return {
      protocol: 2,
      ...base,
      checkpoint: v?.view ?? null,
      history: v?.window ?? [],
      capability,
      ...over,
    };
  };
  const migrateReq = (cp: ProbeCheckpoint, version: string, target: number): unknown =>
    protocol === 1
      ? {
          session: { id: sessionId, agent: o.agent, version },
          checkpoint: bodyOf(cp),
          targetSchemaVersion: target,
          dryRun: true,
        }
      : {
          protocol: 2,
          session: { id: sessionId, agent: o.agent, version },
          checkpoint: viewOf(cp, 0).view,
          targetSchemaVersion: target,
          dryRun: true,
          capability,
        };

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
  if (protocol === 2)
    add('health reports protocol 2', health?.protocol === 2, `protocol ${JSON.stringify(health?.protocol)}`);
  const schemaVersion = Number.isInteger(health?.schemaVersion) ? health.schemaVersion : 1;

  const firstTurnId = `${sessionId}-t1`;
  const t1 = await call(o, 'POST', '/v1/turn', turnReq(null, { turnId: firstTurnId }));
  let p1 =
    t1.status === 200
      ? turnShapeProblem(t1.body, schemaVersion, protocol)
      : `status ${t1.status}: ${JSON.stringify(t1.body)}`;
  if (p1 === null && protocol === 2 && Object.keys(t1.body.unchanged ?? {}).length > 0)
    p1 = `a first turn has nothing unchanged, got unchanged ${JSON.stringify(t1.body.unchanged)}`;
  add('first turn (checkpoint null)', p1 === null, p1 ?? 'ok');

  const r1 = t1.body as TurnResponse;
  const cp: ProbeCheckpoint = {
    seq: 1,
    schemaVersion,
    ...partsAfter(null, r1 ?? ({} as TurnResponse)),
    waits: r1?.waits ?? [],
    history: Array.isArray(r1?.history) ? r1.history : [],
  };
  if (p1 === null && r1.status !== 'completed' && r1.status !== 'failed') {
    const secondTurnId = `${sessionId}-t2`;
    const t2 = await call(
      o,
      'POST',
      '/v1/turn',
      turnReq(cp, { input: { kind: 'message', message: 'again' }, turnId: secondTurnId }, WINDOW_OFFSET),
    );
    const p2 =
      t2.status === 200
        ? turnShapeProblem(t2.body, schemaVersion, protocol)
        : `status ${t2.status}: ${JSON.stringify(t2.body)}`;
    add('second turn on the returned checkpoint', p2 === null, p2 ?? 'ok');
    if (p2 === null && protocol === 2) {
      const foreign = (t2.body.history as Array<{ turnId?: unknown }>).filter(
        (e) => e.turnId !== secondTurnId,
      );
      add(
        'second turn (a window from the middle of the log) answers with only its own history entries',
        foreign.length === 0,
        foreign.length === 0
          ? 'ok'
          : `${foreign.length} entries of other turns: ${JSON.stringify(foreign).slice(0, 200)}`,
      );
      const pu = unchangedProblem(cp, t2.body);
      add(
        'second turn marks the parts it did not change unchanged, with the hashes it was sent',
        pu === null,
        pu ?? `unchanged ${JSON.stringify(t2.body.unchanged ?? {})}`,
      );
    }

    const replay = await call(o, 'POST', '/v1/turn', turnReq(null, { turnId: firstTurnId }));
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

  const wrong = await call(
    o,
    'POST',
    '/v1/turn',
    turnReq(null, { turnId: firstTurnId, session: { ...session, version: `${o.version}-other` } }),
  );
  add(
    'turn for another version → 409 VERSION_CONFLICT',
    wrong.status === 409 && errorCode(wrong) === 'VERSION_CONFLICT',
    `${wrong.status} ${errorCode(wrong)}`,
  );

  const newer = await call(
    o,
    'POST',
    '/v1/turn',
    turnReq({ ...cp, schemaVersion: schemaVersion + 1 }, { turnId: `${sessionId}-t9` }),
  );
  add(
    'turn on another schema version → 422 MIGRATION_FAILED',
    newer.status === 422 && errorCode(newer) === 'MIGRATION_FAILED',
    `${newer.status} ${errorCode(newer)}`,
  );

  const stray = await call(
    o,
    'POST',
    '/v1/turn',
    turnReq(cp, {
      turnId: `${sessionId}-t10`,
      input: { kind: 'callback', token: 'no-such-token', name: 'x', payload: {} },
    }),
  );
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

  const unknownKind = await call(
    o,
    'POST',
    '/v1/turn',
    turnReq(null, { turnId: firstTurnId, input: { kind: 'telepathy' } }),
  );
  add(
    'unknown input kind → 400 VALIDATION',
    unknownKind.status === 400 && errorCode(unknownKind) === 'VALIDATION',
    `${unknownKind.status} ${errorCode(unknownKind)}`,
  );

  if (p1 === null) {
    const m = await call(o, 'POST', '/v1/migrate', migrateReq(cp, `${o.version}-origin`, schemaVersion));
    const b = m.body?.body;
    let problem: string | null =
      m.status === 200 &&
      m.body?.ok === true &&
      m.body.schemaVersion === schemaVersion &&
      !!b &&
      Array.isArray(b.waits) &&
      (m.body.contextPolicy === 'carry' || m.body.contextPolicy === 'rebuild')
        ? null
        : `${m.status} ${JSON.stringify(m.body).slice(0, 200)}`;
    if (problem === null && protocol === 2) {
      if ('history' in b) problem = 'a protocol-2 migrate answer carries no history';
      else problem = unchangedProblem(cp, { ...b, unchanged: m.body.unchanged });
    }
    add('migrate to its own schema (dry run) → ok', problem === null, problem ?? 'ok');
  }
  const noPath = await call(
    o,
    'POST',
    '/v1/migrate',
    migrateReq({ ...cp, schemaVersion: schemaVersion + 7 }, o.version, schemaVersion),
  );
  add(
    'migrate without a migration path → 200 {ok:false, MIGRATION_FAILED}',
    noPath.status === 200 && noPath.body?.ok === false && noPath.body.error?.code === 'MIGRATION_FAILED',
    `${noPath.status} ${JSON.stringify(noPath.body).slice(0, 200)}`,
  );

  if (protocol === 2) {
    const declared = health?.compensations;
    add(
      'health lists the compensations it declares (an array of names, or none)',
      declared === undefined || (Array.isArray(declared) && declared.every((n) => typeof n === 'string')),
      JSON.stringify(declared ?? null),
    );
    const compensateReq = (over: Record<string, unknown>): unknown => ({
      protocol: 2,
      session: { id: sessionId, agent: o.agent, version: o.version },
      effect: {
        id: `e_conf_${sessionId}`,
        idempotencyKey: `${sessionId}:${firstTurnId}:0`,
        name: 'probe',
        version: o.version,
        turnId: firstTurnId,
        args: {},
        result: null,
      },
      compensation: 'no_such_compensation_declared',
      deadline: deadline(),
      capability,
      ...over,
    });
    const undeclared = await call(o, 'POST', '/v1/compensate', compensateReq({}));
    add(
      'compensate with a compensation it does not declare → 422 COMPENSATION_UNDECLARED (nothing runs)',
      undeclared.status === 422 && errorCode(undeclared) === 'COMPENSATION_UNDECLARED',
      `${undeclared.status} ${errorCode(undeclared)}`,
    );
    const otherVersion = await call(
      o,
      'POST',
      '/v1/compensate',
      compensateReq({ session: { id: sessionId, agent: o.agent, version: `${o.version}-other` } }),
    );
    add(
      'compensate for another version → 409 VERSION_CONFLICT',
      otherVersion.status === 409 && errorCode(otherVersion) === 'VERSION_CONFLICT',
      `${otherVersion.status} ${errorCode(otherVersion)}`,
    );
    const noEffect = await call(o, 'POST', '/v1/compensate', compensateReq({ effect: null }));
    add(
      'compensate without an effect → 400 VALIDATION',
      noEffect.status === 400 && errorCode(noEffect) === 'VALIDATION',
      `${noEffect.status} ${errorCode(noEffect)}`,
    );
    if (o.undeclaredCompensation) {
      const u = o.undeclaredCompensation;
      const id = `${sessionId}_undeclared`;
      const r = await call(
        o,
        'POST',
        '/v1/turn',
        turnReq(null, { session: { ...session, id }, turnId: `${id}-t1`, input: u.input }),
      );
      const keys = u.ledgerKeys ? await u.ledgerKeys(id) : [];
      add(
        'an effect naming an undeclared compensation → 400 VALIDATION, before its intent is recorded',
        r.status === 400 && errorCode(r) === 'VALIDATION' && keys.length === 0,
        `${r.status} ${errorCode(r)}${u.ledgerKeys ? `; ledger keys for the session: ${JSON.stringify(keys)}` : ''}`,
      );
    }
  }

  const route = await call(o, 'GET', '/v1/nothing-here');
  add(
    'unknown route → 404 with an error body',
    route.status === 404 && typeof route.body?.error?.code === 'string',
    `${route.status}`,
  );
  return out;
}
