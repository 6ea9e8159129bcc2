/** Verdicts and evidence of each gate test on session aggregates. */
import { describe, expect, it } from 'vitest';
import type { SessionAggregate } from '@baton/core';
import { evaluateGate, prepareGate, SequentialJudge } from '../../src/analysis';
import { agg, evalAggs, rng } from './helpers';

/** Per-session eval scores on a 5-point scale (0, .25, …, 1), mean ≈ `m`. */
function scores(seed: number, n: number, m: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    let k = 0;
    for (let i = 0; i < 4; i++) if (r() < m) k++;
    return k / 4;
  });
}

function toolAggs(seed: number, n: number, meanCalls: number, version: string): SessionAggregate[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    let calls = 0;
    for (let i = 0; i < meanCalls * 2; i++) if (r() < 0.5) calls++;
    return agg({ version, toolCalls: calls, toolMix: calls > 0 ? { search: calls } : {} });
  });
}

describe('mann-whitney gate', () => {
  const spec = { metric: 'eval.resolution', test: 'mann-whitney' as const, tolerance: '-2%', critical: true };

  it('fails a clear regression with full evidence', () => {
    const r = evaluateGate({
      spec,
      blue: evalAggs('resolution', scores(1, 300, 0.8)),
      green: evalAggs('resolution', scores(2, 300, 0.6), 'v2'),
    });
    expect(r.verdict).toBe('fail');
    expect(r.critical).toBe(true);
    const e = r.evidence;
    expect(e).toMatchObject({ test: 'mann-whitney', metric: 'eval.resolution', nBlue: 300, nGreen: 300 });
    expect(e.direction).toBe('higher-is-better');
    expect(e.pValue).toBeLessThan(1e-6);
    expect(e.effect).toBeLessThan(-0.1);
    expect(e.ci![1]).toBeLessThan(e.threshold);
    expect(e.threshold).toBeCloseTo(-0.02 * e.blue.mean!, 12);
    expect(e.statistic).toBeGreaterThanOrEqual(0);
    expect(e.green.hlShift).toBeDefined();
    expect(e.censored).toEqual({ blue: 0, green: 0 });
    expect(e.reason).toMatch(/significantly smaller/);
  });

  it('passes identical versions once the interval is within tolerance', () => {
    const r = evaluateGate({
      spec: { ...spec, tolerance: '-5%' },
      blue: evalAggs('resolution', scores(3, 2000, 0.8)),
      green: evalAggs('resolution', scores(4, 2000, 0.8), 'v2'),
    });
    expect(r.verdict).toBe('pass');
    expect(r.evidence.ci![0]).toBeGreaterThan(r.evidence.threshold);
  });

  it('is inconclusive when a small sample cannot decide', () => {
    const r = evaluateGate({
      spec,
      blue: evalAggs('resolution', scores(5, 25, 0.8)),
      green: evalAggs('resolution', scores(6, 25, 0.78), 'v2'),
    });
    expect(r.verdict).toBe('inconclusive');
  });

  it('is nodata below minSamples and reports censored sessions', () => {
    const green = [
      ...evalAggs('resolution', scores(7, 10, 0.8), 'v2'),
      agg({ version: 'v2', completed: false, turns: 0 }),
    ];
    const r = evaluateGate({ spec, blue: evalAggs('resolution', scores(8, 50, 0.8)), green });
    expect(r.verdict).toBe('nodata');
    expect(r.evidence.censored).toEqual({ blue: 0, green: 1 });
  });

  it('catches tripled tool calls as a behavioural fingerprint change', () => {
    const r = evaluateGate({
      spec: { metric: 'session.tool_calls', test: 'mann-whitney', tolerance: '+20%' },
      blue: toolAggs(9, 80, 2, 'v1'),
      green: toolAggs(10, 80, 6, 'v3'),
    });
    expect(r.verdict).toBe('fail');
    expect(r.evidence.direction).toBe('lower-is-better');
    expect(r.evidence.effect).toBeGreaterThan(3);
  });
});

