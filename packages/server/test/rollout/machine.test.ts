import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TERMINAL_ROLLOUT_PHASES, type GateResult, type Verdict } from '@baton/core';
import {
  checkState,
  desiredRoute,
  greenShare,
  initialState,
  transition,
  type DrainSnapshot,
  type RolloutEvent,
  type RolloutState,
} from '../../src/rollout/machine';
import { parseSpec, type RolloutSpec } from '../../src/rollout/spec';

const T0 = Date.UTC(2026, 0, 1);

function spec(over: Record<string, unknown> = {}): RolloutSpec {
  return parseSpec({
    agent: 'support',
    from: 'v1',
    to: 'v2',
    drain: { deadline: '10m', onDeadline: 'wait' },
    steps: [
      { fill: 10, migrate: 0, verify: { minSessions: 5, maxDuration: '5m', interval: '10s' } },
      { fill: 50, migrate: 20, verify: { minSessions: 5, maxDuration: '5m' } },
      { fill: 100, migrate: 100 },
    ],
    gates: [
      { metric: 'eval.resolution', test: 'threshold', tolerance: -0.1, threshold: 0.5, critical: true },
    ],
    ...over,
  });
}

function state(over: Record<string, unknown> = {}, reversible = true): RolloutState {
  return initialState({ spec: spec(over), agent: 'support', blue: 'v1', green: 'v2', reversible });
}

function gate(verdict: Verdict, critical = true, name = 'eval.resolution'): GateResult {
  return {
    name,
    verdict,
    critical,
    evidence: {
      test: 'threshold',
      metric: name,
      nBlue: 10,
      nGreen: 10,
      blue: { mean: 0.8 },
      green: { mean: 0.8 },
      threshold: 0.5,
      tolerance: -0.1,
      direction: 'higher-is-better',
    },
  };
}

function snap(remaining: number, running: string[] = []): DrainSnapshot {
  return {
    remaining,
    byStatus: { idle: remaining - running.length, running: running.length },
    running,
    waiting: { count: 0, nextDeadline: null },
    failed: [],
  };
}

/** Apply events in order, asserting the state stays valid; returns the final state and all outputs. */
function run(s0: RolloutState, events: Array<[RolloutEvent, number]>) {
  let s = s0;
  const decisions: string[] = [];
  const actions: string[] = [];
  for (const [e, t] of events) {
    const r = transition(s, e, t);
    expect(checkState(r.state)).toEqual([]);
    s = r.state;
    decisions.push(...r.decisions.map((d) => d.kind));
    actions.push(...r.actions.map((a) => a.type));
  }
  return { s, decisions, actions };
}

