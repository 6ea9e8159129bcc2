/**
 * Statistical tests against published reference values. Each fixture cites its source; values
 * we could not take from a publication are exact hand computations (closed forms, or full
 * enumeration of the permutation distribution), as noted.
 */
import { describe, expect, it } from 'vitest';
import {
  chiSquareHomogeneity,
  exactUDistribution,
  hodgesLehmann,
  kthPairwiseDiff,
  mannWhitneyU,
  mergeSparse,
  phi,
  phiInv,
  totalVariation,
  twoProportionTest,
  wilson,
} from '../../src/analysis';
import { rng } from './helpers';

describe('normal helpers', () => {
  it('phiInv inverts phi to near double precision', () => {
    for (const p of [1e-10, 0.001, 0.025, 0.1, 0.5, 0.8, 0.975, 0.999999]) {
      expect(phi(phiInv(p))).toBeCloseTo(p, 12);
    }
    expect(phiInv(0.975)).toBeCloseTo(1.959963984540054, 12);
    expect(phiInv(0.95)).toBeCloseTo(1.6448536269514722, 12);
  });
});

describe('Mann-Whitney U', () => {
  // scipy.stats.mannwhitneyu documentation, "Examples": ages of males and females,
  // U1 = 17.0; method="exact" p = 0.1111111111111111; method="asymptotic" p = 0.11134688653314041.
  const males = [19, 22, 16, 29, 24];
  const females = [20, 11, 17, 12];

  it('matches the SciPy documentation example (exact and asymptotic)', () => {
    const exact = mannWhitneyU(males, females);
    expect(exact.method).toBe('exact');
    expect(exact.u1).toBe(17);
    expect(exact.pValue).toBeCloseTo(0.1111111111111111, 14);
    const asym = mannWhitneyU(males, females, { method: 'asymptotic' });
    expect(asym.pValue).toBeCloseTo(0.11134688653314041, 12);
  });

  // Hollander & Wolfe (1973), p. 69, as reproduced in R's ?wilcox.test examples:
  // W = 35, one-sided ("greater") exact p-value = 0.1272; large-sample approximation
  // without continuity correction p = 0.1103.
  const hwX = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
  const hwY = [1.15, 0.88, 0.9, 0.74, 1.21];

  it('matches the Hollander & Wolfe example (exact and normal approximation)', () => {
    const r = mannWhitneyU(hwX, hwY, { alternative: 'greater' });
    expect(r.u1).toBe(35);
    expect(r.pValue).toBeCloseTo(0.1272, 4);
    expect(r.pValue).toBeCloseTo(0.1272061272061272, 12); // 382/3003 by enumeration
    const a = mannWhitneyU(hwX, hwY, { alternative: 'greater', method: 'asymptotic', continuity: false });
    expect(a.pValue).toBeCloseTo(0.1103, 4);
  });

  it('applies the tie correction in the normal approximation', () => {
    // Hand computation: mid-ranks, U1 = 29, Σ(t³−t) = 282, σ² = n1·n2/12·((n+1) − 282/(n(n−1))),
    // n1 = 10, n2 = 11: two-sided p = 0.06819732521733005, "less" p = 0.03409866260866502.
    const a = [1, 2, 2, 3, 3, 3, 4, 5, 5, 6];
    const b = [2, 3, 3, 4, 5, 5, 5, 6, 7, 7, 8];
    const two = mannWhitneyU(a, b);
    expect(two.method).toBe('asymptotic');
    expect(two.u1).toBe(29);
    expect(two.tieTerm).toBe(282);
    expect(two.pValue).toBeCloseTo(0.06819732521733005, 12);
    expect(mannWhitneyU(a, b, { alternative: 'less' }).pValue).toBeCloseTo(0.03409866260866502, 12);
  });

  it('exact null distribution sums to one and is symmetric', () => {
    const d = exactUDistribution(6, 9);
    expect(d.length).toBe(55);
    expect(d.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    for (let u = 0; u < d.length; u++) expect(d[u]).toBeCloseTo(d[d.length - 1 - u]!, 14);
    // 1/C(15,6) for the extreme arrangement.
    expect(d[0]).toBeCloseTo(1 / 5005, 15);
  });

  it('with ties, the exact method is the permutation distribution given the tie pattern (full enumeration)', () => {
    const x = [1, 2, 2, 3, 5];
    const y = [2, 3, 3, 4, 6, 6, 7];
    const pooled = [...x, ...y];
    const u1Of = (idx: number[]) => {
      const a = idx.map((i) => pooled[i]!);
      const b = pooled.filter((_, i) => !idx.includes(i));
      let u = 0;
      for (const v of a) for (const w of b) u += v > w ? 1 : v === w ? 0.5 : 0;
      return u;
    };
    // every way to pick which 5 of the 12 pooled values form the first sample
    const all: number[] = [];
    const pick = (from: number, chosen: number[]) => {
      if (chosen.length === x.length) return void all.push(u1Of(chosen));
      for (let i = from; i < pooled.length; i++) pick(i + 1, [...chosen, i]);
    };
    pick(0, []);
    expect(all.length).toBe(792); // C(12, 5)
    const observed = u1Of([0, 1, 2, 3, 4]);
    const greater = all.filter((u) => u >= observed).length / all.length;
    const less = all.filter((u) => u <= observed).length / all.length;
    const r = mannWhitneyU(x, y, { alternative: 'greater' });
    expect(r.method).toBe('exact');
    expect(r.u1).toBe(observed);
    expect(r.pValue).toBeCloseTo(greater, 14);
    expect(mannWhitneyU(x, y, { alternative: 'less' }).pValue).toBeCloseTo(less, 14);
    expect(mannWhitneyU(x, y).pValue).toBeCloseTo(Math.min(1, 2 * Math.min(greater, less)), 14);
    // the larger sample enumerated the other way round gives the same answer
    expect(mannWhitneyU(y, x, { alternative: 'less' }).pValue).toBeCloseTo(greater, 14);
  });

  it('returns p = 1 when every value is the same', () => {
    expect(mannWhitneyU([1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]).pValue).toBe(1);
  });
});

describe('Hodges-Lehmann', () => {
  it('matches the exact interval of the Hollander & Wolfe example', () => {
    // R: wilcox.test(x, y, conf.int = TRUE) gives difference in location 0.305 and the 95% CI
    // (−0.76, 0.15) for x − y; ours is the shift of the second sample: y − x.
    const r = hodgesLehmann(
      [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46],
      [1.15, 0.88, 0.9, 0.74, 1.21],
    );
    expect(r.estimate).toBeCloseTo(-0.305, 12);
    expect(r.k).toBe(9);
    expect(r.ci[0]).toBeCloseTo(-0.76, 12);
    expect(r.ci[1]).toBeCloseTo(0.15, 12);
    expect(r.level).toBeCloseTo(0.96004, 4); // achieved coverage 1 − 2·P(U ≤ 8)
  });

  it('selects order statistics of pairwise differences exactly (against sorting them all)', () => {
    const r = rng(7);
    for (let trial = 0; trial < 30; trial++) {
      const n1 = 1 + Math.floor(r() * 40);
      const n2 = 1 + Math.floor(r() * 40);
      const discrete = trial % 2 === 0;
      const draw = () => (discrete ? Math.floor(r() * 5) / 4 : r() * 10 - 5);
      const x = Float64Array.from({ length: n1 }, draw).sort();
      const y = Float64Array.from({ length: n2 }, draw).sort();
      const all: number[] = [];
      for (const a of x) for (const b of y) all.push(b - a);
      all.sort((a, b) => a - b);
      for (const k of [1, Math.ceil(all.length / 3), Math.ceil(all.length / 2), all.length]) {
        expect(kthPairwiseDiff(x, y, k)).toBe(all[k - 1]);
      }
    }
  });
});

describe('two proportions', () => {
  // Newcombe (1998), Statistics in Medicine 17:873–890, Table II, method 10 (hybrid score):
  // (a) 56/70 − 48/80: 0.0524 to 0.3339; (b) 9/10 − 3/10: 0.1705 to 0.8090;
  // (h) 0/10 − 0/20: −0.1611 to 0.2775. Our difference is second − first.
  it.each([
    [48, 80, 56, 70, 0.0524, 0.3339],
    [3, 10, 9, 10, 0.1705, 0.809],
    [0, 20, 0, 10, -0.1611, 0.2775],
  ])('Newcombe interval for %i/%i vs %i/%i', (x1, n1, x2, n2, lo, hi) => {
    const r = twoProportionTest(x1, n1, x2, n2);
    expect(r.ci[0]).toBeCloseTo(lo, 4);
    expect(r.ci[1]).toBeCloseTo(hi, 4);
  });

  it('pooled z-test matches the closed form', () => {
    // 30/500 vs 45/500: pooled p = 0.075, z = 0.03 / sqrt(0.075·0.925·(2/500)) = 1.8009006755629924,
    // two-sided p = 0.07171853650843417, one-sided p = 0.035859268254217085.
    const r = twoProportionTest(30, 500, 45, 500);
    expect(r.z).toBeCloseTo(1.8009006755629924, 12);
    expect(r.pValue).toBeCloseTo(0.07171853650843417, 12);
    expect(twoProportionTest(30, 500, 45, 500, { alternative: 'greater' }).pValue).toBeCloseTo(
      0.035859268254217085,
      12,
    );
    expect(twoProportionTest(30, 500, 45, 500, { alternative: 'less' }).pValue).toBeCloseTo(
      1 - 0.035859268254217085,
      12,
    );
  });

  it('Wilson interval of 0/n is not degenerate', () => {
    const [lo, hi] = wilson(0, 20);
    expect(lo).toBe(0);
    expect(hi).toBeCloseTo(0.1611, 4);
  });
});

describe('chi-square homogeneity', () => {
  it('matches the scipy.stats.chi2_contingency documentation example', () => {
    // obs = [[10, 10, 20], [20, 20, 20]]: statistic 2.7777777777777777, p 0.24935220877729619,
    // dof 2, expected [[12, 12, 16], [18, 18, 24]].
    const r = chiSquareHomogeneity([10, 10, 20], [20, 20, 20]);
    expect(r.statistic).toBeCloseTo(2.7777777777777777, 12);
    expect(r.pValue).toBeCloseTo(0.24935220877729619, 10);
    expect(r.df).toBe(2);
    expect(r.expected).toEqual([
      [12, 12, 16],
      [18, 18, 24],
    ]);
  });

  it('applies Yates correction to a 2x2 table when asked', () => {
    // Hand computation: [[12, 5], [7, 15]], expected 8.282/8.718/10.718/11.282; with |o−e| − 0.5:
    const r = chiSquareHomogeneity([12, 5], [7, 15], { yates: true });
    const plain = chiSquareHomogeneity([12, 5], [7, 15]);
    expect(r.statistic).toBeLessThan(plain.statistic);
    const e = [(17 * 19) / 39, (17 * 20) / 39, (22 * 19) / 39, (22 * 20) / 39];
    const o = [12, 5, 7, 15];
    const expected = o.reduce((s, oi, i) => s + (Math.abs(oi - e[i]!) - 0.5) ** 2 / e[i]!, 0);
    expect(r.statistic).toBeCloseTo(expected, 12);
  });

  it('merges sparse categories into (other) until expected counts reach 5', () => {
    const t = mergeSparse(
      { search: 50, email: 30, fax: 4, pager: 3, telex: 1 },
      { search: 40, email: 35, fax: 3, pager: 2, telex: 0 },
    );
    // fax, pager, telex each expect < 5 in the smaller row; together 13 calls, ≥ 5 expected.
    expect(t.categories).toEqual(['search', 'email', '(other)']);
    expect(t.a).toEqual([50, 30, 8]);
    expect(t.b).toEqual([40, 35, 5]);
    expect(t.merged.sort()).toEqual(['fax', 'pager', 'telex']);
  });

  it('folds the least frequent kept category into a still-sparse (other)', () => {
    const t = mergeSparse(
      { search: 50, email: 30, fax: 1, pager: 2 },
      { search: 40, email: 35, fax: 0, pager: 1 },
    );
    expect(t.categories).toEqual(['search', '(other)']);
    expect(t.a).toEqual([50, 33]);
    expect(t.b).toEqual([40, 36]);
    expect(t.merged.sort()).toEqual(['email', 'fax', 'pager']);
  });

  it('total variation distance', () => {
    expect(totalVariation([1, 1], [1, 1])).toBe(0);
    expect(totalVariation([1, 0], [0, 1])).toBe(1);
    expect(totalVariation([3, 1], [1, 1])).toBeCloseTo(0.25);
  });
});
