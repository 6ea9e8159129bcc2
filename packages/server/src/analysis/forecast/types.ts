/**
 * Drain forecast: the forecaster's input and output. Pure data; the forecaster (`forecast.ts`)
 * does no I/O, and the gatherer (`rollout/forecast-input.ts`) fills the input from the store.
 * All times are epoch ms of the injected clock; durations are ms.
 */
import type { MigrationPolicy } from '@baton/core';

/** One open session on the origin (blue) version, as the store shows it now. */
export interface ForecastSession {
  id: string;
  /** The session's bucket (`bucketOf(id)`, 0..100): the move rule applies below `migrate`. */
  bucket: number;
  createdAt: number;
  /** idle at a boundary, running (a live lease), waiting on a callback. */
  status: 'idle' | 'running' | 'waiting';
  /** Committed turns so far. */
  turns: number;
  /** Time of the last committed turn (or the creation time before the first). */
  lastTurnAt: number;
  /** The earliest pending wait, for a waiting session. */
  wait: { createdAt: number; deadline: number } | null;
}

/** What happened after one committed turn of a past session (the unit of the survival model). */
export interface AfterTurnObservation {
  /** 1-based index of the turn in its session. */
  index: number;
  /** The next event: another turn, the session's end, or nothing yet (censored, still open). */
  kind: 'turn' | 'end' | 'open';
  /** ms from the turn to that event (for `open`: to now). */
  ms: number;
  /** The session's pace up to this turn: ms since its creation per turn (stratifies the model). */
  pace?: number;
}

/** What happened to one past wait: resumed by a callback after `ms`, or not (expired / still pending). */
export interface WaitObservation {
  kind: 'callback' | 'open';
  /** ms from the wait's creation to its callback; for `open`, how long it was seen without one. */
  ms: number;
  /** The wait's timeout (deadline − createdAt). */
  timeoutMs: number;
}

/** Recent behaviour of the agent's sessions (every version): what the store holds. */
export interface ForecastHistory {
  /** From the session's creation to its first turn (sessions with at least one turn). */
  firstTurnMs: number[];
  /** Sessions created and still without a turn, censored at `ms` (how long they have existed). */
  firstTurnOpenMs: number[];
  afterTurn: AfterTurnObservation[];
  waits: WaitObservation[];
  /** Turns that left the session waiting, out of all turns observed. */
  turnsObserved: number;
  turnsEndingInWait: number;
  /** Of those, the turns that resumed a wait (callback or timeout), and how many waited again. */
  resumeTurns?: number;
  resumeTurnsEndingInWait?: number;
  /** Durations of turns (telemetry latency). */
  turnMs: number[];
  /** New sessions per ms over the observation window (null when none were seen). */
  arrivalsPerMs: number | null;
  /** New sessions counted for that rate: each run draws the rate from its Gamma posterior. */
  arrivalsSeen?: number;
  /** Observation window (ms) the rates come from. */
  windowMs: number;
}

export interface ForecastStep {
  fill: number;
  migrate: number;
  verify: { minSessions: number; maxDuration: number; minDuration: number; interval: number } | null;
}

/** The rollout as the forecaster needs it (mapped from a `RolloutSpec`). */
export interface ForecastPlan {
  policy: MigrationPolicy;
  eager: boolean;
  maxAgeMs: number | null;
  drainDeadlineMs: number;
  onDeadline: 'wait' | 'mark-stuck';
  onNoData: 'extend' | 'pause' | 'abort' | 'pass';
  steps: ForecastStep[];
  /** The controller's reconcile interval: eager batches, gate looks and drain checks happen on passes. */
  passMs: number;
}

/** Where the rollout is now: before it starts, or while its drain runs (a re-forecast). */
export type ForecastStart =
  | { kind: 'before' }
  | {
      kind: 'draining';
      /** When the drain started (the `drain-started` decision). */
      startedAt: number;
      /** The route's move percentage now (100 once promoted). */
      migrate: number;
      /** When the rollout is (or will be) promoted: null while steps remain. */
      promoted: boolean;
    };

export interface ForecastInput {
  now: number;
  sessions: ForecastSession[];
  history: ForecastHistory;
  /** Eager migrations per ms; null when none was measured. */
  eagerRatePerMs: number | null;
  /** Where the rate comes from. */
  eagerRateSource: 'rollouts' | 'preflight' | 'none';
  plan: ForecastPlan;
  start: ForecastStart;
}

export interface Quantiles {
  p50: number | null;
  p90: number | null;
  /** Set when the value has no finite bound in at least 10% of the simulated runs. */
  unbounded?: { p50: boolean; p90: boolean; sessions: number; message: string };
}

export type StragglerReason = 'mid-turn' | 'waiting' | 'idle-not-due' | 'idle-no-eager';

export interface DrainForecast {
  model: 'empirical-survival-monte-carlo/1';
  at: number;
  runs: number;
  seed: number;
  confidence: 'normal' | 'low';
  /** Why the confidence is low, or why a number is missing. */
  notes: string[];
  start: ForecastStart['kind'];
  /** Open sessions on blue at the forecast. */
  openOnBlue: number;
  /** ms from the rollout's start to `drain-started` (0 once draining). */
  steps: Quantiles;
  /** ms from `drain-started` to `drain-complete`; a re-forecast counts from `drain-started` too. */
  drain: Quantiles;
  /** Remaining ms of the drain from now (re-forecasts only). */
  remaining?: Quantiles;
  sessions: {
    /** New blue sessions expected before blue stops receiving them. */
    newOnBlue: Quantiles;
    finishOnBlue: Quantiles;
    migrateLazily: Quantiles;
    migrateEagerly: Quantiles;
    /** Still on blue at the drain deadline. */
    stragglers: Quantiles;
    /** Stragglers by reason (median over runs). */
    stragglersWhy: Record<StragglerReason, number>;
  };
  inputs: {
    afterTurnObservations: number;
    waitObservations: number;
    arrivalsPerMinute: number | null;
    eagerPerSecond: number | null;
    eagerRateSource: ForecastInput['eagerRateSource'];
  };
}
