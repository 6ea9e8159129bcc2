/**
 * The I/O half of the rollout controller: each function performs one kind of action of the
 * state machine against the store and the workers, idempotently, and returns what it saw.
 */
import {
  bucketOf,
  TERMINAL_SESSION_STATUSES,
  type CompensationState,
  type EffectRecord,
  type GateEvaluator,
  type GateResult,
  type GateSpec,
  type MigrationPolicy,
  type RouteRecord,
  type SessionAggregate,
  type SessionRecord,
  type SessionStatus,
} from '@baton/core';
import type { Store } from '@baton/store';
import { leaseHolder, statusSeen } from '../lease';
import { migrateSession } from '../migration';
import { dueToMove } from '../routing';
import { migrateBatch } from './batch';
import { mapLimit, type OpsContext } from './util';

export { mapLimit, type OpsContext } from './util';
import type { DesiredRoute, DrainSnapshot, PreflightSummary } from './machine';
import { gateName } from './spec';

const OPEN: SessionStatus[] = ['idle', 'running', 'waiting', 'migrating'];

/** Every session of `agent` on `version` with one of `statuses`, page by page. */
export async function* sessionsOn(
  store: Store,
  agent: string,
  version: string,
  statuses: SessionStatus[],
  pageSize = 1000,
): AsyncGenerator<SessionRecord> {
  let cursor: string | null = null;
  for (;;) {
    const page = await store.listSessions({ agent, version, status: statuses, limit: pageSize, cursor });
    for (const s of page.items) yield s;
    if (!page.nextCursor) return;
    cursor = page.nextCursor;
  }
}

// ---- routes ---------------------------------------------------------------------------------

function sameRoute(a: RouteRecord | null, b: Omit<RouteRecord, 'updatedAt'>): boolean {
  if (!a) return false;
  return (
    a.stable === b.stable &&
    a.candidate === b.candidate &&
    a.weight === b.weight &&
    a.rolloutId === b.rolloutId &&
    JSON.stringify(a.move) === JSON.stringify(b.move)
  );
}

/** Write the route unless it already is what the rollout wants. Returns whether it wrote. */
export async function applyRoute(
  store: Store,
  rolloutId: string,
  route: Omit<DesiredRoute, 'rolloutId'>,
): Promise<boolean> {
  const want: Omit<RouteRecord, 'updatedAt'> = {
    agent: route.agent,
    stable: route.stable,
    candidate: route.candidate,
    weight: route.weight,
    move: route.move
      ? {
          from: route.move.from,
          to: route.move.to,
          percent: route.move.percent,
          policy: route.move.policy,
          maxAgeMs: route.move.maxAgeMs,
          deadlinePassed: route.move.deadlinePassed,
        }
      : null,
    rolloutId,
  };
  const cur = await store.getRoute(route.agent);
  if (sameRoute(cur, want)) return false;
  await store.setRoute(want);
  return true;
}

// ---- pre-flight -----------------------------------------------------------------------------

export interface PreflightInput {
  agent: string;
  from: string;
  to: string;
  /** Dry-run at most this many sessions (an even sample by session bucket); null = all. */
  sample: number | null;
  rolloutId?: string | null;
  concurrency?: number;
}

/**
 * Dry-run the candidate's migrations over the live checkpoints of `from` (or a sample).
 * Writes nothing. `ok` is false when any checked session fails to migrate.
 */
