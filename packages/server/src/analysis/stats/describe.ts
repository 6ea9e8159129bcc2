/** Small descriptive statistics used by the tests and in gate evidence. */

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Unbiased sample variance (n − 1 denominator); NaN below two values. */
export function variance(xs: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return s / (n - 1);
}

/** Quantile of already sorted values, linear interpolation (type 7, as numpy's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export function median(xs: readonly number[]): number {
  return quantileSorted(Float64Array.from(xs).sort(), 0.5);
}

/** Mean, median, p90 and count of a sample, for gate evidence. */
export function summarize(xs: readonly number[]): Record<string, number> {
  if (xs.length === 0) return { n: 0 };
  const s = Float64Array.from(xs).sort();
  return {
    n: xs.length,
    mean: mean(xs),
    median: quantileSorted(s, 0.5),
    p90: quantileSorted(s, 0.9),
    min: s[0]!,
    max: s[s.length - 1]!,
  };
}
