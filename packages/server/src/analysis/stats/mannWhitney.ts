/**
 * Mann-Whitney U test with tie correction, and the Hodges-Lehmann shift estimate with a
 * distribution-free confidence interval from the order statistics of pairwise differences.
 *
 * Conventions follow `scipy.stats.mannwhitneyu` (SciPy ≥ 1.7):
 * - `U1` is the statistic of the first sample `x`: R1 − n1(n1+1)/2, with mid-ranks for ties;
 * - `alternative: 'greater'` means x is stochastically greater than y;
 * - `method: 'auto'` uses the exact null distribution when one sample has at most 8 values
 *   (and, unlike SciPy, the other at most 100, to bound the cost of the exact distribution;
 *   the normal approximation is accurate there), the normal approximation otherwise;
 * - with ties, the exact method is the permutation distribution of U given the pooled
 *   sample's tie pattern (mid-ranks), where SciPy's 'auto' would fall back to the normal
 *   approximation: a tie that a shift creates then moves the p-value the way the shift
 *   does, which switching between the two methods did not (a one-sided p-value could rise
 *   when the first sample moved up);
 * - the normal approximation uses the tie-corrected variance
 *   σ² = n1·n2/12 · ((n+1) − Σ(t³−t)/(n(n−1))) and a continuity correction of 0.5.
 */
import { phiInv, phiUpper } from './normal';

export type Alternative = 'two-sided' | 'less' | 'greater';

export interface MannWhitneyOptions {
  alternative?: Alternative;
  method?: 'auto' | 'exact' | 'asymptotic';
  continuity?: boolean;
}

export interface MannWhitneyResult {
  /** U statistic of the first sample. */
  u1: number;
  /** U statistic of the second sample (n1·n2 − U1). */
  u2: number;
  pValue: number;
  /** Standardized statistic of the normal approximation (NaN for the exact method). */
  z: number;
  method: 'exact' | 'asymptotic';
  n1: number;
  n2: number;
  /** Σ(t³ − t) over tie groups of the pooled sample. */
  tieTerm: number;
}

/** Mid-ranks (1-based) of `xs` concatenated with `ys`, returning the rank sum of xs and the tie term. */
export function rankSum(xs: readonly number[], ys: readonly number[]): { r1: number; tieTerm: number } {
  const n1 = xs.length;
  const n = n1 + ys.length;
  const idx = new Int32Array(n);
  const vals = new Float64Array(n);
  for (let i = 0; i < n1; i++) vals[i] = xs[i]!;
  for (let j = 0; j < ys.length; j++) vals[n1 + j] = ys[j]!;
  for (let i = 0; i < n; i++) idx[i] = i;
  idx.sort((a, b) => vals[a]! - vals[b]!);
  let r1 = 0;
  let tieTerm = 0;
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && vals[idx[j]!] === vals[idx[i]!]) j++;
    const t = j - i;
    const mid = (i + 1 + j) / 2; // average of ranks i+1..j
    for (let k = i; k < j; k++) if (idx[k]! < n1) r1 += mid;
    if (t > 1) tieTerm += t * t * t - t;
    i = j;
  }
  return { r1, tieTerm };
}

const exactCache = new Map<string, Float64Array>();

/**
 * Null distribution of U for sample sizes m, n without ties: counts c[u] of arrangements with
 * U = u, normalized to probabilities. Recurrence f(m,n,u) = f(m−1,n,u−n) + f(m,n−1,u).
 */
export function exactUDistribution(m: number, n: number): Float64Array {
  const key = `${Math.min(m, n)},${Math.max(m, n)}`;
  const hit = exactCache.get(key);
  if (hit) return hit;
  const a = Math.min(m, n);
  const b = Math.max(m, n);
  // f[i][j] arrays over u, built up by i (smaller size) and j.
  let prev: Float64Array[] = [];
  for (let j = 0; j <= b; j++) prev.push(Float64Array.of(1)); // i = 0: U = 0 only
  for (let i = 1; i <= a; i++) {
    const cur: Float64Array[] = [Float64Array.of(1)]; // j = 0
    for (let j = 1; j <= b; j++) {
      const size = i * j + 1;
      const f = new Float64Array(size);
      const left = prev[j]!; // f(i−1, j, u − j)
      const down = cur[j - 1]!; // f(i, j−1, u)
      for (let u = 0; u < size; u++) {
        const x = u - j >= 0 && u - j < left.length ? left[u - j]! : 0;
        const y = u < down.length ? down[u]! : 0;
        f[u] = x + y;
      }
      cur.push(f);
    }
    prev = cur;
  }
  const counts = prev[b]!;
  let total = 0;
  for (const c of counts) total += c;
  const p = counts.map((c) => c / total);
  exactCache.set(key, p);
  return p;
}

function smallEnoughForExact(n1: number, n2: number): boolean {
  return Math.min(n1, n2) <= 8 && Math.max(n1, n2) <= 100;
}

/**
 * Tie groups of the pooled sample: per distinct value, its count and twice its mid-rank (an
 * integer, so rank sums compare exactly).
 */