export async function runPreflight(ctx: OpsContext, input: PreflightInput): Promise<PreflightSummary> {
  // unknown versions are a clear error (VERSION_NOT_FOUND), not a failed pre-flight
  await ctx.versions.get(input.agent, input.from);
  await ctx.versions.get(input.agent, input.to);
  const all: SessionRecord[] = [];
  for await (const s of sessionsOn(ctx.store, input.agent, input.from, OPEN)) all.push(s);
  let chosen = all;
  if (input.sample !== null && input.sample < all.length) {
    // an even, deterministic sample: order by bucket, take every k-th
    const sorted = [...all].sort((a, b) => bucketOf(a.id, 'preflight') - bucketOf(b.id, 'preflight'));
    const k = sorted.length / input.sample;
    chosen = Array.from({ length: input.sample }, (_, i) => sorted[Math.floor(i * k)]!);
  }
  const failures: Array<{ sessionId: string; error: string }> = [];
  await mapLimit(chosen, input.concurrency ?? 8, async (s) => {
    try {
      const r = await migrateSession(ctx, {
        sessionId: s.id,
        to: input.to,
        rolloutId: input.rolloutId ?? null,
        dryRun: true,
        session: s,
      });
      if (!r.ok && r.code !== 'CONFLICT' && r.code !== 'SESSION_CLOSED')
        failures.push({ sessionId: s.id, error: `${r.code}: ${r.reason}` });
    } catch (e) {
      failures.push({ sessionId: s.id, error: e instanceof Error ? e.message : String(e) });
    }
  });
  failures.sort((a, b) => (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0));
  return {
    ok: failures.length === 0,
    at: ctx.clock.now(),
    checked: chosen.length,
    total: all.length,
    failures,
  };
}

// ---- eager migration ------------------------------------------------------------------------

export interface EagerInput {
  agent: string;
  rolloutId: string;
  from: string;
  to: string;
  percent: number;
  policy: MigrationPolicy;
  maxAgeMs: number | null;
  deadlinePassed: boolean;
  batch: number;
  concurrency?: number;
  /** Sessions to leave alone this time (e.g. recently failed), by id. */
  skip?: (sessionId: string) => boolean;
  /** Resume the scan after this session id (from the previous batch's `next`). */
  after?: string | null;
  /** Commit the batch in one store transaction when the backend can (default true). */
  batched?: boolean;
}

export interface EagerResult {
  /** Sessions this batch took. */
  candidates: number;
  migrated: number;
  failed: number;
  /** Sessions skipped: busy (live lease), closed or moved meanwhile. */
  skipped: number;
  failures: Array<{ sessionId: string; reason: string }>;
  /** True when the batch was full: more due sessions may remain after `next`. */
  more: boolean;
  /** Where the next batch's scan resumes (null: from the start). */
  next: string | null;
}

export { dueToMove } from '../routing';

/**
 * One eager batch: idle and waiting sessions on `from` that are due to move, without a live
 * lease, migrated through `to`'s workers. Re-running it is harmless: moved sessions are no
 * longer on `from`, and `migrateSession` takes the session's lease and re-reads under it.
 */
