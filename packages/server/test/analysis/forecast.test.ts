/** The drain forecaster on cases with a known answer, and on thin data. */
import { describe, expect, it } from 'vitest';
import {
  forecastDrain,
  MIN_BUDGET_RUNS,
  Survival,
  seededRandom,
  type ForecastHistory,
  type ForecastInput,
  type ForecastPlan,
  type ForecastSession,
} from '../../src/analysis/forecast';

const NOW = Date.UTC(2026, 0, 1);
const MIN = 60_000;

function history(p: Partial<ForecastHistory> = {}): ForecastHistory {
  return {
    firstTurnMs: [],
    firstTurnOpenMs: [],
    afterTurn: [],
    waits: [],
    turnsObserved: 0,
    turnsEndingInWait: 0,
    turnMs: [],
    arrivalsPerMs: null,
    windowMs: 7 * 86_400_000,
    ...p,
  };
}

function plan(p: Partial<ForecastPlan> = {}): ForecastPlan {
  return {
    policy: 'at-boundary',
    eager: true,
    maxAgeMs: null,
    drainDeadlineMs: 10 * MIN,
    onDeadline: 'wait',
    onNoData: 'pause',
    steps: [{ fill: 100, migrate: 100, verify: null }],
    passMs: 1000,
    ...p,
  };
}

function idle(n: number): ForecastSession[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `ses_${i}`,
    bucket: (i * 7) % 100,
    createdAt: NOW - 10 * MIN,
    status: 'idle' as const,
    turns: 3,
    lastTurnAt: NOW - MIN,
    wait: null,
  }));
}

function input(p: Partial<ForecastInput>): ForecastInput {
  return {
    now: NOW,
    sessions: [],
    history: history(),
    eagerRatePerMs: null,
    eagerRateSource: 'none',
    plan: plan(),
    start: { kind: 'before' },
    ...p,
  };
}

/** Users who come back only after two hours: nothing happens during a short drain. */
const slowUsers = history({
  afterTurn: Array.from({ length: 100 }, (_, i) => ({
    index: 1 + (i % 5),
    kind: 'turn' as const,
    ms: 2 * 3_600_000 + i,
  })),
  turnsObserved: 100,
});

