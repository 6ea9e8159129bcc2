/**
 * The worker protocol (HTTP or in-process). See docs/worker-protocol.md.
 * The router sends a TurnRequest; the worker answers with a TurnResponse.
 */
import type { GraphCheckpointStore } from './graph';
import type { HistoryPage, HistoryPolicy, HistoryQuery } from './history';
import type { ShadowReport, ShadowTurn } from './shadow';
import type {
  CheckpointBody,
  CheckpointPart,
  ContextPolicy,
  EffectRecord,
  HistoryEntry,
  PartHashes,
  StoredHistoryEntry,
  TurnTelemetry,
  Wait,
} from './types';

/**
 * The worker protocol version this code speaks. Protocol 2 sends a bounded history window and
 * part hashes instead of the whole history; a worker that reports no `protocol` speaks 1, and the
 * router keeps speaking 1 to it (`TurnRequestV1`, `MigrateRequestV1`).
 */
export const WORKER_PROTOCOL = 2;
export type WorkerProtocol = 1 | 2;

/** Header a worker sends its turn capability in, on every call back to the router. */
export const CAPABILITY_HEADER = 'baton-capability';

export type TurnInput =
  | { kind: 'message'; message: unknown }
  | { kind: 'callback'; token: string; name: string; payload: unknown }
  | { kind: 'timeout'; token: string; name: string };

/** The latest checkpoint as a protocol-2 worker receives it: the body's parts and their hashes. */
export interface CheckpointView extends CheckpointBody {
  seq: number;
  schemaVersion: number;
  /** What each part hashes to: a worker that leaves a part unchanged answers with this hash. */
  hashes: PartHashes;
  /** Entries in the session's history log (the request's `history` holds the newest of them). */
  historyLength: number;
}

export interface TurnRequest {
  protocol: 2;
  session: { id: string; agent: string; version: string; tenant: string | null };
  /** The latest checkpoint, or null for a session's first turn. */
  checkpoint: CheckpointView | null;
  /** The newest history entries (the version's window), oldest first. Older ones: page them. */
  history: StoredHistoryEntry[];
  input: TurnInput;
  /** Stable across retries of the same turn (derived from the idempotency key). */
  turnId: string;
  /** Epoch ms by which the worker must answer. */
  deadline: number;
  /** The turn capability: presented on every call back to the router (history, ledger, steps). */
  capability: string;
  /**
   * A shadow turn (only to a worker whose health reports `shadow`): no effect runs, blue's recorded
   * results are served instead, and nothing is journaled. Its capability is read-only.
   */
  shadow?: ShadowTurn;
  /**
   * The W3C trace context (`traceparent`, `tracestate` headers' values) of the router's turn span,
   * present when the router exports traces: a worker's own spans for the turn are its children.
   */
  traceparent?: string;
  tracestate?: string;
}

/** Protocol 1 (workers built with the first SDK): the whole body, with `history`, in one object. */
export interface TurnRequestV1 {
  session: TurnRequest['session'];
  checkpoint: {
    seq: number;
    schemaVersion: number;
    body: CheckpointBody & { history: HistoryEntry[] };
  } | null;
  input: TurnInput;
  turnId: string;
  deadline: number;
}

export type TurnOutcome = 'idle' | 'waiting' | 'completed' | 'failed';

export interface TurnResponse {
  state: unknown;
  context: unknown;
  /** Entries appended by this turn (the router appends them to the session's history log). */
  history: HistoryEntry[];
  memory?: unknown;
  /**
   * Protocol 2: parts the turn did not change, each with the hash it was received with. Their values
   * above are then ignored (and may be left out); the router never rewrites them.
   */
  unchanged?: Partial<Record<CheckpointPart, string>>;
  output: unknown;
  status: TurnOutcome;
  waits: Wait[];
  telemetry: TurnTelemetry;
  schemaVersion: number;
  /** The answer to a shadow turn: what green called and where it diverged from blue's recording. */
  shadow?: ShadowReport;
}

