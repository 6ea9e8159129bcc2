/**
 * The rollout state machine: a pure function `transition(state, event, now)` returning the
 * next state, the actions to perform (as data) and the decisions to append to the log.
 * No I/O here; the controller performs the actions and feeds their results back as events.
 *
 * Level-triggered: a `tick` re-emits every action the current state still wants (the route it
 * should see, the eager batch, a due gate evaluation, a pending report), so a controller that
 * crashed between persisting a state and performing its actions simply performs them again.
 * Every action is idempotent.
 */
import type {
  DecisionKind,
  GateResult,
  MigrationPolicy,
  RolloutDecisionInput,
  RolloutPhase,
  SessionStatus,
} from '@baton/core';
import type { RolloutSpec } from './spec';

/** Where the rollout is inside its phase. */
export type Stage = 'created' | 'preflight' | 'shadow' | 'steps' | 'draining' | 'done';

/**
 * A shadow run of the rollout (its shadow stage, before `beforeStep`): recorded blue turns replayed
 * on green with no side effect. `finishedAt` null while it runs. Bounded: the pairs themselves are
 * in the decision's evidence, not here.
 */
export interface ShadowSummary {
  beforeStep: number;
  startedAt: number;
  finishedAt: number | null;
  /** Worst verdict of its gates (null while running; `nodata` without gates or turns). */
  verdict: GateResult['verdict'] | null;
  /** Sessions and turns replayed, shadow turns that failed, turns whose effects or tools diverged. */
  sessions: number;
  turns: number;
  failed: number;
  divergent: number;
  /** Sampled turns that could not be replayed (no kept checkpoint before them, migration refused, …). */
  skipped: number;
  results: GateResult[];
}

export interface PreflightSummary {
  ok: boolean;
  at: number;
  /** Checkpoints dry-run. */
  checked: number;
  /** Live blue sessions in total (checked may be a sample). */
  total: number;
  failures: Array<{ sessionId: string; error: string }>;
}

/** Positions of the sessions still on the origin version (blue; green when reversing). */
export interface DrainSnapshot {
  /** Non-terminal sessions on the origin version. */
  remaining: number;
  byStatus: Partial<Record<SessionStatus, number>>;
  /** Ids of sessions mid-turn (live lease), bounded. */
  running: string[];
  /** Waiting sessions and the earliest wait deadline among them (epoch ms). */
  waiting: { count: number; nextDeadline: number | null };
  /** Sessions whose eager migration failed and stay on the origin, bounded. */
  failed: Array<{ sessionId: string; reason: string }>;
}

export interface GateVerdictSummary {
  at: number;
  step: number;
  nBlue: number;
  nGreen: number;
  results: GateResult[];
}

export interface RolloutState {
  v: 1;
  spec: RolloutSpec;
  agent: string;
  blue: string;
  green: string;
  phase: RolloutPhase;
  stage: Stage;
  /** Current step index; -1 before the first. */
  step: number;
  stepStartedAt: number | null;
  /** Time spent paused during the current step (does not count towards its durations). */
  stepPausedMs: number;
  /** How many times the current step's maxDuration was extended (`onNoData: extend`). */
  stepExtensions: number;
  lastEvalAt: number | null;
  /** When green first received traffic: start of the age-matched cohort window. */
  trafficStartedAt: number | null;
  /** % of new sessions routed to green. */
  fill: number;
  /** % of blue sessions moved to green at their boundary. */
  migrate: number;
  preflight: PreflightSummary | null;
  pausedAt: number | null;
  pauseReason: string | null;
  drain: {
    startedAt: number | null;
    deadline: number | null;
    deadlinePassed: boolean;
    /** Origin sessions still open when the drain started. */
    initial: number | null;
    snapshot: DrainSnapshot | null;
    snapshotAt: number | null;
    stuck: string[];
    completedAt: number | null;
  };
  /** Whether green can move back to blue (same schema, or green ships a down migration to blue's). */
  reversible: boolean;
  /** The current or last shadow run (absent in states stored before shadow stages existed). */
  shadow?: ShadowSummary | null;
  /** `compensated`: the automatic compensation run (onAbort.compensate auto) is done (absent: not yet). */
  abort: { at: number; reason: string; reverse: boolean; reportDone: boolean; compensated?: boolean } | null;
  lastVerdicts: GateVerdictSummary | null;
  /**
   * Undecided looks at the current step's gates: the first records `gates-inconclusive`, the
   * others are only counted, and the step's next decision says how many there were (absent in
   * states persisted before it existed).
   */
  inconclusive?: { step: number; looks: number; since: number } | null;
  migrations: { done: number; failed: number; lastFailures: Array<{ sessionId: string; reason: string }> };
  promotedAt: number | null;
  doneAt: number | null;
}

