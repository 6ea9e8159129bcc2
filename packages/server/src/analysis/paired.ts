/**
 * Paired gates of a shadow stage (docs/gates.md, "Paired gates"): each shadow turn gives a pair —
 * blue's recorded outcome and green's outcome on the same input and state. The unit of analysis
 * stays the session: per session, the mean of its paired differences (green − blue). Pure.
 */
import { ValidationError } from '@baton/core';
import {
  SHADOW_GATE_TESTS,
  type GateEvidence,
  type GateResult,
  type PairedTestName,
  type Verdict,
} from '@baton/core';
import { fmt } from './gate';
import { badSign, marginOf, parseTolerance, resolveDirection } from './tolerance';
import type { Direction, Tolerance } from './tolerance';
import { mean, summarize, variance } from './stats/describe';
import { phiInv } from './stats/normal';
import { wilson } from './stats/proportion';
import { mcNemar, pairedHodgesLehmann, signTest, wilcoxonSignedRank } from './stats/wilcoxon';

export const PAIRED_TESTS: readonly PairedTestName[] = SHADOW_GATE_TESTS;

/** Green-only rates of the shadow run, judged with `proportion` against an absolute limit. */
export const SHADOW_RATE_METRICS = ['shadow.divergence', 'shadow.error'] as const;

/** Paired metrics: numbers both arms of a pair carry. */
const PAIRED_PREFIXES = ['eval.', 'turn.', 'judge.', 'metric.'];

export interface ShadowGateSpec {
  name?: string;
  metric: string;
  test: PairedTestName;
  tolerance: number | string;
  direction?: Direction;
  critical?: boolean;
  /** Sessions with a pair before a verdict other than `nodata` (default 20). */
  minSamples?: number;
  alpha?: number;
}

/** One shadow turn's outcomes: metric values of blue's recorded turn and green's replay. */
export interface ShadowPair {
  sessionId: string;
  turnId: string;
  blue: Record<string, number>;
  green: Record<string, number>;
  /** Green's effects or tools diverged from blue's recording. */
  divergent: boolean;
  /** Green's shadow turn failed (no output to compare). */
  error: boolean;
}

interface PreparedShadowGate {
  spec: ShadowGateSpec;
  name: string;
  tol: Tolerance;
  direction: Direction;
  minSamples: number;
  alpha: number;
  critical: boolean;
}

export function isShadowRateMetric(metric: string): boolean {
  return (SHADOW_RATE_METRICS as readonly string[]).includes(metric);
}

/** Validate a shadow gate (VALIDATION naming the field in its details) and fill defaults. */
export function prepareShadowGate(spec: ShadowGateSpec): PreparedShadowGate {
  if (!PAIRED_TESTS.includes(spec.test))
    throw new ValidationError(`shadow gate '${spec.metric}': unknown test '${String(spec.test)}'`, {
      test: spec.test,
      known: PAIRED_TESTS,
    });
  const rate = isShadowRateMetric(spec.metric);
  if (!rate && !PAIRED_PREFIXES.some((p) => spec.metric.startsWith(p) && spec.metric.length > p.length))
    throw new ValidationError(
      `shadow gate '${spec.metric}': unknown metric (use eval.*, turn.*, judge.*, metric.*, shadow.divergence or shadow.error)`,
      { metric: spec.metric },
    );
  if (rate !== (spec.test === 'proportion'))
    throw new ValidationError(
      rate
        ? `shadow gate '${spec.metric}': a rate of the shadow run needs test 'proportion'`
        : `shadow gate '${spec.metric}': test 'proportion' is for shadow.divergence and shadow.error (paired metrics use wilcoxon, sign or mcnemar)`,
      { test: spec.test, metric: spec.metric },
    );
  const tol = parseTolerance(spec.tolerance);
  if (rate && tol.kind === 'relative')
    throw new ValidationError(
      `shadow gate '${spec.metric}': the limit of a rate is absolute (e.g. 0 or +2pp)`,
      {
        tolerance: spec.tolerance,
      },
    );
  const direction: Direction = rate
    ? 'lower-is-better'
    : resolveDirection(
        {
          tolerance: spec.tolerance,
          metric: spec.metric,
          ...(spec.direction ? { direction: spec.direction } : {}),
        },
        tol,
      );
  if (rate && spec.direction === 'higher-is-better')
    throw new ValidationError(`shadow gate '${spec.metric}': a rate of the shadow run is lower-is-better`, {
      direction: spec.direction,
    });
  const minSamples = spec.minSamples ?? 20;
  if (!Number.isInteger(minSamples) || minSamples < 1)
    throw new ValidationError(`shadow gate '${spec.metric}': minSamples must be a positive integer`, {
      minSamples,
    });
  const alpha = spec.alpha ?? 0.05;
  if (!(alpha > 0 && alpha < 1))
    throw new ValidationError(`shadow gate '${spec.metric}': alpha must be in (0, 1)`, { alpha });
  return {
    spec,
    name: spec.name ?? spec.metric,
    tol,
    direction,
    minSamples,
    alpha,
    critical: spec.critical ?? false,
  };
}

