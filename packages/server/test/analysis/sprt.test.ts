/** Wald's SPRT (point-mass mSPRT at the margin): reference values, properties, simulated error rates, the gate. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  evaluateGate,
  fixedHorizonN,
  prepareGate,
  SequentialJudge,
  sprtBoundaries,
  sprtLogLR,
  waldEfficiencyBound,
  type AnalysisGateSpec,
  type SequentialConfig,
} from '../../src/analysis';
import { evalAggs, rng } from './helpers';

function gauss(r: () => number): number {
  let u = 0;
  while (u === 0) u = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** Feed pairs (blue ~ N(0, 1), green ~ N(shift, 1)), looking after every pair, until a decision. */
function runPairs(
  cfg: Partial<SequentialConfig>,
  shift: number,
  seed: number,
  limit = 10_000,
): { decision: string; n: number } {
  const judge = new SequentialJudge({
    kind: 'mean',
    mode: 'sprt',
    badSign: -1,
    margin: 0.5,
    alpha: 0.05,
    minSamples: 10,
    ...cfg,
  });
  const r = rng(seed);
  let n = 0;
  while (judge.decision === 'continue' && n < limit) {
    judge.observe('blue', gauss(r));
    judge.observe('green', shift + gauss(r));
    n++;
    judge.look();
  }
  return { decision: judge.decision, n };
}

describe('SPRT reference values', () => {
  it("Wald's boundaries: A = (1 − β)/α, B = β/(1 − α)", () => {
    // Wald (1945): α = 0.05, β = 0.2 gives A = 16 and B = 0.2/0.95 = 0.2105.
    const b = sprtBoundaries(0.05, 0.2);
    expect(b.upper).toBeCloseTo(Math.log(16), 12);
    expect(b.lower).toBeCloseTo(Math.log(0.2 / 0.95), 12);
    expect(Math.exp(b.lower)).toBeCloseTo(0.210526, 6);
  });

  it('the log-likelihood ratio is the ratio of two normal densities of d', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -2, max: 2, noNaN: true }),
        fc.double({ min: 0.001, max: 2, noNaN: true }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.constantFrom(1 as const, -1 as const),
        (d, v, margin, s) => {
          const logDens = (mu: number) => -((d - mu) ** 2) / (2 * v);
          const direct = logDens(s * margin) - logDens(0);
          expect(sprtLogLR(d, v, margin, s)).toBeCloseTo(direct, 8);
        },
      ),
    );
  });

  it('fixed-horizon n: 63 per arm for a half-SD difference at one-sided 0.025, 80% power', () => {
    // The textbook two-sample sizing 2(z_{0.975} + z_{0.8})² / 0.5² = 62.79 (rounded up: 63 per group).
    expect(fixedHorizonN(0.025, 0.2, 1, 0.5)).toBeCloseTo(62.79, 2);
  });

  it("Wald's lower bound on E[N | H1] / n_fix is 0.626 at α = 0.025, β = 0.2", () => {
    // 2·[0.8 ln 32 + 0.2 ln(0.2/0.975)] / (1.95996 + 0.84162)² = 4.9115 / 7.8489 = 0.62576.
    expect(waldEfficiencyBound(0.025, 0.2)).toBeCloseTo(0.6258, 4);
  });

  it('rejects error targets outside (0, 1) or summing to 1 or more', () => {
    for (const [a, b] of [
      [0, 0.2],
      [0.05, 1],
      [0.6, 0.5],
    ] as const) {
      expect(() => sprtBoundaries(a, b)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    }
  });
});