export interface DesiredRoute {
  agent: string;
  stable: string;
  candidate: string | null;
  weight: number;
  move: {
    from: string;
    to: string;
    percent: number;
    policy: MigrationPolicy;
    maxAgeMs: number | null;
    deadlinePassed: boolean;
  } | null;
  rolloutId: string | null;
}

export type Action =
  | { type: 'set-route'; route: Omit<DesiredRoute, 'rolloutId'> }
  | { type: 'run-preflight'; sample: number | null }
  | { type: 'run-shadow'; beforeStep: number }
  | {
      type: 'eager-migrate';
      from: string;
      to: string;
      percent: number;
      policy: MigrationPolicy;
      maxAgeMs: number | null;
      deadlinePassed: boolean;
      batch: number;
    }
  | { type: 'evaluate-gates'; step: number; windowStart: number; windowEnd: number }
  | { type: 'observe-drain'; origin: string }
  | { type: 'mark-stuck'; sessionIds: string[] }
  | { type: 'compensation-report' }
  | { type: 'auto-compensate' };

export type RolloutEvent =
  | { type: 'start' }
  | { type: 'preflight-result'; result: PreflightSummary }
  | { type: 'shadow-result'; beforeStep: number; summary: ShadowSummary; evidence: unknown }
  | { type: 'tick' }
  | { type: 'gates-evaluated'; step: number; nBlue: number; nGreen: number; results: GateResult[] }
  | { type: 'drain-progress'; snapshot: DrainSnapshot }
  | {
      type: 'eager-result';
      migrated: number;
      failed: number;
      failures: Array<{ sessionId: string; reason: string }>;
    }
  | { type: 'compensation-report'; report: unknown }
  | { type: 'compensations-ran'; message: string; evidence: unknown }
  | { type: 'pause'; reason?: string; by?: string }
  | { type: 'resume'; by?: string }
  | { type: 'promote'; by?: string }
  | { type: 'abort'; reason?: string; by?: string }
  /** A newer rollout of the same agent takes over the route: a finished rollout stops draining. */
  | { type: 'supersede'; by: string };

export interface TransitionResult {
  state: RolloutState;
  actions: Action[];
  decisions: RolloutDecisionInput[];
  /** Set when a command (pause, resume, promote, abort) is not allowed in the current phase. */
  rejected?: { code: 'ROLLOUT_STATE'; message: string };
}

export function initialState(input: {
  spec: RolloutSpec;
  agent: string;
  blue: string;
  green: string;
  reversible: boolean;
  preflight?: PreflightSummary | null;
}): RolloutState {
  return {
    v: 1,
    spec: input.spec,
    agent: input.agent,
    blue: input.blue,
    green: input.green,
    phase: 'pending',
    stage: 'created',
    step: -1,
    stepStartedAt: null,
    stepPausedMs: 0,
    stepExtensions: 0,
    lastEvalAt: null,
    trafficStartedAt: null,
    fill: 0,
    migrate: 0,
    preflight: input.preflight ?? null,
    shadow: null,
    pausedAt: null,
    pauseReason: null,
    drain: {
      startedAt: null,
      deadline: null,
      deadlinePassed: false,
      initial: null,
      snapshot: null,
      snapshotAt: null,
      stuck: [],
      completedAt: null,
    },
    reversible: input.reversible,
    abort: null,
    lastVerdicts: null,
    inconclusive: null,
    migrations: { done: 0, failed: 0, lastFailures: [] },
    promotedAt: null,
    doneAt: null,
  };
}

const MAX_LISTED = 100;

/** The route the state wants the agent to have, or null when the rollout does not drive it. */
export function desiredRoute(s: RolloutState): Omit<DesiredRoute, 'rolloutId'> | null {
  const { spec } = s;
  const policy = spec.migration.policy;
  const maxAgeMs = spec.migration.maxAge;
  if (s.phase === 'progressing' || s.phase === 'paused') {
    return {
      agent: s.agent,
      stable: s.blue,
      candidate: s.green,
      weight: s.fill,
      move:
        s.migrate > 0
          ? {
              from: s.blue,
              to: s.green,
              percent: s.migrate,
              policy,
              maxAgeMs,
              deadlinePassed: s.drain.deadlinePassed,
            }
          : null,
    };
  }
  if (s.phase === 'promoted') {
    return {
      agent: s.agent,
      stable: s.green,
      candidate: null,
      weight: 0,
      move: {
        from: s.blue,
        to: s.green,
        percent: 100,
        policy,
        maxAgeMs,
        deadlinePassed: s.drain.deadlinePassed,
      },
    };
  }
  if (s.phase === 'aborted' && s.trafficStartedAt !== null) {
    return {
      agent: s.agent,
      stable: s.blue,
      candidate: s.green,
      weight: 0,
      move: s.abort?.reverse
        ? {
            from: s.green,
            to: s.blue,
            percent: 100,
            policy: 'at-boundary',
            maxAgeMs: null,
            deadlinePassed: true,
          }
        : null,
    };
  }
  return null;
}

