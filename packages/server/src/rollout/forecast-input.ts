/**
 * The drain forecast's input, read from the store (only existing read methods): the open blue
 * sessions with their position, the agent's recent turns, waits and session ends (the history
 * the survival model is estimated from), the arrival rate of new sessions and the measured
 * eager-migration rate of earlier rollouts of the agent. The forecaster itself is pure
 * (`analysis/forecast`).
 */
import { bucketOf, type SessionRecord, type TurnTelemetryRecord, type WaitRecord } from '@baton/core';
import type { Store } from '@baton/store';
import type {
  AfterTurnObservation,
  ForecastHistory,
  ForecastInput,
  ForecastPlan,
  ForecastSession,
  ForecastStart,
  WaitObservation,
} from '../analysis/forecast';
import { leaseHolder } from '../lease';
import type { RolloutSpec } from './spec';
import { mapLimit } from './util';

/** History older than this is not used (default 7 days). */
export const HISTORY_WINDOW_MS = 7 * 86_400_000;
/** The arrival rate of new sessions is measured over at most the last hour. */
export const ARRIVAL_WINDOW_MS = 3_600_000;
/** Sessions read for the history, newest first. */
const MAX_HISTORY_SESSIONS = 20_000;
/** A wait belongs to the turn that committed at most this long after it was created. */
const WAIT_TURN_SLACK_MS = 5_000;
/** Fewer eager migrations than this in a rollout say nothing about the rate. */
const MIN_RATE_SAMPLE = 20;

export function planOf(spec: RolloutSpec, passMs = 1000): ForecastPlan {
  return {
    policy: spec.migration.policy,
    eager: spec.migration.eager,
    maxAgeMs: spec.migration.maxAge,
    drainDeadlineMs: spec.drain.deadline,
    onDeadline: spec.drain.onDeadline,
    onNoData: spec.onNoData,
    steps: spec.steps.map((s) => ({ fill: s.fill, migrate: s.migrate, verify: s.verify })),
    passMs,
  };
}

