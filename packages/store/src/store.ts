/**
 * The store interface: one interface, several backends (SQLite, PostgreSQL).
 * Only `openStore` (the factory) knows the backend kind. Every backend passes the
 * conformance suite in `test/conformance.case.ts`.
 *
 * All methods that take an expectation (expectedSeq, expected rev, lease owner) compare-and-set:
 * a stale writer gets a typed error and nothing is changed.
 *
 * List limits, the same on every backend: pages and the other lists a client browses
 * (`listSessions`, `listEffects`, `listCheckpoints`, `listMigrations`, `listWaits`) answer 100 items
 * when `limit` is omitted and at most 1,000 (a `limit` that is not a positive integer is
 * VALIDATION); logs read in order (`listDecisions`, `listSessionSamples`) and `listEvaluations`
 * answer 1,000 when it is omitted; the gates' inputs (`listSessionAggregates`, `listTurnTelemetry`:
 * a whole cohort) answer every matching row unless a `limit` is given.
 */
import type {
  BatonError,
  Checkpoint,
  CheckpointCorruptError,
  CheckpointBody,
  CheckpointMeta,
  CheckpointPart,
  HistoryEntry,
  HistoryPage,
  HistoryQuery,
  HistoryRetention,
  HistoryWindow,
  StoredHistoryEntry,
  Decision,
  DecisionInput,
  EffectIntentInput,
  EffectRecord,
  EffectResolutionInput,
  CompensationState,
  EffectStatus,
  GraphCheckpointStore,
  MigrationRecord,
  Page,
  RolloutPhase,
  RolloutRecord,
  RouteRecord,
  SessionAggregate,
  SessionRecord,
  SessionStatus,
  TurnTelemetryRecord,
  VersionRecord,
  Wait,
  WaitRecord,
  WorkerRecord,
} from '@baton/core';
import type { KeyListConfig, KeyRing } from './cipher';

/** A claim of a compensation run: who runs it, on which version, and how long it holds it. */
export interface CompensationClaim {
  owner: string;
  version: string;
  ttlMs: number;
}

/** How a compensation run ended. */
export type CompensationOutcome = { ok: true; result: unknown } | { ok: false; error: string };

export interface Lease {
  sessionId: string;
  owner: string;
  expiresAt: number;
  /** The session's lease epoch for this lease (incremented by every acquisition). */
  epoch: number;
}

export interface CreateSessionInput {
  id?: string;
  agent: string;
  version: string;
  tenant?: string | null;
  tokenHash: string;
  metadata?: Record<string, unknown>;
  status?: SessionStatus;
}

export interface ListSessionsQuery {
  agent?: string;
  version?: string;
  tenant?: string;
  status?: SessionStatus | SessionStatus[];
  limit?: number;
  cursor?: string | null;
}

export interface SessionPatch {
  status?: SessionStatus;
  version?: string;
  reason?: string | null;
}

export interface SessionExpectation {
  status?: SessionStatus | SessionStatus[];
  version?: string;
  seq?: number;
}

export interface AppendCheckpointInput {
  sessionId: string;
  /** The seq this checkpoint builds on (the session's current seq); the new one gets expectedSeq + 1. */
  expectedSeq: number;
  schemaVersion: number;
  writtenBy: string;
  /** The body's parts and waits. A part listed in `unchanged` is not read from here (leave it null). */
  body: CheckpointBody;
  /**
   * Parts that did not change since checkpoint `expectedSeq`, each with the hash the caller read:
   * carried by hash, never serialized or written again. A hash that is not the previous
   * checkpoint's is refused (SEQUENCE_CONFLICT: the caller's view is stale).
   */
  unchanged?: Partial<Record<CheckpointPart, string>>;
  /** Entries this turn appends to the history log, in order; written in the same transaction. */
  history?: HistoryEntry[];
  /** Trim the history log in the same transaction (a marker records what was removed). */
  retention?: HistoryRetention;
  /** Applied to the session in the same transaction. */
  session?: SessionPatch;
  /** Replace the session's pending waits (in the same transaction). Omit to leave them alone. */
  waits?: Wait[];
  /** Recorded in the same transaction, with `seq` filled in. */
  migration?: Omit<MigrationRecord, 'seq' | 'sessionId' | 'status' | 'error'>;
  /** Store the turn's result for idempotent retries, in the same transaction. */
  turnResult?: { key: string; result: unknown };
  /** Require that this owner holds the session's lease, and release it on commit. */
  leaseOwner?: string;
  /** Record the turn's telemetry in the same transaction (seq filled in). */
  telemetry?: Omit<TurnTelemetryRecord, 'seq'>;
  /** Wait tokens resolved by this turn (marked resolved with the payload). */
  resolvedWaits?: string[];
}