/** Share of new sessions going to green, 0..100 (100 once promoted). */
export function greenShare(s: RolloutState): number {
  if (s.phase === 'promoted') return 100;
  if (s.phase === 'aborted' || s.phase === 'failed') return 0;
  return s.fill;
}

/** Effective maxDuration deadline of the current step (epoch ms), or null without verify. */
function stepElapsed(s: RolloutState, now: number): number {
  if (s.stepStartedAt === null) return 0;
  const pausedNow = s.pausedAt !== null ? now - s.pausedAt : 0;
  return Math.max(0, now - s.stepStartedAt - s.stepPausedMs - pausedNow);
}

class Tx {
  actions: Action[] = [];
  decisions: RolloutDecisionInput[] = [];
  constructor(public s: RolloutState) {}
  decide(kind: DecisionKind, message: string, evidence?: unknown): void {
    this.decisions.push(evidence === undefined ? { kind, message } : { kind, message, evidence });
  }
  act(a: Action): void {
    this.actions.push(a);
  }
  set(patch: Partial<RolloutState>): void {
    this.s = { ...this.s, ...patch };
  }
  result(): TransitionResult {
    // only the last route matters (a tick may advance a step after re-asserting the old route)
    const lastRoute = this.actions.map((a) => a.type).lastIndexOf('set-route');
    const actions = this.actions.filter((a, i) => a.type !== 'set-route' || i === lastRoute);
    return { state: this.s, actions, decisions: this.decisions };
  }
}

function reject(state: RolloutState, message: string): TransitionResult {
  return { state, actions: [], decisions: [], rejected: { code: 'ROLLOUT_STATE', message } };
}

function routeAction(tx: Tx): void {
  const r = desiredRoute(tx.s);
  if (r) tx.act({ type: 'set-route', route: r });
}

function startDrainIfDue(tx: Tx, now: number): void {
  const s = tx.s;
  if (s.drain.startedAt !== null) return;
  if (greenShare(s) < 100) return;
  const deadline = now + s.spec.drain.deadline;
  tx.set({ drain: { ...s.drain, startedAt: now, deadline } });
  tx.decide(
    'drain-started',
    `new sessions no longer go to ${s.blue}; drain deadline in ${s.spec.drain.deadline} ms`,
    {
      deadline,
      onDeadline: s.spec.drain.onDeadline,
      openOnBlue: s.drain.snapshot?.remaining ?? null,
    },
  );
}

function beginStep(tx: Tx, index: number, now: number): void {
  const st = tx.s.spec.steps[index]!;
  tx.set({
    phase: 'progressing',
    stage: 'steps',
    step: index,
    stepStartedAt: now,
    stepPausedMs: 0,
    stepExtensions: 0,
    lastEvalAt: null,
    trafficStartedAt: tx.s.trafficStartedAt ?? now,
    fill: Math.max(tx.s.fill, st.fill),
    migrate: Math.max(tx.s.migrate, st.migrate),
  });
  tx.decide(
    'step-started',
    `step ${index + 1}/${tx.s.spec.steps.length}: ${st.fill}% of new sessions and ${st.migrate}% of open sessions to ${tx.s.green}`,
    { step: index, fill: st.fill, migrate: st.migrate, verify: st.verify },
  );
  startDrainIfDue(tx, now);
  routeAction(tx);
}

function promote(tx: Tx, now: number, manual: { by?: string } | null): void {
  tx.set({
    phase: 'promoted',
    stage: 'draining',
    fill: 100,
    migrate: 100,
    pausedAt: null,
    pauseReason: null,
    promotedAt: now,
  });
  tx.decide(
    'promoted',
    manual
      ? `promoted by hand${manual.by ? ` (${manual.by})` : ''}: ${tx.s.green} is now stable`
      : `all steps passed: ${tx.s.green} is now stable`,
    { manual: manual !== null, by: manual?.by ?? null, step: tx.s.step },
  );
  startDrainIfDue(tx, now);
  routeAction(tx);
}

function advance(tx: Tx, now: number): void {
  const next = tx.s.step + 1;
  if (next < tx.s.spec.steps.length) {
    if (tx.s.spec.steps[next]!.shadow && tx.s.spec.shadow) enterShadow(tx, next, now);
    else beginStep(tx, next, now);
  } else promote(tx, now, null);
}

/** Before the first step, or before `beforeStep` when that step asks for it: the shadow stage. */
function firstStepOrShadow(tx: Tx, now: number): void {
  if (tx.s.spec.shadow) enterShadow(tx, 0, now);
  else beginStep(tx, 0, now);
}

