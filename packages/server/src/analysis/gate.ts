/**
 * `evaluateGate`: turns a GateSpec and two cohorts of session aggregates into a verdict
 * with its evidence. Verdict rules per test are documented at each function and in
 * docs/gates.md.
 */
import {
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
import { mean, summarize } from './stats/describe';

export const DEFAULT_MIN_SAMPLES = 20;
export const DEFAULT_ALPHA = 0.05;

const TESTS: readonly GateTestName[] = ['threshold', 'mann-whitney', 'proportion', 'chi-square', 'msprt'];

/** Gate options beyond the core GateSpec that the analysis understands. */
export interface GateOptions {
  /** Which open sessions count (see metrics.ts). Default `partial`. */
  censoring?: CensoringPolicy;
  /** mSPRT mixing standard deviation τ in the metric's units (default: see msprt.ts). */
  tau?: number;
}

export type AnalysisGateSpec = GateSpec & GateOptions;

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
  if (!(alpha > 0 && alpha < 0.5)) {
    throw new ValidationError(`gate '${spec.metric}': alpha must be in (0, 0.5)`, { alpha });
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
    threshold: NaN,
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

/** The gate evaluator the rollout controller calls. Throws VALIDATION for an invalid spec. */
export const evaluateGate: GateEvaluator = (input: GateInput): GateResult => {
  const p = prepareGate(input.spec as AnalysisGateSpec);
  switch (p.test) {
    case 'threshold':
      return thresholdGate(p, input.blue, input.green);
    default: {
      const b = metricSamples(p.spec.metric, input.blue, { censoring: p.spec.censoring });
      const g = metricSamples(p.spec.metric, input.green, { censoring: p.spec.censoring });
      const ev = baseEvidence(p, b, g);
      ev.reason = `test '${p.test}' is not available yet`;
      void categoricalSamples;
      return result(p, 'inconclusive', ev);
    }
  }
};