export interface SessionDifference {
  sessionId: string;
  /** Pairs of this session that carry the metric in both arms. */
  turns: number;
  blue: number;
  green: number;
  /** Mean of the paired differences green − blue. */
  diff: number;
}

/** Per session: the mean of blue's, green's and the paired differences of `metric` (sessions without a pair left out). */
export function sessionDifferences(metric: string, pairs: readonly ShadowPair[]): SessionDifference[] {
  const by = new Map<string, { n: number; b: number; g: number }>();
  for (const p of pairs) {
    const b = p.blue[metric];
    const g = p.green[metric];
    if (b === undefined || g === undefined || !Number.isFinite(b) || !Number.isFinite(g)) continue;
    const acc = by.get(p.sessionId) ?? { n: 0, b: 0, g: 0 };
    acc.n++;
    acc.b += b;
    acc.g += g;
    by.set(p.sessionId, acc);
  }
  return [...by.entries()]
    .map(([sessionId, a]) => ({
      sessionId,
      turns: a.n,
      blue: a.b / a.n,
      green: a.g / a.n,
      diff: (a.g - a.b) / a.n,
    }))
    .sort((x, y) => (x.sessionId < y.sessionId ? -1 : x.sessionId > y.sessionId ? 1 : 0));
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}

function result(p: PreparedShadowGate, verdict: Verdict, evidence: GateEvidence): GateResult {
  return { name: p.name, verdict, critical: p.critical, evidence };
}