function enterShadow(tx: Tx, beforeStep: number, now: number): void {
  const sh = tx.s.spec.shadow!;
  tx.set({
    phase: beforeStep === 0 ? 'preflight' : tx.s.phase,
    stage: 'shadow',
    shadow: { ...emptyShadow(beforeStep), startedAt: now },
  });
  tx.decide(
    'shadow-started',
    `shadow stage before step ${beforeStep + 1}: replaying up to ${sh.turnsPerSession} recorded turn(s) of ${sh.sessions} ${tx.s.blue} session(s) on ${tx.s.green}, with no side effect`,
    { beforeStep, sessions: sh.sessions, turnsPerSession: sh.turnsPerSession, sample: sh.sample },
  );
  tx.act({ type: 'run-shadow', beforeStep });
}

const VERDICT_ORDER: Record<GateResult['verdict'], number> = { pass: 0, nodata: 1, inconclusive: 2, fail: 3 };

function onShadowResult(tx: Tx, ev: Extract<RolloutEvent, { type: 'shadow-result' }>, now: number): void {
  const s = tx.s;
  if (
    s.stage !== 'shadow' ||
    !s.shadow ||
    s.shadow.finishedAt !== null ||
    ev.beforeStep !== s.shadow.beforeStep
  )
    return; // stale
  if (s.phase !== 'preflight' && s.phase !== 'progressing') return;
  const sh = s.spec.shadow!;
  const summary: ShadowSummary = {
    ...ev.summary,
    beforeStep: s.shadow.beforeStep,
    startedAt: s.shadow.startedAt,
    finishedAt: now,
  };
  tx.set({ shadow: summary });
  const fails = summary.results.filter((r) => r.verdict === 'fail');
  const what = `${summary.turns} turn(s) of ${summary.sessions} session(s) replayed on ${s.green}, ${summary.divergent} diverging, ${summary.failed} failed`;
  if (fails.length > 0) {
    const names = fails.map((r) => r.name).join(', ');
    tx.decide(
      'shadow-failed',
      `shadow gate(s) failed before any traffic moved: ${names} (${what})`,
      ev.evidence,
    );
    const onFail = sh.onFail ?? s.spec.onFail;
    if (onFail === 'abort') abort(tx, now, `shadow gate(s) failed: ${names}`);
    else pause(tx, now, `shadow gate(s) failed: ${names}`);
    return;
  }
  if (summary.verdict === 'pass') {
    tx.decide('shadow-passed', `shadow gates passed: ${what}`, ev.evidence);
    beginStep(tx, summary.beforeStep, now);
    return;
  }
  const rule = sh.onNoData ?? s.spec.onNoData;
  tx.decide(
    'shadow-nodata',
    `shadow stage without a verdict (${summary.verdict}): ${what}; onNoData=${rule}`,
    ev.evidence,
  );
  if (rule === 'pass') beginStep(tx, summary.beforeStep, now);
  else if (rule === 'abort') abort(tx, now, `shadow stage without a verdict (${summary.verdict})`);
  else pause(tx, now, `shadow stage without a verdict (${summary.verdict})`);
}

/** The worst verdict of a shadow run's gates (`nodata` without gates). */
export function worstVerdict(results: readonly GateResult[]): GateResult['verdict'] {
  if (results.length === 0) return 'nodata';
  return results.reduce<GateResult['verdict']>(
    (w, r) => (VERDICT_ORDER[r.verdict] > VERDICT_ORDER[w] ? r.verdict : w),
    'pass',
  );
}

function pause(tx: Tx, now: number, reason: string, by?: string): void {
  tx.set({ phase: 'paused', pausedAt: now, pauseReason: reason });
  tx.decide('paused', `paused: ${reason}`, { reason, by: by ?? null, step: tx.s.step });
}

function abort(tx: Tx, now: number, reason: string, by?: string): void {
  const s = tx.s;
  const moved = s.trafficStartedAt !== null;
  const wantReverse = s.spec.onAbort.greenSessions === 'reverse';
  const reverse = moved && wantReverse && s.reversible;
  tx.set({
    phase: 'aborted',
    stage: moved ? 'draining' : 'done',
    pausedAt: null,
    pauseReason: null,
    abort: { at: now, reason, reverse, reportDone: !moved },
    doneAt: moved ? null : now,
  });
  tx.decide(
    'aborted',
    `aborted: ${reason}. New sessions go to ${s.blue}; sessions on ${s.green} ${reverse ? 'move back at their boundary' : 'stay on it'}`,
    { reason, by: by ?? null, step: s.step, greenSessions: reverse ? 'reverse' : 'stay' },
  );
  if (moved && wantReverse && !s.reversible)
    tx.decide(
      'reverse-unavailable',
      `${s.green} ships no down migration to ${s.blue}'s schema: green sessions stay on ${s.green}`,
      { green: s.green, blue: s.blue },
    );
  if (moved) {
    routeAction(tx);
    tx.act({ type: 'compensation-report' });
  }
}

function finishIfDone(tx: Tx, now: number): void {
  const s = tx.s;
  if (s.stage !== 'draining') return;
  if (s.phase === 'promoted' && s.drain.completedAt !== null) tx.set({ stage: 'done', doneAt: now });
  if (s.phase === 'aborted' && s.abort?.reportDone) {
    if ((!s.abort.reverse || s.drain.completedAt !== null) && !autoCompensationDue(s))
      tx.set({ stage: 'done', doneAt: now });
  }
}