describe('rollout machine', () => {
  it('start runs the pre-flight; a passing pre-flight starts step 1 and sets the route', () => {
    const s0 = state();
    const r1 = transition(s0, { type: 'start' }, T0);
    expect(r1.state.phase).toBe('preflight');
    expect(r1.actions).toEqual([{ type: 'run-preflight', sample: null }]);
    const r2 = transition(
      r1.state,
      { type: 'preflight-result', result: { ok: true, at: T0, checked: 3, total: 3, failures: [] } },
      T0 + 1,
    );
    expect(r2.state.phase).toBe('progressing');
    expect(r2.state.step).toBe(0);
    expect(r2.decisions.map((d) => d.kind)).toEqual(['preflight-passed', 'step-started']);
    expect(r2.actions).toEqual([
      {
        type: 'set-route',
        route: { agent: 'support', stable: 'v1', candidate: 'v2', weight: 10, move: null },
      },
    ]);
  });

  it('a failing pre-flight fails the rollout and moves nothing', () => {
    const r1 = transition(state(), { type: 'start' }, T0);
    const failures = [{ sessionId: 's1', error: 'boom' }];
    const r2 = transition(
      r1.state,
      { type: 'preflight-result', result: { ok: false, at: T0, checked: 3, total: 3, failures } },
      T0,
    );
    expect(r2.state.phase).toBe('failed');
    expect(r2.actions).toEqual([]);
    expect(r2.decisions[0]!.kind).toBe('preflight-failed');
    expect((r2.decisions[0]!.evidence as { failures: unknown }).failures).toEqual(failures);
    expect(desiredRoute(r2.state)).toBeNull();
    expect(transition(r2.state, { type: 'tick' }, T0 + 1e6).actions).toEqual([]);
  });

  it('an already passed pre-flight (from the API) is recorded and skipped', () => {
    const s0 = initialState({
      spec: spec(),
      agent: 'support',
      blue: 'v1',
      green: 'v2',
      reversible: false,
      preflight: { ok: true, at: T0, checked: 1, total: 1, failures: [] },
    });
    const r = transition(s0, { type: 'tick' }, T0);
    expect(r.state.phase).toBe('progressing');
    expect(r.decisions.map((d) => d.kind)).toEqual(['preflight-passed', 'step-started']);
  });

  function started(over: Record<string, unknown> = {}, reversible = true): RolloutState {
    const r1 = transition(state(over, reversible), { type: 'start' }, T0);
    return transition(
      r1.state,
      { type: 'preflight-result', result: { ok: true, at: T0, checked: 0, total: 0, failures: [] } },
      T0,
    ).state;
  }

  it('evaluates gates after the interval and advances on pass, then promotes after the last step', () => {
    const s = started();
    const t1 = transition(s, { type: 'tick' }, T0 + 1000);
    expect(t1.actions.map((a) => a.type)).toContain('evaluate-gates');
    const ev = t1.actions.find((a) => a.type === 'evaluate-gates')!;
    expect(ev).toMatchObject({ step: 0, windowStart: T0, windowEnd: T0 + 1000 });
    const g1 = transition(
      t1.state,
      { type: 'gates-evaluated', step: 0, nBlue: 8, nGreen: 6, results: [gate('pass')] },
      T0 + 1000,
    );
    expect(g1.decisions.map((d) => d.kind)).toEqual(['gates-passed', 'step-started']);
    expect(g1.state.step).toBe(1);
    expect(desiredRoute(g1.state)!.move).toMatchObject({ from: 'v1', to: 'v2', percent: 20 });
    // eager migration runs at step 2 (migrate 20%)
    const t2 = transition(g1.state, { type: 'tick' }, T0 + 2000);
    expect(t2.actions.find((a) => a.type === 'eager-migrate')).toMatchObject({ percent: 20, batch: 200 });
    // no new evaluation before the interval
    const t3 = transition(t2.state, { type: 'tick' }, T0 + 2000);
    expect(t3.actions.map((a) => a.type)).toContain('evaluate-gates');
    const g2 = transition(
      t3.state,
      { type: 'gates-evaluated', step: 1, nBlue: 8, nGreen: 6, results: [gate('pass')] },
      T0 + 2000,
    );
    expect(g2.state.step).toBe(2);
    expect(g2.decisions.map((d) => d.kind)).toEqual(['gates-passed', 'step-started', 'drain-started']);
    const t4 = transition(g2.state, { type: 'tick' }, T0 + 3000);
    expect(t4.state.phase).toBe('promoted');
    expect(t4.decisions.map((d) => d.kind)).toEqual(['promoted']);
    expect(desiredRoute(t4.state)).toMatchObject({ stable: 'v2', candidate: null, move: { percent: 100 } });
    const d = transition(t4.state, { type: 'drain-progress', snapshot: snap(0) }, T0 + 4000);
    expect(d.state.stage).toBe('done');
    expect(d.decisions.map((x) => x.kind)).toEqual(['drain-complete']);
  });

  it('does not re-evaluate before the interval and waits for minSessions', () => {
    const s = started();
    const t1 = transition(s, { type: 'tick' }, T0 + 1000);
    const g = transition(
      t1.state,
      { type: 'gates-evaluated', step: 0, nBlue: 8, nGreen: 2, results: [gate('pass')] },
      T0 + 1000,
    );
    expect(g.decisions).toEqual([]);
    expect(g.state.step).toBe(0);
    const t2 = transition(g.state, { type: 'tick' }, T0 + 5000);
    expect(t2.actions.map((a) => a.type)).not.toContain('evaluate-gates');
    const t3 = transition(g.state, { type: 'tick' }, T0 + 11_000);
    expect(t3.actions.map((a) => a.type)).toContain('evaluate-gates');
  });

  it('a failing critical gate aborts forward; the report and route follow', () => {
    const s = started();
    const g = transition(
      s,
      { type: 'gates-evaluated', step: 0, nBlue: 8, nGreen: 6, results: [gate('fail')] },
      T0 + 10,
    );
    expect(g.state.phase).toBe('aborted');
    expect(g.decisions.map((d) => d.kind)).toEqual(['gates-failed', 'aborted']);
    expect(g.actions.map((a) => a.type)).toEqual(['set-route', 'compensation-report']);
    expect(desiredRoute(g.state)).toMatchObject({ stable: 'v1', candidate: 'v2', weight: 0, move: null });
    const rep = transition(g.state, { type: 'compensation-report', report: { effects: [] } }, T0 + 20);
    expect(rep.decisions.map((d) => d.kind)).toEqual(['abort-report']);
    expect(rep.state.stage).toBe('done');
    // a second report is ignored (idempotent)
    expect(transition(rep.state, { type: 'compensation-report', report: {} }, T0 + 30).decisions).toEqual([]);
  });

  it('a fixed-horizon fail before minSessions is recorded, not acted on; at minSessions it aborts', () => {
    // minSessions is 5 in step 1; a threshold or Mann-Whitney verdict holds its error rate for one look
    for (const test of ['threshold', 'mann-whitney', 'proportion', 'chi-square'] as const) {
      const failing = { ...gate('fail'), evidence: { ...gate('fail').evidence, test } };
      const early = transition(
        started(),
        { type: 'gates-evaluated', step: 0, nBlue: 8, nGreen: 4, results: [failing] },
        T0 + 10,
      );
      expect(early.state.phase, test).toBe('progressing');
      expect(early.state.step).toBe(0);
      expect(early.decisions.map((d) => d.kind)).toEqual(['gates-fail-deferred']);
      expect(early.decisions[0]!.message).toMatch(/4 of 5 green sessions: not acted on/);
      expect((early.decisions[0]!.evidence as { gates: GateResult[] }).gates[0]!.verdict).toBe('fail');
      expect(early.state.lastVerdicts!.results[0]!.verdict).toBe('fail');
      expect(early.actions).toEqual([]);
      // the next look, once the step reached minSessions, acts on the same verdict
      const later = transition(
        early.state,
        { type: 'gates-evaluated', step: 0, nBlue: 9, nGreen: 5, results: [failing] },
        T0 + 20_000,
      );
      expect(later.state.phase, test).toBe('aborted');
      expect(later.decisions.map((d) => d.kind)).toEqual(['gates-failed', 'aborted']);
    }
  });

  it('a sequential (msprt, sprt) critical fail stops the step before minSessions', () => {
    for (const test of ['msprt', 'sprt'] as const) {
      const failing = { ...gate('fail'), evidence: { ...gate('fail').evidence, test } };
      const g = transition(
        started(),
        { type: 'gates-evaluated', step: 0, nBlue: 3, nGreen: 2, results: [failing] },
        T0 + 10,
      );
      expect(g.state.phase, test).toBe('aborted');
      expect(g.decisions.map((d) => d.kind)).toEqual(['gates-failed', 'aborted']);
    }
    // a non-critical sequential fail waits for minSessions, like any non-critical gate
    const soft = { ...gate('fail', false), evidence: { ...gate('fail').evidence, test: 'msprt' as const } };
    const g = transition(
      started(),
      { type: 'gates-evaluated', step: 0, nBlue: 3, nGreen: 2, results: [soft] },
      T0 + 10,
    );
    expect(g.state.phase).toBe('progressing');
    expect(g.decisions.map((d) => d.kind)).toEqual(['gates-fail-deferred']);
  });

  it('abort with reverse moves green sessions back and finishes when green is empty', () => {
    const s = started({ onAbort: { greenSessions: 'reverse' } });
    const a = transition(s, { type: 'abort', reason: 'by hand', by: 'ops' }, T0 + 10);
    expect(desiredRoute(a.state)!.move).toMatchObject({ from: 'v2', to: 'v1', percent: 100 });
    const t = transition(a.state, { type: 'tick' }, T0 + 20);
    expect(t.actions.find((x) => x.type === 'eager-migrate')).toMatchObject({ from: 'v2', to: 'v1' });
    expect(t.actions.find((x) => x.type === 'observe-drain')).toMatchObject({ origin: 'v2' });
    const r = transition(t.state, { type: 'compensation-report', report: {} }, T0 + 30);
    expect(r.state.stage).toBe('draining');
    const d = transition(r.state, { type: 'drain-progress', snapshot: snap(0) }, T0 + 40);
    expect(d.decisions.map((x) => x.kind)).toEqual(['reverse-complete']);
    expect(d.state.stage).toBe('done');
  });

  it('reverse without a down migration records that green sessions stay', () => {
    const s = started({ onAbort: { greenSessions: 'reverse' } }, false);
    const a = transition(s, { type: 'abort' }, T0 + 10);
    expect(a.decisions.map((d) => d.kind)).toEqual(['aborted', 'reverse-unavailable']);
    expect(desiredRoute(a.state)!.move).toBeNull();
  });

  it('onFail pause pauses; resume continues the same step; pause time does not count', () => {
    const s = started({ onFail: 'pause' });
    const g = transition(
      s,
      { type: 'gates-evaluated', step: 0, nBlue: 8, nGreen: 6, results: [gate('fail')] },
      T0 + 10,
    );
    expect(g.state.phase).toBe('paused');
    expect(transition(g.state, { type: 'pause' }, T0 + 11).rejected?.code).toBe('ROLLOUT_STATE');
    const t = transition(g.state, { type: 'tick' }, T0 + 60_000);
    expect(t.actions.map((a) => a.type)).not.toContain('evaluate-gates');
    expect(t.actions.map((a) => a.type)).not.toContain('eager-migrate');
    const r = transition(g.state, { type: 'resume', by: 'ops' }, T0 + 10 * 60_000);
    expect(r.state.phase).toBe('progressing');
    expect(r.state.stepPausedMs).toBe(10 * 60_000 - 10);
    // 5m maxDuration counts from the start minus the pause: inconclusive now is not yet at max
    const g2 = transition(
      r.state,
      { type: 'gates-evaluated', step: 0, nBlue: 8, nGreen: 6, results: [gate('inconclusive')] },
      T0 + 11 * 60_000,
    );
    expect(g2.decisions.map((d) => d.kind)).toEqual(['gates-inconclusive']);
    expect(g2.state.phase).toBe('progressing');
  });

  it('records a repeated inconclusive verdict once, and the next decision says how many looks there were', () => {
    let s = started();
    const kinds: string[] = [];
    for (let i = 1; i <= 39; i++) {
      const g = transition(
        s,
        { type: 'gates-evaluated', step: 0, nBlue: 8, nGreen: 6, results: [gate('nodata')] },
        T0 + i * 1000,
      );
      kinds.push(...g.decisions.map((d) => d.kind));
      s = g.state;
    }
    expect(kinds).toEqual(['gates-inconclusive']);
    expect(s.inconclusive).toEqual({ step: 0, looks: 39, since: T0 + 1000 });
    const passed = transition(
      s,
      { type: 'gates-evaluated', step: 0, nBlue: 8, nGreen: 6, results: [gate('pass')] },
      T0 + 40_000,
    );
    const d = passed.decisions.find((x) => x.kind === 'gates-passed')!;
    expect(d.message).toMatch(/after 39 inconclusive look\(s\)/);
    expect(d.evidence).toMatchObject({ inconclusiveLooks: 39, inconclusiveSince: T0 + 1000 });
    // the next step counts afresh: its first undecided look is recorded again
    const next = transition(
      passed.state,
      { type: 'gates-evaluated', step: 1, nBlue: 8, nGreen: 6, results: [gate('inconclusive')] },
      T0 + 41_000,
    );
    expect(passed.state.step).toBe(1);
    expect(next.decisions.map((x) => x.kind)).toEqual(['gates-inconclusive']);
  });

  it('onNoData at maxDuration: pause, abort, extend, pass', () => {
    const at = T0 + 5 * 60_000;
    const nodata = (over: Record<string, unknown>) =>
      transition(
        started(over),
        { type: 'gates-evaluated', step: 0, nBlue: 0, nGreen: 1, results: [gate('nodata')] },
        at,
      );
    expect(nodata({ onNoData: 'pause' }).state.phase).toBe('paused');
    expect(nodata({ onNoData: 'abort' }).state.phase).toBe('aborted');
    const ext = nodata({ onNoData: 'extend' });
    expect(ext.state.phase).toBe('progressing');
    expect(ext.decisions.map((d) => d.kind)).toEqual(['step-nodata', 'step-extended']);
    expect(ext.state.stepExtensions).toBe(1);
    const pass = nodata({ onNoData: 'pass' });
    expect(pass.state.step).toBe(1);
  });

  it('a non-critical failure pauses for a human', () => {
    const g = transition(
      started(),
      {
        type: 'gates-evaluated',
        step: 0,
        nBlue: 8,
        nGreen: 6,
        results: [gate('pass'), gate('fail', false, 'tools')],
      },
      T0 + 10,
    );
    expect(g.state.phase).toBe('paused');
    expect(g.decisions.map((d) => d.kind)).toEqual(['gates-failed', 'paused']);
  });

  it('stale gate results (another step) are ignored', () => {
    const s = started();
    const g = transition(
      s,
      { type: 'gates-evaluated', step: 1, nBlue: 8, nGreen: 6, results: [gate('fail')] },
      T0 + 10,
    );
    expect(g.state).toEqual(s);
    expect(g.decisions).toEqual([]);
  });

  it('drain deadline: wait records and keeps waiting; mark-stuck lists the sessions and closes the drain', () => {
    const promote = (over: Record<string, unknown>) =>
      transition(started(over), { type: 'promote', by: 'ops' }, T0 + 100).state;
    for (const policy of ['wait', 'mark-stuck'] as const) {
      const p = promote({ drain: { deadline: '1m', onDeadline: policy } });
      expect(p.drain.deadline).toBe(T0 + 100 + 60_000);
      const d = transition(p, { type: 'drain-progress', snapshot: snap(3, ['a', 'b']) }, T0 + 200).state;
      const before = transition(d, { type: 'tick' }, T0 + 200 + 1000);
      expect(before.decisions).toEqual([]);
      const after = transition(before.state, { type: 'tick' }, T0 + 100 + 60_000);
      if (policy === 'wait') {
        expect(after.decisions.map((x) => x.kind)).toEqual(['drain-deadline', 'drain-waiting']);
        expect(after.state.stage).toBe('draining');
        expect(after.state.drain.deadlinePassed).toBe(true);
        // the deadline is recorded once
        expect(transition(after.state, { type: 'tick' }, T0 + 200_000).decisions).toEqual([]);
      } else {
        expect(after.decisions.map((x) => x.kind)).toEqual(['drain-deadline', 'sessions-stuck']);
        expect(after.decisions[1]!.evidence).toMatchObject({ sessions: ['a', 'b'] });
        expect(after.actions).toContainEqual({ type: 'mark-stuck', sessionIds: ['a', 'b'] });
        expect(after.state.stage).toBe('done');
      }
    }
  });

  it('finish-on-origin moves nobody eagerly before the drain deadline, then flags it on the route', () => {
    const p = transition(
      started({ migration: { policy: 'finish-on-origin' } }),
      { type: 'promote' },
      T0,
    ).state;
    const t = transition(p, { type: 'tick' }, T0 + 1000);
    expect(t.actions.map((a) => a.type)).not.toContain('eager-migrate');
    expect(desiredRoute(t.state)!.move!.deadlinePassed).toBe(false);
    const late = transition(t.state, { type: 'tick' }, T0 + 10 * 60_000);
    expect(late.actions.find((a) => a.type === 'eager-migrate')).toMatchObject({ deadlinePassed: true });
    expect(desiredRoute(late.state)!.move!.deadlinePassed).toBe(true);
  });

  it('commands are refused in phases that do not allow them, changing nothing', () => {
    const s0 = state();
    expect(transition(s0, { type: 'promote' }, T0).rejected).toBeDefined();
    expect(transition(s0, { type: 'resume' }, T0).rejected).toBeDefined();
    const s = started();
    const p = transition(s, { type: 'promote' }, T0).state;
    for (const e of [{ type: 'abort' }, { type: 'pause' }, { type: 'promote' }] as RolloutEvent[]) {
      const r = transition(p, e, T0 + 1);
      expect(r.rejected?.code).toBe('ROLLOUT_STATE');
      expect(r.state).toBe(p);
      expect(r.decisions).toEqual([]);
    }
  });

  it('abort before any traffic moved touches no route and needs no report', () => {
    const r = transition(state(), { type: 'abort', reason: 'changed my mind' }, T0);
    expect(r.state.phase).toBe('aborted');
    expect(r.state.stage).toBe('done');
    expect(r.actions).toEqual([]);
    expect(desiredRoute(r.state)).toBeNull();
  });

  it('steps without verify advance one per tick, each recorded', () => {
    const s = started({ steps: [{ fill: 10 }, { fill: 20 }, { fill: 100, migrate: 100 }] });
    const { s: end, decisions } = run(s, [
      [{ type: 'tick' }, T0 + 1],
      [{ type: 'tick' }, T0 + 2],
      [{ type: 'tick' }, T0 + 3],
      [{ type: 'drain-progress', snapshot: snap(0) }, T0 + 4],
    ]);
    expect(decisions).toEqual([
      'step-started',
      'step-started',
      'drain-started',
      'promoted',
      'drain-complete',
    ]);
    expect(end.phase).toBe('promoted');
    expect(end.stage).toBe('done');
  });

  it('eager results add up in the state', () => {
    const s = started();
    const r = transition(
      s,
      { type: 'eager-result', migrated: 5, failed: 1, failures: [{ sessionId: 'x', reason: 'bad' }] },
      T0,
    );
    expect(r.state.migrations).toEqual({
      done: 5,
      failed: 1,
      lastFailures: [{ sessionId: 'x', reason: 'bad' }],
    });
  });
});