describe('drain forecast: known answers', () => {
  it('all sessions idle with eager migration: the drain is the eager batches, one pass apart', () => {
    // 100 idle sessions, 50 eager migrations per second (one pass): passes at +1 s and +2 s move
    // them, the pass at +3 s sees blue empty and records drain-complete.
    const f = forecastDrain(
      input({
        sessions: idle(100),
        history: slowUsers,
        eagerRatePerMs: 50 / 1000,
        eagerRateSource: 'rollouts',
      }),
    );
    expect(f.confidence).toBe('normal');
    expect(f.steps).toEqual({ p50: 0, p90: 0 });
    expect(f.drain).toEqual({ p50: 3000, p90: 3000 });
    expect(f.sessions.migrateEagerly).toEqual({ p50: 100, p90: 100 });
    expect(f.sessions.migrateLazily).toEqual({ p50: 0, p90: 0 });
    expect(f.sessions.finishOnBlue).toEqual({ p50: 0, p90: 0 });
    expect(f.sessions.stragglers).toEqual({ p50: 0, p90: 0 });
  });

  it('a faster migrator empties blue in the first pass: drain-complete at the second', () => {
    const f = forecastDrain(
      input({ sessions: idle(100), history: slowUsers, eagerRatePerMs: 1, eagerRateSource: 'rollouts' }),
    );
    expect(f.drain).toEqual({ p50: 2000, p90: 2000 });
  });

  // ten sessions waiting, deadlines 1..10 minutes away; no callback ever came (all waits expired)
  // and every session ended right after its next turn
  const waiting: ForecastSession[] = Array.from({ length: 10 }, (_, i) => ({
    id: `w_${i}`,
    bucket: i * 10,
    createdAt: NOW - 2 * MIN,
    status: 'waiting' as const,
    turns: 1,
    lastTurnAt: NOW - MIN,
    wait: { createdAt: NOW - MIN, deadline: NOW + (i + 1) * MIN },
  }));
  const expiresThenEnds = history({
    afterTurn: Array.from({ length: 60 }, (_, i) => ({ index: 1 + (i % 3), kind: 'end' as const, ms: 1 })),
    waits: Array.from({ length: 40 }, () => ({ kind: 'open' as const, ms: 3_600_000, timeoutMs: 3_600_000 })),
    turnsObserved: 100,
    turnsEndingInWait: 0,
  });

  it('all waiting with known deadlines under finish-on-origin: the drain ends with the last timeout', () => {
    const f = forecastDrain(
      input({
        sessions: waiting,
        history: expiresThenEnds,
        plan: plan({ policy: 'finish-on-origin', drainDeadlineMs: 3_600_000 }),
      }),
    );
    // the last wait times out at +10 min, its session ends 1 ms later, the next pass sees blue empty
    expect(f.drain).toEqual({ p50: 10 * MIN + 1000, p90: 10 * MIN + 1000 });
    expect(f.sessions.finishOnBlue).toEqual({ p50: 10, p90: 10 });
    expect(f.sessions.migrateEagerly).toEqual({ p50: 0, p90: 0 });
    expect(f.sessions.stragglers).toEqual({ p50: 0, p90: 0 });
  });

  it('finish-on-origin with a drain deadline before some wait deadlines: those are the stragglers', () => {
    const f = forecastDrain(
      input({
        sessions: waiting,
        history: expiresThenEnds,
        eagerRatePerMs: 1,
        eagerRateSource: 'rollouts',
        plan: plan({ policy: 'finish-on-origin', drainDeadlineMs: 5.5 * MIN }),
      }),
    );
    // waits due at +6..+10 min are still pending at the +5.5 min deadline; the eager migrator
    // moves them in the deadline's pass, the next pass records drain-complete
    expect(f.sessions.stragglers).toEqual({ p50: 5, p90: 5 });
    expect(f.sessions.stragglersWhy).toEqual({
      'mid-turn': 0,
      waiting: 5,
      'idle-not-due': 0,
      'idle-no-eager': 0,
    });
    expect(f.sessions.finishOnBlue).toEqual({ p50: 5, p90: 5 });
    expect(f.sessions.migrateEagerly).toEqual({ p50: 5, p90: 5 });
    expect(f.drain).toEqual({ p50: 5.5 * MIN + 1000, p90: 5.5 * MIN + 1000 });
  });

  it('abandoned sessions under finish-on-origin with onDeadline wait and no eager migration: unbounded', () => {
    const abandoned = history({
      afterTurn: Array.from({ length: 40 }, (_, i) => ({
        index: 3,
        kind: 'open' as const,
        ms: 3_600_000 + i,
      })),
      turnsObserved: 40,
    });
    const f = forecastDrain(
      input({
        sessions: idle(7),
        history: abandoned,
        plan: plan({ policy: 'finish-on-origin', eager: false }),
      }),
    );
    expect(f.drain.p50).toBeNull();
    expect(f.drain.unbounded).toMatchObject({ p50: true, p90: true, sessions: 7 });
    expect(f.drain.unbounded?.message).toBe('unbounded: 7 session(s) never leave blue');
    expect(f.sessions.stragglersWhy['idle-no-eager']).toBe(7);
  });

  it('the same fleet with mark-stuck closes the drain at the deadline', () => {
    const abandoned = history({
      afterTurn: Array.from({ length: 40 }, (_, i) => ({
        index: 3,
        kind: 'open' as const,
        ms: 3_600_000 + i,
      })),
      turnsObserved: 40,
    });
    const f = forecastDrain(
      input({
        sessions: idle(7),
        history: abandoned,
        plan: plan({ policy: 'finish-on-origin', eager: false, onDeadline: 'mark-stuck' }),
      }),
    );
    expect(f.drain).toEqual({ p50: 10 * MIN, p90: 10 * MIN });
    expect(f.sessions.stragglers).toEqual({ p50: 7, p90: 7 });
  });

  it('bounds its work: a step waiting for 100,000 green sessions gets fewer runs, said in a note', () => {
    const h = history({
      ...slowUsers,
      firstTurnMs: Array.from({ length: 50 }, () => 1),
      arrivalsPerMs: 1 / 10,
    });
    const canary = (minSessions: number) =>
      input({
        sessions: idle(10),
        history: h,
        eagerRatePerMs: 1,
        eagerRateSource: 'rollouts',
        plan: plan({
          steps: [
            {
              fill: 50,
              migrate: 0,
              verify: { minSessions, maxDuration: 3_600_000, minDuration: 0, interval: 100 },
            },
            { fill: 100, migrate: 100, verify: null },
          ],
        }),
      });
    // 100,000 green at 50 %: ~200,000 new sessions a run; the budget allows 2 runs, the floor is 20
    const big = forecastDrain(canary(100_000));
    expect(big.runs).toBe(MIN_BUDGET_RUNS);
    expect(big.notes.some((n) => n.startsWith(`${MIN_BUDGET_RUNS} simulated runs instead of 200`))).toBe(
      true,
    );
    expect(big.steps.p50).toBeGreaterThan(0);
    // 20 green sessions: the runs asked for, no note
    const small = forecastDrain(canary(20));
    expect(small.runs).toBe(200);
    expect(small.notes.some((n) => n.includes('simulated runs instead of'))).toBe(false);
  });

  it('a canary step waits for minSessions green sessions at the observed arrival rate', () => {
    // one new session a second, 10% to green, first turn at once: 20 green sessions take ~200 s
    const h = history({
      ...slowUsers,
      firstTurnMs: Array.from({ length: 50 }, () => 1),
      arrivalsPerMs: 1 / 1000,
    });
    const f = forecastDrain(
      input({
        sessions: idle(10),
        history: h,
        eagerRatePerMs: 1,
        eagerRateSource: 'rollouts',
        plan: plan({
          steps: [
            {
              fill: 10,
              migrate: 0,
              verify: { minSessions: 20, maxDuration: 3_600_000, minDuration: 0, interval: 10_000 },
            },
            { fill: 100, migrate: 100, verify: null },
          ],
        }),
      }),
      { runs: 400 },
    );
    // Gamma(20, 0.1/s): median ~197 s, looks every 10 s
    expect(f.steps.p50).toBeGreaterThanOrEqual(170_000);
    expect(f.steps.p50).toBeLessThanOrEqual(230_000);
    expect(f.steps.p90!).toBeGreaterThan(f.steps.p50!);
    expect(f.sessions.newOnBlue.p50).toBeGreaterThan(120); // ~90% of ~200 arrivals
  });

  it('a step that never gets its minSessions under onNoData pause: unbounded steps and drain, with why', () => {
    const h = history({ ...slowUsers, firstTurnMs: [1, 2, 3], arrivalsPerMs: 100 / 60_000 });
    const t0 = performance.now();
    const f = forecastDrain(
      input({
        sessions: idle(5),
        history: h,
        plan: plan({
          steps: [
            {
              fill: 20,
              migrate: 0,
              verify: { minSessions: 100_000, maxDuration: 7_200_000, minDuration: 0, interval: 1000 },
            },
            { fill: 100, migrate: 100, verify: null },
          ],
        }),
      }),
    );
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(f.steps.p50).toBeNull();
    expect(f.steps.unbounded?.message).toMatch(
      /maxDuration without 100000 green sessions \(onNoData: pause\)/,
    );
    expect(f.drain.p50).toBeNull();
    expect(f.drain.unbounded?.message).toMatch(/^unbounded: the steps may never end/);
    expect(f.sessions.finishOnBlue).toEqual({ p50: null, p90: null });
  });

  it('is reproducible for a seed', () => {
    const i = input({ sessions: idle(30), history: slowUsers, plan: plan({ policy: 'finish-on-origin' }) });
    expect(forecastDrain(i, { seed: 7 })).toEqual(forecastDrain(i, { seed: 7 }));
  });
});

