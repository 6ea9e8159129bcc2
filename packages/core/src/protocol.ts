/**
 * The worker protocol (HTTP or in-process). See docs/worker-protocol.md.
 * The router sends a TurnRequest; the worker answers with a TurnResponse. The shapes are defined
 * once, as zod schemas in `wire/`; the types here are derived from them.
 */
import type { z } from 'zod';
import type { GraphCheckpointStore } from './graph';
import type { HistoryPage, HistoryQuery } from './history';
import type { EffectRecord } from './types';
import type { effectIntentSchema } from './wire/ledger';
import type {
  checkpointViewSchema,
  compensateRequestSchema,
  compensateResponseSchema,
  migrateRequestSchema,
  migrateRequestV1Schema,
  migrateResponseSchema,
  turnInputSchema,
  turnOutcomeSchema,
  turnRequestSchema,
  turnRequestV1Schema,
  turnResponseSchema,
  versionManifestSchema,
  workerHealthResponseSchema,
} from './wire/worker';

/**
 * The worker protocol version this code speaks. Protocol 2 sends a bounded history window and
 * part hashes instead of the whole history; a worker that reports no `protocol` speaks 1, and the
 * router keeps speaking 1 to it (`TurnRequestV1`, `MigrateRequestV1`).
 */
export const WORKER_PROTOCOL = 2;
export type WorkerProtocol = 1 | 2;

/** Header a worker sends its turn capability in, on every call back to the router. */
export const CAPABILITY_HEADER = 'baton-capability';

export type TurnInput = z.infer<typeof turnInputSchema>;

/** The latest checkpoint as a protocol-2 worker receives it: the body's parts and their hashes. */
export type CheckpointView = z.infer<typeof checkpointViewSchema>;

export type TurnRequest = z.infer<typeof turnRequestSchema>;

/** Protocol 1 (workers built with the first SDK): the whole body, with `history`, in one object. */
export type TurnRequestV1 = z.infer<typeof turnRequestV1Schema>;

export type TurnOutcome = z.infer<typeof turnOutcomeSchema>;

export type TurnResponse = z.infer<typeof turnResponseSchema>;

/** Protocol 2: the checkpoint without any history (history never moves in a migration). */
export type MigrateRequest = z.infer<typeof migrateRequestSchema>;

/** Protocol 1: the whole body with the history (the router sends the origin version's window). */
export type MigrateRequestV1 = z.infer<typeof migrateRequestV1Schema>;

export type MigrateResponse = z.infer<typeof migrateResponseSchema>;

export type WorkerHealthResponse = z.infer<typeof workerHealthResponseSchema>;

/** Registration data a worker reports about the version it serves. */
export type VersionManifest = z.infer<typeof versionManifestSchema>;

/** Protocol 2: run the compensation `compensation` of a committed effect (`compensateRequestSchema`). */
export type CompensateRequest = z.infer<typeof compensateRequestSchema>;

export type CompensateResponse = z.infer<typeof compensateResponseSchema>;

/** An effect's intent, recorded before it runs (`effectIntentSchema`). */
export type EffectIntentInput = z.infer<typeof effectIntentSchema>;

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