/**
 * The outcome of `beginTurn`: a session token that does not match (`forbidden`, nothing read
 * further, nothing written), the stored result of a key already committed (`replayed`, no lease
 * taken), a session in a terminal status (`closed`, no lease taken), or the lease taken (`started`)
 * with the session and its latest checkpoint as read under the lease, and the revision of the
 * agent's route read in the same transaction (opaque: equal revisions are the same route; null
 * without a route). A latest
 * checkpoint that fails its hash check is reported in `checkpointError` (the lease is held; the
 * caller quarantines the session and releases it), never returned as `checkpoint`.
 */
export type BeginTurnResult =
  | { kind: 'forbidden'; session: SessionRecord }
  | { kind: 'replayed'; result: unknown }
  | { kind: 'closed'; session: SessionRecord }
  | {
      kind: 'started';
      lease: Lease;
      session: SessionRecord;
      checkpoint: Checkpoint | null;
      /** The newest history entries within the requested window, oldest first, hash-checked. */
      history: StoredHistoryEntry[];
      checkpointError?: CheckpointCorruptError;
      /** The agent's route revision when the lease was taken (a route cached at another revision is stale). */
      routeRevision?: string | null;
      /** The window `history` was read for: the one asked, or the one a `WindowChoice` chose (absent: none asked). */
      historyWindow?: HistoryWindow;
    };

/**
 * A turn start's history window when the caller does not know the session's version yet: `of`
 * names the window of the session the start reads (undefined: not known to the caller either), and
 * `guess` is read when `of` gives none, or by a backend that reads the session and the window in
 * one statement and so cannot ask `of` first (PostgreSQL). The result's `historyWindow` says which.
 */
export interface WindowChoice {
  guess: HistoryWindow;
  of(session: SessionRecord): HistoryWindow | undefined;
}

/** One item of `beginTurns`: the arguments of one `beginTurn` call. */
export interface BeginTurnInput {
  sessionId: string;
  key: string;
  owner: string;
  ttlMs: number;
  /** Which history entries to read with the checkpoint (default: none). */
  window?: HistoryWindow | WindowChoice;
  /**
   * The SHA-256 (hex) of the session token the client presented: checked against the session's
   * before anything else, so a wrong one is answered `forbidden` and takes no lease (default: no check).
   */
  tokenHash?: string;
}

/** One item's outcome in `beginTurns`: what `beginTurn` returns, or the error it throws. */
export type BeginTurnsResult = BeginTurnResult | { kind: 'error'; error: BatonError };

/** One item's outcome in `appendCheckpoints`. */
export type AppendCheckpointsResult = { ok: true; meta: CheckpointMeta } | { ok: false; error: BatonError };

export interface ListEffectsQuery {
  sessionId?: string;
  agent?: string;
  version?: string;
  rolloutId?: string;
  status?: EffectStatus | EffectStatus[];
  compensationState?: CompensationState | CompensationState[];
  /** `turn`: effects of turns only; `compensation`: only those a compensation's own `ctx.effect` recorded. */
  kind?: 'turn' | 'compensation';
  limit?: number;
  cursor?: string | null;
}