describe('rollout machine properties', () => {
  const verdict = fc.constantFrom<Verdict>('pass', 'fail', 'nodata', 'inconclusive');
  const eventArb: fc.Arbitrary<RolloutEvent> = fc.oneof(
    fc.constant<RolloutEvent>({ type: 'start' }),
    fc.constant<RolloutEvent>({ type: 'tick' }),
    fc.constant<RolloutEvent>({ type: 'pause' }),
    fc.constant<RolloutEvent>({ type: 'resume' }),
    fc.constant<RolloutEvent>({ type: 'promote' }),
    fc.constant<RolloutEvent>({ type: 'abort' }),
    fc.constant<RolloutEvent>({ type: 'compensation-report', report: {} }),
    fc.boolean().map<RolloutEvent>((ok) => ({
      type: 'preflight-result',
      result: { ok, at: 0, checked: 1, total: 1, failures: ok ? [] : [{ sessionId: 's', error: 'x' }] },
    })),
    fc
      .record({
        step: fc.integer({ min: 0, max: 3 }),
        n: fc.integer({ min: 0, max: 20 }),
        v: verdict,
        c: fc.boolean(),
      })
      .map<RolloutEvent>(({ step, n, v, c }) => ({
        type: 'gates-evaluated',
        step,
        nBlue: n,
        nGreen: n,
        results: [gate(v, c)],
      })),
    fc.integer({ min: 0, max: 5 }).map<RolloutEvent>((n) => ({ type: 'drain-progress', snapshot: snap(n) })),
    fc
      .record({ m: fc.nat(10), f: fc.nat(3) })
      .map<RolloutEvent>(({ m, f }) => ({ type: 'eager-result', migrated: m, failed: f, failures: [] })),
  );
  const specArb = fc.record({
    onFail: fc.constantFrom('abort', 'pause'),
    onNoData: fc.constantFrom('extend', 'pause', 'abort', 'pass'),
    greenSessions: fc.constantFrom('stay', 'reverse'),
    onDeadline: fc.constantFrom('wait', 'mark-stuck'),
    policy: fc.constantFrom('at-boundary', 'finish-on-origin'),
    reversible: fc.boolean(),
  });

  it('random event sequences keep the state valid; terminal phases never change; green share only grows until an abort', () => {
    fc.assert(
      fc.property(
        specArb,
        fc.array(fc.tuple(eventArb, fc.integer({ min: 0, max: 120_000 })), { maxLength: 60 }),
        (o, events) => {
          let s = state(
            {
              onFail: o.onFail,
              onNoData: o.onNoData,
              onAbort: { greenSessions: o.greenSessions },
              drain: { deadline: '1m', onDeadline: o.onDeadline },
              migration: { policy: o.policy },
            },
            o.reversible,
          );
          let now = T0;
          const kinds: string[] = [];
          for (const [e, dt] of events) {
            now += dt;
            const r = transition(s, e, now);
            expect(checkState(r.state)).toEqual([]);
            if (TERMINAL_ROLLOUT_PHASES.includes(s.phase)) expect(r.state.phase).toBe(s.phase);
            if (r.state.phase !== 'aborted' && r.state.phase !== 'failed')
              expect(greenShare(r.state)).toBeGreaterThanOrEqual(greenShare(s));
            if (r.rejected) {
              expect(r.state).toBe(s);
              expect(r.decisions).toEqual([]);
            }
            if (s.stage === 'done') {
              expect(r.actions).toEqual([]);
              expect(r.decisions).toEqual([]);
            }
            for (const a of r.actions) {
              if (a.type === 'set-route') {
                expect(a.route.weight).toBeGreaterThanOrEqual(0);
                expect(a.route.weight).toBeLessThanOrEqual(100);
              }
            }
            // at most one set-route per transition
            expect(r.actions.filter((a) => a.type === 'set-route').length).toBeLessThanOrEqual(1);
            kinds.push(...r.decisions.map((d) => d.kind));
            s = r.state;
          }
          // each step starts at most once, terminal decisions at most once
          for (const k of [
            'promoted',
            'aborted',
            'preflight-passed',
            'preflight-failed',
            'abort-report',
            'drain-started',
          ])
            expect(kinds.filter((x) => x === k).length).toBeLessThanOrEqual(1);
          expect(kinds.filter((x) => x === 'step-started').length).toBeLessThanOrEqual(3);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('is deterministic: the same events at the same times give the same states', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(eventArb, fc.nat(60_000)), { maxLength: 40 }), (events) => {
        const go = () => {
          let s = state();
          let now = T0;
          const out: unknown[] = [];
          for (const [e, dt] of events) {
            now += dt;
            const r = transition(s, e, now);
            out.push(r);
            s = r.state;
          }
          return out;
        };
        expect(go()).toEqual(go());
      }),
      { numRuns: 100 },
    );
  });
});
