/**
 * `evaluateGate`: turns a GateSpec and two cohorts of session aggregates into a verdict
 * with its evidence. Verdict rules per test are documented at each function and in
 * docs/gates.md.
 */
import {
  GATE_TESTS,
  ValidationError,
  type GateEvaluator,
  type GateEvidence,
  type GateInput,
  type GateResult,
  type GateSpec,
  type GateTestName,
  type SessionAggregate,
  type Verdict,
} from '@baton/core';
import {
  categoricalSamples,
  metricKind,
  metricSamples,
  type CensoringPolicy,
  type MetricSamples,
} from './metrics';
import {
  badSign,
  marginOf,
  parseTolerance,
  resolveDirection,
  type Direction,
  type Tolerance,
} from './tolerance';
import { mean, summarize, variance } from './stats/describe';
import { hodgesLehmann, mannWhitneyU } from './stats/mannWhitney';
import { phiInv } from './stats/normal';
import { twoProportionTest } from './stats/proportion';
import { chiSquareHomogeneity, mergeSparse, OTHER, totalVariation } from './stats/chiSquare';
import { SequentialJudge } from './stats/msprt';

export const DEFAULT_MIN_SAMPLES = 20;
export const DEFAULT_ALPHA = 0.05;

const TESTS: readonly GateTestName[] = GATE_TESTS;

/** Default power of `sprt` at its margin. */
export const DEFAULT_SPRT_POWER = 0.8;

/**
 * The core GateSpec; `censoring` (see metrics.ts) and `tau` (see msprt.ts) are read here, and
 * for `sprt` (see sprt.ts) `power` (1 − β at the margin, default 0.8) and `maxSamples`
 * (truncation, sessions per arm; default twice the fixed-horizon n at the current variance).
 */
export type AnalysisGateSpec = GateSpec & {
  censoring?: CensoringPolicy;
  power?: number;
  maxSamples?: number;
};

interface Prepared {
  spec: AnalysisGateSpec;
  name: string;
  test: GateTestName;
  tol: Tolerance;
  direction: Direction;
  minSamples: number;
  alpha: number;
  critical: boolean;
}

/** Validate a gate spec (throws VALIDATION) and fill defaults. Pure; usable when a rollout spec is accepted. */
export function prepareGate(spec: AnalysisGateSpec): Prepared {
  if (!spec || typeof spec !== 'object') throw new ValidationError('gate spec must be an object');
  if (typeof spec.metric !== 'string' || spec.metric.length === 0) {
    throw new ValidationError('gate metric must be a non-empty string', { metric: spec.metric as unknown });
  }
  if (!TESTS.includes(spec.test)) {
    throw new ValidationError(`gate '${spec.metric}': unknown test '${String(spec.test)}'`, {
      test: spec.test,
      known: TESTS,
    });
  }
  const kind = metricKind(spec.metric);
  if (spec.test === 'chi-square' && kind !== 'categorical') {
    throw new ValidationError(
      `gate '${spec.metric}': chi-square needs a categorical metric (session.tool_mix)`,
      {
        metric: spec.metric,
      },
    );
  }
  if (spec.test !== 'chi-square' && kind === 'categorical') {
    throw new ValidationError(`gate '${spec.metric}': a categorical metric needs test 'chi-square'`, {
      metric: spec.metric,
      test: spec.test,
    });
  }
  if (spec.test === 'proportion' && kind !== 'proportion') {
    throw new ValidationError(
      `gate '${spec.metric}': test 'proportion' needs a 0/1 metric such as session.thumbs_down`,
      {
        metric: spec.metric,
      },
    );
  }
  const tol = parseTolerance(spec.tolerance);
  // chi-square has no sign: the distance between two mixes can only grow.
  const direction = spec.test === 'chi-square' ? 'lower-is-better' : resolveDirection(spec, tol);
  const minSamples = spec.minSamples ?? DEFAULT_MIN_SAMPLES;
  if (!Number.isInteger(minSamples) || minSamples < 1) {
    throw new ValidationError(`gate '${spec.metric}': minSamples must be a positive integer`, { minSamples });
  }
  const alpha = spec.alpha ?? DEFAULT_ALPHA;
  if (!(alpha > 0 && alpha < 1)) {
    throw new ValidationError(`gate '${spec.metric}': alpha must be in (0, 1)`, { alpha });
  }
  if (spec.threshold !== undefined && !Number.isFinite(spec.threshold)) {
    throw new ValidationError(`gate '${spec.metric}': threshold must be a finite number`, {
      threshold: spec.threshold,
    });
  }
  if (spec.censoring !== undefined && spec.censoring !== 'partial' && spec.censoring !== 'completed') {
    throw new ValidationError(`gate '${spec.metric}': censoring must be 'partial' or 'completed'`, {
      censoring: spec.censoring,
    });
  }
  if (spec.tau !== undefined && !(spec.tau > 0 && Number.isFinite(spec.tau))) {
    throw new ValidationError(`gate '${spec.metric}': tau must be a positive number`, { tau: spec.tau });
  }
  if (spec.power !== undefined && !(spec.power > 0 && spec.power < 1 && spec.power > alpha / 2)) {
    throw new ValidationError(`gate '${spec.metric}': power must be in (alpha/2, 1)`, { power: spec.power });
  }
  if (
    spec.maxSamples !== undefined &&
    !(Number.isInteger(spec.maxSamples) && spec.maxSamples >= minSamples)
  ) {
    throw new ValidationError(`gate '${spec.metric}': maxSamples must be an integer >= minSamples`, {
      maxSamples: spec.maxSamples,
      minSamples,
    });
  }
  if (spec.test === 'sprt' && tol.value === 0) {
    throw new ValidationError(
      `gate '${spec.metric}': test 'sprt' needs a nonzero tolerance (its alternative: the regression to catch)`,
      { tolerance: spec.tolerance },
    );
  }
  return {
    spec,
    name: spec.name ?? spec.metric,
    test: spec.test,
    tol,
    direction,
    minSamples,
    alpha,
    critical: spec.critical ?? false,
  };
}