export interface CreateRolloutInput {
  id?: string;
  agent: string;
  from: string;
  to: string;
  spec: unknown;
  phase: RolloutPhase;
  state: unknown;
  /** Decisions recorded with the rollout, in the same transaction: the first of its log (seq 1…). */
  decisions?: DecisionInput[];
}

export interface RolloutPatch {
  phase?: RolloutPhase;
  step?: number;
  state?: unknown;
}

export interface TelemetryQuery {
  agent: string;
  version?: string;
  /** Only sessions created at or after (epoch ms). */
  startedFrom?: number;
  /** Only sessions created before (epoch ms). */
  startedTo?: number;
  limit?: number;
}

export interface TurnTelemetryQuery {
  agent: string;
  version?: string;
  from?: number;
  to?: number;
  limit?: number;
}

/** The outcome of `reserveSessionKey`: the session id the key stands for and the body it was first used with. */
export interface SessionKeyReservation {
  sessionId: string;
  bodyHash: string;
  /** True when this call reserved the key; false when it was reserved before (a replay). */
  reserved: boolean;
}

/** One queued evaluation of a committed turn. */
export interface EvaluationJob {
  /** `<sessionId>:<turnId>`: a turn is queued at most once. */
  id: string;
  sessionId: string;
  version: string;
  /** The turn as the evaluators receive it (JSON). */
  turn: unknown;
  status: 'pending' | 'done';
  /** Claims so far (a claim that expired without a recording is claimed again). */
  attempts: number;
  createdAt: number;
  /** When its metrics were recorded (null while pending). */
  recordedAt: number | null;
}

/** Sessions by version and status at one moment, sampled by the rollout controller. */
export interface SessionSample {
  rolloutId: string;
  at: number;
  counts: Record<string, Partial<Record<SessionStatus, number>>>;
}

export interface StoreOptions {
  /**
   * Largest write of one checkpoint in bytes: the parts it rewrites (state, context, memory; not
   * the unchanged ones), its waits and the history entries it appends. Default 8 MiB. The length
   * of a session is not limited.
   */
  maxCheckpointBytes?: number;
  /** Largest history entry in bytes (its stored JSON text). Default 1 MiB. */
  maxHistoryEntryBytes?: number;
  /**
   * Checkpoints kept per session: every append deletes the older ones, except those on both sides
   * of a migration (kept forever). Default 10.
   */
  keepCheckpoints?: number;
  /** Injected clock's now(); defaults to Date.now. */
  now?: () => number;
  /**
   * Encryption at rest (see cipher.ts): the key ring. With a current key, checkpoint parts and
   * waits, history entries and effect args/results are written sealed under it; records sealed
   * under any key of the ring stay readable. Without it nothing new is sealed.
   */
  encryption?: KeyRing | KeyListConfig;
}

/** What `reencrypt` did: records looked at, and those rewritten under the current key. */
export interface ReencryptProgress {
  table: string;
  scanned: number;
  rewritten: number;
  /** Whether this table is finished. */
  done: boolean;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * How many write transactions the backend usefully runs at once: 1 for SQLite (one writer),
   * the connection pool's size for PostgreSQL. Group commit splits a flush into this many batches.
   */
  readonly parallelWrites?: number;
  /** LangGraph checkpoint storage on the same database (`@baton/store/graph`). */
  readonly graph: GraphCheckpointStore;
  close(): Promise<void>;
  /**
   * Rewrite every sealed record (checkpoint parts and waits, history entries, effect columns) that
   * is not under the current key — plaintext ones included — under the current key, in batches,
   * each its own transaction. Idempotent and resumable: a record already under the current key is
   * left alone, so a run stopped halfway is finished by running it again. Needs a current key.
   */
  reencrypt(opts?: {
    batch?: number;
    onProgress?: (p: ReencryptProgress) => void;
  }): Promise<{ scanned: number; rewritten: number; unreadable: string[] }>;

