/** The shadow stage in the pure rollout machine: before the first step, between steps, and its verdicts. */
import { describe, expect, it } from 'vitest';
import type { GateResult, Verdict } from '@baton/core';
import {
  checkState,
  desiredRoute,
  initialState,
  transition,
  type RolloutState,
  type ShadowSummary,
} from '../../src/rollout/machine';
import { parseSpec } from '../../src/rollout/spec';

const T0 = Date.UTC(2026, 0, 1);

function state(over: Record<string, unknown> = {}): RolloutState {
  const spec = parseSpec({
    agent: 'support',
    from: 'v1',
    to: 'v2',
    preflight: { enabled: false },
    steps: [{ fill: 10 }, { fill: 50, shadow: true }, { fill: 100 }],
    shadow: { sessions: 50, gates: [{ metric: 'eval.resolution', test: 'wilcoxon', tolerance: -0.02 }] },
    ...over,
  });
  return initialState({ spec, agent: 'support', blue: 'v1', green: 'v2', reversible: true });
}

function summary(beforeStep: number, verdict: Verdict): ShadowSummary {
  const result: GateResult = {
    name: 'eval.resolution',
    verdict,
    critical: false,
    evidence: {
      test: 'wilcoxon',
      metric: 'eval.resolution',
      nBlue: 50,
      nGreen: 50,
      blue: {},
      green: {},
      threshold: -0.02,
      tolerance: -0.02,
      direction: 'higher-is-better',
    },
  };
  return {
    beforeStep,
    startedAt: 0,
    finishedAt: null,
    verdict,
    sessions: 50,
    turns: 150,
    failed: 0,
    divergent: 0,
    skipped: 0,
    results: [result],
  };
}

describe('shadow stage (machine)', () => {
  it('runs before the first step with no traffic, and is re-emitted by every tick until it reports', () => {
    const r = transition(state(), { type: 'start' }, T0);
    expect(r.state.phase).toBe('preflight');
    expect(r.state.stage).toBe('shadow');
    expect(r.actions).toEqual([{ type: 'run-shadow', beforeStep: 0 }]);
    expect(desiredRoute(r.state)).toBeNull(); // no route: green gets nothing
    expect(checkState(r.state)).toEqual([]);
    const t = transition(r.state, { type: 'tick' }, T0 + 1000);
    expect(t.actions).toEqual([{ type: 'run-shadow', beforeStep: 0 }]);
  });

  it('a failing shadow gate aborts before any traffic moved', () => {
    const s = transition(state(), { type: 'start' }, T0).state;
    const r = transition(
      s,
      { type: 'shadow-result', beforeStep: 0, summary: summary(0, 'fail'), evidence: { x: 1 } },
      T0 + 5,
    );
    expect(r.state.phase).toBe('aborted');
    expect(r.state.stage).toBe('done');
    expect(r.state.trafficStartedAt).toBeNull();
    expect(r.state.shadow?.finishedAt).toBe(T0 + 5);
    expect(r.decisions.map((d) => d.kind)).toEqual(['shadow-failed', 'aborted']);
    expect(r.decisions[0]!.evidence).toEqual({ x: 1 });
    expect(r.actions.some((a) => a.type === 'set-route')).toBe(false);
    expect(checkState(r.state)).toEqual([]);
  });

  it('passing starts the step; a step marked shadow: true runs the stage again first, at the previous weights', () => {
    let s = transition(state(), { type: 'start' }, T0).state;
    s = transition(
      s,
      { type: 'shadow-result', beforeStep: 0, summary: summary(0, 'pass'), evidence: {} },
      T0 + 1,
    ).state;
    expect(s.phase).toBe('progressing');
    expect(s.step).toBe(0);
    expect(s.fill).toBe(10);
    // step 0 has no verify: the next tick advances — into the shadow stage before step 1
    const t = transition(s, { type: 'tick' }, T0 + 2);
    expect(t.state.stage).toBe('shadow');
    expect(t.state.phase).toBe('progressing');
    expect(t.state.fill).toBe(10);
    expect(t.actions).toContainEqual({ type: 'run-shadow', beforeStep: 1 });
    expect(checkState(t.state)).toEqual([]);
    // a stale result (of the first run) is ignored
    const stale = transition(
      t.state,
      { type: 'shadow-result', beforeStep: 0, summary: summary(0, 'fail'), evidence: {} },
      T0 + 3,
    );
    expect(stale.state).toEqual(t.state);
    const next = transition(
      t.state,
      { type: 'shadow-result', beforeStep: 1, summary: summary(1, 'pass'), evidence: {} },
      T0 + 4,
    );
    expect(next.state.stage).toBe('steps');
    expect(next.state.step).toBe(1);
    expect(next.state.fill).toBe(50);
  });

  it('no verdict applies onNoData; a paused shadow stage resumes into its step', () => {
    const s = transition(state({ onNoData: 'pause' }), { type: 'start' }, T0).state;
    const p = transition(
      s,
      { type: 'shadow-result', beforeStep: 0, summary: summary(0, 'inconclusive'), evidence: {} },
      T0 + 1,
    );
    expect(p.state.phase).toBe('paused');
    expect(p.decisions.map((d) => d.kind)).toEqual(['shadow-nodata', 'paused']);
    expect(checkState(p.state)).toEqual([]);
    const r = transition(p.state, { type: 'resume', by: 'op' }, T0 + 2);
    expect(r.state.phase).toBe('progressing');
    expect(r.state.stage).toBe('steps');
    expect(r.state.step).toBe(0);
    const passOn = transition(
      state({ shadow: { sessions: 5, onNoData: 'pass' } }),
      { type: 'start' },
      T0,
    ).state;
    const q = transition(
      passOn,
      { type: 'shadow-result', beforeStep: 0, summary: summary(0, 'nodata'), evidence: {} },
      T0 + 1,
    );
    expect(q.state.step).toBe(0);
  });

  it('a spec refuses steps[].shadow without a shadow stage, and bad shadow gates with their path', () => {
    expect(() => state({ shadow: null })).toThrow(/steps\[1\]\.shadow: needs a top-level shadow stage/);
    expect(() =>
      state({ shadow: { gates: [{ metric: 'shadow.divergence', test: 'wilcoxon', tolerance: 0 }] } }),
    ).toThrow(/shadow\.gates\[0\]/);
    expect(() => state({ shadow: { sessions: 0 } })).toThrow(/shadow\.sessions/);
  });
});