function result(p: Prepared, verdict: Verdict, evidence: GateEvidence): GateResult {
  return { name: p.name, verdict, critical: p.critical, evidence };
}

function baseEvidence(p: Prepared, b: MetricSamples, g: MetricSamples): GateEvidence {
  return {
    test: p.test,
    metric: p.spec.metric,
    nBlue: b.values.length,
    nGreen: g.values.length,
    blue: { ...summarize(b.values), openIncluded: b.openIncluded, openExcluded: b.openExcluded },
    green: { ...summarize(g.values), openIncluded: g.openIncluded, openExcluded: g.openExcluded },
    // The signed margin; refined by each test. Unknown (NaN) only for a relative tolerance
    // while blue has no data yet.
    threshold:
      p.tol.kind !== 'relative' || b.values.length > 0
        ? badSign(p.direction) * marginOf(p.tol, b.values.length > 0 ? mean(b.values) : 0)
        : NaN,
    tolerance: p.spec.tolerance,
    direction: p.direction,
    censored: { blue: b.censored, green: g.censored },
  };
}

/**
 * `threshold`: a plain comparison of means, no statistics.
 * - with `spec.threshold`: green's mean must not be beyond it in the bad direction;
 * - otherwise: green's mean must not be worse than blue's mean by more than the tolerance.
 * `nodata` while green (and, without an absolute threshold, blue) has fewer than minSamples.
 */
function thresholdGate(p: Prepared, blue: SessionAggregate[], green: SessionAggregate[]): GateResult {
  const b = metricSamples(p.spec.metric, blue, { censoring: p.spec.censoring });
  const g = metricSamples(p.spec.metric, green, { censoring: p.spec.censoring });
  const ev = baseEvidence(p, b, g);
  const s = badSign(p.direction);
  const absolute = p.spec.threshold !== undefined;
  const needBlue = !absolute;
  if (g.values.length < p.minSamples || (needBlue && b.values.length < p.minSamples)) {
    ev.reason = `fewer than ${p.minSamples} sessions (blue ${b.values.length}, green ${g.values.length})`;
    if (absolute) ev.threshold = p.spec.threshold!;
    return result(p, 'nodata', ev);
  }
  const mg = mean(g.values);
  const mb = b.values.length > 0 ? mean(b.values) : NaN;
  if (Number.isFinite(mb)) ev.effect = mg - mb;
  if (absolute) {
    const limit = p.spec.threshold!;
    ev.threshold = limit;
    const bad = s * (mg - limit) > 0;
    ev.reason = `green mean ${fmt(mg)} ${bad ? 'is beyond' : 'respects'} the limit ${fmt(limit)} (${p.direction})`;
    return result(p, bad ? 'fail' : 'pass', ev);
  }
  const margin = marginOf(p.tol, mb);
  ev.threshold = s * margin;
  const effect = mg - mb;
  const bad = s * effect > margin;
  ev.reason = `green − blue = ${fmt(effect)} ${bad ? 'exceeds' : 'is within'} the tolerated ${fmt(s * margin)} (${p.direction})`;
  return result(p, bad ? 'fail' : 'pass', ev);
}

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? x.toExponential(3) : String(Math.round(x * 1e4) / 1e4);
}

