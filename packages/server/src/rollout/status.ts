/** The status view of a rollout: what `GET /v1/rollouts/{id}` (and its event stream) returns. */
import type { Decision, GateResult, RolloutPhase, RolloutRecord, SessionStatus } from '@baton/core';
import type { ServerContext } from '../context';
import { loadState } from './controller';
import type { RolloutState, ShadowSummary } from './machine';
import { drainProgress } from './metrics';
import { listStragglers, type StragglerPage } from './stragglers';
import { forecastView, type ForecastView } from './forecast';
import type { RolloutSpec } from './spec';

export interface RolloutStatusView {
  id: string;
  agent: string;
  from: string;
  to: string;
  phase: RolloutPhase;
  stage: RolloutState['stage'];
  step: number;
  steps: number;
  weights: { fill: number; migrate: number };
  route: unknown;
  preflight: RolloutState['preflight'];
  /** The current or last shadow run of the rollout's shadow stage (null: none yet). */
  shadow: ShadowSummary | null;
  paused: { at: number; reason: string | null } | null;
  abort: RolloutState['abort'];
  drain: {
    startedAt: number | null;
    deadline: number | null;
    deadlinePassed: boolean;
    total: number | null;
    remaining: number | null;
    /** Sessions that left the origin since the drain started (total − remaining). */
    moved: number | null;
    progress: number;
    idle: number;
    running: number;
    waiting: number;
    migrating: number;
    nextWaitDeadline: number | null;
    runningSessions: string[];
    stuck: string[];
    failed: Array<{ sessionId: string; reason: string }>;
    /**
     * Only when asked (`?stragglers=N`, as the event stream does), until the drain completes: the
     * first N sessions still on blue, each with why (`GET /v1/rollouts/{id}/stragglers` pages on).
     */
    stragglers?: StragglerPage;
    observedAt: number | null;
    completedAt: number | null;
  };
  migrations: RolloutState['migrations'];
  /** Sessions by version and status. */
  sessions: Record<string, Partial<Record<SessionStatus, number>>>;
  /** The last gate verdicts of the current step, with their evidence. */
  gates: GateResult[];
  lastVerdicts: RolloutState['lastVerdicts'];
  decisions: Decision[];
  /** The forecast made at creation, a re-forecast while the drain runs, and the actual figures. */
  forecast: ForecastView;
  spec: RolloutSpec;
  rev: number;
  createdAt: number;
  updatedAt: number;
  doneAt: number | null;
}

async function recentDecisions(ctx: ServerContext, id: string, n: number): Promise<Decision[]> {
  let after = 0;
  let keep: Decision[] = [];
  for (;;) {
    const page = await ctx.store.listDecisions(id, { afterSeq: after, limit: 1000 });
    keep = keep.concat(page).slice(-n);
    if (page.length < 1000) return keep;
    after = page[page.length - 1]!.seq;
  }
}

/** What both the list and the status view of a rollout start with. */
export function rolloutHead(
  rec: RolloutRecord,
  s: RolloutState,
): Pick<
  RolloutStatusView,
  'id' | 'agent' | 'from' | 'to' | 'phase' | 'stage' | 'step' | 'steps' | 'weights'
> {
  return {
    id: rec.id,
    agent: rec.agent,
    from: rec.from,
    to: rec.to,
    phase: s.phase,
    stage: s.stage,
    step: s.step,
    steps: s.spec.steps.length,
    // After an abort no new session goes to green, whatever the last step's weights were.
    weights: { fill: s.phase === 'aborted' ? 0 : s.fill, migrate: s.migrate },
  };
}

/** The status view of a rollout (what `GET /v1/rollouts/{id}` returns). */
export async function rolloutStatus(
  ctx: ServerContext,
  rec: RolloutRecord,
  opts: { decisions?: number; stragglers?: number } = {},
): Promise<RolloutStatusView> {
  const s = loadState(rec);
  // sessions are still on blue until the rollout is done (before the drain, the steps' `migrate` moves them)
  const draining = s.stage !== 'done' && s.drain.completedAt === null;
  const [route, counts, decisions, forecast, stragglers] = await Promise.all([
    ctx.store.getRoute(rec.agent),
    ctx.store.countSessions({ agent: rec.agent }),
    recentDecisions(ctx, rec.id, opts.decisions ?? 20),
    forecastView(ctx, rec, s),
    opts.stragglers === undefined
      ? Promise.resolve(undefined)
      : draining
        ? listStragglers(ctx, rec, s, { limit: opts.stragglers })
        : Promise.resolve({ items: [], nextCursor: null }),
  ]);
  const snap = s.drain.snapshot;
  const by = snap?.byStatus ?? {};
  return {
    ...rolloutHead(rec, s),
    route,
    preflight: s.preflight,
    shadow: s.shadow ?? null,
    paused: s.pausedAt !== null ? { at: s.pausedAt, reason: s.pauseReason } : null,
    abort: s.abort,
    drain: {
      startedAt: s.drain.startedAt,
      deadline: s.drain.deadline,
      deadlinePassed: s.drain.deadlinePassed,
      total: s.drain.initial,
      remaining: snap?.remaining ?? null,
      moved: s.drain.initial !== null && snap ? Math.max(0, s.drain.initial - snap.remaining) : null,
      progress: drainProgress(s),
      idle: by.idle ?? 0,
      running: by.running ?? 0,
      waiting: by.waiting ?? 0,
      migrating: by.migrating ?? 0,
      nextWaitDeadline: snap?.waiting.nextDeadline ?? null,
      runningSessions: snap?.running ?? [],
      stuck: s.drain.stuck,
      failed: snap?.failed ?? [],
      ...(stragglers ? { stragglers } : {}),
      observedAt: s.drain.snapshotAt,
      completedAt: s.drain.completedAt,
    },
    migrations: s.migrations,
    sessions: counts,
    gates: s.lastVerdicts?.results ?? [],
    lastVerdicts: s.lastVerdicts,
    decisions,
    forecast,
    spec: s.spec,
    rev: rec.rev,
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
    doneAt: s.doneAt,
  };
}
