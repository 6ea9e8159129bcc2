/**
 * Chi-square test of homogeneity for a 2 × k table (as `scipy.stats.chi2_contingency`
 * without Yates' correction, which SciPy only applies to 2 × 2 tables), with the
 * p-value from @stdlib's chi-square CDF, and the merging of sparse categories.
 */
import chisquareCdf from '@stdlib/stats-base-dists-chisquare-cdf';

export interface ChiSquareResult {
  statistic: number;
  df: number;
  pValue: number;
  /** Expected counts under homogeneity, per row. */
  expected: [number[], number[]];
}

/**
 * Pearson's chi-square for rows `a` and `b` over the same categories (counts may be
 * fractional). `yates` applies the continuity correction for a 2 × 2 table (SciPy's default
 * `correction=True` does so; it is ignored for more than two columns).
 */
export function chiSquareHomogeneity(
  a: readonly number[],
  b: readonly number[],
  opts: { yates?: boolean } = {},
): ChiSquareResult {
  if (a.length !== b.length || a.length < 2)
    throw new RangeError('chi-square needs two rows of at least 2 categories');
  const ra = a.reduce((s, x) => s + x, 0);
  const rb = b.reduce((s, x) => s + x, 0);
  const total = ra + rb;
  if (ra <= 0 || rb <= 0) throw new RangeError('chi-square needs a positive total in each row');
  const ea: number[] = [];
  const eb: number[] = [];
  let stat = 0;
  let df = 0;
  const yates = (opts.yates ?? false) && a.length === 2;
  for (let j = 0; j < a.length; j++) {
    const col = a[j]! + b[j]!;
    if (col <= 0) throw new RangeError(`category ${j} is empty in both rows`);
    const e1 = (ra * col) / total;
    const e2 = (rb * col) / total;
    ea.push(e1);
    eb.push(e2);
    for (const [o, e] of [
      [a[j]!, e1],
      [b[j]!, e2],
    ] as const) {
      let d = Math.abs(o - e);
      if (yates) d = Math.max(0, d - 0.5);
      stat += (d * d) / e;
    }
    df++;
  }
  df -= 1;
  const pValue = Math.min(1, Math.max(0, 1 - chisquareCdf(stat, df)));
  return { statistic: stat, df, pValue, expected: [ea, eb] };
}

export interface MergedTable {
  categories: string[];
  a: number[];
  b: number[];
  /** Original categories folded into `(other)`. */
  merged: string[];
}

export const OTHER = '(other)';

/**
 * Merge sparse categories so every expected count is at least `minExpected` (Cochran's rule,
 * default 5): categories are taken from the most to the least frequent (pooled); any whose
 * expected count in either row falls below the limit goes into `(other)`; if `(other)` is then
 * itself too sparse, the least frequent remaining category joins it, until it is large enough
 * or only `(other)` is left.
 */
export function mergeSparse(
  a: Record<string, number>,
  b: Record<string, number>,
  minExpected = 5,
): MergedTable {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter(
    (k) => (a[k] ?? 0) + (b[k] ?? 0) > 0,
  );
  const ra = names.reduce((s, k) => s + (a[k] ?? 0), 0);
  const rb = names.reduce((s, k) => s + (b[k] ?? 0), 0);
  const total = ra + rb;
  const expMin = (col: number) => (total === 0 ? 0 : (Math.min(ra, rb) * col) / total);
  const col = (k: string) => (a[k] ?? 0) + (b[k] ?? 0);
  names.sort((x, y) => col(y) - col(x) || (x < y ? -1 : 1));
  const keep: string[] = [];
  const merged: string[] = [];
  for (const k of names) (expMin(col(k)) >= minExpected ? keep : merged).push(k);
  let otherCol = merged.reduce((s, k) => s + col(k), 0);
  while (merged.length > 0 && expMin(otherCol) < minExpected && keep.length > 0) {
    const k = keep.pop()!;
    merged.push(k);
    otherCol += col(k);
  }
  const categories = [...keep];
  const rowA = keep.map((k) => a[k] ?? 0);
  const rowB = keep.map((k) => b[k] ?? 0);
  if (merged.length > 0) {
    categories.push(OTHER);
    rowA.push(merged.reduce((s, k) => s + (a[k] ?? 0), 0));
    rowB.push(merged.reduce((s, k) => s + (b[k] ?? 0), 0));
  }
  return { categories, a: rowA, b: rowB, merged };
}

/** Total variation distance between the two rows' distributions: ½ Σ |a_j/Σa − b_j/Σb|. */
export function totalVariation(a: readonly number[], b: readonly number[]): number {
  const ra = a.reduce((s, x) => s + x, 0);
  const rb = b.reduce((s, x) => s + x, 0);
  let d = 0;
  for (let j = 0; j < a.length; j++) d += Math.abs(a[j]! / ra - b[j]! / rb);
  return d / 2;
}