describe('SPRT properties', () => {
  const errs = fc.tuple(
    fc.double({ min: 0.001, max: 0.4, noNaN: true }),
    fc.double({ min: 0.001, max: 0.5, noNaN: true }),
  );

  it('boundaries are ordered lower < 0 < upper, and widen as the error targets shrink', () => {
    fc.assert(
      fc.property(errs, fc.double({ min: 0.5, max: 0.99, noNaN: true }), ([a, b], k) => {
        const w = sprtBoundaries(a, b);
        expect(w.lower).toBeLessThan(0);
        expect(w.upper).toBeGreaterThan(0);
        const tighter = sprtBoundaries(a * k, b * k);
        expect(tighter.upper).toBeGreaterThan(w.upper);
        expect(tighter.lower).toBeLessThan(w.lower);
      }),
    );
  });

  const sample = fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 12, maxLength: 60 });

  it('log LR and the decision are monotone in how much worse green is', () => {
    fc.assert(
      fc.property(sample, sample, fc.integer({ min: 1, max: 10 }), (blue, green, step) => {
        const look = (shift: number) => {
          const judge = new SequentialJudge({
            kind: 'mean',
            mode: 'sprt',
            badSign: 1,
            margin: 2,
            minSamples: 10,
          });
          judge.observeMany('blue', blue);
          judge.observeMany(
            'green',
            green.map((x) => x + shift),
          );
          return judge.look();
        };
        const rank = { pass: 0, continue: 1, truncated: 1, fail: 2 } as const;
        let prev = look(-30);
        for (let shift = -30 + step; shift <= 30; shift += step) {
          const cur = look(shift);
          // Shifting green does not change the pooled within-arm variance: log LR rises linearly.
          expect(cur.logLR!).toBeGreaterThanOrEqual(prev.logLR! - 1e-9);
          expect(rank[cur.decision]).toBeGreaterThanOrEqual(rank[prev.decision]);
          prev = cur;
        }
      }),
      { numRuns: 60 },
    );
  });

  it('identical arms pass once n ≥ 4σ̂²·|log B|/Δ², and never fail', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 10, maxLength: 400 }),
        fc.integer({ min: 1, max: 10 }),
        (xs, margin) => {
          const judge = new SequentialJudge({
            kind: 'mean',
            mode: 'sprt',
            badSign: -1,
            margin,
            minSamples: 10,
          });
          judge.observeMany('blue', xs);
          judge.observeMany('green', xs);
          const st = judge.look();
          const mu = xs.reduce((a, x) => a + x, 0) / xs.length;
          const s2 = xs.reduce((a, x) => a + (x - mu) ** 2, 0) / (xs.length - 1);
          expect(st.decision).not.toBe('fail');
          const need = (4 * s2 * -st.lower!) / (margin * margin);
          if (xs.length >= need * (1 + 1e-9)) expect(st.decision).toBe('pass');
        },
      ),
    );
  });
});

describe('SPRT judge', () => {
  // σ = 1 and Δ = 0.5: the fixed-horizon z-test needs 63 per arm (see above).
  const nFix = Math.ceil(fixedHorizonN(0.025, 0.2, 1, 0.5));

  it('passes identical arms early', () => {
    const outs = Array.from({ length: 20 }, (_, i) => runPairs({}, 0, 500 + i));
    expect(outs.filter((o) => o.decision === 'pass').length).toBeGreaterThanOrEqual(17);
    const meanN = outs.reduce((a, o) => a + o.n, 0) / outs.length;
    expect(meanN).toBeLessThan(nFix);
  });

  it('fails a clear regression (twice the margin) early and keeps the decision', () => {
    const judge = new SequentialJudge({
      kind: 'mean',
      mode: 'sprt',
      badSign: -1,
      margin: 0.5,
      minSamples: 10,
    });
    const r = rng(77);
    let n = 0;
    while (judge.decision === 'continue') {
      judge.observe('blue', gauss(r));
      judge.observe('green', -1 + gauss(r));
      n++;
      judge.look();
    }
    expect(judge.decision).toBe('fail');
    expect(n).toBeLessThan(nFix / 2);
    const st = judge.look();
    expect(st.nAtDecision).toBe(n);
    expect(st.pFail).toBeLessThanOrEqual(Math.exp(-st.upper!));
    judge.observeMany(
      'green',
      Array.from({ length: 200 }, () => 5),
    );
    expect(judge.look().decision).toBe('fail');
  });

  it('truncates at maxSamples without a decision', () => {
    // A 5% effect of the margin stays between the boundaries for a long time.
    const out = runPairs({ maxSamples: 15, margin: 0.05 }, -0.025, 3);
    expect(out).toEqual({ decision: 'truncated', n: 15 });
  });

  it('keeps false fails near α/2 under continuous monitoring (A/A, 300 seeded runs)', () => {
    // Looked at after every pair until a decision or the default truncation (2·n_fix at σ̂).
    // Wald: ≤ α/2 = 0.025 up to the plug-in variance; 0.045 is α/2 plus about two binomial SEs.
    const outs = Array.from({ length: 300 }, (_, i) => runPairs({}, 0, 10_000 + i));
    const fails = outs.filter((o) => o.decision === 'fail').length / outs.length;
    expect(fails).toBeLessThanOrEqual(0.045);
    expect(outs.every((o) => o.decision !== 'continue')).toBe(true);
  });

  it('has about its power at the margin (300 seeded runs)', () => {
    // β = 0.2: a regression of exactly the margin fails ≥ 80% of the time, minus two binomial SEs.
    const outs = Array.from({ length: 300 }, (_, i) => runPairs({}, -0.5, 20_000 + i));
    expect(outs.filter((o) => o.decision === 'fail').length / outs.length).toBeGreaterThanOrEqual(0.75);
  });
});