/**
 * `mann-whitney` (distributions; Kayenta style: significance from the rank test, magnitude in
 * the metric's units). With s = +1 when an increase is bad (−1 otherwise), δ the margin from
 * the tolerance, d = mean_green − mean_blue:
 * - fail: the two-sided Mann-Whitney test (tie-corrected, continuity-corrected normal
 *   approximation; exact for small samples, given their ties) rejects at level α with green on the
 *   worse side (i.e. the one-sided test in the bad direction at α/2), and the estimated
 *   effect is beyond the margin (s·d > δ);
 * - pass: not fail, and the worse end of the two-sided (1 − α) confidence interval of d
 *   (Welch standard error, normal quantile) is within the margin: s·(bad end) ≤ δ;
 * - inconclusive otherwise; nodata below minSamples in either arm.
 * The effect is judged on the mean difference, not on the Hodges-Lehmann shift, because
 * per-session metrics are often discrete (scores on a 5-point scale, tool-call counts):
 * there the median of pairwise differences stays 0 under real regressions of the mean. The
 * HL shift and its distribution-free CI are reported in `green.hlShift/hlLow/hlHigh`.
 */
function mannWhitneyGate(p: Prepared, b: MetricSamples, g: MetricSamples, ev: GateEvidence): GateResult {
  const s = badSign(p.direction);
  const x = b.values;
  const y = g.values;
  const mb = mean(x);
  const margin = marginOf(p.tol, mb);
  ev.threshold = s * margin;
  const mw = mannWhitneyU(y, x);
  // Green's U above n1·n2/2 means green tends to be larger.
  const greenWorse = s * (mw.u1 - (x.length * y.length) / 2) > 0;
  ev.statistic = mw.u1;
  ev.pValue = mw.pValue;
  const d = mean(y) - mb;
  ev.effect = d;
  const ci = meanDiffCi(x, y, 1 - p.alpha);
  ev.ci = ci;
  const hl = hodgesLehmann(x, y, 1 - p.alpha);
  Object.assign(ev.green, { hlShift: hl.estimate, hlLow: hl.ci[0], hlHigh: hl.ci[1] });
  const worse = s === 1 ? 'greater' : 'smaller';
  if (mw.pValue < p.alpha && greenWorse && s * d > margin) {
    ev.reason = `green is significantly ${worse} (Mann-Whitney U=${fmt(mw.u1)}, two-sided p=${fmt(mw.pValue)} < ${p.alpha}) and its effect ${fmt(d)} is beyond the tolerated ${fmt(s * margin)}`;
    return result(p, 'fail', ev);
  }
  const badEnd = s === 1 ? ci[1] : ci[0];
  if (s * badEnd <= margin) {
    ev.reason = `the ${pct(1 - p.alpha)} CI of the effect [${fmt(ci[0])}, ${fmt(ci[1])}] is within the tolerated ${fmt(s * margin)}`;
    return result(p, 'pass', ev);
  }
  ev.reason = `undecided: two-sided p=${fmt(mw.pValue)}, effect ${fmt(d)}, CI [${fmt(ci[0])}, ${fmt(ci[1])}] reaches beyond the tolerated ${fmt(s * margin)}`;
  return result(p, 'inconclusive', ev);
}

/** (level) two-sided normal CI of mean(y) − mean(x) with the Welch standard error. */
function meanDiffCi(x: readonly number[], y: readonly number[], level: number): [number, number] {
  const d = mean(y) - mean(x);
  const se = Math.sqrt(variance(x) / x.length + variance(y) / y.length);
  const z = phiInv(1 - (1 - level) / 2);
  return [d - z * se, d + z * se];
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}

