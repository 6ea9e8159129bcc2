/**
 * Mixture sequential probability ratio test (mSPRT) with always-valid p-values
 * (Johari, Koomen, Pekelis, Walsh, "Always Valid Inference: Continuous Monitoring of A/B
 * Tests", Operations Research 70(3), 2022; Johari, Pekelis, Walsh, arXiv:1512.04922).
 *
 * The data enter through the estimated difference d = mean_green − mean_blue and its
 * variance v = s²_blue/n_blue + s²_green/n_green (plug-in variances; for proportions
 * p(1−p)/n). With a normal mixing distribution θ − θ0 ~ N(0, τ²) the likelihood ratio of
 * the mixture against the point null θ0 is
 *
 *   Λ = sqrt(v / (v + τ²)) · exp( (d − θ0)² τ² / (2 v (v + τ²)) ),
 *
 * and p_n = min(p_{n−1}, 1/Λ_n) is an always-valid p-value: P(∃n: p_n ≤ α) ≤ α under the
 * null (Ville's inequality), however often one looks. The gate tests are one-sided, so the
 * mixture is restricted to one side (a half-normal on θ > θ0 or θ < θ0):
 *
 *   Λ⁺ = 2 Λ · Φ( side · (d − θ0) τ / sqrt(v (v + τ²)) ),
 *
 * which is a nonnegative supermartingale under every θ on the other side of θ0, so the
 * one-sided always-valid p-value also controls the error for the composite null.
 *
 * Decision rule of the `SequentialJudge` (s = +1 when an increase is bad, −1 otherwise; δ the
 * margin). Each direction gets α/2, so the two together are a two-sided level-α procedure, as
 * the fixed-horizon gates:
 * - fail: the one-sided always-valid p-value of "green is no worse than blue" (θ0 = 0,
 *   alternatives on the bad side) is ≤ α/2, and the current estimate is worse than the
 *   margin (s·d > δ) — significance and magnitude, as the fixed-horizon tests;
 * - pass: the one-sided always-valid p-value of "green is worse by the margin" (θ0 = s·δ,
 *   alternatives on the good side) is ≤ α/2 — green is shown to be within tolerance;
 * - otherwise continue. Decisions are sticky.
 * The variance is a plug-in estimate, so the guarantees are asymptotic (as in the paper's
 * two-sample setting); `minSamples` keeps the first looks from deciding on a noisy variance.
 *
 * The same judge runs Wald's SPRT (`mode: 'sprt'`, see sprt.ts): the mixture collapses to a
 * point mass at the margin, which then names the regression to catch; it decides sooner at
 * that effect, at the price of a stated power instead of a guarantee over all effects.
 */
import { ValidationError } from '@baton/core';
import { phi } from './normal';
import { fixedHorizonN, sprtBoundaries, sprtLogLR } from './sprt';

/** log Λ of the two-sided normal mixture. */
export function logMixtureLR(d: number, v: number, theta0: number, tau2: number): number {
  const e = d - theta0;
  return 0.5 * Math.log(v / (v + tau2)) + (e * e * tau2) / (2 * v * (v + tau2));
}

/** log Λ⁺ of the one-sided (half-normal) mixture; `side` +1 for alternatives θ > θ0, −1 for θ < θ0. */
export function logOneSidedMixtureLR(
  d: number,
  v: number,
  theta0: number,
  tau2: number,
  side: 1 | -1,
): number {
  const arg = (side * (d - theta0) * Math.sqrt(tau2)) / Math.sqrt(v * (v + tau2));
  // log Φ(arg), stable for very negative arguments.
  const logPhi =
    arg > -30 ? Math.log(phi(arg)) : -0.5 * arg * arg - Math.log(-arg) - 0.5 * Math.log(2 * Math.PI);
  return Math.LN2 + logMixtureLR(d, v, theta0, tau2) + logPhi;
}