/** After an abort with `onAbort.compensate: auto`: the report is out, sessions moved back, not yet run. */
function autoCompensationDue(s: RolloutState): boolean {
  return (
    s.phase === 'aborted' &&
    s.spec.onAbort.compensate === 'auto' &&
    !!s.abort?.reportDone &&
    !s.abort.compensated &&
    (!s.abort.reverse || s.drain.completedAt !== null)
  );
}

function onTick(tx: Tx, now: number): void {
  const s = tx.s;
  if (s.stage === 'done') return;
  if (s.phase === 'pending') {
    onStart(tx, now);
    return;
  }
  if (s.phase === 'preflight') {
    if (s.stage === 'shadow') tx.act({ type: 'run-shadow', beforeStep: s.shadow?.beforeStep ?? 0 });
    else tx.act({ type: 'run-preflight', sample: s.spec.preflight.sample });
    return;
  }
  if (s.phase === 'progressing' && s.stage === 'shadow' && s.shadow && s.shadow.finishedAt === null)
    tx.act({ type: 'run-shadow', beforeStep: s.shadow.beforeStep });
  routeAction(tx);
  const origin = s.phase === 'aborted' ? s.green : s.blue;
  const observing = s.phase !== 'aborted' || s.abort?.reverse === true;
  if (observing) tx.act({ type: 'observe-drain', origin });

  // the drain deadline
  if (
    s.phase !== 'aborted' &&
    s.drain.deadline !== null &&
    !s.drain.deadlinePassed &&
    now >= s.drain.deadline &&
    s.drain.completedAt === null
  ) {
    const snap = s.drain.snapshot;
    tx.set({ drain: { ...s.drain, deadlinePassed: true } });
    tx.decide(
      'drain-deadline',
      `drain deadline passed with ${snap?.remaining ?? 'unknown'} session(s) open on ${s.blue}`,
      {
        policy: s.spec.drain.onDeadline,
        snapshot: snap,
      },
    );
    if (s.spec.drain.onDeadline === 'mark-stuck') {
      const stuck = (snap?.running ?? [])
        .concat((snap?.failed ?? []).map((f) => f.sessionId))
        .slice(0, MAX_LISTED);
      tx.set({ drain: { ...tx.s.drain, stuck } });
      tx.decide(
        'sessions-stuck',
        `${stuck.length} session(s) still on ${s.blue} at the drain deadline need a human`,
        {
          sessions: stuck,
          running: snap?.running ?? [],
          failed: snap?.failed ?? [],
          remaining: snap?.remaining ?? null,
        },
      );
      tx.act({ type: 'mark-stuck', sessionIds: stuck });
      if (tx.s.stage === 'draining') {
        tx.set({ drain: { ...tx.s.drain, completedAt: now } });
        finishIfDone(tx, now);
        return;
      }
    } else {
      tx.decide('drain-waiting', `policy wait: the drain keeps waiting for sessions to reach a boundary`, {
        remaining: snap?.remaining ?? null,
      });
    }
  }

  // eager migration
  const cur = tx.s;
  const { migration } = cur.spec;
  if (migration.eager) {
    if (cur.phase === 'progressing' || cur.phase === 'promoted') {
      const r = desiredRoute(cur);
      const canMove = migration.policy !== 'finish-on-origin' || cur.drain.deadlinePassed;
      if (r?.move && r.move.percent > 0 && canMove && cur.stage !== 'done')
        tx.act({ type: 'eager-migrate', ...r.move, batch: migration.batch });
    } else if (cur.phase === 'aborted' && cur.abort?.reverse) {
      tx.act({
        type: 'eager-migrate',
        from: cur.green,
        to: cur.blue,
        percent: 100,
        policy: 'at-boundary',
        maxAgeMs: null,
        deadlinePassed: true,
        batch: migration.batch,
      });
    }
  }

  if (cur.phase === 'aborted' && cur.abort && !cur.abort.reportDone) tx.act({ type: 'compensation-report' });
  if (autoCompensationDue(cur)) tx.act({ type: 'auto-compensate' });

  // verification of the current step
  if (cur.phase === 'progressing' && cur.stage === 'steps') {
    const step = cur.spec.steps[cur.step]!;
    if (!step.verify) {
      advance(tx, now);
      return;
    }
    const elapsed = stepElapsed(cur, now);
    const due = cur.lastEvalAt === null || now - cur.lastEvalAt >= step.verify.interval;
    if (elapsed >= step.verify.minDuration && due)
      tx.act({
        type: 'evaluate-gates',
        step: cur.step,
        windowStart: cur.trafficStartedAt ?? now,
        windowEnd: now,
      });
  }
}

