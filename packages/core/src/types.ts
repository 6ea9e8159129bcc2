/** Domain types shared by every layer. Persisted shapes here are versioned by the store's DDL migrations. */
import type { z } from 'zod';
import type {
  checkpointBodySchema,
  checkpointPartSchema,
  contextPolicySchema,
  historyEntrySchema,
  partHashesSchema,
  storedHistoryEntrySchema,
  turnTelemetrySchema,
  waitSchema,
} from './wire/shapes';
import type { DecisionKind } from './decisions';

export type SessionStatus =
  'idle' | 'running' | 'waiting' | 'migrating' | 'completed' | 'failed' | 'quarantined';
export const SESSION_STATUSES: readonly SessionStatus[] = [
  'idle',
  'running',
  'waiting',
  'migrating',
  'completed',
  'failed',
  'quarantined',
];
/** Statuses from which a session never runs again. */
export const TERMINAL_SESSION_STATUSES: readonly SessionStatus[] = ['completed', 'failed', 'quarantined'];

/** An immutable release of an agent. `identity` is a hash over everything that changes behaviour. */
export interface VersionRecord {
  agent: string;
  label: string;
  schemaVersion: number;
  modelId: string;
  promptHash: string;
  toolManifestHash: string;
  codeHash: string;
  /** sha256 over (agent, label, schemaVersion, modelId, promptHash, toolManifestHash, codeHash) */
  identity: string;
  /** Schema versions this version's migrations accept as input (`up` from each), besides its own. */
  acceptsSchemas: number[];
  /** Schema versions it can migrate down to (`down` migrations). */
  downSchemas: number[];
  createdAt: number;
  metadata: Record<string, unknown>;
}

export type WorkerHealth = 'healthy' | 'unhealthy' | 'draining';

export interface WorkerRecord {
  id: string;
  agent: string;
  version: string;
  /** Base URL of an HTTP worker, or null for an in-process worker. */
  url: string | null;
  health: WorkerHealth;
  registeredAt: number;
  lastSeenAt: number;
}

export interface SessionRecord {
  id: string;
  agent: string;
  tenant: string | null;
  /** Label of the version the session is pinned to. */
  version: string;
  status: SessionStatus;
  /** Sequence number of the latest committed checkpoint; 0 before the first. */
  seq: number;
  /** sha256 of the session token; the token itself is returned once, at creation. */
  tokenHash: string;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  /** Incremented every time a lease is taken: names one lease among the retries of one turn. */
  leaseEpoch: number;
  /** Why the session is quarantined or failed, when it is. */
  reason: string | null;
  createdAt: number;
  updatedAt: number;
  metadata: Record<string, unknown>;
}

/** A serializable pending callback: data, never a closure. */
export type Wait = z.infer<typeof waitSchema>;

export interface WaitRecord extends Wait {
  sessionId: string;
  status: 'pending' | 'resolved' | 'expired';
}

export type HistoryEntry = z.infer<typeof historyEntrySchema>;

/** A history entry as the log holds it: its position in the session's append-only log (from 0). */
export type StoredHistoryEntry = z.infer<typeof storedHistoryEntrySchema>;

/**
 * The state of a session at a boundary. The conversation history is NOT part of it: it lives in
 * the session's append-only history log, and a checkpoint records only its length and the head of
 * the log's hash chain (`CheckpointMeta.historyLength`, `historyHead`).
 */
export type CheckpointBody = z.infer<typeof checkpointBodySchema>;

/** The parts of a checkpoint body stored by content hash (unchanged parts are never rewritten). */
export type CheckpointPart = z.infer<typeof checkpointPartSchema>;
export const CHECKPOINT_PARTS: readonly CheckpointPart[] = ['state', 'context', 'memory'];

/** sha256 hex of each part's stored bytes (the JSON text); `memory` is null when the body has none. */
export type PartHashes = z.infer<typeof partHashesSchema>;