/**
 * `proportion` (rates of 0/1 per-session metrics such as session.thumbs_down). d = rate_green − rate_blue.
 * - fail: the pooled two-proportion z-test rejects at level α (two-sided) with green's rate
 *   on the worse side, and d is beyond the margin;
 * - pass: not fail, and the worse end of Newcombe's (1 − α) hybrid score interval for d is
 *   within the margin;
 * - inconclusive otherwise. Tolerances: `+2pp` (0.02 absolute), `+20%` (of blue's rate) or a number.
 */
function proportionGate(p: Prepared, b: MetricSamples, g: MetricSamples, ev: GateEvidence): GateResult {
  const s = badSign(p.direction);
  const x1 = b.values.reduce((a, v) => a + (v > 0 ? 1 : 0), 0);
  const x2 = g.values.reduce((a, v) => a + (v > 0 ? 1 : 0), 0);
  const n1 = b.values.length;
  const n2 = g.values.length;
  const t = twoProportionTest(x1, n1, x2, n2, { level: 1 - p.alpha });
  const margin = marginOf(p.tol, t.p1);
  ev.threshold = s * margin;
  ev.statistic = t.z;
  ev.pValue = t.pValue;
  ev.effect = t.diff;
  ev.ci = t.ci;
  ev.blue = { ...ev.blue, rate: t.p1, events: x1 };
  ev.green = { ...ev.green, rate: t.p2, events: x2 };
  if (t.pValue < p.alpha && s * t.diff > margin) {
    ev.reason = `green's rate ${fmt(t.p2)} vs blue's ${fmt(t.p1)}: z=${fmt(t.z)}, two-sided p=${fmt(t.pValue)} < ${p.alpha}, difference beyond the tolerated ${fmt(s * margin)}`;
    return result(p, 'fail', ev);
  }
  const badEnd = s === 1 ? t.ci[1] : t.ci[0];
  if (s * badEnd <= margin) {
    ev.reason = `the ${pct(1 - p.alpha)} CI of the rate difference [${fmt(t.ci[0])}, ${fmt(t.ci[1])}] is within the tolerated ${fmt(s * margin)}`;
    return result(p, 'pass', ev);
  }
  ev.reason = `undecided: difference ${fmt(t.diff)}, two-sided p=${fmt(t.pValue)}, CI [${fmt(t.ci[0])}, ${fmt(t.ci[1])}] reaches beyond the tolerated ${fmt(s * margin)}`;
  return result(p, 'inconclusive', ev);
}

/**
 * `chi-square` (session.tool_mix). Each session with tool calls contributes weight 1 spread
 * over its tools (so sessions, not calls, are the unit); categories too sparse for the test
 * (expected < 5) are merged into `(other)`. Effect = total variation distance between the
 * two mixes (0..1); the tolerance bounds it (`0.1`, `10pp` and `10%` all mean 0.1).
 * - fail: homogeneity rejected (p < α) and the distance exceeds the tolerance;
 * - pass: otherwise, when the test could run (at least two categories after merging);
 * - inconclusive: fewer than two categories left after merging sparse ones (unless both
 *   arms used exactly one and the same tool, which passes).
 */
