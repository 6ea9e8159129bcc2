import { describe, expect, it } from 'vitest';
import { evaluateGate } from '../../src/analysis';
import { agg, evalAggs } from './helpers';

const many = (n: number, v: number) => Array.from({ length: n }, () => v);

describe('threshold gate', () => {
  it('is nodata below minSamples', () => {
    const r = evaluateGate({
      spec: { metric: 'eval.q', test: 'threshold', tolerance: -0.05, minSamples: 10 },
      blue: evalAggs('q', many(10, 0.8)),
      green: evalAggs('q', many(9, 0.8)),
    });
    expect(r.verdict).toBe('nodata');
    expect(r.evidence).toMatchObject({ nBlue: 10, nGreen: 9 });
  });

  it('passes within tolerance and fails beyond it, relative to blue', () => {
    const blue = evalAggs('q', many(30, 0.8));
    const ok = evaluateGate({
      spec: { metric: 'eval.q', test: 'threshold', tolerance: '-5%' },
      blue,
      green: evalAggs('q', many(30, 0.77)),
    });
    expect(ok.verdict).toBe('pass');
    expect(ok.evidence.threshold).toBeCloseTo(-0.04);
    expect(ok.evidence.effect).toBeCloseTo(-0.03);
    const bad = evaluateGate({
      spec: { metric: 'eval.q', test: 'threshold', tolerance: '-5%', critical: true },
      blue,
      green: evalAggs('q', many(30, 0.75)),
    });
    expect(bad.verdict).toBe('fail');
    expect(bad.critical).toBe(true);
  });

  it('uses an absolute threshold on green when given', () => {
    const green = Array.from({ length: 25 }, () => agg({ turns: 2, latencyMsSum: 3000 }));
    const r = evaluateGate({
      spec: { metric: 'session.latency_ms', test: 'threshold', tolerance: '+0', threshold: 1000 },
      blue: [],
      green,
    });
    expect(r.verdict).toBe('fail');
    expect(r.evidence.threshold).toBe(1000);
    expect(r.evidence.green.mean).toBe(1500);
  });

  it('rejects an invalid spec with VALIDATION and no verdict', () => {
    expect(() =>
      evaluateGate({ spec: { metric: 'eval.q', test: 'threshold', tolerance: 'lots' }, blue: [], green: [] }),
    ).toThrow(/invalid tolerance/);
    expect(() =>
      evaluateGate({
        spec: { metric: 'session.tool_mix', test: 'mann-whitney', tolerance: 0.1 },
        blue: [],
        green: [],
      }),
    ).toThrow(/categorical/);
  });
});
