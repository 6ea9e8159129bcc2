/**
 * Wald's sequential probability ratio test (SPRT) for a two-sample difference of means, with
 * both boundaries — an mSPRT whose mixing distribution is a point mass at the margin.
 *
 * Hypotheses, with s = +1 when an increase of green over blue is bad and −1 otherwise, and
 * Δ > 0 the margin (the regression that must be caught):
 *   H0: θ = 0        green is no worse than blue,
 *   H1: θ = s·Δ      green is worse by the margin,
 * where θ = mean_green − mean_blue. The data enter through d = mean_green − mean_blue and
 * its variance v = σ²(1/n_blue + 1/n_green). For d ~ N(θ, v) the log-likelihood ratio of H1
 * against H0 is
 *
 *   log Λ = [(d − 0)² − (d − sΔ)²] / (2v) = Δ (s·d − Δ/2) / v.
 *
 * Wald (1945): with error targets α (fail when H0 holds) and β (pass when H1 holds),
 *   fail (reject H0)  when Λ ≥ A = (1 − β)/α,
 *   pass (accept H0)  when Λ ≤ B = β/(1 − α),
 *   continue otherwise.
 * Wald's inequalities bound the realized errors by α/(1 − β) and β/(1 − α) whatever the look
 * schedule, and at about α and β when the statistic does not overshoot the boundaries; the
 * overshoot (looks in batches, discrete data) makes both realized errors smaller. Under H0, Λ
 * is a martingale with mean 1, so min over looks of 1/Λ is an always-valid p-value against H0
 * (Ville's inequality); under H1, 1/Λ is one, so min over looks of Λ is an always-valid
 * p-value against H1.
 *
 * Plug-in variance (the approximation): σ² is unknown and replaced at every look by the
 * pooled within-arm variance of all data so far (for 0/1 data, p(1 − p) at the pooled rate
 * with one pseudo-event each way). The statistic is then the normal-theory SPRT with an
 * estimated scale — a sequential t-test in spirit, without its exact invariant likelihood
 * ratio — and the error bounds hold asymptotically; `minSamples` keeps the first, noisiest
 * variance estimates from deciding. The realized false-alarm rate is measured in the tests
 * and in `npm run bench -- gates`.
 *
 * Truncation: a plan with no decision by `nMax` sessions per arm stops as `truncated` (the
 * gate reports `inconclusive`, and the step's rule for too little data applies). The default
 * nMax is twice the fixed-horizon z-test sample for the same α, β and Δ at the current
 * variance: n_fix = (z_{1−α} + z_{1−β})² · 2σ² / Δ².
 *
 * Optimality, and its limit: among all tests with the same error rates at θ = 0 and θ = sΔ,
 * the SPRT has the smallest expected sample size at both (Wald & Wolfowitz 1948). Wald's
 * lower bound E_θ1[N] ≥ [(1−β) log((1−β)/α) + β log(β/(1−α))] / I (I the Kullback-Leibler
 * information per observation) puts every sequential test at ≥ `waldEfficiencyBound(α, β)`
 * × n_fix at the alternative — 0.626 for α = 0.025, β = 0.2 — for normal data.
 */
import { ValidationError } from '@baton/core';
import { phiInv } from './normal';

export interface SprtBoundaries {
  /** log B = log(β/(1 − α)): at or below, accept H0 (pass). */
  lower: number;
  /** log A = log((1 − β)/α): at or above, reject H0 (fail). */
  upper: number;
}

/** Wald's boundaries on the log-likelihood ratio for error targets α (type I) and β (type II). */
export function sprtBoundaries(alpha: number, beta: number): SprtBoundaries {
  if (!(alpha > 0 && alpha < 1)) throw new ValidationError('alpha must be in (0, 1)', { alpha });
  if (!(beta > 0 && beta < 1)) throw new ValidationError('beta must be in (0, 1)', { beta });
  if (!(alpha + beta < 1)) throw new ValidationError('alpha + beta must be below 1', { alpha, beta });
  return { lower: Math.log(beta / (1 - alpha)), upper: Math.log((1 - beta) / alpha) };
}

/**
 * log Λ of H1: θ = badSign·margin against H0: θ = 0, for an estimated difference d with
 * variance v: margin · (badSign·d − margin/2) / v.
 */
export function sprtLogLR(d: number, v: number, margin: number, badSign: 1 | -1): number {
  return (margin * (badSign * d - margin / 2)) / v;
}

/**
 * Per-arm sessions of the fixed-horizon one-sided z-test at level α with power 1 − β against a
 * difference Δ, when each observation has variance σ²: (z_{1−α} + z_{1−β})² · 2σ² / Δ².
 */
export function fixedHorizonN(alpha: number, beta: number, sigma2: number, margin: number): number {
  const z = phiInv(1 - alpha) + phiInv(1 - beta);
  return (z * z * 2 * sigma2) / (margin * margin);
}

/**
 * Wald's lower bound on E[N at θ1] / n_fix for any sequential test with errors α and β, when
 * the data are normal: 2·[(1−β) log((1−β)/α) + β log(β/(1−α))] / (z_{1−α} + z_{1−β})².
 */
export function waldEfficiencyBound(alpha: number, beta: number): number {
  const kl = (1 - beta) * Math.log((1 - beta) / alpha) + beta * Math.log(beta / (1 - alpha));
  const z = phiInv(1 - alpha) + phiInv(1 - beta);
  return (2 * kl) / (z * z);
}
