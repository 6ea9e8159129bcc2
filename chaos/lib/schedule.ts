/**
 * The fault schedule of a run: a pure function of (seed, minutes, backend), so the same seed gives
 * the same faults at the same offsets, on the same targets, with the same durations. (What the
 * system does in between still depends on timing: the schedule is reproducible, the run is not.)
 */
import { seededRandom } from '@baton/server';

export type Backend = 'postgres' | 'sqlite';

export type FaultKind =
  | 'kill-leader'
  | 'kill-follower'
  | 'kill-server'
  | 'kill-worker'
  | 'kill-during-migration'
  | 'kill-during-compensation'
  | 'worker-hang'
  | 'worker-garbage'
  | 'worker-badstate'
  | 'pg-restart';

export interface PlannedFault {
  /** Ms after the start of the load. */
  at: number;
  kind: FaultKind;
  /** In [0, 1): picks the target among the candidates at that moment. */
  pick: number;
  /** How long a killed process (or PostgreSQL) stays down before it is restarted. */
  downMs: number;
  /** How long a worker fault mode stays on. */
  durationMs: number;
  /**
   * The first fault of each kind: the run goes on past its planned end (at most 2 minutes) until
   * these are done, so a slow machine does not silently skip a kind.
   */
  required: boolean;
}

export interface PlannedRollout {
  at: number;
  from: string;
  to: string;
  /** How long the first step (half of new sessions to green, nothing moved) lasts. */
  firstStepMs: number;
}

export interface Plan {
  seed: number;
  minutes: number;
  backend: Backend;
  durationMs: number;
  /** Concurrent simulated users. */
  users: number;
  rollouts: PlannedRollout[];
  faults: PlannedFault[];
  /**
   * After the load, the last rollout's candidate's first `effects` committed effects are
   * compensated while the `kill-during-compensation` faults of `faults` cut the runs (the first
   * kills the server running them, the second the worker).
   */
  compensation: { effects: number };
}

/** The seeded generator of the drain forecaster (mulberry32), in [0, 1). */
export const rng = seededRandom;

export const TIMED_KINDS: Record<Backend, FaultKind[]> = {
  postgres: [
    'kill-leader',
    'kill-follower',
    'kill-worker',
    'worker-hang',
    'worker-garbage',
    'worker-badstate',
    'pg-restart',
  ],
  sqlite: ['kill-server', 'kill-worker', 'worker-hang', 'worker-garbage', 'worker-badstate'],
};

export function plan(seed: number, minutes: number, backend: Backend): Plan {
  const r = rng(seed);
  const durationMs = Math.round(minutes * 60_000);
  const warm = Math.min(20_000, durationMs * 0.15);
  const tail = Math.max(20_000, durationMs * 0.1);
  const count = minutes >= 6 ? 2 : 1;
  const slot = (durationMs - warm - tail) / count;
  const rollouts: PlannedRollout[] = [];
  for (let i = 0; i < count; i++)
    rollouts.push({
      at: Math.round(warm + i * slot),
      from: `c${i + 1}`,
      to: `c${i + 2}`,
      firstStepMs: Math.round(Math.min(60_000, slot * 0.3)),
    });

  const kinds = TIMED_KINDS[backend];
  const faults: PlannedFault[] = [];
  const pick = (required = false): Omit<PlannedFault, 'at' | 'kind'> => ({
    required,
    pick: r(),
    downMs: Math.round(1_000 + r() * 3_000),
    durationMs: Math.round(3_000 + r() * 5_000),
  });
  // every rollout's eager migration gets a SIGKILL while it runs (armed when the migration starts)
  for (const ro of rollouts)
    faults.push({ at: ro.at + ro.firstStepMs, kind: 'kill-during-migration', ...pick(true) });
  // the timed faults: every kind once first (in a seeded order), then seeded kinds, evenly spread
  const first = [...kinds];
  for (let i = first.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [first[i], first[j]] = [first[j]!, first[i]!];
  }
  const from = warm / 2;
  const until = durationMs - tail;
  const n = Math.max(kinds.length, Math.floor((until - from) / 10_000));
  const gap = (until - from) / n;
  for (let i = 0; i < n; i++) {
    const kind = i < first.length ? first[i]! : kinds[Math.floor(r() * kinds.length)]!;
    faults.push({ at: Math.round(from + i * gap + r() * gap * 0.5), kind, ...pick(i < first.length) });
  }
  // after the load: compensations cut by a SIGKILL of their server, then of their worker
  for (let i = 0; i < 2; i++)
    faults.push({ at: durationMs, kind: 'kill-during-compensation', ...pick(true) });
  faults.sort((a, b) => a.at - b.at);
  return {
    seed,
    minutes,
    backend,
    durationMs,
    users: backend === 'postgres' ? 10 : 8,
    rollouts,
    faults,
    compensation: { effects: minutes >= 6 ? 400 : 120 },
  };
}