describe('proportion gate', () => {
  const signal = (seed: number, n: number, rate: number, version: string) => {
    const r = rng(seed);
    return Array.from({ length: n }, () => agg({ version, signals: r() < rate ? { thumbs_down: 1 } : {} }));
  };
  const spec = { metric: 'session.thumbs_down', test: 'proportion' as const, tolerance: '+2pp' };

  it('fails when the thumbs-down rate rises beyond the tolerance', () => {
    const r = evaluateGate({ spec, blue: signal(1, 400, 0.05, 'v1'), green: signal(2, 400, 0.15, 'v3') });
    expect(r.verdict).toBe('fail');
    expect(r.evidence.threshold).toBeCloseTo(0.02);
    expect(r.evidence.blue.rate).toBeCloseTo(r.evidence.blue.events! / 400);
    expect(r.evidence.effect).toBeGreaterThan(0.05);
    expect(r.evidence.statistic).toBeGreaterThan(3);
  });

  it('passes equal low rates with enough sessions', () => {
    const r = evaluateGate({ spec, blue: signal(3, 3000, 0.05, 'v1'), green: signal(4, 3000, 0.05, 'v2') });
    expect(r.verdict).toBe('pass');
    expect(r.evidence.ci![1]).toBeLessThanOrEqual(0.02);
  });

  it('rejects a non-proportion metric', () => {
    expect(() =>
      evaluateGate({ spec: { ...spec, metric: 'session.tool_calls' }, blue: [], green: [] }),
    ).toThrow(/0\/1 metric/);
  });
});

describe('chi-square gate', () => {
  const mix = (seed: number, n: number, pSearch: number, version: string) => {
    const r = rng(seed);
    return Array.from({ length: n }, () => {
      const m: Record<string, number> = {};
      for (let i = 0; i < 3; i++) {
        const u = r();
        const tool = u < pSearch ? 'search' : u < pSearch + (1 - pSearch) / 2 ? 'lookup' : 'email';
        m[tool] = (m[tool] ?? 0) + 1;
      }
      return agg({ version, toolCalls: 3, toolMix: m });
    });
  };

  it('fails when the tool mix moves beyond the tolerated distance', () => {
    const r = evaluateGate({
      spec: { metric: 'session.tool_mix', test: 'chi-square', tolerance: 0.1 },
      blue: mix(1, 300, 0.6, 'v1'),
      green: mix(2, 300, 0.2, 'v2'),
    });
    expect(r.verdict).toBe('fail');
    expect(r.evidence.pValue).toBeLessThan(0.001);
    expect(r.evidence.effect).toBeGreaterThan(0.3);
    expect(r.evidence.nBlue).toBe(300); // sessions are the unit: weights sum to sessions
  });

  it('passes the same mix', () => {
    const r = evaluateGate({
      spec: { metric: 'session.tool_mix', test: 'chi-square', tolerance: '10pp' },
      blue: mix(3, 300, 0.5, 'v1'),
      green: mix(4, 300, 0.5, 'v2'),
    });
    expect(r.verdict).toBe('pass');
    expect(r.evidence.effect).toBeLessThan(0.1);
  });
});

describe('msprt gate and SequentialJudge', () => {
  it('fails a clear regression from all data so far', () => {
    const r = evaluateGate({
      spec: { metric: 'eval.q', test: 'msprt', tolerance: '-2%' },
      blue: evalAggs('q', scores(1, 200, 0.8)),
      green: evalAggs('q', scores(2, 200, 0.55), 'v2'),
    });
    expect(r.verdict).toBe('fail');
    expect(r.evidence.pValue).toBeLessThan(0.05);
    expect(r.evidence.ci![1]).toBeLessThan(0);
  });

  it('stops a clear regression early and keeps the decision', () => {
    const judge = new SequentialJudge({ kind: 'mean', badSign: -1, margin: 0.01, alpha: 0.05 });
    const b = scores(11, 2000, 0.8);
    const g = scores(12, 2000, 0.6);
    let n = 0;
    while (judge.decision === 'continue' && n < 2000) {
      judge.observe('blue', b[n]!);
      judge.observe('green', g[n]!);
      n++;
      judge.look();
    }
    expect(judge.decision).toBe('fail');
    expect(n).toBeLessThan(200);
    judge.observeMany(
      'green',
      Array.from({ length: 500 }, () => 1),
    );
    expect(judge.look().decision).toBe('fail');
  });

  it('keeps false alarms below alpha under continuous monitoring (A/A, seeded)', () => {
    // 400 A/A runs, looked at after every pair up to 400 pairs each.
    let alarms = 0;
    for (let run = 0; run < 400; run++) {
      const r = rng(1000 + run);
      const judge = new SequentialJudge({ kind: 'proportion', badSign: 1, margin: 0, alpha: 0.05 });
      for (let i = 0; i < 400 && judge.decision === 'continue'; i++) {
        judge.observe('blue', r() < 0.2 ? 1 : 0);
        judge.observe('green', r() < 0.2 ? 1 : 0);
        judge.look();
      }
      if (judge.decision === 'fail') alarms++;
    }
    expect(alarms / 400).toBeLessThanOrEqual(0.05);
  });

  it('rejects invalid observations without changing state', () => {
    const judge = new SequentialJudge({ kind: 'proportion', badSign: 1, margin: 0 });
    expect(() => judge.observe('blue', 0.5)).toThrow(/0 or 1/);
    expect(() => judge.observe('green', NaN)).toThrow(/finite/);
    expect(judge.look().nBlue).toBe(0);
  });
});

