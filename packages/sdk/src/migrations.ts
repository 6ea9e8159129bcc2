/**
 * The migrations of an agent version, typed: a step from a declared schema receives that schema's
 * state type (`defineAgent` infers the schemas), any other step `unknown`.
 */
import type { z } from 'zod';
import type { GraphCheckpointStore } from '@baton/core';
import type { HistoryReader } from './history';

/** What a migration function sees besides the state. */
export interface MigrationContext {
  sessionId: string;
  /** Schema version of the state passed in. */
  from: number;
  /** Schema version the function must return. */
  to: number;
  /**
   * The session's history, read on demand through the router (nothing is fetched unless asked):
   * `await history.window()` for the newest entries, `history.all()` for every entry (O(history)).
   */
  history: HistoryReader;
  context: unknown;
  /**
   * True for a pre-flight or a check (`POST /v1/migrate/check`, a rollout's pre-flight): the
   * result is only looked at, so a migration that writes beside the checkpoint (e.g. a LangGraph
   * thread's channels) must write nothing.
   */
  dryRun: boolean;
  /** The session's LangGraph checkpoints under this call's capability (as `TurnContext.graph`). */
  graph: GraphCheckpointStore | undefined;
}

/** One migration step: a state of schema `from` in, the state of schema `to` out (or its promise). */
export type MigrationFn<From = unknown, To = unknown> = (
  state: From,
  ctx: MigrationContext,
) => To | Promise<To>;

/** Schemas of other schema versions than the agent's own, by version. */
export type StateSchemas = { readonly [version: number]: z.ZodType };
/** No schemas declared. */
export type NoSchemas = Record<never, z.ZodType>;

/** A step whose schemas are not declared: its state is `unknown` (annotate it, or declare `schemas`). */
interface UndeclaredStep {
  // a method, so that a step with an annotated parameter is accepted (checked bivariantly)
  step(state: unknown, ctx: MigrationContext): unknown;
}

/** `n + 1` for the schema versions a migration chain reasonably spans. */
type Inc = [
  1,
  2,
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  10,
  11,
  12,
  13,
  14,
  15,
  16,
  17,
  18,
  19,
  20,
  21,
  22,
  23,
  24,
  25,
  26,
  27,
  28,
  29,
  30,
  31,
  32,
  33,
];
type Next<N extends number> = N extends keyof Inc ? Inc[N] : number;
/** The down steps starting from a declared schema: `n` where `n + 1` is declared, or is the agent's own. */
type StepsDown<V extends number, P> = number extends V
  ? never
  : {
      [K in keyof Inc & `${number}`]: Inc[K] extends keyof P | V
        ? K extends `${infer N extends number}`
          ? N
          : never
        : never;
    }[keyof Inc & `${number}`];

/** The state type of schema version `K`: declared in `P`, or the agent's own `S` at version `V`. */
type StateAt<S, V extends number, P, K> = K extends keyof P
  ? P[K] extends z.ZodType
    ? z.output<P[K]>
    : unknown
  : number extends V
    ? unknown
    : K extends V
      ? S
      : unknown;

/**
 * `up[n]` turns a schema-`n` state into a schema-`n+1` state, `down[n]` a schema-`n+1` state into a
 * schema-`n` state. A step from a declared schema (`schemas`, or the agent's own `state` at its
 * `schemaVersion`) receives that schema's type; any other step `unknown`. What a step returns is
 * checked against its target's schema when the migration runs.
 */
export type UpMigrations<S, V extends number, P> = { [n: number]: UndeclaredStep['step'] } & {
  [K in keyof P & number]?: MigrationFn<StateAt<S, V, P, K>>;
};
export type DownMigrations<S, V extends number, P> = { [n: number]: UndeclaredStep['step'] } & {
  [K in StepsDown<V, P>]?: MigrationFn<StateAt<S, V, P, Next<K>>>;
};

export interface Migrations<S = unknown, V extends number = number, P extends StateSchemas = NoSchemas> {
  up?: NoInfer<UpMigrations<S, V, P>>;
  down?: NoInfer<DownMigrations<S, V, P>>;
  /**
   * Schemas of other schema versions: the state a migration step receives is checked against (and
   * typed from) its version's schema, and a down-migration's result validated against its target's.
   */
  schemas?: P;
}
