/**
 * The shapes of the LangGraph adapter: channel migrations, the graph and builder it accepts, the
 * agent spec, the Baton pointer to a thread, and the metadata keys it stamps; plus small helpers
 * on checkpoints.
 */
import { z } from 'zod';
import type { RunnableConfig } from '@langchain/core/runnables';
import {
  compareChannelVersions,
  type Checkpoint,
  type CheckpointTuple,
} from '@langchain/langgraph-checkpoint';
import type { LedgerClient } from '@baton/core';
import type { InProcessWorker } from '@baton/sdk';
import type { AgentDefinition, InProcessWorkerOptions } from '@baton/sdk';
import type { BatonCheckpointSaver, GraphStoreSource } from './saver';

/** Metadata key stamped into every checkpoint a version writes. */
export const GRAPH_VERSION_KEY = 'baton_graph_version';
/** Metadata key of a checkpoint written by a channel migration: the graph version it came from. */
export const MIGRATED_FROM_KEY = 'baton_migrated_from';

/** Metadata key of the Baton turn whose graph run wrote the checkpoint. */
export const TURN_ID_KEY = 'baton_turn_id';

/** One step of a state migration between two graph versions, per channel (state key). */
export interface ChannelMigration {
  /** The graph version this step migrates from (the next step's `from`, or this version, is the target). */
  from: string;
  /** Old channel name → new channel name; the value moves as it is. */
  rename?: Record<string, string>;
  /** Channel (after renames) → function of its value (and all values) giving the new value. */
  transform?: Record<string, (value: unknown, values: Readonly<Record<string, unknown>>) => unknown>;
  /** Channels to remove. */
  drop?: string[];
  /**
   * For moving threads back (`onAbort: { greenSessions: reverse }`): channel (its name after this
   * step) → function of the newer value giving the older one, one per transformed channel.
   * Renames invert by themselves; a step with a `drop`, or a transform without an inverse, cannot
   * be reversed (the version then ships no down migration over it).
   */
  inverse?: Record<string, (value: unknown, values: Readonly<Record<string, unknown>>) => unknown>;
}

/** The part of a compiled graph the adapter uses. */
export interface CompiledGraphLike {
  invoke(input: unknown, config: RunnableConfig): Promise<unknown>;
  getState(config: RunnableConfig): Promise<{
    values: unknown;
    next: readonly string[];
    config: RunnableConfig;
    metadata?: Record<string, unknown>;
    tasks: ReadonlyArray<{
      id: string;
      name: string;
      interrupts: ReadonlyArray<{ id?: string; value?: unknown }>;
    }>;
  }>;
  nodes: Record<string, unknown>;
  getGraph?(): { nodes: Record<string, unknown>; edges: Array<{ source: string; target: string }> };
}

/** Something with `compile({ checkpointer })`, e.g. a `StateGraph` builder. */
export interface GraphBuilderLike {
  compile(opts: { checkpointer: BatonCheckpointSaver }): unknown;
}

/** What `compile` of the builder `B` returns (e.g. a `CompiledStateGraph` of its state). */
export type CompiledOf<B extends GraphBuilderLike> = ReturnType<B['compile']>;

export interface LangGraphAgentSpec<B extends GraphBuilderLike = GraphBuilderLike> {
  /** Agent name, e.g. `support`. */
  name: string;
  /** Version label; also the graph version stamped into checkpoint metadata. */
  version: string;
  /** The graph builder (compiled here with Baton's checkpointer). */
  graph: B;
  /**
   * Where the graph's checkpoints live: a Baton store with `graph`, or a graph checkpoint store.
   * Omit it in a worker process: each turn and migration then reads and writes the session's
   * graph checkpoints through the Baton server (the worker API, under the call's capability), so
   * the worker needs only the server URL and the worker token.
   */
  store?: GraphStoreSource;
  /** Channel migrations from older graph versions, oldest first. */
  migrations?: ChannelMigration[];
  /** Baton state schema version; defaults to `migrations.length + 1`. */
  schemaVersion?: number;
  modelId?: string;
  prompts?: Record<string, string>;
  /** Extra build identity (e.g. a commit id); the graph's nodes and edges are always included. */
  build?: string;
  /** Graph input for a message turn (default: the message itself, which must be a state update). */
  input?(message: unknown): unknown;
  /** The turn's output from the graph state after the turn (default: `{ values, next, interrupts }`). */
  output?(values: Record<string, unknown>, info: { next: readonly string[]; interrupts: unknown[] }): unknown;
  /** Name of the Baton wait for an interrupt (default: `value.name` when a string, else `interrupt`). */
  waitName?(value: unknown): string;
  /** Payload schemas of named waits (checked when the callback arrives). */
  waits?: Record<string, z.ZodType>;
  /** Wait timeout in ms (default 24 h). */
  waitTimeoutMs?: number;
  /** Resume value when a wait times out (default `{ timedOut: true }`). */
  onTimeout?(name: string): unknown;
}