describe('drain forecast: the ids do not matter', () => {
  it('the same fleet listed in another order, under other ids, gets the same forecast', () => {
    // sessions that differ in age and turns, so the order they are drawn in changes the draws
    const fleet = idle(30).map((s, i) => ({
      ...s,
      createdAt: NOW - (5 + (i % 7)) * MIN,
      turns: 1 + (i % 4),
      lastTurnAt: NOW - (i % 5) * 10_000,
    }));
    const users = history({
      afterTurn: Array.from({ length: 200 }, (_, i) => ({
        index: 1 + (i % 4),
        kind: i % 3 === 0 ? ('end' as const) : ('turn' as const),
        ms: 5000 + ((i * 7919) % 60_000),
      })),
      turnsObserved: 200,
    });
    const p = plan({ policy: 'finish-on-origin' });
    const a = forecastDrain(input({ sessions: fleet, history: users, plan: p }));
    const shuffled = [...fleet].reverse().map((s, i) => ({ ...s, id: `other_${(i * 13) % 30}` }));
    const b = forecastDrain(input({ sessions: shuffled, history: users, plan: p }));
    expect(b).toEqual(a);
  });
});

describe('drain forecast: thin data', () => {
  it('a fleet with no history is low-confidence, with no made-up numbers', () => {
    const f = forecastDrain(input({ sessions: idle(5) }));
    expect(f.confidence).toBe('low');
    expect(f.drain).toEqual({ p50: null, p90: null });
    expect(f.steps).toEqual({ p50: null, p90: null });
    expect(f.sessions.finishOnBlue).toEqual({ p50: null, p90: null });
    expect(f.notes.join(' ')).toMatch(/no turn history/);
  });

  it('a canary step without any observed arrivals is not guessed', () => {
    const f = forecastDrain(
      input({
        sessions: idle(5),
        history: slowUsers,
        plan: plan({
          steps: [
            {
              fill: 10,
              migrate: 0,
              verify: { minSessions: 20, maxDuration: 3_600_000, minDuration: 0, interval: 10_000 },
            },
            { fill: 100, migrate: 100, verify: null },
          ],
        }),
      }),
    );
    expect(f.confidence).toBe('low');
    expect(f.steps.p50).toBeNull();
    expect(f.notes.join(' ')).toMatch(/no new sessions observed/);
  });

  it('few observations give numbers marked low-confidence', () => {
    const h = history({ afterTurn: [{ index: 1, kind: 'turn', ms: 5000 }], turnsObserved: 1 });
    const f = forecastDrain(input({ sessions: idle(3), history: h, eagerRatePerMs: 1 }));
    expect(f.confidence).toBe('low');
    expect(f.drain.p50).not.toBeNull();
  });

  it('an empty blue fleet drains at once whatever the history', () => {
    const f = forecastDrain(input({}));
    expect(f.drain.p50).not.toBeNull();
    expect(f.sessions.stragglers).toEqual({ p50: 0, p90: 0 });
  });
});

describe('survival curve', () => {
  it('draws from the conditional distribution and leaves censored tails unbounded', () => {
    const s = new Survival(
      [
        { ms: 10, cause: 0 },
        { ms: 20, cause: 1 },
        { ms: 30, cause: null },
        { ms: 40, cause: 0 },
      ],
      2,
    );
    expect(s.survival(0)).toBe(1);
    expect(s.survival(10)).toBeCloseTo(0.75);
    expect(s.survival(20)).toBeCloseTo(0.5);
    expect(s.survival(40)).toBeCloseTo(0);
    const rnd = seededRandom(3);
    for (let i = 0; i < 50; i++) {
      const x = s.sample(25, rnd);
      expect(x).toEqual({ ms: 40, cause: 0 }); // the only event after 25
    }
    const c = new Survival(
      [
        { ms: 10, cause: 0 },
        { ms: 50, cause: null },
      ],
      1,
    );
    const draws = Array.from({ length: 400 }, () => c.sample(0, rnd).ms);
    const inf = draws.filter((d) => d === Infinity).length / draws.length;
    expect(inf).toBeGreaterThan(0.4);
    expect(inf).toBeLessThan(0.6);
  });
});
