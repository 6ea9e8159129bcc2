/**
 * Two-proportion comparison: the pooled z-test (as `statsmodels.stats.proportion.proportions_ztest`
 * with its default pooled variance) and Newcombe's hybrid score interval for the difference
 * (Newcombe 1998, "Interval estimation for the difference between independent proportions",
 * Statistics in Medicine 17:873–890, method 10), which keeps its coverage for rare events
 * where the Wald interval collapses to zero width.
 */
import type { Alternative } from './mannWhitney';
import { phi, phiInv, phiUpper } from './normal';

export interface TwoProportionResult {
  /** Rate of the first sample (x1/n1) and the second (x2/n2). */
  p1: number;
  p2: number;
  /** p2 − p1. */
  diff: number;
  /** Pooled z statistic for p2 − p1. */
  z: number;
  pValue: number;
  /** Newcombe hybrid score interval for p2 − p1 at `level`. */
  ci: [number, number];
}

/** Wilson score interval for x successes out of n. */
export function wilson(x: number, n: number, level = 0.95): [number, number] {
  if (n === 0) return [0, 1];
  const z = phiInv(1 - (1 - level) / 2);
  const p = x / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return [x === 0 ? 0 : Math.max(0, center - half), x === n ? 1 : Math.min(1, center + half)];
}

export function twoProportionTest(
  x1: number,
  n1: number,
  x2: number,
  n2: number,
  opts: { alternative?: Alternative; level?: number } = {},
): TwoProportionResult {
  for (const [x, n] of [
    [x1, n1],
    [x2, n2],
  ] as const) {
    if (!Number.isInteger(n) || n <= 0 || !Number.isInteger(x) || x < 0 || x > n) {
      throw new RangeError(`invalid counts ${x}/${n}`);
    }
  }
  const alternative = opts.alternative ?? 'two-sided';
  const level = opts.level ?? 0.95;
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const diff = p2 - p1;
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  let z: number;
  let pValue: number;
  if (se === 0) {
    z = 0;
    pValue = alternative === 'two-sided' ? 1 : 0.5;
  } else {
    z = diff / se;
    pValue =
      alternative === 'two-sided'
        ? Math.min(1, 2 * phiUpper(Math.abs(z)))
        : alternative === 'greater'
          ? phiUpper(z)
          : phi(z);
  }
  const [l1, u1] = wilson(x1, n1, level);
  const [l2, u2] = wilson(x2, n2, level);
  const lower = diff - Math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2);
  const upper = diff + Math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2);
  return { p1, p2, diff, z, pValue, ci: [lower, upper] };
}