/**
 * Protocol 2: the checkpoint without any history (history never moves in a migration); migrations
 * and `rebuildContext` page the history they need through the ledger client with the capability.
 */
export interface MigrateRequest {
  protocol: 2;
  session: { id: string; agent: string; version: string };
  checkpoint: CheckpointView;
  targetSchemaVersion: number;
  dryRun: boolean;
  capability: string;
}

/** Protocol 1: the whole body with the history (the router sends the origin version's window). */
export interface MigrateRequestV1 {
  session: MigrateRequest['session'];
  checkpoint: { seq: number; schemaVersion: number; body: CheckpointBody & { history: HistoryEntry[] } };
  targetSchemaVersion: number;
  dryRun: boolean;
}

export type MigrateResponse =
  | {
      ok: true;
      /** The migrated body (a protocol-1 worker also sends back a `history`, which the router ignores). */
      body: CheckpointBody;
      schemaVersion: number;
      contextPolicy: ContextPolicy;
      /** Protocol 2: parts the migration left unchanged, with their received hashes. */
      unchanged?: Partial<Record<CheckpointPart, string>>;
    }
  | { ok: false; error: { code: 'MIGRATION_FAILED' | 'STATE_INVALID'; message: string; path?: string } };

export interface WorkerHealthResponse {
  ok: boolean;
  agent: string;
  version: string;
  identity: string;
  schemaVersion: number;
  inflight: number;
  /** The worker protocol it speaks; absent means 1. */
  protocol?: number;
  /** Protocol 2: the compensations its version declares (absent: it runs none). */
  compensations?: string[];
  /** The shadow-mode version it honours (`SHADOW_PROTOCOL`); absent: it runs no shadow turn. */
  shadow?: number;
}

/** Registration data a worker reports about the version it serves. */
export interface VersionManifest {
  agent: string;
  label: string;
  schemaVersion: number;
  modelId: string;
  promptHash: string;
  toolManifestHash: string;
  codeHash: string;
  identity: string;
  acceptsSchemas: number[];
  downSchemas: number[];
  /** The history window its turns need and its history retention (defaults apply when absent). */
  history?: HistoryPolicy;
  /** The names of the compensations it declares (absent or empty: it runs none). */
  compensations?: string[];
}

/**
 * Protocol 2: run the compensation `compensation` of a committed effect. Its input is the effect's
 * recorded args and result (not the session's state). The compensation's own effects go through
 * the ledger with `capability`, keyed by the original effect, so a retried run never repeats them.
 */
export interface CompensateRequest {
  protocol: 2;
  /** The effect's session; `version` is the version whose worker runs the compensation. */
  session: { id: string; agent: string; version: string };
  effect: {
    id: string;
    idempotencyKey: string;
    name: string;
    /** The version that recorded the effect. */
    version: string;
    turnId: string;
    args: unknown;
    result: unknown;
  };
  compensation: string;
  /** Epoch ms by which the worker must answer. */
  deadline: number;
  /** The compensation capability: names the effect, the run owner and an expiry. */
  capability: string;
}

export type CompensateResponse =
  { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } };

export interface EffectIntentInput {
  idempotencyKey: string;
  sessionId: string;
  agent: string;
  version: string;
  turnId: string;
  name: string;
  args: unknown;
  compensation: string | null;
  /** Recorded by a compensation's own `ctx.effect`: the id of the effect being compensated. */
  compensates?: string;
  /**
   * The turn attempt recording the intent (random per attempt). A retried intent call with the
   * same attempt id that finds the record still at `intent` gets `existing: false`: the intent is
   * the caller's own, and whether the effect ran is the caller's knowledge. Another attempt id (or
   * none) finds it `existing: true`, in doubt.
   */
  attemptId?: string;
}

