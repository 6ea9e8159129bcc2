/**
 * The worker protocol (HTTP or in-process). See docs/worker-protocol.md.
 * The router sends a TurnRequest; the worker answers with a TurnResponse.
 */
import type { CheckpointBody, ContextPolicy, EffectRecord, HistoryEntry, TurnTelemetry, Wait } from './types';

export type TurnInput =
  | { kind: 'message'; message: unknown }
  | { kind: 'callback'; token: string; name: string; payload: unknown }
  | { kind: 'timeout'; token: string; name: string };

export interface TurnRequest {
  session: { id: string; agent: string; version: string; tenant: string | null };
  /** The latest checkpoint, or null for a session's first turn. */
  checkpoint: { seq: number; schemaVersion: number; body: CheckpointBody } | null;
  input: TurnInput;
  /** Stable across retries of the same turn (derived from the idempotency key). */
  turnId: string;
  /** Epoch ms by which the worker must answer. */
  deadline: number;
}

export type TurnOutcome = 'idle' | 'waiting' | 'completed' | 'failed';

export interface TurnResponse {
  state: unknown;
  context: unknown;
  /** Entries appended by this turn (the router appends them to the checkpoint's history). */
  history: HistoryEntry[];
  memory?: unknown;
  output: unknown;
  status: TurnOutcome;
  waits: Wait[];
  telemetry: TurnTelemetry;
  schemaVersion: number;
}

export interface MigrateRequest {
  session: { id: string; agent: string; version: string };
  checkpoint: { seq: number; schemaVersion: number; body: CheckpointBody };
  targetSchemaVersion: number;
  dryRun: boolean;
}

export type MigrateResponse =
  | { ok: true; body: CheckpointBody; schemaVersion: number; contextPolicy: ContextPolicy }
  | { ok: false; error: { code: 'MIGRATION_FAILED' | 'STATE_INVALID'; message: string; path?: string } };

export interface WorkerHealthResponse {
  ok: boolean;
  agent: string;
  version: string;
  identity: string;
  schemaVersion: number;
  inflight: number;
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
}

export interface EffectIntentInput {
  idempotencyKey: string;
  sessionId: string;
  agent: string;
  version: string;
  turnId: string;
  name: string;
  args: unknown;
  compensation: string | null;
}

/**
 * How a worker reaches the effects ledger and the step journal: directly (in-process)
 * or through the server's API with a worker-scoped token (remote).
 */
export interface LedgerClient {
  /** Records the intent, or returns the existing record for the key (`existing: true`). */
  intent(input: EffectIntentInput): Promise<{ effect: EffectRecord; existing: boolean }>;
  commit(idempotencyKey: string, result: unknown): Promise<EffectRecord>;
  fail(idempotencyKey: string, error: string): Promise<EffectRecord>;
  /** Completed steps of an in-flight turn, by index. */
  steps(sessionId: string, turnId: string): Promise<Array<{ index: number; name: string; result: unknown }>>;
  putStep(sessionId: string, turnId: string, index: number, name: string, result: unknown): Promise<void>;
}

/** What the router calls; an HTTP client and an in-process worker both implement it. */
export interface WorkerClient {
  readonly id: string;
  turn(req: TurnRequest, signal?: AbortSignal): Promise<TurnResponse>;
  migrate(req: MigrateRequest): Promise<MigrateResponse>;
  health(): Promise<WorkerHealthResponse>;
  close?(): Promise<void>;
}
