/**
 * A compiled LangGraph graph as a Baton agent version.
 *
 * - A turn is an `invoke` on the session's thread (thread id = session id): a message becomes the
 *   graph input, a callback becomes `Command({ resume })`.
 * - A LangGraph `interrupt` ends the turn as a Baton wait (serializable data: token, name,
 *   deadline, payload schema); the callback that resolves the wait resumes the graph.
 * - Every checkpoint the version writes carries `baton_graph_version` in its metadata.
 * - A new graph version migrates the thread's channels (rename, transform, drop) when Baton
 *   migrates the session (`up`, after the pre-flight of threads.ts: a thread that is not at a
 *   quiescent checkpoint or is interrupted at a node the new graph no longer has is refused, with
 *   the reason), or at its first turn on the version when no migration step ran.
 *
 * The Baton checkpoint holds a pointer to the thread (`LangGraphPointer`); the graph state itself
 * lives in the store's graph tables, written by `BatonCheckpointSaver`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Command } from '@langchain/langgraph';
import { MigrationError, ValidationError, canonicalJson, sha256Hex, waitDigest } from '@baton/core';
import type { GraphCheckpointStore, TurnInput } from '@baton/core';
import { InProcessWorker, defineAgent } from '@baton/sdk';
import type { MigrationContext, MigrationFn, TurnContext } from '@baton/sdk';
import { BatonCheckpointSaver } from './saver';
import { CallGraphStore, withCallGraph } from './call-store';
import { threadOps } from './threads';
import {
  GRAPH_VERSION_KEY,
  LangGraphPointer,
  MIGRATED_FROM_KEY,
  TURN_ID_KEY,
  graphVersionOf,
  threadConfig,
  type CompiledGraphLike,
  type CompiledOf,
  type GraphBuilderLike,
  type LangGraphAgent,
  type LangGraphAgentSpec,
  type MigrateThreadResult,
} from './types';

export * from './types';

/** The Baton turn a graph run belongs to, for the checkpoints it writes. */
const turnScope = new AsyncLocalStorage<{ turnId: string }>();

function defaultWaitName(value: unknown): string {
  if (value && typeof value === 'object' && typeof (value as { name?: unknown }).name === 'string')
    return (value as { name: string }).name;
  return 'interrupt';
}

function toJsonValue(v: unknown): unknown {
  return v === undefined ? null : (JSON.parse(JSON.stringify(v)) as unknown);
}