/** Per-call options of `commit` and `fail`. */
export interface LedgerCallOptions {
  /** Epoch ms: retries (across a router restart) stop at this time (the turn's deadline). */
  deadline?: number;
  /**
   * `commit` / `fail`: the attempt that recorded the effect's intent (`EffectIntentInput.attemptId`).
   * Its own settle is accepted after its lease expired or was taken over, while the effect is
   * still `intent` and its capability is authentic and unexpired: the effect ran (or failed) once,
   * under that attempt, and recording it loses nothing (without it the effect stays in doubt).
   */
  attemptId?: string;
}

/**
 * How a worker reaches the effects ledger and the step journal: directly (in-process)
 * or through the server's API with a worker-scoped token (remote).
 */
export interface LedgerClient {
  /** Records the intent, or returns the existing record for the key (`existing: true`). */
  intent(input: EffectIntentInput): Promise<{ effect: EffectRecord; existing: boolean }>;
  commit(idempotencyKey: string, result: unknown, opts?: LedgerCallOptions): Promise<EffectRecord>;
  fail(idempotencyKey: string, error: string, opts?: LedgerCallOptions): Promise<EffectRecord>;
  /** Completed steps of an in-flight turn, by index. */
  steps(sessionId: string, turnId: string): Promise<Array<{ index: number; name: string; result: unknown }>>;
  putStep(sessionId: string, turnId: string, index: number, name: string, result: unknown): Promise<void>;
  /**
   * Protocol 2: one page of the session's history (ascending), read with the turn capability of the
   * turn or migration in progress. Refused once the capability is revoked (the turn committed or
   * its lease was lost).
   */
  history?(capability: string, sessionId: string, q: HistoryQuery): Promise<HistoryPage>;
  /**
   * Protocol 2: the session's LangGraph checkpoints (thread id = session id) through the router,
   * under the capability this client presents (see `withCapability` in the SDK): reads with any
   * live capability of the session, writes with one that holds the lease. Absent when the client
   * cannot reach them.
   */
  readonly graph?: GraphCheckpointStore;
}

/** What the router calls; an HTTP client and an in-process worker both implement it. */
export interface WorkerClient {
  readonly id: string;
  /** The protocol the worker speaks, when known without asking (in-process workers); else see health(). */
  readonly protocol?: WorkerProtocol;
  /** The shadow-mode version it honours, when known without asking (in-process workers); else see health(). */
  readonly shadow?: number;
  turn(req: TurnRequest | TurnRequestV1, signal?: AbortSignal): Promise<TurnResponse>;
  migrate(req: MigrateRequest | MigrateRequestV1): Promise<MigrateResponse>;
  /** Protocol 2: run a compensation (a worker without it, or whose version declares none, runs none). */
  compensate?(req: CompensateRequest): Promise<CompensateResponse>;
  health(): Promise<WorkerHealthResponse>;
  close?(): Promise<void>;
}

/** The turn id a compensation of effect `effectId` runs under (its own effects are recorded with it). */
export function compensationTurnId(effectId: string): string {
  return `compensate:${effectId}`;
}

/** The idempotency key of the `index`-th effect a compensation of the effect keyed `key` calls. */
export function compensationEffectKey(key: string, index: number): string {
  return `${key}:compensate:${index}`;
}

/** The reason recorded on an effect that declared no compensation. */
export const NO_COMPENSATION = 'no compensation declared';

/** The compensation fields of a freshly recorded intent (`pending` when it declares a compensation). */
export function initialCompensationFields(
  compensation: string | null | undefined,
): Pick<
  EffectRecord,
  | 'compensationState'
  | 'compensationReason'
  | 'compensationBy'
  | 'compensationError'
  | 'compensationOwner'
  | 'compensationExpiresAt'
  | 'compensationVersion'
  | 'compensationAttempts'
> {
  return {
    compensationState: compensation ? 'pending' : 'not-compensable',
    compensationReason: compensation ? null : NO_COMPENSATION,
    compensationBy: null,
    compensationError: null,
    compensationOwner: null,
    compensationExpiresAt: null,
    compensationVersion: null,
    compensationAttempts: 0,
  };
}
