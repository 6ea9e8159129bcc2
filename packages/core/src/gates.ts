/** The gate contract shared by the rollout controller and the analysis (statistical judge). */
import type { SessionAggregate, Verdict } from './types';

export type GateTestName = 'threshold' | 'mann-whitney' | 'proportion' | 'chi-square' | 'msprt' | 'sprt';

/**
 * The tests of a shadow stage's gates, on paired (blue, green) outcomes of the same recorded turns
 * (the unit stays the session: the per-session mean of the paired differences). `proportion`
 * there is a one-sample rate (e.g. of sessions whose shadow turns diverged) against a limit.
 */
export type PairedTestName = 'wilcoxon' | 'sign' | 'mcnemar' | 'proportion';

/** What too little data leads to once a step reached its maximum duration. */
export type NoDataRule = 'extend' | 'pause' | 'abort' | 'pass';

export interface GateSpec {
  /** Stable name for logs and decisions; defaults to the metric. */
  name?: string;
  /** e.g. `eval.resolution`, `session.tool_calls`, `session.thumbs_down`, `session.tool_mix`. */
  metric: string;
  test: GateTestName;
  /**
   * How much worse green may be than blue before the gate fails. Number = absolute,
   * `'+20%'`/`'-5%'` = relative, `'+2pp'` = percentage points (for proportions).
   * The sign says the bad direction: `+` means an increase is bad, `-` a decrease.
   */
  tolerance: number | string;
  /** Which way is better; inferred from the tolerance's sign when omitted. */
  direction?: 'higher-is-better' | 'lower-is-better';
  critical?: boolean;
  /** Minimum sessions per arm before a verdict other than `nodata`. */
  minSamples?: number;
  /** Significance level for statistical tests (default 0.05). */
  alpha?: number;
  /** For `threshold`: the absolute limit green's mean must respect. */
  threshold?: number;
  /**
   * Open sessions: `partial` (default) uses their partial aggregates (except for
   * `session.turns`, which only completed sessions report); `completed` excludes them.
   */
  censoring?: 'partial' | 'completed';
  /** For `msprt`: the mixing standard deviation τ, in the metric's units. */
  tau?: number;
  /** For `sprt`: the power 1 − β at the margin (default 0.8). */
  power?: number;
  /** For `sprt`: truncation, in sessions per arm (default twice the fixed-horizon n). */
  maxSamples?: number;
}

export interface GateEvidence {
  test: GateTestName | PairedTestName;
  metric: string;
  nBlue: number;
  nGreen: number;
  /** Summary of each arm (mean/median/rate, as fits the metric). */
  blue: Record<string, number>;
  green: Record<string, number>;
  statistic?: number;
  pValue?: number;
  /** Estimated green − blue effect (e.g. Hodges-Lehmann shift, rate difference). */
  effect?: number;
  ci?: [number, number];
  /** The limit the effect is compared with, in the metric's units. */
  threshold: number;
  tolerance: number | string;
  direction: 'higher-is-better' | 'lower-is-better';
  /** Sessions still open, excluded or treated as censored. */
  censored?: { blue: number; green: number };
  /** `sprt`: Wald's boundaries on the log-likelihood ratio (`statistic`), the truncation and the decision's sample. */
  sequential?: { lower: number; upper: number; nMax: number; nAtDecision?: number };
  /** Paired (shadow) tests: the per-session mean paired differences and what the test counted. */
  paired?: {
    sessions: number;
    turns: number;
    /** Hodges-Lehmann estimate of the median per-session difference and its interval. */
    hl?: { estimate: number; ci: [number, number] };
    /** sign / McNemar: sessions where green was better / worse; ties. */
    better?: number;
    worse?: number;
    ties?: number;
  };
  reason?: string;
}

export interface GateResult {
  name: string;
  verdict: Verdict;
  critical: boolean;
  evidence: GateEvidence;
}

export interface GateInput {
  spec: GateSpec;
  blue: SessionAggregate[];
  green: SessionAggregate[];
}

export type GateEvaluator = (input: GateInput) => GateResult;
