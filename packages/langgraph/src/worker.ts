/**
 * A compiled LangGraph graph as a Baton agent version.
 *
 * - A turn is an `invoke` on the session's thread (thread id = session id): a message becomes the
 *   graph input, a callback becomes `Command({ resume })`.
 * - A LangGraph `interrupt` ends the turn as a Baton wait (serializable data: token, name,
 *   deadline, payload schema); the callback that resolves the wait resumes the graph.
 * - Every checkpoint the version writes carries `baton_graph_version` in its metadata.
 * - A new graph version migrates the thread's channels (rename, transform, drop) the first time it
 *   runs a turn on the thread; Baton's migration step (`up`) is the pre-flight: it refuses a thread
 *   that is not at a quiescent checkpoint (pending writes other than an interrupt) or that is
 *   interrupted at a node the new graph no longer has, with the reason.
 *
 * The Baton checkpoint holds a pointer to the thread (`LangGraphPointer`); the graph state itself
 * lives in the store's graph tables, written by `BatonCheckpointSaver`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { z } from 'zod';
import { Command } from '@langchain/langgraph';
import type { RunnableConfig } from '@langchain/core/runnables';
import {
  compareChannelVersions,
  uuid6,
  type Checkpoint,
  type CheckpointTuple,
} from '@langchain/langgraph-checkpoint';
import { MigrationError, ValidationError, canonicalJson, sha256Hex, waitDigest } from '@baton/core';
import type { LedgerClient, TurnInput } from '@baton/core';
import { InProcessWorker, defineAgent } from '@baton/sdk';
import type { AgentDefinition, InProcessWorkerOptions, TurnContext } from '@baton/sdk';
import { BatonCheckpointSaver, type GraphStoreSource } from './saver';

/** Metadata key stamped into every checkpoint a version writes. */
export const GRAPH_VERSION_KEY = 'baton_graph_version';
/** Metadata key of a checkpoint written by a channel migration: the graph version it came from. */
export const MIGRATED_FROM_KEY = 'baton_migrated_from';

/** Metadata key of the Baton turn whose graph run wrote the checkpoint. */
export const TURN_ID_KEY = 'baton_turn_id';

const INTERRUPT_CHANNEL = '__interrupt__';

/** The Baton turn a graph run belongs to, for the checkpoints it writes. */
const turnScope = new AsyncLocalStorage<{ turnId: string }>();

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

export interface LangGraphAgentSpec {
  /** Agent name, e.g. `support`. */
  name: string;
  /** Version label; also the graph version stamped into checkpoint metadata. */
  version: string;
  /** The graph builder (compiled here with Baton's checkpointer). */
  graph: GraphBuilderLike;
  /** Where the graph's checkpoints live: a Baton store with `graph`, or a graph checkpoint store. */
  store: GraphStoreSource;
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
}