/** 1/Λ clipped to [0, 1]: the p-value of a single look. */
export function pFromLogLR(logLR: number): number {
  return logLR <= 0 ? 1 : Math.exp(-logLR);
}

/** `truncated`: the SPRT reached its maximum sample without a decision (only in `sprt` mode). */
export type SequentialDecision = 'fail' | 'pass' | 'continue' | 'truncated';

export interface SequentialConfig {
  kind: 'mean' | 'proportion';
  /**
   * `msprt` (default): normal mixture over all effects, always-valid p-values, the rule above.
   * `sprt`: Wald's SPRT of θ = 0 against θ = badSign·margin (sprt.ts): the margin is the
   * regression to catch; fail error α/2, pass error β = 1 − power.
   */
  mode?: 'msprt' | 'sprt';
  /** `sprt`: power 1 − β at the margin (default 0.8). */
  power?: number;
  /** `sprt`: truncation, sessions per arm (default 2 × the fixed-horizon n for the same α/2, β, margin). */
  maxSamples?: number;
  /** +1 when an increase of green over blue is bad, −1 when a decrease is bad. */
  badSign: 1 | -1;
  /** Tolerated worsening (≥ 0) in the metric's units, or a function of blue's current mean. */
  margin: number | ((blueMean: number) => number);
  alpha?: number;
  /** Mixing standard deviation τ in the metric's units; default `defaultTau`. */
  tau?: number;
  /** Looks before this many values per arm never decide (default 10). */
  minSamples?: number;
}

export interface SequentialState {
  decision: SequentialDecision;
  nBlue: number;
  nGreen: number;
  meanBlue: number;
  meanGreen: number;
  /** d = meanGreen − meanBlue and its estimated variance. */
  diff: number;
  variance: number;
  /** The pass test's null θ0 = badSign · margin (the fail test's null is 0). */
  theta0: number;
  tau: number;
  /** Always-valid p-value against "green is no worse than blue" (small = significantly worse). */
  pFail: number;
  /** Always-valid p-value against "green is worse than the margin" (small = pass). */
  pPass: number;
  /** Always-valid (1 − alpha) confidence interval for θ at this look (intersection over looks); msprt only. */
  ci: [number, number];
  mode: 'msprt' | 'sprt';
  /** `sprt`: log Λ of this look (H1: θ = theta0 against H0: θ = 0). */
  logLR?: number;
  /** `sprt`: Wald's boundaries on log Λ: pass at or below `lower`, fail at or above `upper`. */
  lower?: number;
  upper?: number;
  /** `sprt`: the truncation (sessions per arm) in force at this look. */
  nMax?: number;
  /** Sessions per arm (the smaller arm) when the decision was taken; undefined while undecided. */
  nAtDecision?: number;
}

/**
 * Default mixing scale: Johari et al. recommend τ near the effects one expects to see;
 * without history we take a quarter of the pooled standard deviation (a small-to-medium
 * standardized effect), never below the margin itself.
 */
export function defaultTau(pooledSd: number, margin: number): number {
  const t = Math.max(0.25 * pooledSd, margin);
  return t > 0 ? t : 1e-6;
}

class Welford {
  n = 0;
  mean = 0;
  m2 = 0;
  push(x: number): void {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
  }
  get variance(): number {
    return this.n > 1 ? this.m2 / (this.n - 1) : 0;
  }
}

/**
 * A sequential gate judge fed as data accrue (`observe`) and looked at any number of times
 * (`look`). The decision is sticky: once `fail` or `pass`, later looks return it unchanged.
 */
export class SequentialJudge {
  private readonly blue = new Welford();
  private readonly green = new Welford();
  private readonly alpha: number;
  private readonly minSamples: number;
  private pFail = 1;
  private pPass = 1;
  private ciLo = -Infinity;
  private ciHi = Infinity;
  private decided: SequentialDecision = 'continue';
  private nAtDecision: number | undefined;
  private last: SequentialState | undefined;
  private readonly mode: 'msprt' | 'sprt';
  private readonly beta: number;

