/**
 * The steps phase skips the gate looks that cannot change its outcome (a spec with a short
 * interval and a long maxDuration would otherwise walk every look of every simulated run): the
 * result must be exactly what visiting every look gives, on seeded random fleets and specs.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom, type BehaviourModel, type ForecastPlan } from '../../src/analysis/forecast';
import { simulateSteps } from '../../src/analysis/forecast/steps';

const NOW = Date.UTC(2026, 0, 1);

/** The steps phase reads only the first-turn delay of new sessions from the model. */
function model(meanFirstTurnMs: number, never: number): BehaviourModel {
  return {
    firstTurn: {
      sample: (_from: number, rnd: () => number) => ({
        ms: rnd() < never ? Infinity : -Math.log(1 - rnd()) * meanFirstTurnMs,
      }),
    },
  } as unknown as BehaviourModel;
}

function plan(r: () => number): ForecastPlan {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const n = 1 + Math.floor(r() * 3);
  const steps = Array.from({ length: n }, (_, i) => ({
    fill: i === n - 1 ? 100 : pick([5, 10, 30, 50]),
    migrate: 0,
    verify:
      r() < 0.2
        ? null
        : {
            minSessions: pick([0, 1, 5, 40, 300]),
            maxDuration: pick([60_000, 600_000, 3_600_000]),
            minDuration: pick([0, 5_000, 30_000]),
            interval: pick([500, 1_000, 7_000, 30_000]),
          },
  }));
  return {
    policy: 'at-boundary',
    eager: true,
    maxAgeMs: null,
    drainDeadlineMs: 600_000,
    onDeadline: 'wait',
    onNoData: pick(['extend', 'pause', 'abort', 'pass'] as const),
    steps,
    passMs: pick([1_000, 2_000, 5_000]),
  };
}

describe('forecast steps phase: skipping looks that cannot change the outcome', () => {
  it('gives exactly the result of visiting every look, on 300 seeded fleets and specs', () => {
    let skipped = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const r = seededRandom(seed);
      const p = plan(r);
      const perMinute = [0.05, 0.5, 5, 60][seed % 4]!;
      const m = model([2_000, 60_000, 600_000][seed % 3]!, seed % 5 === 0 ? 0.3 : 0);
      const fast = simulateSteps(p, m, perMinute / 60_000, NOW, seededRandom(1000 + seed));
      const slow = simulateSteps(p, m, perMinute / 60_000, NOW, seededRandom(1000 + seed), false);
      expect(fast, `seed ${seed}`).toEqual(slow);
      if (fast.stuck === null) skipped++;
    }
    // the cases are not all trivial: most runs reach promotion
    expect(skipped).toBeGreaterThan(100);
  });
});
