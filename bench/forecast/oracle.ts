/**
 * The forecast benchmark's oracle: what the best possible drain forecast could reach on a run.
 *
 * It knows more than any forecaster can: the true generating process of the simulated users
 * (`Pattern.endGiven`, the generator itself conditioned on what a session has done), the exact
 * fleet at `drain-started` (each session blue keeps, with its creation and turn times up to
 * then) and which sessions blue keeps to their end. From that it draws the drain by Monte-Carlo:
 * the pass after the last kept session ends, counted from `drain-started`. A forecaster that
 * reads the store before the rollout knows a subset of this, so on every run its chance of
 * landing within 20% of the actual is at most the oracle's best chance (`maxWithin`).
 */
import { rng } from '../lib';
import { exp, MIN, specOf, type Pattern, type Policy, type R } from './fleet';

/** The controller's first pass strictly after `t` on the grid from `origin`. */
function passAfter(t: number, origin: number, passMs: number): number {
  return origin + Math.max(0, Math.floor((t - origin) / passMs) + 1) * passMs;
}

export interface KeptSession {
  createdAt: number;
  /** Turn times up to `drain-started`. */
  turns: number[];
  /** The real end (for the replay check). */
  endedAt: number;
}

/** What one simulated user did in a run: creation, turn times, end and the versions. */
export interface Life {
  createdAt: number;
  createdOn: string;
  turns: number[];
  endedAt: number;
  endedOn: string | null;
}

export interface OracleRun {
  p50: number;
  p90: number;
  /** The forecast maximising P(|f − D| / D ≤ 0.2) under the oracle's distribution, and that chance. */
  best: number;
  maxWithin: number;
  /** The drain the oracle's rule gives with the real end times (must equal the actual drain). */
  replay: number;
}

/** Quantiles of drain samples and the forecast with the best chance of landing within 20%. */
function summarise(ds: number[]): Omit<OracleRun, 'replay'> {
  ds.sort((a, b) => a - b);
  const q = (p: number) => ds[Math.min(ds.length - 1, Math.max(0, Math.ceil(p * ds.length) - 1))]!;
  // |f − D| ≤ 0.2 D  ⇔  f / 1.2 ≤ D ≤ f / 0.8: a window [L, 1.5 L] of D; f = 1.2 L
  let best = q(0.5);
  let maxWithin = 0;
  let hi = 0;
  for (let lo = 0; lo < ds.length; lo++) {
    const L = ds[lo]!;
    if (L <= 0) continue;
    if (hi < lo) hi = lo;
    while (hi < ds.length && ds[hi]! <= 1.5 * L) hi++;
    const p = (hi - lo) / ds.length;
    if (p > maxWithin) {
      maxWithin = p;
      best = 1.2 * L;
    }
  }
  return { p50: q(0.5), p90: q(0.9), best, maxWithin };
}

/** One world from the rollout's start: each session's creation, first turn, end, version. */
type World = Array<{ createdAt: number; firstTurn: number; end: number; green: boolean }>;

/**
 * The controller's rules for the benchmark's spec (`specOf`): step 1 sends `fill`% of new
 * sessions to green and its gate looks one pass after the start, then every `interval`, passing
 * at the first look with `minSessions` green sessions that had a turn; step 2 (fill 100,
 * migrate 100) starts the drain at that look. Blue keeps, under `finish-on-origin`, every blue
 * session open then; under `max-age`, those at least `maxAge` old one pass later (the younger
 * ones move at the first pass). The drain completes at the pass after the last kept one ends.
 */