/** Judge one shadow gate on the run's pairs. */
export function evaluateShadowGate(spec: ShadowGateSpec, pairs: readonly ShadowPair[]): GateResult {
  let p: PreparedShadowGate;
  try {
    p = prepareShadowGate(spec);
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    return {
      name: spec.name ?? spec.metric,
      verdict: 'inconclusive',
      critical: spec.critical ?? false,
      evidence: {
        test: spec.test,
        metric: spec.metric,
        nBlue: 0,
        nGreen: 0,
        blue: {},
        green: {},
        threshold: NaN,
        tolerance: spec.tolerance,
        direction: spec.direction ?? 'higher-is-better',
        reason: e.message,
      },
    };
  }
  if (isShadowRateMetric(spec.metric)) return rateGate(p, pairs);
  const diffs = sessionDifferences(spec.metric, pairs);
  const n = diffs.length;
  const d = diffs.map((x) => x.diff);
  const bMeans = diffs.map((x) => x.blue);
  const gMeans = diffs.map((x) => x.green);
  const s = badSign(p.direction);
  const margin = marginOf(p.tol, n > 0 ? mean(bMeans) : 0);
  const ev: GateEvidence = {
    test: spec.test,
    metric: spec.metric,
    nBlue: n,
    nGreen: n,
    blue: summarize(bMeans),
    green: summarize(gMeans),
    threshold: s * margin,
    tolerance: spec.tolerance,
    direction: p.direction,
    paired: { sessions: n, turns: diffs.reduce((a, x) => a + x.turns, 0) },
  };
  if (n < p.minSamples) {
    ev.reason = `fewer than ${p.minSamples} sessions with paired turns (${n})`;
    return result(p, 'nodata', ev);
  }
  const effect = mean(d);
  ev.effect = effect;
  const z = phiInv(1 - p.alpha / 2);
  if (spec.test === 'mcnemar') return mcNemarGate(p, diffs, ev, s, margin);
  const se = Math.sqrt(variance(d) / n);
  const ci: [number, number] = [effect - z * se, effect + z * se];
  ev.ci = ci;
  const hl = pairedHodgesLehmann(d, 1 - p.alpha);
  ev.paired!.hl = { estimate: hl.estimate, ci: hl.ci };
  let pValue: number;
  let greenWorse: boolean;
  let what: string;
  if (spec.test === 'wilcoxon') {
    const w = wilcoxonSignedRank(d);
    pValue = w.pValue;
    ev.statistic = w.wPlus;
    greenWorse = s * (w.wPlus - w.wMinus) > 0;
    what = `Wilcoxon W+=${fmt(w.wPlus)}`;
  } else {
    const t = signTest(d);
    pValue = t.pValue;
    ev.statistic = t.positive;
    Object.assign(ev.paired!, {
      better: s === 1 ? t.negative : t.positive,
      worse: s === 1 ? t.positive : t.negative,
      ties: t.zeros,
    });
    greenWorse = s * (t.positive - t.negative) > 0;
    what = `sign test ${t.positive} up / ${t.negative} down`;
  }
  ev.pValue = pValue;
  if (pValue < p.alpha && greenWorse && s * effect > margin) {
    ev.reason = `on the same turns green is significantly worse (${what}, two-sided p=${fmt(pValue)} < ${p.alpha}); mean paired difference ${fmt(effect)} is beyond the tolerated ${fmt(s * margin)}`;
    return result(p, 'fail', ev);
  }
  const badEnd = s === 1 ? ci[1] : ci[0];
  if (s * badEnd <= margin) {
    ev.reason = `the ${pct(1 - p.alpha)} CI of the mean paired difference [${fmt(ci[0])}, ${fmt(ci[1])}] is within the tolerated ${fmt(s * margin)}`;
    return result(p, 'pass', ev);
  }
  ev.reason = `undecided: ${what}, p=${fmt(pValue)}, mean paired difference ${fmt(effect)}, CI [${fmt(ci[0])}, ${fmt(ci[1])}]`;
  return result(p, 'inconclusive', ev);
}

