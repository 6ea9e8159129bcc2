/**
 * Paired tests: the Wilcoxon signed-rank test with the Hodges-Lehmann estimate (median of the
 * Walsh averages) and its distribution-free interval, the sign test, and McNemar's test.
 *
 * Conventions follow `scipy.stats.wilcoxon(d, zero_method='wilcox', correction=True)`:
 * zero differences are dropped; `statistic` is W+ (the rank sum of the positive differences, with
 * mid-ranks for ties of |d|); `alternative: 'greater'` means the differences tend to be positive;
 * `method: 'auto'` is exact when at most 25 nonzero differences remain and |d| has no ties, the
 * normal approximation otherwise, with the tie-corrected variance
 * σ² = n(n+1)(2n+1)/24 − Σ(t³−t)/48 and a continuity correction of 0.5.
 */
import { phiInv, phiUpper } from './normal';
import type { Alternative } from './mannWhitney';

export interface WilcoxonResult {
  /** W+: rank sum of the positive differences. */
  wPlus: number;
  wMinus: number;
  /** Nonzero differences (the test's n). */
  n: number;
  zeros: number;
  pValue: number;
  /** Standardized statistic of the normal approximation (NaN for the exact method). */
  z: number;
  method: 'exact' | 'asymptotic';
}

const exactCache = new Map<number, Float64Array>();

/** P(W+ = w) under the null for n untied nonzero differences: each rank is + or − with probability ½. */
export function exactSignedRankDistribution(n: number): Float64Array {
  const hit = exactCache.get(n);
  if (hit) return hit;
  const max = (n * (n + 1)) / 2;
  let f = new Float64Array(max + 1);
  f[0] = 1;
  for (let r = 1; r <= n; r++) {
    const g = new Float64Array(max + 1);
    for (let w = 0; w <= max; w++) {
      const keep = f[w]!;
      if (keep === 0) continue;
      g[w] = g[w]! + keep / 2;
      if (w + r <= max) g[w + r] = g[w + r]! + keep / 2;
    }
    f = g;
  }
  exactCache.set(n, f);
  return f;
}

export function wilcoxonSignedRank(
  d: readonly number[],
  opts: { alternative?: Alternative; method?: 'auto' | 'exact' | 'asymptotic' } = {},
): WilcoxonResult {
  const alternative = opts.alternative ?? 'two-sided';
  const nz = d.filter((x) => x !== 0);
  const zeros = d.length - nz.length;
  const n = nz.length;
  if (n === 0) return { wPlus: 0, wMinus: 0, n, zeros, pValue: 1, z: 0, method: 'exact' };
  const order = nz.map((_, i) => i).sort((a, b) => Math.abs(nz[a]!) - Math.abs(nz[b]!));
  let wPlus = 0;
  let tieTerm = 0;
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && Math.abs(nz[order[j]!]!) === Math.abs(nz[order[i]!]!)) j++;
    const t = j - i;
    const mid = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (nz[order[k]!]! > 0) wPlus += mid;
    if (t > 1) tieTerm += t * t * t - t;
    i = j;
  }
  const total = (n * (n + 1)) / 2;
  const wMinus = total - wPlus;
  const method = opts.method ?? 'auto';
  const exact = method === 'exact' || (method === 'auto' && n <= 25 && tieTerm === 0);
  if (exact) {
    const p = exactSignedRankDistribution(n);
    const cdf = (w: number): number => {
      let s = 0;
      for (let k = 0; k <= Math.floor(w) && k < p.length; k++) s += p[k]!;
      return s;
    };
    const sf = (w: number): number => 1 - cdf(Math.ceil(w) - 1);
    let pValue: number;
    if (alternative === 'greater') pValue = sf(wPlus);
    else if (alternative === 'less') pValue = cdf(wPlus);
    else pValue = Math.min(1, 2 * Math.min(cdf(wPlus), sf(wPlus)));
    return { wPlus, wMinus, n, zeros, pValue: Math.min(1, pValue), z: NaN, method: 'exact' };
  }
  const mu = total / 2;
  const sd = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48);
  const dev = wPlus - mu;
  let pValue: number;
  let z: number;
  if (sd === 0) {
    z = 0;
    pValue = 1;
  } else if (alternative === 'two-sided') {
    z = (Math.abs(dev) - 0.5) / sd;
    pValue = Math.min(1, 2 * phiUpper(Math.max(0, z)));
    z = Math.sign(dev) * Math.max(0, z);
  } else {
    z = (alternative === 'greater' ? dev - 0.5 : dev + 0.5) / sd;
    pValue = alternative === 'greater' ? phiUpper(z) : phiUpper(-z);
  }
  return { wPlus, wMinus, n, zeros, pValue, z, method: 'asymptotic' };
}