  constructor(private readonly cfg: SequentialConfig) {
    this.alpha = cfg.alpha ?? 0.05;
    this.minSamples = cfg.minSamples ?? 10;
    this.mode = cfg.mode ?? 'msprt';
    this.beta = 1 - (cfg.power ?? 0.8);
    if (!(this.alpha > 0 && this.alpha < 1)) throw new ValidationError('alpha must be in (0, 1)');
    if (cfg.tau !== undefined && !(cfg.tau > 0)) throw new ValidationError('tau must be positive');
    if (this.mode !== 'msprt' && this.mode !== 'sprt') {
      throw new ValidationError(`unknown sequential mode '${String(this.mode)}'`);
    }
    if (this.mode === 'sprt') {
      // Validates α/2 and β (each in (0, 1), sum below 1).
      sprtBoundaries(this.alpha / 2, this.beta);
      if (cfg.maxSamples !== undefined && !(Number.isInteger(cfg.maxSamples) && cfg.maxSamples >= 1)) {
        throw new ValidationError('maxSamples must be a positive integer');
      }
    }
  }

  observe(arm: 'blue' | 'green', value: number): void {
    if (!Number.isFinite(value)) throw new ValidationError(`observation must be finite, got ${value}`);
    if (this.cfg.kind === 'proportion' && value !== 0 && value !== 1) {
      throw new ValidationError(`a proportion observation is 0 or 1, got ${value}`);
    }
    (arm === 'blue' ? this.blue : this.green).push(value);
  }

  observeMany(arm: 'blue' | 'green', values: readonly number[]): void {
    for (const v of values) this.observe(arm, v);
  }

  get decision(): SequentialDecision {
    return this.decided;
  }

  private armVariance(w: Welford): number {
    if (this.cfg.kind === 'proportion') {
      // Plug-in p(1−p) with one pseudo-success and one pseudo-failure so that an arm with
      // no events yet does not claim zero variance.
      const p = (w.mean * w.n + 1) / (w.n + 2);
      return p * (1 - p);
    }
    return w.variance;
  }

  look(): SequentialState {
    if (this.mode === 'sprt') return this.lookSprt();
    const b = this.blue;
    const g = this.green;
    const margin = typeof this.cfg.margin === 'function' ? this.cfg.margin(b.mean) : this.cfg.margin;
    const s = this.cfg.badSign;
    const theta0 = s * Math.max(0, margin);
    const vb = this.armVariance(b);
    const vg = this.armVariance(g);
    const diff = g.mean - b.mean;
    let v = b.n > 0 && g.n > 0 ? vb / b.n + vg / g.n : Infinity;
    const scale = Math.max(Math.abs(b.mean), Math.abs(g.mean), 1);
    if (v === 0) v = 1e-18 * scale * scale;
    const pooledSd = Math.sqrt((vb + vg) / 2);
    const tau = this.cfg.tau ?? defaultTau(pooledSd, Math.max(0, margin));
    const tau2 = tau * tau;
    if (
      this.decided === 'continue' &&
      b.n >= this.minSamples &&
      g.n >= this.minSamples &&
      Number.isFinite(v)
    ) {
      this.pFail = Math.min(this.pFail, pFromLogLR(logOneSidedMixtureLR(diff, v, 0, tau2, s)));
      this.pPass = Math.min(
        this.pPass,
        pFromLogLR(logOneSidedMixtureLR(diff, v, theta0, tau2, s === 1 ? -1 : 1)),
      );
      // Always-valid two-sided CI: {θ : Λ(θ) < 1/α}, i.e. |d − θ| < r.
      const r2 = ((v * (v + tau2)) / tau2) * (2 * Math.log(1 / this.alpha) + Math.log((v + tau2) / v));
      const r = Math.sqrt(Math.max(0, r2));
      this.ciLo = Math.max(this.ciLo, diff - r);
      this.ciHi = Math.min(this.ciHi, diff + r);
      if (this.pFail <= this.alpha / 2 && s * diff > Math.max(0, margin)) this.decided = 'fail';
      else if (this.pPass <= this.alpha / 2) this.decided = 'pass';
      if (this.decided !== 'continue') this.nAtDecision = Math.min(b.n, g.n);
    }
    this.last = {
      decision: this.decided,
      nBlue: b.n,
      nGreen: g.n,
      meanBlue: b.n > 0 ? b.mean : NaN,
      meanGreen: g.n > 0 ? g.mean : NaN,
      diff,
      variance: v,
      theta0,
      tau,
      pFail: this.pFail,
      pPass: this.pPass,
      ci: [this.ciLo, this.ciHi],
      mode: 'msprt',
      nAtDecision: this.nAtDecision,
    };
    return this.last;
  }

