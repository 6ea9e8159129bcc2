/**
 * The steps phase of one simulated run: new sessions arrive (a Poisson process at the observed
 * rate), each routed to green when its bucket is below the step's `fill`; a step with `verify`
 * passes at the first gate evaluation that sees `minSessions` green sessions with a first turn
 * (gates are assumed to pass: the forecast is of the rollout that goes well), a step without
 * passes at the next reconcile pass. The drain starts when a step with `fill: 100` begins or at
 * promotion.
 */
import { EventHeap } from './heap';
import type { BehaviourModel } from './model';
import type { ForecastPlan } from './types';

export interface NewSession {
  createdAt: number;
  bucket: number;
  firstTurnAt: number;
}

export interface StepsRun {
  /** Absolute start time of each step that started. */
  stepStarts: number[];
  drainStart: number;
  promotedAt: number;
  /** New sessions that went to blue before the drain started. */
  newBlue: NewSession[];
  /** Why the steps never end in this run (onNoData pause/abort, no arrivals). */
  stuck: string | null;
}

/** Controller passes are on a grid from `origin`: the first pass strictly after `t`. */
export function passAfter(t: number, origin: number, passMs: number): number {
  if (!Number.isFinite(t)) return t;
  const j = Math.floor((t - origin) / passMs) + 1;
  return origin + Math.max(0, j) * passMs;
}

/** The first pass at or after `t`. */
export function passAtOrAfter(t: number, origin: number, passMs: number): number {
  if (!Number.isFinite(t)) return t;
  const j = Math.ceil((t - origin) / passMs);
  return origin + Math.max(0, j) * passMs;
}

const HORIZON_MS = 365 * 86_400_000;

export function simulateSteps(
  plan: ForecastPlan,
  model: BehaviourModel,
  arrivalsPerMs: number | null,
  now: number,
  rnd: () => number,
  /** Skip the looks that cannot change the outcome (false visits every look: the tests compare). */
  skipLooks = true,
): StepsRun {
  const P = plan.passMs;
  const arrivals: NewSession[] = [];
  let lastArrival = now;
  const arrivalsUntil = (t: number): void => {
    if (!arrivalsPerMs || arrivalsPerMs <= 0) return;
    while (lastArrival <= t) {
      lastArrival += -Math.log(1 - rnd()) / arrivalsPerMs;
      const bucket = rnd() * 100;
      const ft = model.firstTurn.sample(0, rnd).ms;
      arrivals.push({ createdAt: lastArrival, bucket, firstTurnAt: lastArrival + ft });
    }
  };
  const stepStarts: number[] = [];
  const fillAt: Array<{ from: number; fill: number }> = [];
  let drainStart = Infinity;
  let t = now;
  let stuck: string | null = null;
  let promotedAt = Infinity;
  for (let i = 0; i < plan.steps.length; i++) {
    const st = plan.steps[i]!;
    stepStarts.push(t);
    fillAt.push({ from: t, fill: st.fill });
    if (st.fill >= 100 && !Number.isFinite(drainStart)) drainStart = t;
    const v = st.verify;
    if (!v) {
      t = passAfter(t, now, P);
      continue;
    }
    if (v.minSessions > 0 && (!arrivalsPerMs || arrivalsPerMs <= 0)) {
      stuck = 'no new sessions observed: a step waiting for minSessions green sessions may never pass';
      break;
    }
    const S = t;
    let ext = 0;
    let passed = false;
    // green sessions with a first turn by the look at `e`, counted incrementally
    let seen = 0;
    let green = 0;
    const pending = new EventHeap<null>();
    for (let e = passAtOrAfter(S + v.minDuration, now, P); e - now < HORIZON_MS;) {
      arrivalsUntil(e);
      for (; seen < arrivals.length && arrivals[seen]!.createdAt <= e; seen++) {
        const a = arrivals[seen]!;
        if (a.bucket < fillOf(fillAt, a.createdAt) && Number.isFinite(a.firstTurnAt))
          pending.push(a.firstTurnAt, null);
      }
      for (let top = pending.pop(); top; top = pending.pop()) {
        if (top.t > e) {
          pending.push(top.t, null);
          break;
        }
        green++;
      }
      if (green >= v.minSessions) {
        t = e;
        passed = true;
        break;
      }
      if (e - S >= v.maxDuration * (1 + ext)) {
        if (plan.onNoData === 'pass') {
          t = e;
          passed = true;
          break;
        }
        if (plan.onNoData === 'extend') ext++;
        else {
          stuck = `step ${i + 1} would reach its maxDuration without ${v.minSessions} green sessions (onNoData: ${plan.onNoData})`;
          break;
        }
      }
      // the next look; looks before the next thing that can change the outcome (a pending first
      // turn, the next arrival, the maxDuration bound) see what this one saw, so they are skipped:
      // looks are on the pass grid, `step` apart, and the result is the same as visiting each
      const step = passAtOrAfter(e + v.interval, now, P) - e;
      const change = Math.min(
        pending.peekTime(),
        arrivals[seen]?.createdAt ?? Infinity,
        S + v.maxDuration * (1 + ext),
      );
      // nothing can change any more: every later look within the horizon would see the same
      if (!Number.isFinite(change) && skipLooks) break;
      e += skipLooks && change > e + step ? Math.ceil((change - e) / step) * step : step;
    }
    if (!passed) {
      stuck ??= `step ${i + 1} does not reach ${v.minSessions} green sessions within a year`;
      break;
    }
  }
  if (stuck === null) {
    promotedAt = t;
    if (!Number.isFinite(drainStart)) drainStart = t;
  }
  arrivalsUntil(Number.isFinite(drainStart) ? drainStart : now);
  const newBlue = arrivals.filter((a) => a.createdAt < drainStart && a.bucket >= fillOf(fillAt, a.createdAt));
  return { stepStarts, drainStart, promotedAt, newBlue, stuck };
}

function fillOf(fillAt: Array<{ from: number; fill: number }>, t: number): number {
  let f = 0;
  for (const x of fillAt) if (x.from <= t) f = x.fill;
  return f;
}