export interface PairedHodgesLehmann {
  /** Median of the Walsh averages (dᵢ + dⱼ)/2, i ≤ j (zeros included). */
  estimate: number;
  ci: [number, number];
  /** Achieved coverage (exact method) or the nominal level. */
  level: number;
}

/** One-sample Hodges-Lehmann estimate and its Wilcoxon-based (level) interval. O(n² log n). */
export function pairedHodgesLehmann(d: readonly number[], level = 0.95): PairedHodgesLehmann {
  const n = d.length;
  if (n === 0) throw new RangeError('pairedHodgesLehmann needs a non-empty sample');
  const N = (n * (n + 1)) / 2;
  const walsh = new Float64Array(N);
  let k = 0;
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) walsh[k++] = (d[i]! + d[j]!) / 2;
  walsh.sort();
  const estimate = N % 2 === 1 ? walsh[(N - 1) / 2]! : (walsh[N / 2 - 1]! + walsh[N / 2]!) / 2;
  const gamma = (1 - level) / 2;
  let c: number;
  let achieved = level;
  if (n <= 25) {
    const p = exactSignedRankDistribution(n);
    let cdf = 0;
    c = 0; // largest c with P(W ≤ c − 1) ≤ γ
    while (c < p.length && cdf + p[c]! <= gamma + 1e-12) {
      cdf += p[c]!;
      c++;
    }
    achieved = 1 - 2 * cdf;
  } else {
    const sd = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24);
    c = Math.floor(N / 2 - phiInv(1 - gamma) * sd + 0.5);
  }
  if (c < 1) return { estimate, ci: [-Infinity, Infinity], level: 1 };
  return { estimate, ci: [walsh[c - 1]!, walsh[N - c]!], level: achieved };
}

/** P(X ≤ k) for X ~ Binomial(n, ½), summed in log space (exact for any practical n). */
export function binomialHalfCdf(k: number, n: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  let logC = 0; // log C(n, 0)
  const logHalfN = n * Math.log(0.5);
  let s = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log((n - i + 1) / i);
    s += Math.exp(logC + logHalfN);
  }
  return Math.min(1, s);
}

export interface SignTestResult {
  positive: number;
  negative: number;
  /** Ties (zero differences), dropped. */
  zeros: number;
  pValue: number;
}

/** The exact sign test on the signs of `d` (zeros dropped). */
export function signTest(d: readonly number[], alternative: Alternative = 'two-sided'): SignTestResult {
  let positive = 0;
  let negative = 0;
  for (const x of d) {
    if (x > 0) positive++;
    else if (x < 0) negative++;
  }
  return { ...signCounts(positive, negative, alternative), zeros: d.length - positive - negative };
}

function signCounts(
  positive: number,
  negative: number,
  alternative: Alternative,
): Omit<SignTestResult, 'zeros'> {
  const n = positive + negative;
  let pValue: number;
  if (n === 0) pValue = 1;
  else if (alternative === 'greater') pValue = 1 - binomialHalfCdf(positive - 1, n);
  else if (alternative === 'less') pValue = binomialHalfCdf(positive, n);
  else pValue = Math.min(1, 2 * binomialHalfCdf(Math.min(positive, negative), n));
  return { positive, negative, pValue };
}

export interface McNemarResult {
  /** Pairs where only the first outcome is 1 (blue right, green wrong). */
  b: number;
  /** Pairs where only the second outcome is 1 (blue wrong, green right). */
  c: number;
  /** (|b − c| − 1)² / (b + c), for reference (the p-value is the exact binomial one). */
  chiSquare: number;
  pValue: number;
}

/** McNemar's test on paired 0/1 outcomes, exact (binomial on the discordant pairs, as `mid-p = false`). */
export function mcNemar(
  pairs: ReadonlyArray<readonly [number, number]>,
  alternative: Alternative = 'two-sided',
): McNemarResult {
  let b = 0;
  let c = 0;
  for (const [x, y] of pairs) {
    if (x > 0 && !(y > 0)) b++;
    else if (!(x > 0) && y > 0) c++;
  }
  const chiSquare = b + c === 0 ? 0 : (Math.abs(b - c) - 1) ** 2 / (b + c);
  // 'greater': the second outcome tends to be 1 more often (c > b)
  const { pValue } = signCounts(c, b, alternative);
  return { b, c, chiSquare, pValue };
}