describe('sprt gate', () => {
  const scores = (seed: number, n: number, mu: number) => {
    const r = rng(seed);
    return Array.from({ length: n }, () => Math.min(1, Math.max(0, mu + 0.2 * gauss(r))));
  };

  it('fails a clear regression, with log LR, boundaries and the always-valid p-value as evidence', () => {
    const r = evaluateGate({
      spec: { metric: 'eval.q', test: 'sprt', tolerance: '-10%' },
      blue: evalAggs('q', scores(1, 120, 0.8)),
      green: evalAggs('q', scores(2, 120, 0.6), 'v2'),
    });
    expect(r.verdict).toBe('fail');
    const ev = r.evidence;
    expect(ev.test).toBe('sprt');
    expect(ev.sequential!.upper).toBeCloseTo(Math.log(0.8 / 0.025), 12);
    expect(ev.sequential!.lower).toBeCloseTo(Math.log(0.2 / 0.975), 12);
    expect(ev.statistic!).toBeGreaterThanOrEqual(ev.sequential!.upper);
    expect(ev.pValue!).toBeCloseTo(Math.exp(-ev.statistic!), 12);
    expect(ev.sequential!.nAtDecision).toBe(120);
    expect(ev.threshold).toBeLessThan(0);
  });

  it('passes identical cohorts and reports inconclusive between the boundaries', () => {
    const s = scores(3, 200, 0.7);
    const pass = evaluateGate({
      spec: { metric: 'eval.q', test: 'sprt', tolerance: '-5%' },
      blue: evalAggs('q', s),
      green: evalAggs('q', s, 'v2'),
    });
    expect(pass.verdict).toBe('pass');
    expect(pass.evidence.statistic!).toBeLessThanOrEqual(pass.evidence.sequential!.lower);
    const few = evaluateGate({
      spec: { metric: 'eval.q', test: 'sprt', tolerance: '-5%' },
      blue: evalAggs('q', scores(4, 25, 0.7)),
      green: evalAggs('q', scores(5, 25, 0.68), 'v2'),
    });
    expect(few.verdict).toBe('inconclusive');
    expect(few.evidence.reason).toMatch(/keep collecting/);
  });

  it('turns truncation into inconclusive', () => {
    const spec: AnalysisGateSpec = { metric: 'eval.q', test: 'sprt', tolerance: '-1%', maxSamples: 25 };
    const r = evaluateGate({
      spec,
      blue: evalAggs('q', scores(6, 30, 0.7)),
      green: evalAggs('q', scores(7, 30, 0.7), 'v2'),
    });
    expect(r.verdict).toBe('inconclusive');
    expect(r.evidence.reason).toMatch(/truncated at 25/);
  });

  it('works on rates (0/1 metrics) with a pp tolerance', () => {
    const agg = (v: string, events: number, n: number) =>
      evalAggs(
        'x',
        Array.from({ length: n }, () => 0),
        v,
      ).map((a, i) => ({
        ...a,
        metrics: {},
        signals: i < events ? { thumbs_down: 1 } : ({} as Record<string, number>),
      }));
    const r = evaluateGate({
      spec: { metric: 'session.thumbs_down', test: 'sprt', tolerance: '+5pp' },
      blue: agg('v1', 10, 200),
      green: agg('v2', 50, 200),
    });
    expect(r.verdict).toBe('fail');
    expect(r.evidence.threshold).toBeCloseTo(0.05, 12);
  });

  it('rejects a zero tolerance, power outside (α/2, 1) and maxSamples below minSamples', () => {
    const base = { metric: 'eval.q', test: 'sprt' as const, tolerance: '-2%' };
    for (const spec of [
      { ...base, tolerance: 0 },
      { ...base, power: 1 },
      { ...base, power: 0.01 },
      { ...base, maxSamples: 5 },
    ]) {
      expect(() => prepareGate(spec)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    }
    expect(prepareGate({ ...base, power: 0.9, maxSamples: 500 }).test).toBe('sprt');
  });
});