function onStart(tx: Tx, now: number): void {
  const s = tx.s;
  if (s.phase !== 'pending') return;
  if (!s.spec.preflight.enabled) {
    tx.decide('preflight-skipped', 'pre-flight disabled by the spec');
    firstStepOrShadow(tx, now);
    return;
  }
  if (s.preflight?.ok) {
    tx.decide('preflight-passed', preflightMessage(s.preflight, s), s.preflight);
    firstStepOrShadow(tx, now);
    return;
  }
  tx.set({ phase: 'preflight', stage: 'preflight' });
  tx.act({ type: 'run-preflight', sample: s.spec.preflight.sample });
}

function preflightMessage(p: PreflightSummary, s: RolloutState): string {
  return p.ok
    ? `pre-flight: ${p.checked} of ${p.total} live ${s.blue} checkpoint(s) migrate to ${s.green}`
    : `pre-flight: ${p.failures.length} of ${p.checked} checkpoint(s) fail to migrate to ${s.green}; nothing moved`;
}

/** Sequential tests (`msprt`, `sprt`) give always-valid verdicts: they may be acted on at any look. */
export function isSequential(r: GateResult): boolean {
  return r.evidence.test === 'msprt' || r.evidence.test === 'sprt';
}

function onGates(tx: Tx, ev: Extract<RolloutEvent, { type: 'gates-evaluated' }>, now: number): void {
  const s = tx.s;
  if (s.phase !== 'progressing' || s.stage !== 'steps' || ev.step !== s.step) return; // stale
  const verify = s.spec.steps[s.step]!.verify;
  if (!verify) return;
  const summary: GateVerdictSummary = {
    at: now,
    step: s.step,
    nBlue: ev.nBlue,
    nGreen: ev.nGreen,
    results: ev.results,
  };
  tx.set({ lastEvalAt: now, lastVerdicts: summary });
  const evidence = {
    step: s.step,
    nBlue: ev.nBlue,
    nGreen: ev.nGreen,
    minSessions: verify.minSessions,
    window: { from: s.trafficStartedAt, to: now },
    gates: ev.results,
  };
  const enough = ev.nGreen >= verify.minSessions;
  const looks = s.inconclusive?.step === s.step ? s.inconclusive.looks : 0;
  const after = looks > 0 ? ` (after ${looks} inconclusive look(s))` : '';
  if (looks > 0)
    Object.assign(evidence, { inconclusiveLooks: looks, inconclusiveSince: s.inconclusive!.since });
  // A fixed-horizon test holds its error rate for one look; looked at on every pass, its `fail`
  // would abort far more A/A rollouts than alpha says. So its `fail` counts only once the step
  // has its minSessions; before that only a sequential test (always-valid) may stop the step.
  const actionable = (r: GateResult) => r.verdict === 'fail' && (enough || isSequential(r));
  const criticalFail = ev.results.filter((r) => r.critical && actionable(r));
  const otherFail = ev.results.filter((r) => r.verdict === 'fail' && !r.critical);
  const elapsed = stepElapsed(s, now);
  const maxDuration = verify.maxDuration * (1 + s.stepExtensions);
  if (criticalFail.length > 0) {
    const names = criticalFail.map((r) => r.name).join(', ');
    tx.decide('gates-failed', `critical gate(s) failed: ${names}${after}`, evidence);
    if (s.spec.onFail === 'abort') abort(tx, now, `critical gate(s) failed: ${names}`);
    else pause(tx, now, `critical gate(s) failed: ${names}`);
    return;
  }
  if (!enough) {
    const early = ev.results.filter((r) => r.verdict === 'fail');
    if (early.length > 0)
      tx.decide(
        'gates-fail-deferred',
        `gate(s) ${early.map((r) => r.name).join(', ')} fail with ${ev.nGreen} of ${verify.minSessions} green sessions: not acted on before minSessions (only critical sequential gates stop a step early)`,
        evidence,
      );
  }
  if (enough && otherFail.length > 0) {
    const names = otherFail.map((r) => r.name).join(', ');
    tx.decide('gates-failed', `non-critical gate(s) failed: ${names}; paused for a human${after}`, evidence);
    pause(tx, now, `non-critical gate(s) failed: ${names}`);
    return;
  }
  const allPass = ev.results.every((r) => r.verdict === 'pass');
  if (enough && allPass) {
    tx.decide(
      'gates-passed',
      ev.results.length
        ? `step ${s.step + 1}: all ${ev.results.length} gate(s) passed on ${ev.nGreen} green and ${ev.nBlue} blue session(s)${after}`
        : `step ${s.step + 1}: ${ev.nGreen} green session(s) observed (no gates)${after}`,
      evidence,
    );
    advance(tx, now);
    return;
  }
  if (elapsed < maxDuration) {
    if (enough) {
      // recorded once per step; later undecided looks are counted and reported with the next decision
      tx.set({
        inconclusive: { step: s.step, looks: looks + 1, since: looks > 0 ? s.inconclusive!.since : now },
      });
      if (looks === 0)
        tx.decide(
          'gates-inconclusive',
          'gates not decided yet; the step continues (recorded once: later undecided looks are counted)',
          evidence,
        );
    }
    return;
  }
  // maxDuration reached without a decision
  const why = enough ? 'gates inconclusive' : `only ${ev.nGreen} of ${verify.minSessions} green sessions`;
  tx.decide(
    'step-nodata',
    `step ${s.step + 1} reached its maximum duration: ${why}; onNoData=${s.spec.onNoData}${after}`,
    evidence,
  );
  switch (s.spec.onNoData) {
    case 'extend':
      tx.set({ stepExtensions: s.stepExtensions + 1 });
      tx.decide('step-extended', `step ${s.step + 1} extended by ${verify.maxDuration} ms`, {
        step: s.step,
        extensions: s.stepExtensions + 1,
      });
      return;
    case 'pause':
      pause(tx, now, why);
      return;
    case 'abort':
      abort(tx, now, why);
      return;
    case 'pass':
      advance(tx, now);
      return;
  }
}

