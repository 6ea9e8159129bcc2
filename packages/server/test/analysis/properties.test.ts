/** Property tests (fast-check) of the statistical tests' invariants. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chiSquareHomogeneity,
  hodgesLehmann,
  logMixtureLR,
  logOneSidedMixtureLR,
  mannWhitneyU,
  twoProportionTest,
} from '../../src/analysis';

// Integer-valued samples keep shifted values exact, so ties stay ties.
const sample = fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 40 });
const alt = fc.constantFrom('two-sided' as const, 'less' as const, 'greater' as const);

describe('Mann-Whitney properties', () => {
  it('p-values lie in [0, 1] and U1 + U2 = n1·n2', () => {
    fc.assert(
      fc.property(sample, sample, alt, (x, y, alternative) => {
        const r = mannWhitneyU(x, y, { alternative });
        expect(r.pValue).toBeGreaterThanOrEqual(0);
        expect(r.pValue).toBeLessThanOrEqual(1);
        expect(r.u1 + r.u2).toBe(x.length * y.length);
      }),
    );
  });

  it('is symmetric when the arms are swapped', () => {
    fc.assert(
      fc.property(sample, sample, (x, y) => {
        const a = mannWhitneyU(x, y);
        const b = mannWhitneyU(y, x);
        expect(b.u1).toBe(a.u2);
        expect(b.pValue).toBeCloseTo(a.pValue, 12);
        expect(mannWhitneyU(y, x, { alternative: 'less' }).pValue).toBeCloseTo(
          mannWhitneyU(x, y, { alternative: 'greater' }).pValue,
          12,
        );
      }),
    );
  });

  it('is invariant to shifting both samples by the same amount', () => {
    fc.assert(
      fc.property(sample, sample, fc.integer({ min: -1000, max: 1000 }), alt, (x, y, c, alternative) => {
        const a = mannWhitneyU(x, y, { alternative });
        const b = mannWhitneyU(
          x.map((v) => v + c),
          y.map((v) => v + c),
          { alternative },
        );
        expect(b.u1).toBe(a.u1);
        expect(b.pValue).toBeCloseTo(a.pValue, 12);
      }),
    );
  });

  it('one-sided p-values move the right way when green shifts up', () => {
    fc.assert(
      fc.property(sample, sample, fc.integer({ min: 1, max: 200 }), (x, y, c) => {
        const before = mannWhitneyU(y, x, { alternative: 'greater' }).pValue;
        const after = mannWhitneyU(
          y.map((v) => v + c),
          x,
          { alternative: 'greater' },
        ).pValue;
        expect(after).toBeLessThanOrEqual(before + 1e-12);
      }),
      {
        numRuns: 2000,
        // shifts that create a tie (the exact and the normal method used to meet here)
        examples: [
          [[-1, -3, 0, 3, 1, 4, 2, -4], [-2], 1],
          [[0, -1, -2, -3, 29, -4, 31, -5], [29], 1],
        ],
      },
    );
  });
});

describe('Hodges-Lehmann properties', () => {
  it('the estimate and CI shift with the data and contain the estimate', () => {
    fc.assert(
      fc.property(sample, sample, fc.integer({ min: -100, max: 100 }), (x, y, c) => {
        const a = hodgesLehmann(x, y, 0.9);
        const b = hodgesLehmann(
          x,
          y.map((v) => v + c),
          0.9,
        );
        expect(b.estimate).toBeCloseTo(a.estimate + c, 9);
        expect(b.ci[0]).toBeCloseTo(a.ci[0] + c, 9);
        expect(b.ci[1]).toBeCloseTo(a.ci[1] + c, 9);
        expect(a.ci[0]).toBeLessThanOrEqual(a.estimate);
        expect(a.ci[1]).toBeGreaterThanOrEqual(a.estimate);
      }),
    );
  });

  it('swapping the arms negates the estimate and mirrors the CI', () => {
    fc.assert(
      fc.property(sample, sample, (x, y) => {
        const a = hodgesLehmann(x, y);
        const b = hodgesLehmann(y, x);
        expect(b.estimate).toBeCloseTo(-a.estimate, 9);
        expect(b.ci[0]).toBeCloseTo(-a.ci[1], 9);
        expect(b.ci[1]).toBeCloseTo(-a.ci[0], 9);
      }),
    );
  });
});

const counts = fc
  .tuple(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 400 }))
  .chain(([n1, n2]) =>
    fc.tuple(
      fc.integer({ min: 0, max: n1 }),
      fc.constant(n1),
      fc.integer({ min: 0, max: n2 }),
      fc.constant(n2),
    ),
  );

describe('two-proportion properties', () => {
  it('p in [0, 1], CI contains the difference, swapping arms negates it', () => {
    fc.assert(
      fc.property(counts, ([x1, n1, x2, n2]) => {
        const a = twoProportionTest(x1, n1, x2, n2);
        const b = twoProportionTest(x2, n2, x1, n1);
        expect(a.pValue).toBeGreaterThanOrEqual(0);
        expect(a.pValue).toBeLessThanOrEqual(1);
        expect(a.ci[0]).toBeLessThanOrEqual(a.diff + 1e-12);
        expect(a.ci[1]).toBeGreaterThanOrEqual(a.diff - 1e-12);
        expect(a.ci[0]).toBeGreaterThanOrEqual(-1);
        expect(a.ci[1]).toBeLessThanOrEqual(1);
        expect(b.diff).toBeCloseTo(-a.diff, 12);
        expect(b.z).toBeCloseTo(-a.z, 9);
        expect(b.pValue).toBeCloseTo(a.pValue, 12);
        expect(b.ci[0]).toBeCloseTo(-a.ci[1], 9);
      }),
    );
  });
});

const row = fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 2, maxLength: 8 });

describe('chi-square properties', () => {
  it('p in [0, 1]; symmetric in the rows; statistic scales with the counts', () => {
    fc.assert(
      fc.property(
        row.chain((a) =>
          fc.tuple(
            fc.constant(a),
            fc.array(fc.integer({ min: 1, max: 200 }), { minLength: a.length, maxLength: a.length }),
          ),
        ),
        fc.integer({ min: 2, max: 5 }),
        ([a, b], k) => {
          const r = chiSquareHomogeneity(a, b);
          expect(r.pValue).toBeGreaterThanOrEqual(0);
          expect(r.pValue).toBeLessThanOrEqual(1);
          expect(chiSquareHomogeneity(b, a).statistic).toBeCloseTo(r.statistic, 9);
          const scaled = chiSquareHomogeneity(
            a.map((v) => v * k),
            b.map((v) => v * k),
          );
          expect(scaled.statistic).toBeCloseTo(r.statistic * k, 6);
        },
      ),
    );
  });
});

describe('mSPRT mixture likelihood ratio', () => {
  // Numerical integral of the Gaussian likelihood ratio against the N(θ0, τ²) mixing density.
  function integrate(d: number, v: number, theta0: number, tau: number, side: 0 | 1 | -1): number {
    const lr = (t: number) => Math.exp(((d - theta0) ** 2 - (d - t) ** 2) / (2 * v));
    const dens = (t: number) =>
      Math.exp(-((t - theta0) ** 2) / (2 * tau * tau)) / (tau * Math.sqrt(2 * Math.PI));
    const lo = side === 1 ? theta0 : theta0 - 12 * tau;
    const hi = side === -1 ? theta0 : theta0 + 12 * tau;
    const steps = 20000;
    const h = (hi - lo) / steps;
    let s = 0;
    for (let i = 0; i <= steps; i++) {
      const t = lo + i * h;
      const w = i === 0 || i === steps ? 1 : i % 2 === 1 ? 4 : 2; // Simpson
      s += w * lr(t) * dens(t);
    }
    return ((s * h) / 3) * (side === 0 ? 1 : 2);
  }

  it('closed forms equal the numerical mixture integrals', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1, max: 1, noNaN: true }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.double({ min: -0.2, max: 0.2, noNaN: true }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        (d, v, theta0, tau) => {
          const two = integrate(d, v, theta0, tau, 0);
          expect(Math.exp(logMixtureLR(d, v, theta0, tau * tau)) / two).toBeCloseTo(1, 5);
          for (const side of [1, -1] as const) {
            const one = integrate(d, v, theta0, tau, side);
            expect(Math.exp(logOneSidedMixtureLR(d, v, theta0, tau * tau, side)) / one).toBeCloseTo(1, 5);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
