/**
 * The drain forecaster: pure and seeded. From the live blue population, the agent's recent
 * behaviour (an empirical survival model of next-turn, session-end and callback times; see
 * `model.ts`), the measured eager-migration rate and the rollout's plan, it simulates the
 * rollout forward `runs` times (`steps.ts`, then `drain.ts`) and reports p50 and p90 of the
 * steps phase, the drain, and where the sessions go. No I/O: `rollout/forecast-input.ts`
 * gathers the input from the store.
 */
import { BehaviourModel } from './model';
import { simulateDrain, setupFromSteps, type DrainRun, type DrainSetup } from './drain';
import { passAtOrAfter, simulateSteps, type StepsRun } from './steps';
import { seededRandom } from './survival';
import type { DrainForecast, ForecastInput, ForecastSession, Quantiles, StragglerReason } from './types';

export interface ForecastOptions {
  runs?: number;
  seed?: number;
}

/** Fewer observations than this make the forecast low-confidence. */
export const MIN_OBSERVATIONS = 30;

export const REASONS: StragglerReason[] = ['mid-turn', 'waiting', 'idle-not-due', 'idle-no-eager'];

/** Quantile (nearest rank) of values that may be Infinity. */
function q(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[idx]!;
}

export function quantiles(values: number[], never?: number[], what = 'never leave blue'): Quantiles {
  if (values.length === 0) return { p50: null, p90: null };
  const sorted = [...values].sort((a, b) => a - b);
  const p50 = q(sorted, 0.5);
  const p90 = q(sorted, 0.9);
  const out: Quantiles = {
    p50: Number.isFinite(p50) ? Math.round(p50) : null,
    p90: Number.isFinite(p90) ? Math.round(p90) : null,
  };
  if (!Number.isFinite(p90)) {
    const n = never
      ? q(
          [...never].sort((a, b) => a - b),
          0.5,
        )
      : 0;
    out.unbounded = {
      p50: !Number.isFinite(p50),
      p90: true,
      sessions: n,
      message: `unbounded: ${n} session(s) ${what}`,
    };
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? q(s, 0.5) : 0;
}

const NULL_Q: Quantiles = { p50: null, p90: null };

/**
 * The simulated events a forecast may cost in all (new sessions drawn by the steps phase, open
 * sessions followed through the drain): a rollout waiting for 100,000 green sessions, or a fleet of
 * 100,000 open sessions, gets fewer runs (never under MIN_BUDGET_RUNS) instead of a forecast that
 * takes minutes. Deterministic: it depends on the input only, so a seed still gives one answer.
 */
export const WORK_BUDGET = 500_000;
export const MIN_BUDGET_RUNS = 20;

/** The events one simulated run costs, about: new sessions until every step's minSessions, plus the open ones. */
export function workPerRun(input: ForecastInput): number {
  let arrivals = 0;
  if (input.start.kind === 'before')
    for (const st of input.plan.steps)
      if (st.verify && st.verify.minSessions > 0)
        arrivals += (st.verify.minSessions / Math.max(st.fill, 1)) * 100;
  return arrivals + input.sessions.length;
}

export function forecastDrain(input: ForecastInput, opts: ForecastOptions = {}): DrainForecast {
  const asked = Math.max(1, Math.min(2000, opts.runs ?? 200));
  const perRun = workPerRun(input);
  const runs = Math.min(asked, Math.max(MIN_BUDGET_RUNS, Math.floor(WORK_BUDGET / Math.max(perRun, 1))));
  const seed = opts.seed ?? 1;
  const { plan, history, now } = input;
  const model = new BehaviourModel(history);
  const notes: string[] = [];
  if (runs < asked)
    notes.push(
      `${runs} simulated runs instead of ${asked}: each would follow about ${Math.round(perRun)} sessions (a wider error)`,
    );
  let low = false;
  if (!model.hasTurnHistory) {
    low = true;
    notes.push('no turn history for this agent: nothing to estimate turn and end times from');
  } else if (model.afterTurnCount < MIN_OBSERVATIONS) {
    low = true;
    notes.push(`only ${model.afterTurnCount} observed turn(s) (< ${MIN_OBSERVATIONS}): wide error`);
  }
  const needsArrivals =
    input.start.kind === 'before' && plan.steps.some((s) => s.verify && s.verify.minSessions > 0);
  if (needsArrivals && !history.arrivalsPerMs) {
    low = true;
    notes.push('no new sessions observed: the time steps wait for minSessions cannot be estimated');
  }
  if (input.eagerRatePerMs === null && plan.eager) {
    notes.push(`no measured eager-migration rate: assuming one batch of 200 per pass`);
  } else if (input.eagerRateSource === 'preflight')
    notes.push(
      'eager rate from timing the pre-flight dry-run (no rollout has recorded one yet; it omits the writes)',
    );
  const base: DrainForecast = {
    model: 'empirical-survival-monte-carlo/1',
    at: now,
    runs,
    seed,
    confidence: low ? 'low' : 'normal',
    notes,
    start: input.start.kind,
    openOnBlue: input.sessions.length,
    steps: NULL_Q,
    drain: NULL_Q,
    sessions: {
      newOnBlue: NULL_Q,
      finishOnBlue: NULL_Q,
      migrateLazily: NULL_Q,
      migrateEagerly: NULL_Q,
      stragglers: NULL_Q,
      stragglersWhy: { 'mid-turn': 0, waiting: 0, 'idle-not-due': 0, 'idle-no-eager': 0 },
    },
    inputs: {
      afterTurnObservations: model.afterTurnCount,
      waitObservations: history.waits.length,
      arrivalsPerMinute: history.arrivalsPerMs !== null ? round3(history.arrivalsPerMs * 60_000) : null,
      eagerPerSecond: input.eagerRatePerMs !== null ? round3(input.eagerRatePerMs * 1000) : null,
      eagerRateSource: input.eagerRateSource,
    },
  };
  // nothing to move and no steps to wait for: an honest zero, whatever the history
  const trivial = input.sessions.length === 0 && !needsArrivals;
  if (!trivial && (!model.hasTurnHistory || (needsArrivals && !history.arrivalsPerMs))) return base;

  const rnd = seededRandom(seed);
  const sessions = canonicalOrder(input.sessions);
  const stepsMs: number[] = [];
  const drainMs: number[] = [];
  const remainingMs: number[] = [];
  const never: number[] = [];
  const cols = {
    newOnBlue: [] as number[],
    finish: [] as number[],
    lazy: [] as number[],
    eager: [] as number[],
  };
  const strag: number[] = [];
  const why: Record<StragglerReason, number[]> = {
    'mid-turn': [],
    waiting: [],
    'idle-not-due': [],
    'idle-no-eager': [],
  };
  const stuckReasons = new Set<string>();
  for (let r = 0; r < runs; r++) {
    let setup: DrainSetup;
    let newBlue: StepsRun['newBlue'] = [];
    if (input.start.kind === 'before') {
      const st = simulateSteps(plan, model, arrivalRate(history, rnd), now, rnd);
      if (st.stuck) {
        // the steps never end in this run: there is no drain to simulate
        stuckReasons.add(st.stuck);
        stepsMs.push(Infinity);
        drainMs.push(Infinity);
        never.push(0);
        continue;
      }
      newBlue = st.newBlue;
      setup = setupFromSteps(plan, model, now, input.eagerRatePerMs, st);
      stepsMs.push(st.drainStart - now);
    } else {
      const d = input.start;
      const deadline = d.startedAt + plan.drainDeadlineMs;
      setup = {
        plan,
        model,
        now,
        origin: now,
        eagerRatePerMs: input.eagerRatePerMs,
        migrateAt: [{ from: now, percent: d.migrate }],
        deadlinePassedAt: deadline <= now ? now : passAtOrAfter(deadline, now, plan.passMs),
        drainStart: d.startedAt,
        // a drain that started during the steps completes after promotion: assumed at once
        promotedAt: now,
      };
      stepsMs.push(0);
    }
    const run: DrainRun = simulateDrain(setup, sessions, newBlue, rnd);
    drainMs.push(run.completeAt - setup.drainStart);
    remainingMs.push(run.completeAt - now);
    never.push(run.never);
    cols.newOnBlue.push(newBlue.length);
    cols.finish.push(run.finishOnBlue);
    cols.lazy.push(run.lazy);
    cols.eager.push(run.eager);
    if (run.stragglers) {
      let n = 0;
      for (const k of REASONS) {
        why[k].push(run.stragglers[k]);
        n += run.stragglers[k];
      }
      strag.push(n);
    }
  }
  for (const s of stuckReasons) notes.push(s);
  base.steps = quantiles(stepsMs, undefined, 'steps never end');
  if (base.steps.unbounded)
    base.steps.unbounded.message = [...stuckReasons][0] ?? base.steps.unbounded.message;
  base.drain = quantiles(drainMs, never);
  const stuck = [...stuckReasons][0];
  if (stuck && base.drain.unbounded)
    base.drain.unbounded.message = `unbounded: the steps may never end (${stuck})`;
  if (input.start.kind === 'draining') base.remaining = quantiles(remainingMs, never);
  base.sessions = {
    newOnBlue: quantiles(cols.newOnBlue),
    finishOnBlue: quantiles(cols.finish),
    migrateLazily: quantiles(cols.lazy),
    migrateEagerly: quantiles(cols.eager),
    stragglers: strag.length ? quantiles(strag) : NULL_Q,
    stragglersWhy: {
      'mid-turn': median(why['mid-turn']),
      waiting: median(why.waiting),
      'idle-not-due': median(why['idle-not-due']),
      'idle-no-eager': median(why['idle-no-eager']),
    },
  };
  return base;
}

/**
 * The arrival rate of one run: the estimate's uncertainty is part of the forecast, so each run
 * draws the rate from its posterior given the sessions counted (Gamma(n, window)).
 */
function arrivalRate(h: ForecastInput['history'], rnd: () => number): number | null {
  const rate = h.arrivalsPerMs;
  const n = h.arrivalsSeen;
  if (!rate || !n || n < 1) return rate;
  let g = 0;
  if (n <= 50) for (let i = 0; i < n; i++) g -= Math.log(1 - rnd());
  else {
    // normal approximation of Gamma(n, 1)
    const z = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    g = Math.max(1, n + Math.sqrt(n) * z);
  }
  return (rate * g) / n;
}

/**
 * The open sessions in an order of what they are, not of their ids: the store lists them by id,
 * and ids are random, so without it the same fleet (same ages, turns, waits) would draw its runs
 * in another order and get a slightly different forecast.
 */
export function canonicalOrder(ss: readonly ForecastSession[]): ForecastSession[] {
  const st = { idle: 0, running: 1, waiting: 2 } as const;
  return [...ss].sort(
    (a, b) =>
      a.createdAt - b.createdAt ||
      a.lastTurnAt - b.lastTurnAt ||
      a.turns - b.turns ||
      st[a.status] - st[b.status] ||
      (a.wait?.deadline ?? 0) - (b.wait?.deadline ?? 0) ||
      (a.wait?.createdAt ?? 0) - (b.wait?.createdAt ?? 0) ||
      a.bucket - b.bucket,
  );
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
