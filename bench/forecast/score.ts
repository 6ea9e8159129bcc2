/** The forecast benchmark's scoring: one run reduced to what the report needs, and its scores. */
import type { OracleRun } from './oracle';
import type { Policy } from './fleet';
import type { Reforecast } from './run';

// ---- scoring --------------------------------------------------------------------------------

export interface Score {
  relErr: number;
  /** 1 when actual > p50, 0.5 on a tie, 0 below. */
  exceed: number;
  under90: number;
}

export function score(p50: number | null, p90: number | null, actual: number): Score {
  if (!Number.isFinite(actual)) return { relErr: Infinity, exceed: 1, under90: 0 };
  const f50 = p50 ?? Infinity;
  const f90 = p90 ?? Infinity;
  return {
    relErr: actual > 0 ? Math.abs(f50 - actual) / actual : f50 === 0 ? 0 : Infinity,
    exceed: actual > f50 ? 1 : actual === f50 ? 0.5 : 0,
    under90: actual <= f90 ? 1 : 0,
  };
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** One run, reduced to what the report needs (sent from a child process). */
export interface RunRow {
  pattern: string;
  policy: Policy;
  seed: number;
  open: number;
  low: boolean;
  steps: Score;
  drain: Score;
  stragWithin: number;
  a: { steps: number; drain: number; strag: number };
  f: { steps: number; drain: number; strag: number; drainP90: number };
  turns: number;
  errors: number;
  /** sha256 of the whole forecast: twins (same seed, same history) must match. */
  digest: string;
  /** The oracle's drain forecast on this run (see forecast/oracle.ts), where it applies. */
  oracle: OracleRow | null;
  /** The oracle at the rollout's start (the fleet then, the true process, the controller's rules). */
  oracleStart: OracleRow | null;
  /** The re-forecast closest to halfway through the actual drain, scored against it. */
  half: (Score & { elapsed: number }) | null;
}

export interface OracleRow {
  p50: Score;
  best: Score;
  maxWithin: number;
  replayOk: number;
}

export function oracleRow(o: OracleRun | null, actual: number, replayOk: boolean): OracleRow | null {
  return o
    ? {
        p50: score(o.p50, o.p90, actual),
        best: score(o.best, o.p90, actual),
        maxWithin: o.maxWithin,
        replayOk: replayOk ? 1 : 0,
      }
    : null;
}

/** The re-forecast made closest to halfway through a drain of `actual` ms (before it ends). */
export function halfway(rs: Reforecast[], actual: number): (Score & { elapsed: number }) | null {
  let best: Reforecast | null = null;
  for (const x of rs)
    if (
      x.elapsed < actual &&
      (!best || Math.abs(x.elapsed - actual / 2) < Math.abs(best.elapsed - actual / 2))
    )
      best = x;
  return best ? { ...score(best.p50, best.p90, actual), elapsed: best.elapsed } : null;
}
