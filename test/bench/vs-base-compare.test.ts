import { describe, expect, it } from 'vitest';
import {
  compareRuns,
  directionOf,
  mayStartRound,
  median,
  roundOrder,
  spread,
} from '../../bench/vs-base/compare';

describe('vs-base comparison arithmetic', () => {
  it('takes the median of odd and even counts, NaN of none', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it("measures the base's spread as the largest |run / median - 1|", () => {
    expect(spread([90, 100, 120])).toBeCloseTo(0.2, 12);
    expect(spread([100])).toBe(0);
    expect(spread([0, 0, 1])).toBeNaN();
  });

  it('judges a rate against 1 - max(tolerance, spread)', () => {
    // base spread 1 %: the 5 % tolerance decides
    const within = compareRuns([99, 100, 101], [96, 95, 97], 'higher', 0.05)!;
    expect(within.ratio).toBeCloseTo(0.96, 12);
    expect(within.allowed).toBe(0.05);
    expect(within.bound).toBeCloseTo(0.95, 12);
    expect(within.met).toBe(true);
    const slower = compareRuns([99, 100, 101], [93, 94, 95], 'higher', 0.05)!;
    expect(slower.ratio).toBeCloseTo(0.94, 12);
    expect(slower.met).toBe(false);
    // a faster new tree is always within
    expect(compareRuns([99, 100, 101], [150, 150, 150], 'higher', 0.05)!.met).toBe(true);
  });

  it("widens the bound to the base's spread when it is larger than the tolerance", () => {
    // base runs 80, 100, 130: spread 0.3, so a rate down to 0.7 of the base is within
    const c = compareRuns([80, 100, 130], [72, 75, 71], 'higher', 0.05)!;
    expect(c.spread).toBeCloseTo(0.3, 12);
    expect(c.allowed).toBeCloseTo(0.3, 12);
    expect(c.bound).toBeCloseTo(0.7, 12);
    expect(c.ratio).toBeCloseTo(0.72, 12);
    expect(c.met).toBe(true);
    expect(compareRuns([80, 100, 130], [68, 69, 60], 'higher', 0.05)!.met).toBe(false);
  });

  it('judges a cost against 1 + max(tolerance, spread)', () => {
    const cheaper = compareRuns([200, 205, 210], [150, 150, 150], 'lower', 0.1)!;
    expect(cheaper.bound).toBeCloseTo(1.1, 12);
    expect(cheaper.met).toBe(true);
    const within = compareRuns([200, 205, 210], [224, 225, 226], 'lower', 0.1)!;
    expect(within.ratio).toBeCloseTo(225 / 205, 12);
    expect(within.met).toBe(true);
    const costlier = compareRuns([200, 205, 210], [230, 231, 240], 'lower', 0.1)!;
    expect(costlier.ratio).toBeCloseTo(231 / 205, 12);
    expect(costlier.met).toBe(false);
  });

  it('compares the medians, so one stray run moves neither side', () => {
    const c = compareRuns([100, 10, 100, 100, 100], [100, 100, 1000, 100, 100], 'higher', 0.05)!;
    expect(c.baseMedian).toBe(100);
    expect(c.newMedian).toBe(100);
    expect(c.ratio).toBe(1);
  });

  it('does not compare a figure missing from a run, not finite, or with a base median of 0', () => {
    expect(compareRuns([100, NaN], [100, 100], 'higher', 0.05)).toBeUndefined();
    expect(compareRuns([100, 100], [100, Infinity], 'higher', 0.05)).toBeUndefined();
    expect(compareRuns([], [100], 'higher', 0.05)).toBeUndefined();
    expect(compareRuns([0, 0], [1, 1], 'lower', 0.05)).toBeUndefined();
  });

  it('tells rates from costs by their names and leaves the rest out', () => {
    expect(directionOf('sqlite FULL 10KB baton append/s')).toBe('higher');
    expect(directionOf('router turns/s (synchronous=FULL)')).toBe('higher');
    expect(directionOf('concurrent postgres baton group commit appends/s')).toBe('higher');
    expect(directionOf('router CPU µs per turn (NORMAL)')).toBe('lower');
    expect(directionOf('encryption sqlite FULL 10KB append on/off')).toBeUndefined();
    expect(directionOf('sqlite FULL put ratio (baton / langgraph)')).toBeUndefined();
    expect(directionOf('concurrent postgres baton appends per transaction')).toBeUndefined();
  });

  it('rotates the order of the trees round by round', () => {
    expect([0, 1, 2, 3].map(roundOrder)).toEqual([
      ['base', 'new'],
      ['new', 'base'],
      ['base', 'new'],
      ['new', 'base'],
    ]);
  });

  it('always runs two rounds, then none that would end past the budget', () => {
    // 100 s elapsed, rounds of 60 s so far: a third one would end at 160 s
    expect(mayStartRound(0, 3, 0, 0, 50_000)).toBe(true);
    expect(mayStartRound(1, 3, 200_000, 200_000, 50_000)).toBe(true);
    expect(mayStartRound(2, 3, 100_000, 120_000, 160_000)).toBe(true);
    expect(mayStartRound(2, 3, 100_000, 120_000, 159_999)).toBe(false);
    expect(mayStartRound(3, 3, 0, 1, 1e12)).toBe(false);
  });
});