  // versions and workers
  registerVersion(v: Omit<VersionRecord, 'createdAt'>): Promise<VersionRecord>;
  getVersion(agent: string, label: string): Promise<VersionRecord>;
  listVersions(agent?: string): Promise<VersionRecord[]>;
  registerWorker(w: Omit<WorkerRecord, 'registeredAt' | 'lastSeenAt'>): Promise<WorkerRecord>;
  updateWorker(id: string, patch: { health?: WorkerRecord['health']; seen?: boolean }): Promise<WorkerRecord>;
  removeWorker(id: string): Promise<void>;
  listWorkers(q?: { agent?: string; version?: string }): Promise<WorkerRecord[]>;

  // routes
  getRoute(agent: string): Promise<RouteRecord | null>;
  setRoute(r: Omit<RouteRecord, 'updatedAt'>): Promise<RouteRecord>;

  // sessions
  createSession(input: CreateSessionInput): Promise<SessionRecord>;
  getSession(id: string): Promise<SessionRecord>;
  listSessions(q: ListSessionsQuery): Promise<Page<SessionRecord>>;
  countSessions(q: {
    agent?: string;
    version?: string;
  }): Promise<Record<string, Record<SessionStatus, number>>>;
  /** Compare-and-set update. Throws CONFLICT when the expectation does not hold. */
  updateSession(id: string, expect: SessionExpectation, patch: SessionPatch): Promise<SessionRecord>;
  quarantineSession(id: string, reason: string): Promise<SessionRecord>;
  acquireLease(sessionId: string, owner: string, ttlMs: number): Promise<Lease>;
  renewLease(lease: Lease, ttlMs: number): Promise<Lease>;
  releaseLease(lease: Lease): Promise<void>;
  /**
   * The start of a turn in one call — `getTurnResult(sessionId, key)`, then (when no result is
   * stored and the session is not terminal) `acquireLease(sessionId, owner, ttlMs)`, the session
   * and its latest checkpoint read under the lease, and the route revision of the session's agent.
   * With `tokenHash`, the session token is checked first. Throws SESSION_NOT_FOUND and
   * SESSION_BUSY as `acquireLease` does. Every backend implements it (the conformance suite
   * requires it).
   */
  beginTurn(
    sessionId: string,
    key: string,
    owner: string,
    ttlMs: number,
    window?: HistoryWindow | WindowChoice,
    tokenHash?: string,
  ): Promise<BeginTurnResult>;
  /**
   * Several `beginTurn` calls in one write transaction (one commit), each answered or refused on
   * its own (a refused item changes nothing and does not affect the others). The router uses it to
   * batch the turn starts that arrive together, as it batches their commits.
   */
  beginTurns(items: BeginTurnInput[]): Promise<BeginTurnsResult[]>;

  // checkpoints
  appendCheckpoint(input: AppendCheckpointInput): Promise<CheckpointMeta>;
  /**
   * Several appends in one transaction, each applied or refused on its own (a refused item changes
   * nothing and does not affect the others). With `requireNoLease`, an item is refused with
   * SESSION_BUSY while its session holds a live lease. The eager migrator uses it to commit a batch
   * of migrations at once.
   */
  appendCheckpoints(
    inputs: Array<AppendCheckpointInput & { requireNoLease?: boolean }>,
  ): Promise<AppendCheckpointsResult[]>;
  /** The latest checkpoint, every part hash-checked (CHECKPOINT_CORRUPT otherwise); null before the first. */
  getLatestCheckpoint(sessionId: string): Promise<Checkpoint | null>;
  getCheckpoint(sessionId: string, seq: number): Promise<Checkpoint>;
  listCheckpoints(sessionId: string, q?: { limit?: number; beforeSeq?: number }): Promise<CheckpointMeta[]>;
  /**
   * Delete all but the latest `keep` checkpoints of the session, except the checkpoints on both
   * sides of a migration; returns how many were deleted. Never touches the history log.
   */
  compactCheckpoints(sessionId: string, keep: number): Promise<number>;