function chiSquareGate(p: Prepared, blue: SessionAggregate[], green: SessionAggregate[]): GateResult {
  const opts = { censoring: p.spec.censoring, weighting: 'sessions' as const };
  const b = categoricalSamples(p.spec.metric, blue, opts);
  const g = categoricalSamples(p.spec.metric, green, opts);
  const tolerance =
    p.tol.kind === 'absolute' ? p.tol.value : p.tol.kind === 'relative' ? p.tol.value : p.tol.value / 100;
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, v) => a + v, 0);
  const ev: GateEvidence = {
    test: p.test,
    metric: p.spec.metric,
    nBlue: Math.round(sum(b.counts)),
    nGreen: Math.round(sum(g.counts)),
    blue: { sessions: b.sessions, ...b.counts, openIncluded: b.openIncluded, openExcluded: b.openExcluded },
    green: { sessions: g.sessions, ...g.counts, openIncluded: g.openIncluded, openExcluded: g.openExcluded },
    threshold: tolerance,
    tolerance: p.spec.tolerance,
    direction: 'lower-is-better',
    censored: { blue: b.censored, green: g.censored },
  };
  if (ev.nBlue < p.minSamples || ev.nGreen < p.minSamples) {
    ev.reason = `fewer than ${p.minSamples} sessions with tool calls (blue ${ev.nBlue}, green ${ev.nGreen})`;
    return result(p, 'nodata', ev);
  }
  const table = mergeSparse(b.counts, g.counts);
  const names = new Set([...Object.keys(b.counts), ...Object.keys(g.counts)]);
  if (table.categories.length < 2) {
    if (names.size === 1) {
      ev.effect = 0;
      ev.reason = 'both arms used a single, identical tool';
      return result(p, 'pass', ev);
    }
    ev.reason = `too sparse for a chi-square test: every category merged into ${OTHER}`;
    return result(p, 'inconclusive', ev);
  }
  const chi = chiSquareHomogeneity(table.a, table.b);
  const tv = totalVariation(table.a, table.b);
  ev.statistic = chi.statistic;
  ev.pValue = chi.pValue;
  ev.effect = tv;
  const mergedNote = table.merged.length > 0 ? `; merged into ${OTHER}: ${table.merged.join(', ')}` : '';
  if (chi.pValue < p.alpha && tv > tolerance) {
    ev.reason = `tool mix differs: chi²=${fmt(chi.statistic)} (df ${chi.df}), p=${fmt(chi.pValue)} < ${p.alpha}, total variation ${fmt(tv)} > ${fmt(tolerance)}${mergedNote}`;
    return result(p, 'fail', ev);
  }
  ev.reason = `tool mix ${chi.pValue < p.alpha ? 'differs significantly but by' : 'shows no significant difference;'} total variation ${fmt(tv)} (tolerated ${fmt(tolerance)}), chi²=${fmt(chi.statistic)} (df ${chi.df}), p=${fmt(chi.pValue)}${mergedNote}`;
  return result(p, 'pass', ev);
}

/**
 * `msprt` (sequential; means, or rates for 0/1 metrics). One look of a `SequentialJudge` over
 * all data so far; see msprt.ts for the rule. The p-values are always valid, so the gate
 * may be evaluated at every reconcile and acted on at its first `fail` or `pass` without
 * inflating false alarms. `pValue` is the fail test's; the pass test's is in the reason.
 */
function msprtGate(
  p: Prepared,
  b: MetricSamples,
  g: MetricSamples,
  ev: GateEvidence,
  kind: 'mean' | 'proportion',
): GateResult {
  const s = badSign(p.direction);
  const judge = new SequentialJudge({
    kind,
    badSign: s,
    margin: (blueMean) => marginOf(p.tol, blueMean),
    alpha: p.alpha,
    tau: p.spec.tau,
    minSamples: p.minSamples,
  });
  judge.observeMany('blue', kind === 'proportion' ? b.values.map((v) => (v > 0 ? 1 : 0)) : b.values);
  judge.observeMany('green', kind === 'proportion' ? g.values.map((v) => (v > 0 ? 1 : 0)) : g.values);
  const st = judge.look();
  ev.threshold = st.theta0;
  ev.effect = st.diff;
  ev.ci = st.ci;
  ev.pValue = st.pFail;
  ev.statistic = st.diff / Math.sqrt(st.variance);
  const head = `d=${fmt(st.diff)} (z=${fmt(ev.statistic)}), always-valid p(worse)=${fmt(st.pFail)}, p(within tolerance)=${fmt(st.pPass)}, tau=${fmt(st.tau)}`;
  if (st.decision === 'fail') {
    ev.reason = `${head}: green is significantly worse and beyond the tolerated ${fmt(st.theta0)}`;
    return result(p, 'fail', ev);
  }
  if (st.decision === 'pass') {
    ev.reason = `${head}: green is shown within the tolerated ${fmt(st.theta0)}`;
    return result(p, 'pass', ev);
  }
  ev.reason = `${head}: keep collecting`;
  return result(p, 'inconclusive', ev);
}