function tieGroups(xs: readonly number[], ys: readonly number[]): Array<{ t: number; rank2: number }> {
  const vals = Float64Array.from([...xs, ...ys]).sort();
  const groups: Array<{ t: number; rank2: number }> = [];
  let i = 0;
  while (i < vals.length) {
    let j = i + 1;
    while (j < vals.length && vals[j] === vals[i]) j++;
    groups.push({ t: j - i, rank2: i + 1 + j });
    i = j;
  }
  return groups;
}

/**
 * The permutation distribution of twice the rank sum of a sample of `a` values drawn from the
 * pooled tie groups: counts[s] of the ways (of C(n, a)) to get 2·R = s. A DP over the groups,
 * choosing k of a group's t values in C(t, k) ways; a ≤ 8 here, so s ≤ 2·a·n stays small.
 */
function tiedRankSumCounts(
  groups: Array<{ t: number; rank2: number }>,
  a: number,
  n: number,
): Float64Array[] {
  const maxS = 2 * a * n + 1;
  let dp: Float64Array[] = Array.from({ length: a + 1 }, () => new Float64Array(maxS));
  dp[0]![0] = 1;
  for (const g of groups) {
    const next: Float64Array[] = Array.from({ length: a + 1 }, () => new Float64Array(maxS));
    for (let k = 0; k <= a; k++) {
      const row = dp[k]!;
      for (let s = 0; s < maxS; s++) {
        const w = row[s]!;
        if (w === 0) continue;
        let ways = 1; // C(t, c), built up as c grows
        for (let c = 0; c <= g.t && k + c <= a; c++) {
          if (c > 0) ways = (ways * (g.t - c + 1)) / c;
          next[k + c]![s + c * g.rank2]! += w * ways;
        }
      }
    }
    dp = next;
  }
  return dp;
}

/**
 * Exact tail probabilities of U1 (the first sample's U) under the permutation distribution
 * given the tie pattern: [P(U1* ≥ u1), P(U1* ≤ u1)]. The rank sum of the smaller sample is
 * enumerated; U of the other follows from U1 + U2 = n1·n2.
 */
function exactTiedTails(x: readonly number[], y: readonly number[], r1: number): [number, number] {
  const n1 = x.length;
  const n2 = y.length;
  const n = n1 + n2;
  const firstSmaller = n1 <= n2;
  const a = firstSmaller ? n1 : n2;
  const counts = tiedRankSumCounts(tieGroups(x, y), a, n)[a]!;
  // twice the observed rank sum of the enumerated sample
  const obs2 = Math.round(2 * (firstSmaller ? r1 : (n * (n + 1)) / 2 - r1));
  let total = 0;
  let atLeast = 0;
  let atMost = 0;
  for (let s = 0; s < counts.length; s++) {
    const c = counts[s]!;
    if (c === 0) continue;
    total += c;
    if (s >= obs2) atLeast += c;
    if (s <= obs2) atMost += c;
  }
  // a larger rank sum of the second sample is a smaller U1
  return firstSmaller ? [atLeast / total, atMost / total] : [atMost / total, atLeast / total];
}

/** P(U ≥ u) under the exact null (sizes m, n, no ties). */
function exactSf(u: number, m: number, n: number): number {
  const p = exactUDistribution(m, n);
  let s = 0;
  for (let k = Math.max(0, Math.ceil(u)); k < p.length; k++) s += p[k]!;
  return Math.min(1, s);
}

export function mannWhitneyU(
  x: readonly number[],
  y: readonly number[],
  opts: MannWhitneyOptions = {},
): MannWhitneyResult {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('mannWhitneyU needs two non-empty samples');
  const alternative = opts.alternative ?? 'two-sided';
  const continuity = opts.continuity ?? true;
  const { r1, tieTerm } = rankSum(x, y);
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const u2 = n1 * n2 - u1;
  let method = opts.method ?? 'auto';
  if (method === 'auto') method = smallEnoughForExact(n1, n2) ? 'exact' : 'asymptotic';
  const [u, factor] =
    alternative === 'greater' ? [u1, 1] : alternative === 'less' ? [u2, 1] : [Math.max(u1, u2), 2];
  let p: number;
  let z = NaN;
  if (method === 'exact' && tieTerm > 0) {
    const [upper, lower] = exactTiedTails(x, y, r1);
    p = alternative === 'greater' ? upper : alternative === 'less' ? lower : Math.min(upper, lower);
  } else if (method === 'exact') {
    p = exactSf(u, n1, n2);
  } else {
    const n = n1 + n2;
    const mu = (n1 * n2) / 2;
    const s = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
    if (s === 0) {
      // Every value is identical: no evidence of any difference.
      z = 0;
      p = alternative === 'two-sided' ? 1 : 0.5;
      return { u1, u2, pValue: p, z, method, n1, n2, tieTerm };
    }
    z = (u - mu - (continuity ? 0.5 : 0)) / s;
    p = phiUpper(z);
  }
  p = Math.min(1, Math.max(0, p * factor));
  return { u1, u2, pValue: p, z, method, n1, n2, tieTerm };
}