function drainOfWorld(
  w: World,
  policy: Policy,
  origin: number,
  passMs: number,
  p: Pattern,
): { steps: number; drain: number } {
  const v = specOf(p, policy).steps[0]!.verify!;
  const interval = 30_000;
  const firstTurns = w
    .filter((x) => x.green && x.createdAt >= origin && Number.isFinite(x.firstTurn))
    .map((x) => x.firstTurn)
    .sort((a, b) => a - b);
  // the look that sees the minSessions-th green first turn
  const nth = firstTurns[v.minSessions - 1] ?? Infinity;
  const first = origin + passMs;
  const T0 = nth <= first ? first : first + Math.ceil((nth - first) / interval) * interval;
  const maxAge = policy === 'max-age' ? p.maxAgeMin * MIN : 0;
  let last = T0;
  for (const x of w)
    if (!x.green && x.createdAt < T0 && x.end > T0 && T0 + passMs - x.createdAt >= maxAge)
      last = Math.max(last, x.end);
  return { steps: T0 - origin, drain: passAfter(last, origin, passMs) - T0 };
}

/**
 * The oracle at the rollout's start: the fleet open then (each session's creation and turns so
 * far), the true user process (arrivals, each new session's whole life, the ends of the open
 * ones given what they did) and the controller's rules; not the session ids (which new session
 * goes green is a coin with the fill's odds). `replaySteps` is 1 when the same rules on the real
 * lives give the actual steps phase and drain (the premise).
 */
export function oracleFromStart(
  life: Life[],
  p: Pattern,
  policy: Policy,
  origin: number,
  passMs: number,
  seed: number,
  actual: { steps: number; drain: number },
  draws = 2000,
): OracleRun & { replaySteps: number } {
  const r = rng(seed * 15_485_863 + 11);
  const open = life.filter((l) => l.createdAt <= origin && l.endedAt > origin);
  const perMs = p.perMin / MIN;
  const fill = specOf(p, policy).steps[0]!.fill;
  const horizon = origin + 20 * MIN;
  const ds: number[] = [];
  for (let i = 0; i < draws; i++) {
    const w: World = [];
    for (const l of open)
      w.push({
        createdAt: l.createdAt,
        firstTurn: l.turns[0] ?? Infinity,
        end: p.endGiven!(
          l.createdAt,
          l.turns.filter((x) => x <= origin),
          origin,
          r,
        ),
        green: false,
      });
    for (let t = origin + exp(r, 1 / perMs); t < horizon; t += exp(r, 1 / perMs)) {
      const acts = p.user(r);
      const ft = acts.find((a) => a.kind === 'turn');
      const end = acts.find((a) => a.kind === 'end');
      w.push({
        createdAt: t,
        firstTurn: ft ? t + ft.at : Infinity,
        end: end ? t + end.at : Infinity,
        green: r() * 100 < fill,
      });
    }
    ds.push(drainOfWorld(w, policy, origin, passMs, p).drain);
  }
  const real: World = life.map((l) => ({
    createdAt: l.createdAt,
    firstTurn: l.turns[0] ?? Infinity,
    end: l.endedAt,
    green: l.createdOn !== 'v1',
  }));
  const rep = drainOfWorld(real, policy, origin, passMs, p);
  return {
    ...summarise(ds),
    replay: rep.drain,
    replaySteps: rep.steps === actual.steps && rep.drain === actual.drain ? 1 : 0,
  };
}

/** Samples of the drain (ms from `start`) and the summary above. */
export function oracleDrain(
  kept: KeptSession[],
  start: number,
  origin: number,
  passMs: number,
  endGiven: (createdAt: number, turns: number[], now: number, r: R) => number,
  seed: number,
  draws = 4000,
): OracleRun {
  const r = rng(seed * 104_729 + 3);
  const drainOf = (lastEnd: number) => passAfter(Math.max(lastEnd, start), origin, passMs) - start;
  const ds: number[] = [];
  for (let i = 0; i < draws; i++) {
    let last = start;
    for (const s of kept) last = Math.max(last, endGiven(s.createdAt, s.turns, start, r));
    ds.push(drainOf(last));
  }
  return {
    ...summarise(ds),
    replay: drainOf(Math.max(start, ...kept.map((s) => s.endedAt))),
  };
}