export interface CheckpointMeta {
  sessionId: string;
  seq: number;
  schemaVersion: number;
  /** Label of the version that wrote it. */
  writtenBy: string;
  /**
   * sha256 hex over the checkpoint's manifest: its parts' hashes, its waits, the history length and
   * the head of the history hash chain (see `checkpointHash` in the store). Verified on every read.
   */
  hash: string;
  /** Bytes of the body's parts and waits (what a full rewrite would write). */
  size: number;
  createdAt: number;
  parts: PartHashes;
  /** Number of history entries the session had when this checkpoint was written. */
  historyLength: number;
  /** Hash-chain head over those entries (`HISTORY_GENESIS` when there are none). */
  historyHead: string;
}

export interface Checkpoint<B = CheckpointBody> extends CheckpointMeta {
  body: B;
}

export type ContextPolicy = z.infer<typeof contextPolicySchema>;

export interface MigrationRecord {
  sessionId: string;
  /** Seq of the checkpoint the migration wrote (0 when it failed). */
  seq: number;
  fromVersion: string;
  toVersion: string;
  fromSchema: number;
  toSchema: number;
  contextPolicy: ContextPolicy;
  rolloutId: string | null;
  status: 'ok' | 'failed';
  error: string | null;
  at: number;
}

export type EffectStatus = 'intent' | 'committed' | 'failed';

/**
 * Where an effect's compensation stands, beside its status (meaningful once it is committed):
 * `pending` → `running` (held by an owner until an expiry, so a run cut by a crash is picked up
 * again) → `compensated` (the compensation ran and returned) | `failed` (it threw or its worker was
 * lost; retryable) | `not-compensable` (none declared, or an operator skipped it, with who and why).
 * `recorded-by-operator`: marked compensated by hand before compensations ran (nothing ran here).
 */
export const COMPENSATION_STATES = [
  'pending',
  'running',
  'compensated',
  'failed',
  'not-compensable',
  'recorded-by-operator',
] as const;
export type CompensationState = (typeof COMPENSATION_STATES)[number];

export interface EffectRecord {
  id: string;
  idempotencyKey: string;
  sessionId: string;
  agent: string;
  version: string;
  rolloutId: string | null;
  turnId: string;
  name: string;
  args: unknown;
  status: EffectStatus;
  result: unknown;
  error: string | null;
  /** Name of the compensating action, if the agent declared one. */
  compensation: string | null;
  /** What the compensation returned (once `compensated`). */
  compensationResult: unknown;
  /** See CompensationState. */
  compensationState: CompensationState;
  /** Why it is not compensable, or why it is still pending (no version can run it), or who skipped it. */
  compensationReason: string | null;
  /** Who decided by hand (`not-compensable` by an operator, or `recorded-by-operator`). */
  compensationBy: string | null;
  /** The error of the last failed run. */
  compensationError: string | null;
  /** The run holding it while `running` (and the last run's owner after). */
  compensationOwner: string | null;
  /** While `running`: when the owner's hold ends (a later run may take it over). */
  compensationExpiresAt: number | null;
  /** The version whose worker ran (or runs) the compensation. */
  compensationVersion: string | null;
  /** Runs started so far. */
  compensationAttempts: number;
  /** For an effect recorded by a compensation's own `ctx.effect`: the id of the effect it compensates. */
  compensates?: string | null;
  createdAt: number;
  updatedAt: number;
  /** The attempt that recorded the intent (the SDK sends one per turn attempt); null when none was sent. */
  attemptId?: string | null;
  /** Set when an operator resolved an in-doubt effect (`POST /v1/effects/{id}/resolve`). */
  resolution?: EffectResolution | null;
}

/** Who resolved an in-doubt effect, to what, why and when. */
export interface EffectResolution {
  status: 'committed' | 'failed';
  by: string;
  reason: string;
  at: number;
}

/** An operator's resolution of an in-doubt effect: what it became, who decided and why. */
export type EffectResolutionInput = (
  { status: 'committed'; result: unknown } | { status: 'failed'; error: string }
) & { by: string; reason: string };

/** Per-turn telemetry, recorded automatically by the SDK plus custom metrics. */
export type TurnTelemetry = z.infer<typeof turnTelemetrySchema>;

export interface TurnTelemetryRecord extends TurnTelemetry {
  sessionId: string;
  agent: string;
  version: string;
  turnId: string;
  seq: number;
  at: number;
}