function onDrain(tx: Tx, snapshot: DrainSnapshot, now: number): void {
  const s = tx.s;
  if (s.stage === 'done' || s.phase === 'pending' || s.phase === 'preflight' || s.phase === 'failed') return;
  const bounded: DrainSnapshot = {
    ...snapshot,
    running: snapshot.running.slice(0, MAX_LISTED),
    failed: snapshot.failed.slice(0, MAX_LISTED),
  };
  const initial =
    s.drain.startedAt !== null && s.drain.initial === null ? snapshot.remaining : s.drain.initial;
  tx.set({ drain: { ...s.drain, snapshot: bounded, snapshotAt: now, initial } });
  const stuckDone =
    s.phase === 'promoted' && s.drain.deadlinePassed && s.spec.drain.onDeadline === 'mark-stuck';
  if (s.stage === 'draining' && (snapshot.remaining === 0 || stuckDone) && s.drain.completedAt === null) {
    tx.set({ drain: { ...tx.s.drain, completedAt: now } });
    if (s.phase === 'aborted')
      tx.decide('reverse-complete', `every session on ${s.green} moved back to ${s.blue}`);
    else
      tx.decide(
        'drain-complete',
        snapshot.remaining === 0
          ? `no open session left on ${s.blue}`
          : `drain closed with ${snapshot.remaining} stuck session(s) left on ${s.blue}`,
        { initial, remaining: snapshot.remaining, stuck: s.drain.stuck },
      );
    finishIfDone(tx, now);
  }
}

/** The transition function. `now` is the injected clock's time. */
export function transition(state: RolloutState, event: RolloutEvent, now: number): TransitionResult {
  const tx = new Tx(state);
  const s = state;
  switch (event.type) {
    case 'start':
      onStart(tx, now);
      return tx.result();
    case 'tick':
      onTick(tx, now);
      return tx.result();
    case 'preflight-result': {
      if (s.phase !== 'preflight' || s.stage !== 'preflight') return tx.result();
      const r = event.result;
      tx.set({ preflight: r });
      if (r.ok) {
        tx.decide('preflight-passed', preflightMessage(r, s), r);
        firstStepOrShadow(tx, now);
      } else {
        tx.set({ phase: 'failed', stage: 'done', doneAt: now });
        tx.decide('preflight-failed', preflightMessage(r, s), {
          ...r,
          failures: r.failures.slice(0, MAX_LISTED),
        });
      }
      return tx.result();
    }
    case 'gates-evaluated':
      onGates(tx, event, now);
      return tx.result();
    case 'shadow-result':
      onShadowResult(tx, event, now);
      return tx.result();
    case 'drain-progress':
      onDrain(tx, event.snapshot, now);
      return tx.result();
    case 'eager-result': {
      if (event.migrated === 0 && event.failed === 0) return tx.result();
      const m = s.migrations;
      tx.set({
        migrations: {
          done: m.done + event.migrated,
          failed: m.failed + event.failed,
          lastFailures: [...event.failures, ...m.lastFailures].slice(0, 20),
        },
      });
      return tx.result();
    }
    case 'compensation-report': {
      if (s.phase !== 'aborted' || !s.abort || s.abort.reportDone) return tx.result();
      tx.set({ abort: { ...s.abort, reportDone: true } });
      tx.decide('abort-report', `effects committed by ${s.green}, with their compensations`, event.report);
      finishIfDone(tx, now);
      return tx.result();
    }
    case 'compensations-ran': {
      if (!autoCompensationDue(s) || !s.abort) return tx.result();
      tx.set({ abort: { ...s.abort, compensated: true } });
      tx.decide('compensations-ran', event.message, event.evidence);
      finishIfDone(tx, now);
      return tx.result();
    }
    case 'pause':
      if (s.phase !== 'progressing' && !(s.phase === 'preflight' && s.stage === 'shadow'))
        return reject(s, `cannot pause a rollout in phase ${s.phase}`);
      pause(tx, now, event.reason ?? 'paused by hand', event.by);
      return tx.result();
    case 'resume': {
      if (s.phase !== 'paused') return reject(s, `cannot resume a rollout in phase ${s.phase}`);
      const pausedMs = s.pausedAt !== null ? Math.max(0, now - s.pausedAt) : 0;
      tx.set({
        phase: 'progressing',
        pausedAt: null,
        pauseReason: null,
        stepPausedMs: s.stepPausedMs + pausedMs,
        lastEvalAt: null,
      });
      tx.decide('resumed', `resumed at step ${s.step + 1}`, { by: event.by ?? null, pausedMs, step: s.step });
      if (s.stage === 'shadow') {
        // a human looked at the shadow stage's verdict (or paused it): go on with its step
        const sh = s.shadow;
        if (sh && sh.finishedAt !== null) beginStep(tx, sh.beforeStep, now);
        else if (sh && sh.beforeStep === 0) tx.set({ phase: 'preflight' });
        if (tx.s.stage === 'shadow') tx.act({ type: 'run-shadow', beforeStep: sh?.beforeStep ?? 0 });
      }
      routeAction(tx);
      return tx.result();
    }
    case 'promote':
      if (s.phase !== 'progressing' && s.phase !== 'paused')
        return reject(s, `cannot promote a rollout in phase ${s.phase}`);
      promote(tx, now, { by: event.by });
      return tx.result();
    case 'abort':
      if (s.phase === 'promoted' || s.phase === 'aborted' || s.phase === 'failed')
        return reject(s, `cannot abort a rollout in phase ${s.phase}`);
      abort(tx, now, event.reason ?? 'aborted by hand', event.by);
      return tx.result();
    case 'supersede':
      if (s.phase !== 'promoted' && s.phase !== 'aborted')
        return reject(s, `cannot supersede a rollout in phase ${s.phase}`);
      if (s.stage === 'done') return tx.result();
      tx.set({ stage: 'done', doneAt: now });
      tx.decide('superseded', `rollout ${event.by} takes over the route; this one stops here`, {
        by: event.by,
        snapshot: s.drain.snapshot,
      });
      return tx.result();
  }
}

