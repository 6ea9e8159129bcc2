import { describe, expect, it } from 'vitest';
import { BatonError } from '@baton/core';
import {
  categoricalSamples,
  metricSamples,
  parseTolerance,
  marginOf,
  resolveDirection,
} from '../../src/analysis';
import { agg } from './helpers';

describe('metricSamples', () => {
  it('reads each behavioural metric per session', () => {
    const a = agg({
      turns: 4,
      toolCalls: 6,
      reasoningSteps: 9,
      tokensIn: 100,
      tokensOut: 50,
      latencyMsSum: 800,
      contextUtilizationMax: 0.7,
      errors: 1,
    });
    expect(metricSamples('session.tool_calls', [a]).values).toEqual([6]);
    expect(metricSamples('session.reasoning_steps', [a]).values).toEqual([9]);
    expect(metricSamples('session.tokens', [a]).values).toEqual([150]);
    expect(metricSamples('session.latency_ms', [a]).values).toEqual([200]);
    expect(metricSamples('session.context_utilization', [a]).values).toEqual([0.7]);
    expect(metricSamples('session.errors', [a]).values).toEqual([1]);
    expect(metricSamples('session.turns', [a]).values).toEqual([4]);
  });

  it('turns per session counts completed sessions only; open ones are censored', () => {
    const aggs = [agg({ turns: 3 }), agg({ turns: 7, completed: false }), agg({ turns: 5 })];
    const s = metricSamples('session.turns', aggs);
    expect(s.values).toEqual([3, 5]);
    expect(s.censored).toBe(1);
    expect(s.openExcluded).toBe(1);
  });

  it('other metrics include open sessions with partial aggregates unless censoring is completed', () => {
    const aggs = [
      agg({ toolCalls: 2 }),
      agg({ toolCalls: 5, completed: false }),
      agg({ turns: 0, completed: false }),
    ];
    const partial = metricSamples('session.tool_calls', aggs);
    expect(partial.values).toEqual([2, 5]);
    expect(partial).toMatchObject({ censored: 2, openIncluded: 1, openExcluded: 1 });
    const done = metricSamples('session.tool_calls', aggs, { censoring: 'completed' });
    expect(done.values).toEqual([2]);
    expect(done).toMatchObject({ censored: 2, openIncluded: 0, openExcluded: 2 });
  });

  it('signals are per-session proportions (1 when at least one)', () => {
    const aggs = [agg({ signals: { thumbs_down: 3 } }), agg({ signals: { thumbs_up: 1 } }), agg()];
    expect(metricSamples('session.thumbs_down', aggs).values).toEqual([1, 0, 0]);
    expect(metricSamples('session.escalation', [agg({ signals: { escalation: 1 } })]).values).toEqual([1]);
  });

  it('eval and custom metrics use the per-session mean and exclude sessions without them', () => {
    const aggs = [
      agg({ metrics: { 'eval.resolution': { sum: 1.5, count: 2 }, csat: { sum: 8, count: 2 } } }),
      agg({ metrics: {} }),
    ];
    expect(metricSamples('eval.resolution', aggs).values).toEqual([0.75]);
    expect(metricSamples('metric.csat', aggs).values).toEqual([4]);
  });

  it('tool mix sums calls by tool', () => {
    const aggs = [agg({ toolMix: { search: 2, email: 1 } }), agg({ toolMix: { search: 1 } })];
    expect(categoricalSamples('session.tool_mix', aggs)).toMatchObject({
      counts: { search: 3, email: 1 },
      sessions: 2,
    });
  });

  it('rejects unknown metrics with VALIDATION', () => {
    expect(() => metricSamples('session.nope', [])).toThrow(BatonError);
    expect(() => metricSamples('session.tool_mix', [])).toThrow(/categorical/);
  });
});

describe('parseTolerance', () => {
  it('parses absolute, relative and percentage-point tolerances with their direction', () => {
    expect(parseTolerance(-0.02)).toEqual({ kind: 'absolute', value: 0.02, direction: 'higher-is-better' });
    expect(parseTolerance('+20%')).toEqual({ kind: 'relative', value: 0.2, direction: 'lower-is-better' });
    expect(parseTolerance('-5%')).toEqual({ kind: 'relative', value: 0.05, direction: 'higher-is-better' });
    expect(parseTolerance('+2pp')).toEqual({ kind: 'pp', value: 2, direction: 'lower-is-better' });
    expect(parseTolerance('0.5')).toEqual({ kind: 'absolute', value: 0.5, direction: undefined });
    expect(parseTolerance(0).direction).toBeUndefined();
  });

  it('converts to a margin in metric units', () => {
    expect(marginOf(parseTolerance('+20%'), 5)).toBeCloseTo(1);
    expect(marginOf(parseTolerance('+2pp'), 0.1)).toBeCloseTo(0.02);
    expect(marginOf(parseTolerance(-0.03), 100)).toBeCloseTo(0.03);
  });

  it.each(['', 'abc', '+', '20 %%', '+-3', '5 percent', '++1', '150pp'])(
    'rejects %j with VALIDATION',
    (bad) => {
      try {
        parseTolerance(bad);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(BatonError);
        expect((e as BatonError).code).toBe('VALIDATION');
      }
    },
  );

  it('needs a direction for unsigned tolerances and rejects contradictions', () => {
    expect(() => resolveDirection({ metric: 'm', tolerance: '5%' }, parseTolerance('5%'))).toThrow(
      /direction/,
    );
    expect(
      resolveDirection({ metric: 'm', tolerance: '5%', direction: 'higher-is-better' }, parseTolerance('5%')),
    ).toBe('higher-is-better');
    expect(() =>
      resolveDirection(
        { metric: 'm', tolerance: '+5%', direction: 'higher-is-better' },
        parseTolerance('+5%'),
      ),
    ).toThrow(/says/);
  });
});