  // history log
  /**
   * One page of the session's history in ascending index order: the newest `limit` entries with
   * index below `before` (and within `maxBytes`). Every entry is hash-checked, and the chain
   * between them; a corrupt entry throws CHECKPOINT_CORRUPT (part `history[<index>]`).
   */
  readHistory(sessionId: string, q?: HistoryQuery): Promise<HistoryPage>;
  listMigrations(q: {
    sessionId?: string;
    rolloutId?: string;
    status?: 'ok' | 'failed';
    limit?: number;
  }): Promise<MigrationRecord[]>;
  recordMigrationFailure(r: Omit<MigrationRecord, 'seq' | 'status'>): Promise<void>;

  // waits
  getWait(token: string): Promise<WaitRecord>;
  listWaits(q: {
    sessionId?: string;
    status?: WaitRecord['status'];
    dueBefore?: number;
    limit?: number;
  }): Promise<WaitRecord[]>;

  // step journal (discarded when a turn commits)
  listSteps(
    sessionId: string,
    turnId: string,
  ): Promise<Array<{ index: number; name: string; result: unknown }>>;
  putStep(sessionId: string, turnId: string, index: number, name: string, result: unknown): Promise<void>;

  // idempotent turn results
  getTurnResult(sessionId: string, key: string): Promise<unknown | undefined>;
  putTurnResult(sessionId: string, key: string, result: unknown): Promise<void>;

  // effects ledger
  recordEffectIntent(
    input: EffectIntentInput & { rolloutId?: string | null },
  ): Promise<{ effect: EffectRecord; existing: boolean }>;
  commitEffect(idempotencyKey: string, result: unknown): Promise<EffectRecord>;
  failEffect(idempotencyKey: string, error: string): Promise<EffectRecord>;
  getEffect(idempotencyKey: string): Promise<EffectRecord>;
  /** An effect by its id; EFFECT_NOT_FOUND when unknown. */
  getEffectById(id: string): Promise<EffectRecord>;
  /**
   * Start a compensation run of a committed effect that declares one: compare-and-set from
   * `pending` or `failed` (or `running` whose holder's expiry passed) to `running`, held by
   * `owner` until now + `ttlMs`, run by `version`'s worker (attempts + 1). EFFECT_NOT_COMPENSABLE
   * when it is not committed or its compensation is done or skipped; CONFLICT while another run
   * holds it; EFFECT_NOT_FOUND for an unknown id.
   */
  claimCompensation(id: string, claim: CompensationClaim): Promise<EffectRecord>;
  /**
   * End the run `owner` holds: `compensated` with the compensation's result, or `failed` with its
   * error (retryable). CONFLICT when that run no longer holds it (repeating the same finish is a no-op).
   */
  finishCompensation(id: string, owner: string, outcome: CompensationOutcome): Promise<EffectRecord>;
  /** An operator marks a pending or failed compensation `not-compensable`, recording who and why. */
  skipCompensation(id: string, by: string, reason: string): Promise<EffectRecord>;
  /** Record why a pending (or failed) compensation cannot run now (e.g. no version can run it). */
  holdCompensation(id: string, reason: string): Promise<EffectRecord>;
  listEffects(q: ListEffectsQuery): Promise<Page<EffectRecord>>;
  /**
   * An operator resolves an in-doubt effect (status `intent`) by its id: compare-and-set from
   * `intent` to `committed` (with the result) or `failed` (with the error), recording who and why.
   * An effect no longer at `intent` (a late commit won) is CONFLICT; and once resolved, a late
   * `commitEffect`/`failEffect` of the worker is CONFLICT too. EFFECT_NOT_FOUND for an unknown id.
   */
  resolveEffect(id: string, r: EffectResolutionInput): Promise<EffectRecord>;