  /**
   * One look of Wald's SPRT (sprt.ts): H0 θ = 0 against H1 θ = badSign·margin, fail error α/2
   * (each direction gets α/2, as in the other gates), pass error β, pooled plug-in variance,
   * truncated at `maxSamples` (or twice the fixed-horizon n at the current variance).
   */
  private lookSprt(): SequentialState {
    const b = this.blue;
    const g = this.green;
    const margin = Math.max(
      0,
      typeof this.cfg.margin === 'function' ? this.cfg.margin(b.mean) : this.cfg.margin,
    );
    const s = this.cfg.badSign;
    const a = this.alpha / 2;
    const { lower, upper } = sprtBoundaries(a, this.beta);
    const diff = g.mean - b.mean;
    let sigma2: number;
    if (this.cfg.kind === 'proportion') {
      const p = (b.mean * b.n + g.mean * g.n + 1) / (b.n + g.n + 2);
      sigma2 = p * (1 - p);
    } else {
      sigma2 = b.n + g.n > 2 ? (b.m2 + g.m2) / (b.n + g.n - 2) : NaN;
    }
    const scale = Math.max(Math.abs(b.mean), Math.abs(g.mean), 1);
    if (sigma2 === 0) sigma2 = 1e-18 * scale * scale;
    const v = b.n > 0 && g.n > 0 ? sigma2 * (1 / b.n + 1 / g.n) : Infinity;
    const nMax =
      this.cfg.maxSamples ??
      (margin > 0 && Number.isFinite(sigma2)
        ? Math.ceil(2 * fixedHorizonN(a, this.beta, sigma2, margin))
        : Infinity);
    const logLR = margin > 0 && Number.isFinite(v) ? sprtLogLR(diff, v, margin, s) : 0;
    if (
      this.decided === 'continue' &&
      margin > 0 &&
      b.n >= this.minSamples &&
      g.n >= this.minSamples &&
      Number.isFinite(v)
    ) {
      this.pFail = Math.min(this.pFail, pFromLogLR(logLR));
      this.pPass = Math.min(this.pPass, pFromLogLR(-logLR));
      if (logLR >= upper) this.decided = 'fail';
      else if (logLR <= lower) this.decided = 'pass';
      else if (Math.min(b.n, g.n) >= nMax) this.decided = 'truncated';
      if (this.decided !== 'continue') this.nAtDecision = Math.min(b.n, g.n);
    }
    this.last = {
      decision: this.decided,
      nBlue: b.n,
      nGreen: g.n,
      meanBlue: b.n > 0 ? b.mean : NaN,
      meanGreen: g.n > 0 ? g.mean : NaN,
      diff,
      variance: v,
      theta0: s * margin,
      tau: 0,
      pFail: this.pFail,
      pPass: this.pPass,
      ci: [-Infinity, Infinity],
      mode: 'sprt',
      logLR,
      lower,
      upper,
      nMax,
      nAtDecision: this.nAtDecision,
    };
    return this.last;
  }
}