/** Per-(session, version) aggregate of turn telemetry and user signals: the unit of analysis for gates. */
export interface SessionAggregate {
  sessionId: string;
  agent: string;
  version: string;
  /** When the session was created (for age-matched cohorts). */
  sessionStartedAt: number;
  firstAt: number;
  lastAt: number;
  turns: number;
  errors: number;
  toolCalls: number;
  toolMix: Record<string, number>;
  reasoningSteps: number;
  tokensIn: number;
  tokensOut: number;
  latencyMsSum: number;
  latencyMsMax: number;
  contextUtilizationMax: number;
  /** Custom and eval metrics: sum and count per name. */
  metrics: Record<string, { sum: number; count: number }>;
  /** Counts of agent-reported signals and user feedback by kind. */
  signals: Record<string, number>;
  /** True once the session ended (completed/failed); otherwise the aggregate is censored. */
  completed: boolean;
}

export type FeedbackSignal = 'thumbs_up' | 'thumbs_down' | 'escalation' | 'clarification';

export type MigrationPolicy = 'at-boundary' | 'finish-on-origin' | 'max-age';

/**
 * Which pinned sessions move at their next boundary: sessions on `from` whose bucket
 * (`bucketOf(sessionId)`) is below `percent` migrate to `to`, subject to `policy`.
 * Used for fill (blue → green) and for reverse fill after an abort (green → blue).
 */
export interface MoveRule {
  from: string;
  to: string;
  /** 0..100 */
  percent: number;
  policy: MigrationPolicy;
  /** For `max-age`: sessions older than this finish on `from`. */
  maxAgeMs: number | null;
  /** For `finish-on-origin`: once the drain deadline passed, open sessions move at their next boundary. */
  deadlinePassed: boolean;
}

/** Routing table of one agent: new sessions go to `candidate` when `bucketOf(sessionId) < weight`. */
export interface RouteRecord {
  agent: string;
  stable: string;
  candidate: string | null;
  /** 0..100 */
  weight: number;
  move: MoveRule | null;
  rolloutId: string | null;
  updatedAt: number;
}

export type RolloutPhase =
  'pending' | 'preflight' | 'progressing' | 'paused' | 'promoted' | 'aborted' | 'failed';

export const TERMINAL_ROLLOUT_PHASES: readonly RolloutPhase[] = ['promoted', 'aborted', 'failed'];

export interface RolloutRecord {
  id: string;
  agent: string;
  from: string;
  to: string;
  spec: unknown;
  phase: RolloutPhase;
  step: number;
  /** Controller state (opaque to the store). */
  state: unknown;
  /** Incremented on every update; updates compare-and-set on it. */
  rev: number;
  createdAt: number;
  updatedAt: number;
}

/**
 * A rollout decision as the store keeps it: the store holds the kind as given (`K`); the decisions
 * Baton's rollouts record are `RolloutDecisionInput`s, their kind one of `DecisionKind`.
 */
export interface DecisionInput<K extends string = string> {
  kind: K;
  message: string;
  evidence?: unknown;
}

export interface Decision<K extends string = string> extends DecisionInput<K> {
  rolloutId: string;
  seq: number;
  at: number;
}

/** A decision a rollout records (the machine, the rollout API, compensation and shadow runs). */
export type RolloutDecisionInput = DecisionInput<DecisionKind>;

/** Whether a stored decision is of kind `k` (a reader matches kinds through the union, never a loose string). */
export function decisionIs(d: Pick<Decision, 'kind'>, k: DecisionKind): boolean {
  return d.kind === k;
}

export type Verdict = 'pass' | 'inconclusive' | 'nodata' | 'fail';
/** Worst-first order: a set of verdicts is as bad as its worst. */
const VERDICT_RANK: Record<Verdict, number> = { pass: 0, nodata: 1, inconclusive: 2, fail: 3 };
export function worstVerdict(vs: Iterable<Verdict>): Verdict {
  let worst: Verdict = 'pass';
  for (const v of vs) if (VERDICT_RANK[v] > VERDICT_RANK[worst]) worst = v;
  return worst;
}

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null at the end. */
  nextCursor: string | null;
}