export async function eagerBatch(ctx: OpsContext, input: EagerInput): Promise<EagerResult> {
  const now = ctx.clock.now();
  const picked: SessionRecord[] = [];
  let cursor: string | null = input.after ?? null;
  let full = false;
  scan: for (;;) {
    const page = await ctx.store.listSessions({
      agent: input.agent,
      version: input.from,
      status: ['idle', 'waiting'],
      limit: Math.min(1000, Math.max(100, input.batch * 2)),
      cursor,
    });
    for (const s of page.items) {
      cursor = s.id;
      if (!dueToMove(s, input, now)) continue;
      if (leaseHolder(s, now) !== null) continue; // mid-turn or migrating
      if (input.skip?.(s.id)) continue;
      picked.push(s);
      if (picked.length >= input.batch) {
        full = true;
        break scan;
      }
    }
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  const res: EagerResult = {
    candidates: picked.length,
    migrated: 0,
    failed: 0,
    skipped: 0,
    failures: [],
    more: full,
    next: full ? cursor : null,
  };
  if (input.batched !== false) {
    const b = await migrateBatch(ctx, picked, {
      to: input.to,
      rolloutId: input.rolloutId,
      ...(input.concurrency !== undefined ? { concurrency: input.concurrency } : {}),
    });
    return { ...res, migrated: b.migrated, failed: b.failed, skipped: b.skipped, failures: b.failures };
  }
  await mapLimit(picked, input.concurrency ?? 8, async (s) => {
    try {
      const r = await migrateSession(ctx, {
        sessionId: s.id,
        to: input.to,
        rolloutId: input.rolloutId,
        session: s,
      });
      if (r.ok) res.migrated++;
      else if (r.code === 'SESSION_BUSY' || r.code === 'CONFLICT' || r.code === 'SESSION_CLOSED')
        res.skipped++;
      else {
        res.failed++;
        res.failures.push({ sessionId: s.id, reason: `${r.code}: ${r.reason}` });
      }
    } catch (e) {
      res.failed++;
      res.failures.push({ sessionId: s.id, reason: e instanceof Error ? e.message : String(e) });
    }
  });
  return res;
}

// ---- drain ----------------------------------------------------------------------------------

/** Open sessions of a version by position, from their leases (a live lease = a turn or migration in flight). */
export interface Positions {
  idle: number;
  waiting: number;
  /** Mid-turn: a live lease held by a router. */
  running: number;
  /** A live lease held by a migration. */
  migrating: number;
  /** Ids of the sessions mid-turn or migrating (bounded). */
  busyIds: string[];
  /** Waiting sessions (bounded) for wait-deadline lookups. */
  waitingIds: string[];
}

/** Scan the open sessions of `version` (page by page) and place each by its status and lease. */
export async function positionsOf(
  ctx: Pick<OpsContext, 'store' | 'clock'>,
  agent: string,
  version: string,
): Promise<Positions> {
  const now = ctx.clock.now();
  const p: Positions = { idle: 0, waiting: 0, running: 0, migrating: 0, busyIds: [], waitingIds: [] };
  for await (const s of sessionsOn(ctx.store, agent, version, OPEN)) {
    const seen = statusSeen(s, now);
    if (seen === 'running' || seen === 'migrating') {
      if (seen === 'migrating') p.migrating++;
      else p.running++;
      if (p.busyIds.length < 100) p.busyIds.push(s.id);
    } else if (seen === 'waiting') {
      p.waiting++;
      if (p.waitingIds.length < 50) p.waitingIds.push(s.id);
    } else p.idle++;
  }
  return p;
}

/** Where the sessions still on `origin` are: idle at a boundary, mid-turn, waiting (with deadlines). */
export async function observeDrain(
  ctx: OpsContext,
  agent: string,
  origin: string,
  failed: Array<{ sessionId: string; reason: string }> = [],
): Promise<DrainSnapshot> {
  const counts = (await ctx.store.countSessions({ agent, version: origin }))[origin];
  const pos = await positionsOf(ctx, agent, origin);
  const byStatus: Partial<Record<SessionStatus, number>> = {};
  if (pos.idle > 0) byStatus.idle = pos.idle;
  if (pos.running > 0) byStatus.running = pos.running;
  if (pos.waiting > 0) byStatus.waiting = pos.waiting;
  if (pos.migrating > 0) byStatus.migrating = pos.migrating;
  for (const st of TERMINAL_SESSION_STATUSES) {
    const n = counts?.[st] ?? 0;
    if (n > 0) byStatus[st] = n;
  }
  const remaining = pos.idle + pos.running + pos.waiting + pos.migrating;
  let nextDeadline: number | null = null;
  for (const id of pos.waitingIds) {
    const ws = await ctx.store.listWaits({ sessionId: id, status: 'pending' });
    for (const w of ws) if (nextDeadline === null || w.deadline < nextDeadline) nextDeadline = w.deadline;
  }
  return { remaining, byStatus, running: pos.busyIds, waiting: { count: pos.waiting, nextDeadline }, failed };
}

// ---- verification ---------------------------------------------------------------------------

export interface GateRun {
  nBlue: number;
  nGreen: number;
  results: GateResult[];
}

/**
 * Evaluate the gates on per-session aggregates: green = sessions that started on green in the
 * window; blue = the age-matched cohort (sessions that started on blue in the same window).
 * A session that started on blue and moved to green during the window belongs to neither arm.
 */
export async function evaluateGates(
  ctx: Pick<OpsContext, 'store'>,
  input: {
    agent: string;
    blue: string;
    green: string;
    windowStart: number;
    windowEnd: number;
    gates: GateSpec[];
    evaluate: GateEvaluator;
  },
): Promise<GateRun> {
  const q = { agent: input.agent, startedFrom: input.windowStart, startedTo: input.windowEnd + 1 };
  const [blueAll, greenAll] = await Promise.all([
    ctx.store.listSessionAggregates({ ...q, version: input.blue }),
    ctx.store.listSessionAggregates({ ...q, version: input.green }),
  ]);
  const blueIds = new Set(blueAll.map((a) => a.sessionId));
  const greenIds = new Set(greenAll.map((a) => a.sessionId));
  const blue: SessionAggregate[] = blueAll.filter((a) => !greenIds.has(a.sessionId));
  const green: SessionAggregate[] = greenAll.filter((a) => !blueIds.has(a.sessionId));
  const results = input.gates.map((spec): GateResult => {
    try {
      return input.evaluate({ spec, blue, green });
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      return {
        name: gateName(spec),
        verdict: 'inconclusive',
        critical: spec.critical === true,
        evidence: {
          test: spec.test,
          metric: spec.metric,
          nBlue: blue.length,
          nGreen: green.length,
          blue: {},
          green: {},
          threshold: NaN,
          tolerance: spec.tolerance,
          direction: spec.direction ?? 'higher-is-better',
          reason: `evaluator error: ${reason}`,
        },
      };
    }
  });
  return { nBlue: blue.length, nGreen: green.length, results };
}

// ---- abort report ---------------------------------------------------------------------------

export interface AbortReportEffect {
  id: string;
  idempotencyKey: string;
  sessionId: string;
  turnId: string;
  name: string;
  args: unknown;
  status: EffectRecord['status'];
  result: unknown;
  /** Name of the compensation, or null when the agent declared none. */
  compensation: string | null;
  /** Where its compensation stands (see CompensationState). */
  compensationState: CompensationState;
  compensationResult: unknown;
  compensationError: string | null;
  compensationReason: string | null;
  /** The version that ran (or runs) the compensation. */
  compensationVersion: string | null;
  at: number;
}

export interface AbortReport {
  agent: string;
  version: string;
  rolloutId: string;
  at: number;
  totals: {
    effects: number;
    committed: number;
    compensated: number;
    pendingCompensation: number;
    runningCompensation: number;
    failedCompensation: number;
    notCompensable: number;
    recordedByOperator: number;
  };
  effects: AbortReportEffect[];
}

/** Every effect the turns of `version` committed, with its compensation state, read from the ledger. */
export async function buildAbortReport(
  ctx: Pick<OpsContext, 'store' | 'clock'>,
  input: { agent: string; version: string; rolloutId: string },
): Promise<AbortReport> {
  // the report covers what the ledger held at this instant (taken before reading it)
  const at = ctx.clock.now();
  const effects: AbortReportEffect[] = [];
  for (const e of await committedEffects(ctx.store, input.agent, input.version)) {
    effects.push({
      id: e.id,
      idempotencyKey: e.idempotencyKey,
      sessionId: e.sessionId,
      turnId: e.turnId,
      name: e.name,
      args: e.args,
      status: e.status,
      result: e.result,
      compensation: e.compensation,
      compensationState: e.compensationState,
      compensationResult: e.compensationResult,
      compensationError: e.compensationError,
      compensationReason: e.compensationReason,
      compensationVersion: e.compensationVersion,
      at: e.createdAt,
    });
  }
  const count = (state: CompensationState) => effects.filter((e) => e.compensationState === state).length;
  return {
    agent: input.agent,
    version: input.version,
    rolloutId: input.rolloutId,
    at,
    totals: {
      effects: effects.length,
      committed: effects.filter((e) => e.status === 'committed').length,
      compensated: count('compensated'),
      pendingCompensation: count('pending'),
      runningCompensation: count('running'),
      failedCompensation: count('failed'),
      notCompensable: count('not-compensable'),
      recordedByOperator: count('recorded-by-operator'),
    },
    effects,
  };
}

/** The effects the turns of `agent@version` committed (not those compensations recorded), oldest first. */
export async function committedEffects(
  store: OpsContext['store'],
  agent: string,
  version: string,
): Promise<EffectRecord[]> {
  const out: EffectRecord[] = [];
  let cursor: string | null = null;
  for (;;) {
    const page = await store.listEffects({
      agent,
      version,
      status: 'committed',
      kind: 'turn',
      limit: 1000,
      cursor,
    });
    out.push(...page.items);
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}