export function langGraphAgent<B extends GraphBuilderLike>(
  spec: LangGraphAgentSpec<B>,
): LangGraphAgent<CompiledOf<B>> {
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
  const saver = new BatonCheckpointSaver(spec.store ?? new CallGraphStore(`${spec.name}@${spec.version}`), {
    stamp: { [GRAPH_VERSION_KEY]: spec.version },
    dynamicStamp: () => {
      const t = turnScope.getStore();
      return t ? { [TURN_ID_KEY]: t.turnId } : undefined;
    },
  });
  const compiled = spec.graph.compile({ checkpointer: saver }) as CompiledOf<B>;
  const graph = compiled as unknown as CompiledGraphLike;
  const nodeNames = new Set(Object.keys(graph.nodes));
  const timeout = spec.waitTimeoutMs ?? 24 * 60 * 60 * 1000;
  const { inspect, preflight, migrateThread, reverseThread, reversible } = threadOps({
    spec,
    migrations,
    saver,
    graph,
    nodeNames,
  });

  /** The graph store of a call: the given `store`, else the session's, through the call's ledger. */
  const scoped = <T>(graph: GraphCheckpointStore | undefined, fn: () => Promise<T>): Promise<T> =>
    spec.store ? fn() : withCallGraph(graph, fn);

  function turn(ctx: TurnContext<LangGraphPointer>, input: TurnInput): Promise<unknown> {
    return scoped(ctx.graph, () => runTurn(ctx, input));
  }

  async function runTurn(ctx: TurnContext<LangGraphPointer>, input: TurnInput): Promise<unknown> {
    const threadId = ctx.state.threadId ?? ctx.session.id;
    const config = threadConfig(threadId);
    // A bridge another version wrote for a migration that was never committed (the session is
    // still on this version): run from the checkpoint the session names, which forks past it.
    const head = await saver.getTuple(config);
    const orphan =
      head !== undefined &&
      ctx.state.checkpointId !== null &&
      head.checkpoint.id !== ctx.state.checkpointId &&
      typeof (head.metadata as Record<string, unknown> | undefined)?.[MIGRATED_FROM_KEY] === 'string' &&
      graphVersionOf(head) !== spec.version;
    const runConfig = orphan
      ? { configurable: { ...config.configurable, checkpoint_id: ctx.state.checkpointId } }
      : config;
    const lazy = orphan ? undefined : await migrateThread(threadId, head ?? null);
    let arg: unknown;
    const open = ctx.state.interrupts.map((i) => ({ ...i, id: lazy?.interruptIds[i.id] ?? i.id }));
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
    const run = (input: unknown) =>
      turnScope.run({ turnId: ctx.turnId }, () => graph.invoke(input, input === null ? config : runConfig));
    // the head read above, unless the lazy migration wrote a new one
    const latest = lazy?.migrated ? await saver.getTuple(config) : head;
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
    // a task that has run since its interrupt was answered still lists it: only pending tasks count
    const interrupts = snap.tasks
      .filter((t) => snap.next.includes(t.name))
      .flatMap((t) => t.interrupts.map((it, k) => ({ id: it.id ?? `${t.id}:${k}`, value: it.value })));
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
    inverse: Object.fromEntries(Object.entries(m.inverse ?? {}).map(([k, f]) => [k, f.toString()])),
  }));

  /**
   * Baton's migration step to this version: the pre-flight, and (unless a dry run) the channel
   * migration written at once, so `graph.getState()` shows the migrated thread, with its pending
   * interrupts, before any new turn. The Baton pointer then names the migrated checkpoint.
   */
  const up: Record<number, MigrationFn<LangGraphPointer, LangGraphPointer>> = {};
  for (let s = 1; s < schemaVersion; s++)
    up[s] = (state: LangGraphPointer, mctx: MigrationContext): Promise<LangGraphPointer> =>
      scoped(mctx.graph, () => upOnto(state, mctx, s));

  async function upOnto(
    state: LangGraphPointer,
    mctx: MigrationContext,
    s: number,
  ): Promise<LangGraphPointer> {
    if (s + 1 < schemaVersion || !state.threadId) return state;
    const r = await preflight(state.threadId, state.next);
    if (!r.ok) throw new MigrationError(r.reason, { threadId: state.threadId, to: spec.version });
    if (mctx.dryRun) return state;
    return pointTo(state, await migrateThread(state.threadId));
  }

  /** The pointer after a channel migration: the new checkpoint, its next nodes, the interrupts' new ids. */
  function pointTo(state: LangGraphPointer, m: MigrateThreadResult): LangGraphPointer {
    if (m.checkpointId === null || (!m.migrated && m.from !== m.to)) return state;
    return {
      ...state,
      graphVersion: m.to,
      checkpointId: m.checkpointId,
      next: m.next,
      interrupts: state.interrupts.map((i) => ({ ...i, id: m.interruptIds[i.id] ?? i.id })),
    };
  }

  /**
   * Down migrations, for moving threads back when a rollout aborts with `greenSessions: reverse`:
   * `down[n]` undoes migration step `n - 1` (schema `n + 1` → `n`), when that step is reversible
   * (see `ChannelMigration.inverse`) and the schema versions follow the steps (the default).
   */
  const down: Record<number, MigrationFn<LangGraphPointer, LangGraphPointer>> = {};
  if (schemaVersion === migrations.length + 1)
    for (let n = 1; n < schemaVersion; n++)
      if (reversible(n - 1))
        down[n] = (state: LangGraphPointer, mctx: MigrationContext): Promise<LangGraphPointer> =>
          scoped(mctx.graph, async () =>
            state.threadId ? pointTo(state, await reverseThread(state.threadId, n - 1, mctx.dryRun)) : state,
          );

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
    migrations: { up, down },
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
    graph: compiled,
    saver,
    version: spec.version,
    worker: (ledger, opts) => new InProcessWorker(definition, ledger, opts),
    inspect,
    preflight,
    migrateThread,
  };
}
