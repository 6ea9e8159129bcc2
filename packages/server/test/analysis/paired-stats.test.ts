import { describe, expect, it } from 'vitest';
import {
  binomialHalfCdf,
  exactSignedRankDistribution,
  mcNemar,
  pairedHodgesLehmann,
  signTest,
  wilcoxonSignedRank,
} from '../../src/analysis';

// Reference values from scipy 1.17 (`scipy.stats.wilcoxon(zero_method='wilcox', correction=True)`,
// `scipy.stats.binomtest`).
const D = [1.5, -0.5, 2, 3, 0.25, -1, 4, 2.5, 0, 1.75];
const E = [
  0.6, 1.1, 0.6, -1.0, 1.2, 0.7, -0.2, 0.9, 0.7, 0.6, 0.3, 0.8, -0.4, 0.1, -0.2, 0.9, 0.3, 0.0, -0.5, 0.0,
  0.3, 0.0, 1.6, 1.3, -2.4, -1.6, 0.1, -0.1, 0.5, 0.5, 2.4, -0.8, -0.1, 2.3, 0.9, 1.0, -0.2, -1.3, 0.5, 0.4,
];

describe('Wilcoxon signed-rank', () => {
  it('exact: matches scipy (zeros dropped)', () => {
    const two = wilcoxonSignedRank(D);
    expect(two.method).toBe('exact');
    expect(two.n).toBe(9);
    expect(two.zeros).toBe(1);
    expect(two.wMinus).toBe(5);
    expect(two.wPlus).toBe(40);
    expect(two.pValue).toBeCloseTo(0.0390625, 10);
    expect(wilcoxonSignedRank(D, { alternative: 'greater' }).pValue).toBeCloseTo(0.01953125, 10);
  });

  it('asymptotic with ties: matches scipy', () => {
    const r = wilcoxonSignedRank(E);
    expect(r.method).toBe('asymptotic');
    expect(Math.min(r.wPlus, r.wMinus)).toBe(200.5);
    expect(r.pValue).toBeCloseTo(0.023093997667365803, 8);
    expect(wilcoxonSignedRank(E, { alternative: 'less' }).pValue).toBeCloseTo(0.9889012588534072, 8);
  });

  it('the exact null distribution sums to 1 and is symmetric', () => {
    const p = exactSignedRankDistribution(12);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    for (let w = 0; w < p.length; w++) expect(p[w]).toBeCloseTo(p[p.length - 1 - w]!, 14);
  });

  it('no nonzero difference: p = 1', () => {
    expect(wilcoxonSignedRank([0, 0, 0]).pValue).toBe(1);
  });
});

describe('paired Hodges-Lehmann', () => {
  it('is the median of the Walsh averages with the exact signed-rank interval', () => {
    const hl = pairedHodgesLehmann(D, 0.95);
    expect(hl.estimate).toBe(1.375);
    // n = 10: the two-sided 5% critical value of W is 8, so the interval is [w(9), w(47)]
    expect(hl.ci).toEqual([0.125, 2.5]);
    expect(hl.level).toBeGreaterThanOrEqual(0.95);
  });

  it('shifts with the data and covers the true shift in the normal approximation', () => {
    const shifted = E.map((x) => x + 10);
    const a = pairedHodgesLehmann(E, 0.9);
    const b = pairedHodgesLehmann(shifted, 0.9);
    expect(b.estimate).toBeCloseTo(a.estimate + 10, 10);
    expect(b.ci[0]).toBeCloseTo(a.ci[0] + 10, 10);
    expect(a.ci[0]).toBeLessThan(a.estimate);
    expect(a.ci[1]).toBeGreaterThan(a.estimate);
  });
});

describe('sign and McNemar tests', () => {
  it('binomial tail matches scipy', () => {
    expect(2 * binomialHalfCdf(3, 12)).toBeCloseTo(0.14599609375, 12);
    expect(signTest([1, 1, 1, -1, 2, 3, 4, 5, 6, -2, 1, -3, 0]).pValue).toBeCloseTo(0.14599609375, 12);
    expect(signTest([1, 1, 1, -1, 2, 3, 4, 5, 6, -2, 1, -3], 'greater').pValue).toBeCloseTo(
      0.072998046875,
      12,
    );
  });

  it('McNemar counts the discordant pairs only', () => {
    const pairs: Array<[number, number]> = [
      ...Array.from({ length: 9 }, () => [1, 0] as [number, number]),
      ...Array.from({ length: 3 }, () => [0, 1] as [number, number]),
      ...Array.from({ length: 50 }, () => [1, 1] as [number, number]),
      ...Array.from({ length: 20 }, () => [0, 0] as [number, number]),
    ];
    const r = mcNemar(pairs);
    expect(r.b).toBe(9);
    expect(r.c).toBe(3);
    expect(r.pValue).toBeCloseTo(0.14599609375, 12);
    expect(r.chiSquare).toBeCloseTo(25 / 12, 12);
    expect(mcNemar(pairs, 'less').pValue).toBeCloseTo(0.072998046875, 12);
  });
});
