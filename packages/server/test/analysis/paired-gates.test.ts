import { describe, expect, it } from 'vitest';
import { evaluateShadowGate, prepareShadowGate, sessionDifferences } from '../../src/analysis';
import type { ShadowPair } from '../../src/analysis';

/** A deterministic uniform in [0, 1) from an integer. */
function u(i: number): number {
  const x = Math.sin(i * 12.9898) * 43758.5453;
  return x - Math.floor(x);
}

/** `sessions` × `turns` pairs of a 0/1 score: blue right with p 0.9, green right with pGreen on the same inputs. */
function pairs(sessions: number, turns: number, pGreen: number, divergent = 0): ShadowPair[] {
  const out: ShadowPair[] = [];
  for (let s = 0; s < sessions; s++)
    for (let t = 0; t < turns; t++) {
      const i = s * turns + t;
      const difficulty = u(i); // shared by both arms: the pairing
      out.push({
        sessionId: `ses_${String(s).padStart(3, '0')}`,
        turnId: `t${t}`,
        blue: { 'eval.resolution': difficulty < 0.9 ? 1 : 0 },
        green: { 'eval.resolution': difficulty < pGreen ? 1 : 0 },
        divergent: s < divergent,
        error: false,
      });
    }
  return out;
}

describe('paired shadow gates', () => {
  it('per-session means of the paired differences', () => {
    const d = sessionDifferences('eval.resolution', [
      {
        sessionId: 'a',
        turnId: '1',
        blue: { 'eval.resolution': 1 },
        green: { 'eval.resolution': 0 },
        divergent: false,
        error: false,
      },
      {
        sessionId: 'a',
        turnId: '2',
        blue: { 'eval.resolution': 1 },
        green: { 'eval.resolution': 1 },
        divergent: false,
        error: false,
      },
      {
        sessionId: 'b',
        turnId: '1',
        blue: { other: 1 },
        green: { other: 0 },
        divergent: false,
        error: false,
      },
    ]);
    expect(d).toEqual([{ sessionId: 'a', turns: 2, blue: 1, green: 0.5, diff: -0.5 }]);
  });

  for (const test of ['wilcoxon', 'sign', 'mcnemar'] as const) {
    it(`${test}: a quality drop on the same turns fails; the same behaviour passes`, () => {
      const spec = { metric: 'eval.resolution', test, tolerance: -0.05 };
      const bad = evaluateShadowGate(spec, pairs(200, test === 'mcnemar' ? 1 : 3, 0.55));
      expect(bad.verdict).toBe('fail');
      expect(bad.evidence.pValue).toBeLessThan(0.05);
      expect(bad.evidence.effect).toBeLessThan(-0.05);
      expect(bad.evidence.paired?.sessions).toBe(200);
      const same = evaluateShadowGate(spec, pairs(200, 3, 0.9));
      expect(same.verdict).toBe('pass');
      expect(same.evidence.effect).toBe(0);
    });
  }

  it('nodata below minSamples sessions', () => {
    const r = evaluateShadowGate(
      { metric: 'eval.resolution', test: 'wilcoxon', tolerance: -0.05 },
      pairs(5, 3, 0.5),
    );
    expect(r.verdict).toBe('nodata');
  });

  it('divergence rate: any diverging session fails a limit of 0; none passes', () => {
    const spec = { metric: 'shadow.divergence', test: 'proportion' as const, tolerance: 0 };
    const one = evaluateShadowGate(spec, pairs(50, 2, 0.9, 1));
    expect(one.verdict).toBe('fail');
    expect(one.evidence.green.events).toBe(1);
    expect(evaluateShadowGate(spec, pairs(50, 2, 0.9, 0)).verdict).toBe('pass');
    const lenient = evaluateShadowGate({ ...spec, tolerance: '+20pp' }, pairs(100, 1, 0.9, 2));
    expect(lenient.verdict).toBe('pass');
  });

  it('refuses shapes the judge cannot read', () => {
    expect(() =>
      prepareShadowGate({ metric: 'session.thumbs_down', test: 'wilcoxon', tolerance: 0.1 }),
    ).toThrow(/unknown metric/);
    expect(() => prepareShadowGate({ metric: 'shadow.divergence', test: 'wilcoxon', tolerance: 0 })).toThrow(
      /proportion/,
    );
    expect(() => prepareShadowGate({ metric: 'eval.x', test: 'proportion', tolerance: 0 })).toThrow(
      /proportion/,
    );
    expect(() =>
      prepareShadowGate({ metric: 'shadow.divergence', test: 'proportion', tolerance: '+5%' }),
    ).toThrow(/absolute/);
  });
});