/** Number of pairs (i, j) with y[j] − x[i] ≤ t; xs and ys sorted ascending. O(n1 + n2). */
function countDiffAtMost(xs: Float64Array, ys: Float64Array, t: number): number {
  let count = 0;
  let p = 0; // first index with ys[j] − xs[p] ≤ t, scanning from the largest x down
  // For each y (ascending), the x's with x ≥ y − t: the pointer into xs only moves right.
  for (let j = 0; j < ys.length; j++) {
    const yj = ys[j]!;
    while (p < xs.length && yj - xs[p]! > t) p++;
    count += xs.length - p;
  }
  return count;
}

/** Smallest pairwise difference y[j] − x[i] that is strictly greater than `lo`. */
function smallestDiffAbove(xs: Float64Array, ys: Float64Array, lo: number): number {
  let best = Infinity;
  let q = 0;
  for (let i = 0; i < xs.length; i++) {
    const xi = xs[i]!;
    while (q < ys.length && !(ys[q]! - xi > lo)) q++;
    if (q === ys.length) break;
    const d = ys[q]! - xi;
    if (d < best) best = d;
  }
  return best;
}

/**
 * The k-th smallest (1-based) of the n1·n2 pairwise differences y[j] − x[i], without
 * materializing them: bisection on the value with an O(n) counting pass, then a snap to
 * the exact difference. xs and ys must be sorted ascending.
 */
export function kthPairwiseDiff(xs: Float64Array, ys: Float64Array, k: number): number {
  const N = xs.length * ys.length;
  if (k < 1 || k > N) throw new RangeError(`k=${k} outside 1..${N}`);
  let lo = ys[0]! - xs[xs.length - 1]!; // the minimum difference
  if (k === 1) return lo;
  let hi = ys[ys.length - 1]! - xs[0]!; // the maximum difference
  if (k === N) return hi;
  // Invariant: count(lo) < k ≤ count(hi).
  if (countDiffAtMost(xs, ys, lo) >= k) return lo;
  for (let it = 0; it < 80; it++) {
    const mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    if (countDiffAtMost(xs, ys, mid) >= k) hi = mid;
    else lo = mid;
  }
  const v = smallestDiffAbove(xs, ys, lo);
  return v <= hi ? v : hi;
}

export interface HodgesLehmann {
  /** Median of the pairwise differences y − x (the shift of y relative to x). */
  estimate: number;
  ci: [number, number];
  /** Achieved two-sided confidence level of the order-statistic interval (approximate with ties). */
  level: number;
  /** Order statistic used for the lower bound (the upper is n1·n2 + 1 − k). */
  k: number;
}

/**
 * Hodges-Lehmann estimate of the shift of y relative to x and its distribution-free
 * confidence interval [D(k), D(N+1−k)] over the sorted pairwise differences D.
 * k is the largest integer with P(U ≤ k − 1) ≤ (1 − level)/2 under the null: exact when one
 * sample has at most 8 values (the other at most 100), otherwise from the normal approximation with continuity
 * correction, k = floor(n1·n2/2 − z·σ + 0.5), σ² = n1·n2·(n1+n2+1)/12 (Hollander & Wolfe,
 * Nonparametric Statistical Methods, §4.3). k depends on the sample sizes only, not on ties:
 * ties between the samples change with the shift being tested, so a tie correction taken
 * from the observed samples would make the interval depend on where the data sit; without
 * it the interval is shift-equivariant and, with ties, conservative.
 */
export function hodgesLehmann(x: readonly number[], y: readonly number[], level = 0.95): HodgesLehmann {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('hodgesLehmann needs two non-empty samples');
  const xs = Float64Array.from(x).sort();
  const ys = Float64Array.from(y).sort();
  const N = n1 * n2;
  const estimate =
    N % 2 === 1
      ? kthPairwiseDiff(xs, ys, (N + 1) / 2)
      : (kthPairwiseDiff(xs, ys, N / 2) + kthPairwiseDiff(xs, ys, N / 2 + 1)) / 2;
  const gamma = (1 - level) / 2;
  let k: number;
  let achieved: number;
  if (smallEnoughForExact(n1, n2)) {
    const p = exactUDistribution(n1, n2);
    let cdf = 0;
    k = 0; // P(U ≤ k − 1) ≤ γ for the largest such k
    while (k < p.length && cdf + p[k]! <= gamma + 1e-12) {
      cdf += p[k]!;
      k++;
    }
    achieved = 1 - 2 * cdf;
  } else {
    const n = n1 + n2;
    const s = Math.sqrt((N / 12) * (n + 1));
    const z = phiInv(1 - gamma);
    k = Math.floor(N / 2 - z * s + 0.5);
    achieved = level;
  }
  if (k < 1) {
    // Too few values for this level: the widest interval there is.
    return { estimate, ci: [-Infinity, Infinity], level: 1, k: 0 };
  }
  const lower = kthPairwiseDiff(xs, ys, k);
  const upper = kthPairwiseDiff(xs, ys, N + 1 - k);
  return { estimate, ci: [lower, upper], level: achieved, k };
}