/** McNemar on per-session 0/1 outcomes (a session's outcome in an arm: its mean ≥ 0.5). */
function mcNemarGate(
  p: PreparedShadowGate,
  diffs: SessionDifference[],
  ev: GateEvidence,
  s: 1 | -1,
  margin: number,
): GateResult {
  const n = diffs.length;
  const pairs = diffs.map((x) => [x.blue >= 0.5 ? 1 : 0, x.green >= 0.5 ? 1 : 0] as [number, number]);
  const m = mcNemar(pairs);
  const effect = (m.c - m.b) / n;
  const z = phiInv(1 - p.alpha / 2);
  const se = Math.sqrt(Math.max(0, m.b + m.c - (m.c - m.b) ** 2 / n)) / n;
  const ci: [number, number] = [effect - z * se, effect + z * se];
  ev.effect = effect;
  ev.ci = ci;
  ev.statistic = m.chiSquare;
  ev.pValue = m.pValue;
  ev.blue = { ...ev.blue, rate: pairs.filter((x) => x[0] === 1).length / n };
  ev.green = { ...ev.green, rate: pairs.filter((x) => x[1] === 1).length / n };
  const worse = s === 1 ? m.c : m.b;
  const better = s === 1 ? m.b : m.c;
  Object.assign(ev.paired!, { better, worse, ties: n - m.b - m.c });
  if (m.pValue < p.alpha && worse > better && s * effect > margin) {
    ev.reason = `McNemar: ${worse} sessions got worse on the same turns, ${better} better (exact p=${fmt(m.pValue)} < ${p.alpha}); rate difference ${fmt(effect)} beyond the tolerated ${fmt(s * margin)}`;
    return result(p, 'fail', ev);
  }
  const badEnd = s === 1 ? ci[1] : ci[0];
  if (s * badEnd <= margin) {
    ev.reason = `the ${pct(1 - p.alpha)} CI of the paired rate difference [${fmt(ci[0])}, ${fmt(ci[1])}] is within the tolerated ${fmt(s * margin)}`;
    return result(p, 'pass', ev);
  }
  ev.reason = `undecided: McNemar ${worse} worse / ${better} better, p=${fmt(m.pValue)}, CI [${fmt(ci[0])}, ${fmt(ci[1])}]`;
  return result(p, 'inconclusive', ev);
}

/**
 * A rate of the shadow run (`shadow.divergence`: sessions with any diverging turn; `shadow.error`:
 * sessions with a failed shadow turn) against an absolute limit L (the tolerance):
 * - fail: the rate exceeds L and the lower end of its Wilson (1 − α) interval is above L (with
 *   L = 0: any such session fails the gate);
 * - pass: the upper end of the interval is within L (with L = 0: no such session at all);
 * - inconclusive otherwise; nodata below minSamples sessions.
 */
function rateGate(p: PreparedShadowGate, pairs: readonly ShadowPair[]): GateResult {
  const by = new Map<string, boolean>();
  const pick =
    p.spec.metric === 'shadow.divergence' ? (x: ShadowPair) => x.divergent : (x: ShadowPair) => x.error;
  for (const x of pairs) by.set(x.sessionId, (by.get(x.sessionId) ?? false) || pick(x));
  const n = by.size;
  const events = [...by.values()].filter(Boolean).length;
  const limit = marginOf(p.tol, 0);
  const ev: GateEvidence = {
    test: 'proportion',
    metric: p.spec.metric,
    nBlue: 0,
    nGreen: n,
    blue: {},
    green: { rate: n > 0 ? events / n : NaN, events },
    threshold: limit,
    tolerance: p.spec.tolerance,
    direction: 'lower-is-better',
    paired: { sessions: n, turns: pairs.length },
  };
  if (n < p.minSamples) {
    ev.reason = `fewer than ${p.minSamples} sessions replayed (${n})`;
    return result(p, 'nodata', ev);
  }
  const rate = events / n;
  const ci = wilson(events, n, 1 - p.alpha);
  ev.effect = rate;
  ev.ci = ci;
  const label = p.spec.metric === 'shadow.divergence' ? 'diverged from blue' : 'failed';
  if (rate > limit && (limit === 0 || ci[0] > limit)) {
    ev.reason = `${events} of ${n} sessions ${label} (rate ${fmt(rate)}, CI [${fmt(ci[0])}, ${fmt(ci[1])}]) above the limit ${fmt(limit)}`;
    return result(p, 'fail', ev);
  }
  if (limit === 0 ? events === 0 : ci[1] <= limit) {
    ev.reason = `${events} of ${n} sessions ${label}: within the limit ${fmt(limit)}`;
    return result(p, 'pass', ev);
  }
  ev.reason = `undecided: ${events} of ${n} sessions ${label}, CI [${fmt(ci[0])}, ${fmt(ci[1])}] reaches beyond the limit ${fmt(limit)}`;
  return result(p, 'inconclusive', ev);
}