/** Persisted form: the state without the spec (the rollout record stores the spec). */
export function toPersisted(s: RolloutState): Omit<RolloutState, 'spec'> {
  const { spec: _spec, ...rest } = s;
  return rest;
}

export function fromPersisted(spec: RolloutSpec, persisted: unknown): RolloutState {
  return { ...(persisted as Omit<RolloutState, 'spec'>), spec };
}

/** Structural invariants of a state; returns the violations (empty when valid). Used by tests. */
export function checkState(s: RolloutState): string[] {
  const errs: string[] = [];
  const stagesByPhase: Record<RolloutPhase, Stage[]> = {
    pending: ['created'],
    preflight: ['preflight', 'shadow'],
    progressing: ['steps', 'shadow'],
    paused: ['steps', 'shadow'],
    promoted: ['draining', 'done'],
    aborted: ['draining', 'done'],
    failed: ['done'],
  };
  if (!stagesByPhase[s.phase]?.includes(s.stage)) errs.push(`stage ${s.stage} in phase ${s.phase}`);
  if (s.step < -1 || s.step >= s.spec.steps.length) errs.push(`step ${s.step} out of range`);
  if ((s.phase === 'progressing' || s.phase === 'paused') && s.step < 0 && s.stage !== 'shadow')
    errs.push('no step while progressing');
  if (s.fill < 0 || s.fill > 100 || s.migrate < 0 || s.migrate > 100) errs.push('percent out of range');
  if ((s.phase === 'progressing' || s.phase === 'paused') && s.step >= 0) {
    const st = s.spec.steps[s.step]!;
    if (s.fill !== st.fill || s.migrate !== st.migrate) errs.push('weights differ from the step');
  }
  if ((s.pausedAt !== null) !== (s.phase === 'paused')) errs.push('pausedAt inconsistent with phase');
  if ((s.abort !== null) !== (s.phase === 'aborted')) errs.push('abort inconsistent with phase');
  if (s.phase === 'promoted' && (s.fill !== 100 || s.migrate !== 100)) errs.push('promoted without 100/100');
  if ((s.stage === 'done') !== (s.doneAt !== null)) errs.push('doneAt inconsistent with stage');
  if (s.migrations.done < 0 || s.migrations.failed < 0) errs.push('negative counters');
  return errs;
}

/** A shadow run that has not recorded anything yet. */
export function emptyShadow(beforeStep: number): ShadowSummary {
  return {
    beforeStep,
    startedAt: 0,
    finishedAt: null,
    verdict: null,
    sessions: 0,
    turns: 0,
    failed: 0,
    divergent: 0,
    skipped: 0,
    results: [],
  };
}