describe('evidence and invariants shared by the tests', () => {
  it('reports the signed margin even when there is too little data', () => {
    const r = evaluateGate({
      spec: { metric: 'session.thumbs_down', test: 'proportion', tolerance: '+2pp' },
      blue: [agg()],
      green: [],
    });
    expect(r.verdict).toBe('nodata');
    expect(r.evidence.threshold).toBeCloseTo(0.02, 12);
    expect(r.evidence.nGreen).toBe(0);
  });

  it('never fails green against an identical copy of blue', () => {
    for (const test of ['mann-whitney', 'msprt', 'threshold'] as const) {
      for (let seed = 0; seed < 20; seed++) {
        const s = scores(seed, 60, 0.7);
        const r = evaluateGate({
          spec: { metric: 'eval.q', test, tolerance: '-1%' },
          blue: evalAggs('q', s),
          green: evalAggs('q', s, 'v2'),
        });
        expect(r.verdict).not.toBe('fail');
      }
    }
  });

  it('the sequential judge passes a clearly better green early', () => {
    const judge = new SequentialJudge({ kind: 'proportion', badSign: 1, margin: 0.02, alpha: 0.05 });
    const r = rng(42);
    let n = 0;
    while (judge.decision === 'continue' && n < 5000) {
      judge.observe('blue', r() < 0.2 ? 1 : 0);
      judge.observe('green', r() < 0.05 ? 1 : 0);
      n++;
      if (n % 10 === 0) judge.look();
    }
    expect(judge.decision).toBe('pass');
    expect(n).toBeLessThan(1000);
    const st = judge.look();
    expect(st.pPass).toBeLessThanOrEqual(0.025);
    expect(st.ci[1]).toBeLessThan(0.02);
  });
});

describe('gate spec options', () => {
  it('censoring: completed drops open sessions from the sample', () => {
    const open = (v: string) =>
      Array.from({ length: 30 }, () => agg({ version: v, completed: false, turns: 2, toolCalls: 3 }));
    const done = (v: string) => Array.from({ length: 30 }, () => agg({ version: v, turns: 2, toolCalls: 3 }));
    const spec = { metric: 'session.tool_calls', test: 'mann-whitney' as const, tolerance: '+20%' };
    const partial = evaluateGate({
      spec,
      blue: [...open('v1'), ...done('v1')],
      green: [...open('v2'), ...done('v2')],
    });
    expect(partial.evidence.nBlue).toBe(60);
    expect(partial.evidence.blue.openIncluded).toBe(30);
    const strict = evaluateGate({
      spec: { ...spec, censoring: 'completed' },
      blue: [...open('v1'), ...done('v1')],
      green: [...open('v2'), ...done('v2')],
    });
    expect(strict.evidence.nBlue).toBe(30);
    expect(strict.evidence.censored).toEqual({ blue: 30, green: 30 });
    expect(strict.evidence.blue.openExcluded).toBe(30);
  });

  it('rejects unknown metrics and invalid options with VALIDATION', () => {
    const base = { metric: 'eval.q', test: 'msprt' as const, tolerance: '-2%' };
    for (const spec of [
      { ...base, metric: 'session.unknown' },
      { ...base, tau: 0 },
      { ...base, censoring: 'sometimes' as unknown as 'partial' },
      { ...base, alpha: 1.5 },
      { ...base, minSamples: 0 },
      { ...base, test: 'bayes' as unknown as 'msprt' },
    ]) {
      expect(() => prepareGate(spec)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    }
  });
});