export interface LangGraphAgent {
  readonly definition: AgentDefinition<LangGraphPointer>;
  readonly graph: CompiledGraphLike;
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

function threadConfig(threadId: string): RunnableConfig {
  return { configurable: { thread_id: threadId, checkpoint_ns: '' } };
}

function graphVersionOf(tuple: CheckpointTuple | undefined): string | null {
  const v = (tuple?.metadata as Record<string, unknown> | undefined)?.[GRAPH_VERSION_KEY];
  return typeof v === 'string' ? v : null;
}

/** Nodes the checkpoint will run next: `branch:to:<node>` channels holding a value newer than what the node has seen. */
function pendingNodes(cp: Checkpoint): string[] {
  const out: string[] = [];
  for (const [channel, version] of Object.entries(cp.channel_versions)) {
    if (!channel.startsWith('branch:to:') || !(channel in cp.channel_values)) continue;
    const node = channel.slice('branch:to:'.length);
    const seen = cp.versions_seen[node]?.[channel];
    if (seen === undefined || compareChannelVersions(seen, version) < 0) out.push(node);
  }
  return out;
}

function defaultWaitName(value: unknown): string {
  if (value && typeof value === 'object' && typeof (value as { name?: unknown }).name === 'string')
    return (value as { name: string }).name;
  return 'interrupt';
}

function toJsonValue(v: unknown): unknown {
  return v === undefined ? null : (JSON.parse(JSON.stringify(v)) as unknown);
}

export function langGraphAgent(spec: LangGraphAgentSpec): LangGraphAgent {
  if (!spec.version) throw new ValidationError('a LangGraph agent needs a version label');
  const migrations = spec.migrations ?? [];
  const seenFrom = new Set<string>();
  for (const m of migrations) {
    if (!m.from) throw new ValidationError('every channel migration needs `from` (a graph version)');
    if (m.from === spec.version)
      throw new ValidationError(`a channel migration cannot start at ${spec.version} itself`);
    if (seenFrom.has(m.from)) throw new ValidationError(`two channel migrations from ${m.from}`);
    seenFrom.add(m.from);
  }
  const schemaVersion = spec.schemaVersion ?? migrations.length + 1;
  const saver = new BatonCheckpointSaver(spec.store, {
    stamp: { [GRAPH_VERSION_KEY]: spec.version },
    dynamicStamp: () => {
      const t = turnScope.getStore();
      return t ? { [TURN_ID_KEY]: t.turnId } : undefined;
    },
  });
  const graph = spec.graph.compile({ checkpointer: saver }) as CompiledGraphLike;
  const nodeNames = new Set(Object.keys(graph.nodes));
  const timeout = spec.waitTimeoutMs ?? 24 * 60 * 60 * 1000;

  /**
   * The steps from graph version `from` to this one. A version that declares no migrations at
   * all keeps the state as it is (a graph change without a state change).
   */
  function plan(from: string): ChannelMigration[] {
    if (migrations.length === 0) return [];
    const i = migrations.findIndex((m) => m.from === from);
    if (i < 0)
      throw new MigrationError(
        `graph ${spec.name}@${spec.version} has no channel migration from graph version ${from}` +
          (migrations.length ? ` (it migrates from ${migrations.map((m) => m.from).join(', ')})` : ''),
        { from, to: spec.version },
      );
    return migrations.slice(i);
  }

  async function inspect(threadId: string): Promise<ThreadInspection> {
    const tuple = await saver.getTuple(threadConfig(threadId));
    if (!tuple)
      return {
        threadId,
        exists: false,
        graphVersion: null,
        checkpointId: null,
        next: [],
        quiescent: true,
        interrupted: false,
        pendingWrites: [],
      };
    const writes = (tuple.pendingWrites ?? []).map(([taskId, channel]) => ({ taskId, channel }));
    return {
      threadId,
      exists: true,
      graphVersion: graphVersionOf(tuple),
      checkpointId: tuple.checkpoint.id,
      next: pendingNodes(tuple.checkpoint),
      quiescent: writes.every((w) => w.channel === INTERRUPT_CHANNEL),
      interrupted: writes.some((w) => w.channel === INTERRUPT_CHANNEL),
      pendingWrites: writes,
    };
  }

  function applyPlan(
    cp: Checkpoint,
    steps: ChannelMigration[],
  ): { checkpoint: Checkpoint; changed: string[] } {
    const values: Record<string, unknown> = { ...(cp.channel_values as Record<string, unknown>) };
    const versions: Record<string, number | string> = { ...cp.channel_versions };
    const seen: Record<string, Record<string, number | string>> = Object.fromEntries(
      Object.entries(cp.versions_seen).map(([k, v]) => [k, { ...v }]),
    );
    const all = Object.values(versions);
    let top: number | string | undefined = all.length
      ? all.reduce((a, b) =>
          typeof a === 'number' && typeof b === 'number' ? Math.max(a, b) : String(a) > String(b) ? a : b,
        )
      : undefined;
    const bump = (): number | string => {
      top = saver.getNextVersion(typeof top === 'number' ? top : top === undefined ? undefined : Number(top));
      return top;
    };
    const changed = new Set<string>();
    for (const step of steps) {
      for (const [from, to] of Object.entries(step.rename ?? {})) {
        if (!(from in values) && !(from in versions)) continue;
        if (from in values) values[to] = values[from];
        else delete values[to];
        delete values[from];
        delete versions[from];
        versions[to] = bump();
        changed.delete(from);
        changed.add(to);
        for (const s of Object.values(seen))
          if (from in s) {
            s[to] = s[from]!;
            delete s[from];
          }
      }
      for (const [channel, fn] of Object.entries(step.transform ?? {})) {
        const next = fn(values[channel], values);
        if (next === undefined) delete values[channel];
        else values[channel] = next;
        versions[channel] = bump();
        changed.add(channel);
      }
      for (const channel of step.drop ?? []) {
        delete values[channel];
        delete versions[channel];
        changed.delete(channel);
        for (const s of Object.values(seen)) delete s[channel];
      }
    }
    return {
      checkpoint: {
        ...cp,
        id: uuid6(-1),
        ts: new Date().toISOString(),
        channel_values: values,
        channel_versions: versions,
        versions_seen: seen,
      },
      changed: [...changed],
    };
  }

  async function check(
    threadId: string,
    extraNext: readonly string[] = [],
  ): Promise<{ tuple: CheckpointTuple | undefined; from: string | null; steps: ChannelMigration[] }> {
    const tuple = await saver.getTuple(threadConfig(threadId));
    if (!tuple) return { tuple, from: null, steps: [] };
    const from = graphVersionOf(tuple);
    if (from === null || from === spec.version) return { tuple, from, steps: [] };
    const busy = (tuple.pendingWrites ?? []).filter(([, channel]) => channel !== INTERRUPT_CHANNEL);
    if (busy.length > 0)
      throw new MigrationError(
        `thread ${threadId} is not at a quiescent checkpoint: ${busy.length} pending write(s) from task(s) ` +
          `${[...new Set(busy.map(([t]) => t))].join(', ')} on ${[...new Set(busy.map(([, c]) => c))].join(', ')}`,
        { threadId, checkpointId: tuple.checkpoint.id },
      );
    const next = [...new Set([...pendingNodes(tuple.checkpoint), ...extraNext])];
    const missing = next.filter((n) => !nodeNames.has(n));
    if (missing.length > 0) {
      const interrupted =
        (tuple.pendingWrites ?? []).some(([, c]) => c === INTERRUPT_CHANNEL) || extraNext.length > 0;
      throw new MigrationError(
        `thread ${threadId} is ${interrupted ? 'interrupted at' : 'about to run'} node ${missing.map((n) => `'${n}'`).join(', ')} ` +
          `of graph ${from}, which graph ${spec.version} no longer has`,
        { threadId, missing, from, to: spec.version },
      );
    }
    const steps = plan(from);
    return { tuple, from, steps };
  }

  async function preflight(threadId: string, next: readonly string[] = []): Promise<PreflightResult> {
    try {
      const { tuple, from, steps } = await check(threadId, next);
      if (tuple && steps.length > 0) applyPlan(tuple.checkpoint, steps); // dry run of the transforms
      return { ok: true, from, to: spec.version };
    } catch (e) {
      return { ok: false, reason: e instanceof Error ? e.message : String(e) };
    }
  }

  async function migrateThread(threadId: string): Promise<MigrateThreadResult> {
    const { tuple, from, steps } = await check(threadId);
    if (!tuple || steps.length === 0)
      return { migrated: false, from, to: spec.version, checkpointId: tuple?.checkpoint.id ?? null };
    let migrated: ReturnType<typeof applyPlan>;
    try {
      migrated = applyPlan(tuple.checkpoint, steps);
    } catch (e) {
      throw new MigrationError(
        `channel migration of thread ${threadId} from graph ${from} to ${spec.version} threw: ${e instanceof Error ? e.message : String(e)}`,
        { threadId, from, to: spec.version },
      );
    }
    const meta = (tuple.metadata ?? {}) as Record<string, unknown>;
    const newVersions = Object.fromEntries(
      migrated.changed
        .filter((c) => migrated.checkpoint.channel_versions[c] !== undefined)
        .map((c) => [c, migrated.checkpoint.channel_versions[c]!]),
    );
    const config = await saver.put(
      tuple.config,
      migrated.checkpoint,
      {
        source: 'update',
        step: typeof meta.step === 'number' ? meta.step + 1 : 0,
        parents: (meta.parents as Record<string, string> | undefined) ?? {},
        [MIGRATED_FROM_KEY]: from,
      } as never,
      newVersions,
    );
    return {
      migrated: true,
      from,
      to: spec.version,
      checkpointId: (config.configurable?.checkpoint_id as string | undefined) ?? null,
    };
  }

  async function turn(ctx: TurnContext<LangGraphPointer>, input: TurnInput): Promise<unknown> {
    const threadId = ctx.state.threadId ?? ctx.session.id;
    const config = threadConfig(threadId);
    await migrateThread(threadId);
    let arg: unknown;
    const open = ctx.state.interrupts;
    let remaining = open;
    if (input.kind === 'message') {
      arg = spec.input ? spec.input(input.message) : input.message;
    } else {
      // the pointer names a wait by its digest, the router's callback too; a pointer written before
      // digests holds the token, and a caller driving the worker directly may present the token
      const hit = open.find(
        (i) =>
          i.token === input.token ||
          i.token === waitDigest(input.token) ||
          waitDigest(i.token) === input.token,
      );
      if (!hit) throw new ValidationError(`no open interrupt of thread ${threadId} for wait ${input.token}`);
      const value =
        input.kind === 'callback' ? input.payload : (spec.onTimeout?.(input.name) ?? { timedOut: true });
      arg = new Command({ resume: open.length > 1 ? { [hit.id]: value } : value });
      remaining = open.filter((i) => i !== hit);
    }
    const run = (input: unknown) => turnScope.run({ turnId: ctx.turnId }, () => graph.invoke(input, config));
    const latest = await saver.getTuple(config);
    if ((latest?.metadata as Record<string, unknown> | undefined)?.[TURN_ID_KEY] === ctx.turnId) {
      // A retry of a turn whose graph run already wrote checkpoints: never feed the input twice.
      // Finish the run if it stopped between steps; otherwise report where it ended.
      const before = await graph.getState(config);
      const stopped = before.tasks.some((t) => t.interrupts.length > 0);
      if (before.next.length > 0 && !stopped) await run(null);
    } else {
      await run(arg);
    }
    const snap = await graph.getState(config);
    const interrupts = snap.tasks.flatMap((t) =>
      t.interrupts.map((it, k) => ({ id: it.id ?? `${t.id}:${k}`, value: it.value })),
    );
    const kept = remaining.filter((r) => interrupts.some((i) => i.id === r.id));
    const fresh = interrupts
      .filter((i) => !kept.some((k) => k.id === i.id))
      .map((i) => {
        const name = (spec.waitName ?? defaultWaitName)(i.value);
        const wait = ctx.waitFor(name, { timeout: timeout });
        // the pointer is stored state: it keeps the wait's digest, never its token
        return { id: i.id, token: waitDigest(wait.token), name };
      });
    ctx.state = {
      threadId,
      graphVersion: spec.version,
      checkpointId: (snap.config.configurable?.checkpoint_id as string | undefined) ?? null,
      next: [...snap.next],
      interrupts: [...kept, ...fresh],
    };
    const values = (snap.values ?? {}) as Record<string, unknown>;
    const info = { next: snap.next, interrupts: interrupts.map((i) => i.value) };
    return toJsonValue(spec.output ? spec.output(values, info) : { values, ...info });
  }

  const drawn = graph.getGraph?.();
  const structure = drawn
    ? {
        nodes: Object.keys(drawn.nodes).sort(),
        edges: drawn.edges.map((e) => `${e.source}->${e.target}`).sort(),
      }
    : { nodes: [...nodeNames].sort() };
  const migrationText = migrations.map((m) => ({
    from: m.from,
    rename: m.rename ?? {},
    transform: Object.fromEntries(Object.entries(m.transform ?? {}).map(([k, f]) => [k, f.toString()])),
    drop: m.drop ?? [],
  }));

  const up: Record<number, (state: LangGraphPointer) => Promise<LangGraphPointer>> = {};
  for (let s = 1; s < schemaVersion; s++)
    up[s] = async (state: LangGraphPointer) => {
      if (s + 1 < schemaVersion || !state.threadId) return state;
      const r = await preflight(state.threadId, state.next);
      if (!r.ok) throw new Error(r.reason);
      return state;
    };

  const definition = defineAgent<LangGraphPointer>({
    name: spec.name,
    version: spec.version,
    schemaVersion,
    state: LangGraphPointer,
    initialState: () => ({
      threadId: null,
      graphVersion: null,
      checkpointId: null,
      next: [],
      interrupts: [],
    }),
    migrations: { up },
    modelId: spec.modelId ?? 'langgraph',
    ...(spec.prompts ? { prompts: spec.prompts } : {}),
    ...(spec.waits ? { waits: spec.waits } : {}),
    build: sha256Hex(
      canonicalJson({ graph: structure, migrations: migrationText, build: spec.build ?? null }),
    ),
    turn,
  });

  return {
    definition,
    graph,
    saver,
    version: spec.version,
    worker: (ledger, opts) => new InProcessWorker(definition, ledger, opts),
    inspect,
    preflight,
    migrateThread,
  };
}