async function allSessions(store: Store, agent: string): Promise<SessionRecord[]> {
  const out: SessionRecord[] = [];
  let cursor: string | null = null;
  for (;;) {
    const page = await store.listSessions({ agent, limit: 1000, cursor });
    out.push(...page.items);
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}

/**
 * The peak eager rate of the agent's most recent rollout with enough migrations: the most
 * migrations committed within any one second (per ms). Null when none has.
 */
export async function measuredEagerRate(store: Store, agent: string): Promise<number | null> {
  const rollouts = (await store.listRollouts({ agent })).sort((a, b) => b.createdAt - a.createdAt);
  for (const r of rollouts.slice(0, 5)) {
    const ms = await store.listMigrations({ rolloutId: r.id, status: 'ok', limit: 1000 });
    if (ms.length < MIN_RATE_SAMPLE) continue;
    const at = ms.map((m) => m.at).sort((a, b) => a - b);
    let best = 0;
    for (let i = 0, j = 0; i < at.length; i++) {
      while (at[i]! - at[j]! >= 1000) j++;
      best = Math.max(best, i - j + 1);
    }
    return best / 1000;
  }
  return null;
}

export interface GatherOptions {
  agent: string;
  blue: string;
  spec: RolloutSpec;
  start: ForecastStart;
  /** Eager rate measured by timing the pre-flight, used when no rollout has recorded one. */
  preflightRatePerMs?: number | null;
  passMs?: number;
}

export async function gatherForecastInput(
  ctx: { store: Store; clock: { now(): number } },
  o: GatherOptions,
): Promise<ForecastInput> {
  const { store } = ctx;
  const now = ctx.clock.now();
  const since = now - HISTORY_WINDOW_MS;
  const sessions = await allSessions(store, o.agent);
  const turns = await store.listTurnTelemetry({ agent: o.agent, from: since, to: now + 1 });
  const bySession = new Map<string, TurnTelemetryRecord[]>();
  for (const t of turns) {
    const list = bySession.get(t.sessionId);
    if (list) list.push(t);
    else bySession.set(t.sessionId, [t]);
  }
  for (const list of bySession.values()) list.sort((a, b) => a.at - b.at);

  const recent = sessions
    .filter((s) => s.updatedAt >= since || bySession.has(s.id))
    .sort((a, b) => b.createdAt - a.createdAt)
    .slice(0, MAX_HISTORY_SESSIONS);
  const waitsBySession = new Map<string, WaitRecord[]>();
  await mapLimit(recent, 8, async (s) => {
    const ws = await store.listWaits({ sessionId: s.id, limit: 1000 });
    if (ws.length) waitsBySession.set(s.id, ws);
  });

  const afterTurn: AfterTurnObservation[] = [];
  const waits: WaitObservation[] = [];
  const firstTurnMs: number[] = [];
  const firstTurnOpenMs: number[] = [];
  let turnsObserved = 0;
  let turnsEndingInWait = 0;
  let resumeTurns = 0;
  let resumeTurnsEndingInWait = 0;
  for (const s of recent) {
    const ts = bySession.get(s.id) ?? [];
    const ws = waitsBySession.get(s.id) ?? [];
    const open =
      s.status === 'idle' || s.status === 'running' || s.status === 'waiting' || s.status === 'migrating';
    if (ts.length === 0) {
      if (open && s.createdAt >= since) firstTurnOpenMs.push(Math.max(0, now - s.createdAt));
      continue;
    }
    if (s.createdAt >= since) firstTurnMs.push(Math.max(0, ts[0]!.at - s.createdAt));
    // the turns that left the session waiting
    const waitTurn = new Set<number>();
    for (const w of ws) {
      let k = -1;
      for (let i = 0; i < ts.length; i++) if (ts[i]!.at <= w.createdAt + WAIT_TURN_SLACK_MS) k = i;
      if (k >= 0) waitTurn.add(k);
      const next = k >= 0 ? ts[k + 1] : ts.find((t) => t.at > w.createdAt);
      const timeoutMs = Math.max(0, w.deadline - w.createdAt);
      if (w.status === 'resolved' && next && next.at < w.deadline)
        waits.push({ kind: 'callback', ms: Math.max(1, next.at - w.createdAt), timeoutMs });
      else if (w.status === 'pending')
        waits.push({ kind: 'open', ms: Math.max(0, now - w.createdAt), timeoutMs });
      else waits.push({ kind: 'open', ms: timeoutMs, timeoutMs });
    }
    turnsObserved += ts.length;
    turnsEndingInWait += waitTurn.size;
    // the turn after a wait's turn resumed it (its callback or its timeout)
    const resumed = new Set([...waitTurn].map((k) => k + 1).filter((k) => k < ts.length));
    resumeTurns += resumed.size;
    for (const k of resumed) if (waitTurn.has(k)) resumeTurnsEndingInWait++;
    for (let i = 0; i < ts.length; i++) {
      if (waitTurn.has(i)) continue;
      const at = ts[i]!.at;
      const next = ts[i + 1];
      const pace = (at - s.createdAt) / (i + 1);
      if (next) afterTurn.push({ index: i + 1, kind: 'turn', ms: Math.max(1, next.at - at), pace });
      else if (s.status === 'completed')
        afterTurn.push({ index: i + 1, kind: 'end', ms: Math.max(1, s.updatedAt - at), pace });
      else if (open) afterTurn.push({ index: i + 1, kind: 'open', ms: Math.max(0, now - at), pace });
    }
  }
  const first = sessions.reduce((m, s) => Math.min(m, s.createdAt), Infinity);
  const arrivalWindow = Math.min(ARRIVAL_WINDOW_MS, now - first);
  const arrived = sessions.filter((s) => s.createdAt > now - arrivalWindow).length;
  const history: ForecastHistory = {
    firstTurnMs,
    firstTurnOpenMs,
    afterTurn,
    waits,
    turnsObserved,
    turnsEndingInWait,
    resumeTurns,
    resumeTurnsEndingInWait,
    turnMs: turns.map((t) => t.latencyMs),
    arrivalsPerMs: arrivalWindow > 0 && arrived > 0 ? arrived / arrivalWindow : null,
    arrivalsSeen: arrived,
    windowMs: HISTORY_WINDOW_MS,
  };

  const blue: ForecastSession[] = [];
  for (const s of sessions) {
    if (s.version !== o.blue) continue;
    if (s.status !== 'idle' && s.status !== 'running' && s.status !== 'waiting' && s.status !== 'migrating')
      continue;
    const busy = leaseHolder(s, now) === 'turn';
    const ts = bySession.get(s.id) ?? [];
    let wait: ForecastSession['wait'] = null;
    if (s.status === 'waiting') {
      const ws = waitsBySession.get(s.id) ?? (await store.listWaits({ sessionId: s.id, status: 'pending' }));
      for (const w of ws)
        if (w.status === 'pending' && (wait === null || w.deadline < wait.deadline))
          wait = { createdAt: w.createdAt, deadline: w.deadline };
    }
    blue.push({
      id: s.id,
      bucket: bucketOf(s.id),
      createdAt: s.createdAt,
      status: busy || s.status === 'running' ? 'running' : wait ? 'waiting' : 'idle',
      turns: ts.length,
      lastTurnAt: ts.length ? ts[ts.length - 1]!.at : s.createdAt,
      wait,
    });
  }
  const fromRollouts = await measuredEagerRate(store, o.agent);
  const pre = o.preflightRatePerMs ?? null;
  return {
    now,
    sessions: blue,
    history,
    eagerRatePerMs: fromRollouts ?? pre,
    eagerRateSource: fromRollouts !== null ? 'rollouts' : pre !== null ? 'preflight' : 'none',
    plan: planOf(o.spec, o.passMs),
    start: o.start,
  };
}
