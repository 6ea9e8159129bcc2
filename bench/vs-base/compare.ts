/**
 * The arithmetic of a side-by-side run (`npm run bench -- vs-base`), pure: the figures of the base
 * tree's runs and the new tree's runs in, one comparison per figure out.
 *
 * - new/base is the ratio of the medians over the rounds.
 * - The base's spread against itself is the largest |run / median − 1| over its runs: how far one
 *   run of the same code strays on this machine at this time.
 * - A rate (higher is better) is within when new/base ≥ 1 − max(tolerance, spread); a cost (CPU,
 *   latency: lower is better) when new/base ≤ 1 + max(tolerance, spread).
 */

/** Which way a figure is better. */
export type Direction = 'higher' | 'lower';

export interface Comparison {
  direction: Direction;
  baseMedian: number;
  newMedian: number;
  /** new / base, of the medians. */
  ratio: number;
  /** The base's spread against itself: max |run / median − 1|. */
  spread: number;
  /** max(tolerance, spread). */
  allowed: number;
  /** The bound on `ratio`: 1 − allowed for a rate, 1 + allowed for a cost. */
  bound: number;
  met: boolean;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The largest |x / median − 1| over `xs` (0 for one run; NaN when the median is 0 or there are none). */
export function spread(xs: readonly number[]): number {
  const m = median(xs);
  if (!Number.isFinite(m) || m === 0) return NaN;
  return Math.max(...xs.map((x) => Math.abs(x / m - 1)));
}

/**
 * Compare one figure's runs. Undefined when the figure cannot be compared: a run without a finite
 * value, no runs on a side, or a base median of 0 (no ratio).
 */
export function compareRuns(
  base: readonly number[],
  next: readonly number[],
  direction: Direction,
  tolerance: number,
): Comparison | undefined {
  if (base.length === 0 || next.length === 0) return undefined;
  if (![...base, ...next].every(Number.isFinite)) return undefined;
  const baseMedian = median(base);
  const newMedian = median(next);
  if (baseMedian === 0) return undefined;
  const ratio = newMedian / baseMedian;
  const s = spread(base);
  const allowed = Math.max(tolerance, s);
  const bound = direction === 'higher' ? 1 - allowed : 1 + allowed;
  const met = direction === 'higher' ? ratio >= bound : ratio <= bound;
  return { direction, baseMedian, newMedian, ratio, spread: s, allowed, bound, met };
}

/**
 * Which way a figure of a bench is better, from its name: a rate ("append/s", "turns/s") is
 * higher-better; CPU time and latency ("µs per turn", "ms") are lower-better; anything else
 * (counts, ratios between contenders, labels) is not compared.
 */
export function directionOf(key: string): Direction | undefined {
  if (/\/s\b/.test(key)) return 'higher';
  if (/µs|\bms\b|\bCPU\b|latency/i.test(key)) return 'lower';
  return undefined;
}

/** The order of the two trees in round `r` (0-based): base first in even rounds, new first in odd ones. */
export function roundOrder(r: number): ['base', 'new'] | ['new', 'base'] {
  return r % 2 === 0 ? ['base', 'new'] : ['new', 'base'];
}

/**
 * Whether another round may start: below `rounds`, and (after the first two, which always run) not
 * when a round as long as the mean so far would end past the budget.
 */
export function mayStartRound(
  done: number,
  rounds: number,
  elapsedMs: number,
  roundsMs: number,
  budgetMs: number,
): boolean {
  if (done >= rounds) return false;
  if (done < 2) return true;
  return elapsedMs + roundsMs / done <= budgetMs;
}