export const LangGraphPointer = z.object({
  threadId: z.string().nullable(),
  /** Graph version that wrote the thread's latest checkpoint, as of the last turn. */
  graphVersion: z.string().nullable(),
  checkpointId: z.string().nullable(),
  /** Nodes the graph runs next (where it is interrupted). */
  next: z.array(z.string()),
  /** Open interrupts and the Baton waits standing for them. */
  interrupts: z.array(z.object({ id: z.string(), token: z.string(), name: z.string() })),
});
export type LangGraphPointer = z.infer<typeof LangGraphPointer>;

export interface ThreadInspection {
  threadId: string;
  exists: boolean;
  graphVersion: string | null;
  checkpointId: string | null;
  /** Nodes the thread runs next. */
  next: string[];
  /** True when the latest checkpoint has no pending writes other than interrupts. */
  quiescent: boolean;
  interrupted: boolean;
  pendingWrites: Array<{ taskId: string; channel: string }>;
}

export type PreflightResult = { ok: true; from: string | null; to: string } | { ok: false; reason: string };

export interface MigrateThreadResult {
  migrated: boolean;
  from: string | null;
  to: string;
  checkpointId: string | null;
  /** Nodes the thread runs next, as of `checkpointId`. */
  next: string[];
  /** Ids of the pending interrupts carried onto the new checkpoint: old id → new id. */
  interruptIds: Record<string, string>;
}

export interface LangGraphAgent<G = CompiledGraphLike> {
  readonly definition: AgentDefinition<LangGraphPointer>;
  /** The compiled graph (with Baton's checkpointer), typed as the builder's `compile` returns it. */
  readonly graph: G;
  readonly saver: BatonCheckpointSaver;
  readonly version: string;
  /** An in-process Baton worker serving this version (for HTTP, `serveWorker(definition, …)`). */
  worker(ledger: LedgerClient, opts?: InProcessWorkerOptions): InProcessWorker<LangGraphPointer>;
  inspect(threadId: string): Promise<ThreadInspection>;
  /** Can the thread move onto this version? Read-only. `next` adds nodes known from the Baton checkpoint. */
  preflight(threadId: string, next?: readonly string[]): Promise<PreflightResult>;
  /** Migrate the thread's channels onto this graph version (a new checkpoint); no-op when already there. */
  migrateThread(threadId: string): Promise<MigrateThreadResult>;
}

export function threadConfig(threadId: string): RunnableConfig {
  return { configurable: { thread_id: threadId, checkpoint_ns: '' } };
}

export function graphVersionOf(tuple: CheckpointTuple | undefined): string | null {
  const v = (tuple?.metadata as Record<string, unknown> | undefined)?.[GRAPH_VERSION_KEY];
  return typeof v === 'string' ? v : null;
}

/** Nodes the checkpoint will run next: `branch:to:<node>` channels holding a value newer than what the node has seen. */
export function pendingNodes(cp: Checkpoint): string[] {
  const out: string[] = [];
  for (const [channel, version] of Object.entries(cp.channel_versions)) {
    if (!channel.startsWith('branch:to:') || !(channel in cp.channel_values)) continue;
    const node = channel.slice('branch:to:'.length);
    const seen = cp.versions_seen[node]?.[channel];
    if (seen === undefined || compareChannelVersions(seen, version) < 0) out.push(node);
  }
  return out;
}
