/**
 * What any forecaster could reach, for the forecast benchmark's report: the oracle's columns and
 * targets (forecast/oracle.ts) and the indistinguishability bound of a rate-change pattern
 * against its stationary twin.
 */
import { atLeast, atMost, round, type Target } from '../lib';
import { PATTERNS, type Pattern } from './fleet';
import { mean, median, type OracleRow, type RunRow } from './score';

/** The oracle's columns (a cell whose drain the users decide) and the halfway re-forecast's. */
export function oracleCols(rows: RunRow[]): Record<string, unknown> {
  const o = rows.filter((r) => r.oracleStart).map((r) => r.oracleStart!);
  const d = rows.filter((r) => r.oracle).map((r) => r.oracle!);
  const h = rows.filter((r) => r.half).map((r) => r.half!);
  return {
    'oracle at start: drain err (p50 / best f)': o.length
      ? `${round(median(o.map((x) => x.p50.relErr)), 2)} / ${round(median(o.map((x) => x.best.relErr)), 2)}`
      : '-',
    'oracle at start: >p50': o.length ? round(mean(o.map((x) => x.p50.exceed)), 2) : '-',
    'oracle at start: <=p90': o.length ? round(mean(o.map((x) => x.p50.under90)), 2) : '-',
    'oracle at start: P(within 0.2)': o.length ? round(mean(o.map((x) => x.maxWithin)), 2) : '-',
    'oracle at drain-started: P(within 0.2)': d.length ? round(mean(d.map((x) => x.maxWithin)), 2) : '-',
    'halfway re-forecast err': h.length ? round(median(h.map((x) => x.relErr)), 2) : '-',
    'halfway re-forecast <=p90': h.length ? round(mean(h.map((x) => x.under90)), 2) : '-',
  };
}

/** A rate-change pattern's stationary twin: the same users and history, no change. */
function twinOf(p: Pattern): Pattern | undefined {
  return PATTERNS.find(
    (x) =>
      !x.slowdown &&
      x.user === p.user &&
      x.perMin === p.perMin &&
      x.warmupMin === p.warmupMin &&
      x.maxAgeMin === p.maxAgeMin &&
      x.onDeadline === p.onDeadline,
  );
}

/**
 * The indistinguishability bound for a rate-change pattern against its stationary twin: both
 * get the same forecast f (the store before the rollout is the same), their drains are A and kA,
 * and max(|f − A| / A, |f − kA| / kA) ≥ (k − 1) / (k + 1) for every f: where k > 1.5 no forecast
 * is within 0.20 of both.
 */
export function twinBound(
  label: string,
  slow: RunRow[],
  all: RunRow[],
  figures: Record<string, number | string>,
): Target[] {
  const pairs: Array<{ seed: number; equal: boolean; k: number; bound: number }> = [];
  for (const r of slow) {
    const p = PATTERNS.find((x) => x.name === r.pattern)!;
    const tw = twinOf(p);
    const t = tw && all.find((x) => x.pattern === tw.name && x.policy === r.policy && x.seed === r.seed);
    if (!t) continue;
    const k = r.a.drain / t.a.drain;
    pairs.push({ seed: r.seed, equal: r.digest === t.digest, k, bound: (k - 1) / (k + 1) });
  }
  if (!pairs.length) return [];
  const eq = pairs.filter((x) => x.equal).length;
  const possible = pairs.filter((x) => x.bound <= 0.2).length;
  figures[`${label} forecasts equal to the stationary twin's`] = `${eq}/${pairs.length}`;
  figures[`${label} k = actual drain / the twin's, per seed`] = pairs.map((x) => round(x.k, 2)).join(', ');
  figures[`${label} k, median (min)`] =
    `${round(median(pairs.map((x) => x.k)), 2)} (${round(Math.min(...pairs.map((x) => x.k)), 2)})`;
  figures[`${label} (k - 1) / (k + 1), median (min)`] =
    `${round(median(pairs.map((x) => x.bound)), 2)} (${round(Math.min(...pairs.map((x) => x.bound)), 2)})`;
  return [
    atLeast(
      `${label} premise: forecast equal to the stationary twin's (share of seeds)`,
      eq / pairs.length,
      1,
    ),
    {
      what:
        `${label} IMPOSSIBLE: seeds with k <= 1.5, where one forecast can be within 0.2 of both twins ` +
        `(elsewhere every forecast misses one twin by >= (k-1)/(k+1))`,
      value: round(possible / pairs.length),
      target: '>= 0.5 (needed to meet 0.2 on both twins)',
      met: possible / pairs.length >= 0.5,
    },
  ];
}

/** The oracle bound on a set of runs: no forecaster's expected share within 0.20 exceeds it. */
export function oracleTargets(label: string, rows: RunRow[]): Target[] {
  const out: Target[] = [];
  for (const [which, pick] of [
    ['at the rollout start', (r: RunRow) => r.oracleStart],
    ['at drain-started (knows more)', (r: RunRow) => r.oracle],
  ] as const) {
    const o = rows.map(pick).filter((x): x is OracleRow => x !== null);
    if (!o.length) continue;
    const within = mean(o.map((x) => x.maxWithin));
    out.push(
      atLeast(
        `${label} oracle ${which}, premise: its rules replay the actual drain from the real lives`,
        mean(o.map((x) => x.replayOk)),
        1,
      ),
      atLeast(
        `${label} oracle ${which}, premise: its p90 covers (calibrated)`,
        mean(o.map((x) => x.p50.under90)),
        0.85,
      ),
      {
        what:
          `${label} oracle ${which}: best chance of a forecast within 0.2 of the drain, mean over runs ` +
          `(IMPOSSIBLE for any forecaster when < 0.5)`,
        value: round(within),
        target: '>= 0.5 (needed for median error <= 0.2)',
        met: within >= 0.5,
      },
      atMost(
        `${label} oracle ${which}: median abs(p50 - actual) / actual`,
        median(o.map((x) => x.p50.relErr)),
        0.2,
      ),
      atLeast(`${label} oracle ${which}: runs with actual <= p90`, mean(o.map((x) => x.p50.under90)), 0.85),
    );
  }
  return out;
}
