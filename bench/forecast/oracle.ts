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
import type { R } from './fleet';

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

export interface OracleRun {
  p50: number;
  p90: number;
  /** The forecast maximising P(|f − D| / D ≤ 0.2) under the oracle's distribution, and that chance. */
  best: number;
  maxWithin: number;
  /** The drain the oracle's rule gives with the real end times (must equal the actual drain). */
  replay: number;
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
  return {
    p50: q(0.5),
    p90: q(0.9),
    best,
    maxWithin,
    replay: drainOf(Math.max(start, ...kept.map((s) => s.endedAt))),
  };
}
