/** The context a turn handler receives. */
import type { z } from 'zod';
import type {
  GraphCheckpointStore,
  HistoryEntry,
  HistoryPage,
  StoredHistoryEntry,
  TurnInput,
  TurnRequest,
  Wait,
} from '@baton/core';
import type { HistoryPageQuery } from './history';

export interface WaitOptions {
  /** Milliseconds from now until the wait times out (the session then resumes with `input.kind === 'timeout'`). */
  timeout: number;
  /**
   * Payload schema; stored as JSON Schema with the wait (the router checks callbacks against it)
   * and checked again before the resumed turn runs (the agent's `waits[name]` schema if declared,
   * else the stored JSON Schema).
   */
  schema?: z.ZodType;
}

export interface EffectOptions {
  /**
   * Name of the compensation that undoes this effect: one the version declares in
   * `defineAgent({compensations})` (else the turn fails with VALIDATION before the intent is
   * recorded). Recorded with the effect; run by a worker when an operator (or an aborted rollout)
   * compensates it.
   */
  compensate?: string;
  /**
   * Declares `run` safe to execute twice (e.g. it passes its own idempotency key downstream).
   * Only then does a retry re-run an effect whose earlier attempt crashed between intent and commit.
   */
  idempotent?: boolean;
}

export interface ModelUsage {
  tokensIn?: number;
  tokensOut?: number;
  /** Fraction of the model's context window used, 0..1. */
  contextUtilization?: number;
}

/** Payload schemas of named waits (an agent's `waits`). */
export type WaitSchemas = { readonly [name: string]: z.ZodType };

export interface TurnContext<S, W extends WaitSchemas = WaitSchemas> {
  /** A mutable copy of the session state; validated against the schema when the turn ends. */
  state: S;
  /**
   * The newest entries of the conversation (the version's history window, see
   * `defineAgent({history})`), then the entries appended by this turn, oldest first. Each entry
   * carries its `index` in the session's log; older entries are read with `readHistory`.
   */
  readonly history: readonly StoredHistoryEntry[];
  /** Entries in the session's history log, including those appended by this turn so far. */
  readonly historyLength: number;
  /**
   * One page of the entries stored before this turn: the newest `limit` (default 100, at most
   * 1000) with index below `before` (default: all), ascending. Pages through the router with the
   * turn's capability; `page.nextBefore` is the `before` of the next older page.
   */
  readHistory(q?: HistoryPageQuery): Promise<HistoryPage>;
  /** The working context (exact prompt state); carried into the checkpoint. */
  context: unknown;
  /** Free-form memory carried into the checkpoint. */
  memory: unknown;
  readonly input: TurnInput;
  readonly session: TurnRequest['session'];
  readonly turnId: string;
  /** Epoch ms by which the turn must finish. */
  readonly deadline: number;
  /** Aborted when the deadline passes; effects and steps refuse to start afterwards. */
  readonly abortSignal: AbortSignal;
  /**
   * The session's LangGraph checkpoints (thread id = session id) under this turn's capability:
   * through the router's worker API for a worker over HTTP, over the store in-process. Undefined
   * when the worker's ledger client cannot reach them.
   */
  readonly graph: GraphCheckpointStore | undefined;
  /** Current time from the worker's clock. */
  now(): number;

  /** Sets the turn's output (a non-undefined return value of the handler takes precedence). */
  reply(output: unknown): void;
  /** Appends an entry to the session history (user input and the output are appended automatically). */
  note(role: HistoryEntry['role'], content: unknown): void;
  /** Registers a pending wait; the turn ends in `waiting`. Returns the serializable wait. */
  waitFor(name: (keyof W & string) | (string & {}), opts: WaitOptions): Wait;
  /**
   * The callback payload of the current input, which answers the wait `name`, typed and parsed by
   * that wait's schema in the agent's `waits` (VALIDATION when the input is not a callback of that
   * wait).
   */
  payload<K extends keyof W & string>(name: K): z.output<W[K]>;
  /** The callback payload of the current input, validated against `schema` when given. */
  payload<T = unknown>(schema?: z.ZodType<T>): T;
  /** A side effect through the effects ledger; exactly-once across retries of the turn. */
  effect<T>(
    name: string,
    args: unknown,
    run: (args: any) => T | Promise<T>,
    opts?: EffectOptions,
  ): Promise<T>;
  /** A journaled save point: a retry of the turn returns the journaled result without running `run`. */
  step<T>(name: string, run: () => T | Promise<T>): Promise<T>;
  /** A read-only tool call, counted in telemetry by name. */
  tool<T>(name: string, run: () => T | Promise<T>): Promise<T>;
  /** Agent-reported signal, e.g. `clarification` or `escalation`. */
  signal(kind: 'clarification' | 'escalation' | (string & {})): void;
  model: { record(usage: ModelUsage): void };
  reasoningStep(n?: number): void;
  /** A custom numeric metric for this turn (last value wins). */
  metric(name: string, value: number): void;
  /** Ends the session after this turn (status `completed`). */
  complete(): void;
  /** Ends the session as `failed` after this turn (committed, unlike a thrown error). */
  fail(reason: string): void;
}

/** What a compensation receives besides its context: the effect it undoes, as the ledger recorded it. */
export interface CompensationInput {
  args: unknown;
  result: unknown;
  effect: {
    id: string;
    idempotencyKey: string;
    name: string;
    /** The version that recorded the effect (may differ from the one running the compensation). */
    version: string;
    sessionId: string;
    turnId: string;
  };
}

/**
 * The context of one compensation run. Its own `effect` calls go through the ledger, keyed by the
 * compensated effect's id: a run retried after a crash replays the effects that already ran
 * instead of running them again. Code outside `ctx.effect` has no such guarantee.
 */
export interface CompensationContext {
  readonly session: { id: string; agent: string; version: string };
  /** Epoch ms by which the compensation must return. */
  readonly deadline: number;
  readonly abortSignal: AbortSignal;
  now(): number;
  /** A side effect through the ledger, exactly once across retries of this compensation. */
  effect<T>(
    name: string,
    args: unknown,
    run: (args: any) => T | Promise<T>,
    opts?: Pick<EffectOptions, 'idempotent'>,
  ): Promise<T>;
}

/** A declared compensation: undoes one effect; its return value is recorded as the compensation's result. */
export type CompensationFn = (ctx: CompensationContext, input: CompensationInput) => unknown;