  // idempotent session creation
  /**
   * Reserve `(agent, key)` for `sessionId` with the hash of the request body, or return the
   * reservation made before (`reserved: false`, with its session id and body hash). The caller
   * creates the session with the reserved id (a crash in between leaves a reservation whose
   * session a replay creates).
   */
  reserveSessionKey(input: {
    agent: string;
    key: string;
    sessionId: string;
    bodyHash: string;
  }): Promise<SessionKeyReservation>;

  // durable evaluation queue
  /** Queue an evaluation; false (and nothing changed) when a job with this id exists. */
  enqueueEvaluation(job: { id: string; sessionId: string; version: string; turn: unknown }): Promise<boolean>;
  /**
   * Claim up to `limit` pending jobs, oldest first, that are unclaimed or whose claim expired:
   * each is held by `owner` for `ttlMs` (another claimer skips it meanwhile).
   */
  claimEvaluations(owner: string, limit: number, ttlMs: number): Promise<EvaluationJob[]>;
  /**
   * Record a job's metrics in the session's aggregate and mark it done, in one transaction, at
   * most once: true when this call recorded it, false when it was already done (nothing changed).
   * Empty metrics only mark it done. An unknown id is NOT_FOUND.
   */
  completeEvaluation(id: string, metrics: Record<string, number>): Promise<boolean>;
  /** Jobs by status (for operators and tests). */
  listEvaluations(q?: {
    status?: 'pending' | 'done';
    sessionId?: string;
    limit?: number;
  }): Promise<EvaluationJob[]>;

  // rollouts
  createRollout(input: CreateRolloutInput): Promise<RolloutRecord>;
  getRollout(id: string): Promise<RolloutRecord>;
  listRollouts(q?: { agent?: string; phase?: RolloutPhase | RolloutPhase[] }): Promise<RolloutRecord[]>;
  /** Compare-and-set on `rev`; appends `decisions` in the same transaction. */
  updateRollout(
    id: string,
    expectedRev: number,
    patch: RolloutPatch,
    decisions?: DecisionInput[],
  ): Promise<RolloutRecord>;
  appendDecision(rolloutId: string, d: DecisionInput): Promise<Decision>;
  listDecisions(rolloutId: string, q?: { afterSeq?: number; limit?: number }): Promise<Decision[]>;
  /** Record one sample of a rollout's sessions by version and status (a second sample at the same `at` replaces the first). */
  appendSessionSample(sample: SessionSample): Promise<void>;
  /** A rollout's samples in ascending time, those after `after` (exclusive), at most `limit` (default 1000). */
  listSessionSamples(rolloutId: string, q?: { after?: number; limit?: number }): Promise<SessionSample[]>;

  // telemetry
  recordTurnTelemetry(t: TurnTelemetryRecord): Promise<void>;
  /** Add custom/eval metrics and signal counts to a session's aggregate for a version. */
  recordSessionMetrics(
    sessionId: string,
    version: string,
    m: { metrics?: Record<string, number>; signals?: Record<string, number> },
  ): Promise<void>;
  /** The session ended: its aggregate counts as completed and its pending waits expire (no callback or timeout runs). */
  markSessionCompleted(sessionId: string): Promise<void>;
  listSessionAggregates(q: TelemetryQuery): Promise<SessionAggregate[]>;
  listTurnTelemetry(q: TurnTelemetryQuery): Promise<TurnTelemetryRecord[]>;

  // leader locks (controller election)
  acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLock(name: string, owner: string): Promise<void>;

  /**
   * A random secret shared by every process on this store (created on first use, then stable):
   * the key routers sign turn capabilities with.
   */
  sharedSecret(name: string): Promise<Buffer>;

  /** What an operator should know about the store, found when it was opened (e.g. a world-readable file). */
  readonly warnings?: readonly string[];
}