/**
 * `sprt` (sequential; means, or rates for 0/1 metrics): Wald's SPRT of H0 "green is no worse"
 * (θ = 0) against H1 "green is worse by the margin" (θ = s·δ), the margin being the regression
 * to catch. One look of a `SequentialJudge` in `sprt` mode over all data so far (see sprt.ts):
 * - fail: log Λ ≥ log((1 − β)/(α/2)) — false-fail rate ≤ α/2 when green equals blue;
 * - pass: log Λ ≤ log(β/(1 − α/2)) — a regression of the full margin passes with probability ≤ β;
 * - inconclusive: between the boundaries (keep collecting), or truncated at `maxSamples`.
 * `statistic` is log Λ, `pValue` the always-valid p-value against H0 (min over looks of 1/Λ).
 */
function sprtGate(
  p: Prepared,
  b: MetricSamples,
  g: MetricSamples,
  ev: GateEvidence,
  kind: 'mean' | 'proportion',
): GateResult {
  const s = badSign(p.direction);
  const judge = new SequentialJudge({
    kind,
    mode: 'sprt',
    badSign: s,
    margin: (blueMean) => marginOf(p.tol, blueMean),
    alpha: p.alpha,
    power: p.spec.power ?? DEFAULT_SPRT_POWER,
    maxSamples: p.spec.maxSamples,
    minSamples: p.minSamples,
  });
  judge.observeMany('blue', kind === 'proportion' ? b.values.map((v) => (v > 0 ? 1 : 0)) : b.values);
  judge.observeMany('green', kind === 'proportion' ? g.values.map((v) => (v > 0 ? 1 : 0)) : g.values);
  const st = judge.look();
  ev.threshold = st.theta0;
  ev.effect = st.diff;
  ev.statistic = st.logLR;
  ev.pValue = st.pFail;
  ev.sequential = { lower: st.lower!, upper: st.upper!, nMax: st.nMax!, nAtDecision: st.nAtDecision };
  const head = `d=${fmt(st.diff)}, log LR=${fmt(st.logLR!)} (H1: d=${fmt(st.theta0)}), boundaries pass <= ${fmt(st.lower!)}, fail >= ${fmt(st.upper!)}`;
  if (st.theta0 === 0) {
    ev.reason = `the margin is 0 (relative tolerance of a zero blue mean): the SPRT cannot separate H0 from H1`;
    return result(p, 'inconclusive', ev);
  }
  switch (st.decision) {
    case 'fail':
      ev.reason = `${head}: green is worse (always-valid p=${fmt(st.pFail)} against no worse)`;
      return result(p, 'fail', ev);
    case 'pass':
      ev.reason = `${head}: the data favour no regression over a regression of ${fmt(st.theta0)}`;
      return result(p, 'pass', ev);
    case 'truncated':
      ev.reason = `${head}: truncated at ${fmt(st.nMax!)} sessions per arm without a decision`;
      return result(p, 'inconclusive', ev);
    default:
      ev.reason = `${head}: keep collecting (truncation at ${fmt(st.nMax!)} sessions per arm)`;
      return result(p, 'inconclusive', ev);
  }
}

/** The gate evaluator the rollout controller calls. Throws VALIDATION for an invalid spec. */
export const evaluateGate: GateEvaluator = (input: GateInput): GateResult => {
  const p = prepareGate(input.spec);
  if (p.test === 'threshold') return thresholdGate(p, input.blue, input.green);
  if (p.test === 'chi-square') return chiSquareGate(p, input.blue, input.green);
  const b = metricSamples(p.spec.metric, input.blue, { censoring: p.spec.censoring });
  const g = metricSamples(p.spec.metric, input.green, { censoring: p.spec.censoring });
  const ev = baseEvidence(p, b, g);
  if (b.values.length < p.minSamples || g.values.length < p.minSamples) {
    ev.reason = `fewer than ${p.minSamples} sessions (blue ${b.values.length}, green ${g.values.length})`;
    return result(p, 'nodata', ev);
  }
  switch (p.test) {
    case 'mann-whitney':
      return mannWhitneyGate(p, b, g, ev);
    case 'proportion':
      return proportionGate(p, b, g, ev);
    case 'msprt':
      return msprtGate(p, b, g, ev, metricKind(p.spec.metric) === 'proportion' ? 'proportion' : 'mean');
    case 'sprt':
      return sprtGate(p, b, g, ev, metricKind(p.spec.metric) === 'proportion' ? 'proportion' : 'mean');
  }
};
