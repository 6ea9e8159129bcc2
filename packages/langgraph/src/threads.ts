/**
 * A thread's moves between graph versions: inspection, the pre-flight (quiescent, every pending
 * node still in the graph, a migration path, transforms that do not throw), and the channel
 * migration written as a child checkpoint, with the pending interrupts carried over.
 */
import type { RunnableConfig } from '@langchain/core/runnables';
import type { Checkpoint, CheckpointTuple } from '@langchain/langgraph-checkpoint';
import { MigrationError } from '@baton/core';
import { INTERRUPT_CHANNEL, carryInterrupts } from './carry';
import { applyChannelSteps, type ChannelStep, type MigratedCheckpoint } from './channels';
import type { BatonCheckpointSaver } from './saver';
import { moveSubgraphs } from './subgraphs';
import {
  GRAPH_VERSION_KEY,
  MIGRATED_FROM_KEY,
  graphVersionOf,
  pendingNodes,
  threadConfig,
  type ChannelMigration,
  type CompiledGraphLike,
  type MigrateThreadResult,
  type PreflightResult,
  type ThreadInspection,
} from './types';

export interface ThreadDeps {
  spec: { name: string; version: string };
  migrations: readonly ChannelMigration[];
  saver: BatonCheckpointSaver;
  graph: CompiledGraphLike;
  nodeNames: ReadonlySet<string>;
}

export function threadOps({ spec, migrations, saver, graph, nodeNames }: ThreadDeps) {
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

  function applyPlan(cp: Checkpoint, steps: ChannelMigration[]): MigratedCheckpoint {
    return applyChannelSteps(cp, steps, (v) => saver.getNextVersion(v));
  }

  async function check(
    threadId: string,
    extraNext: readonly string[] = [],
    latest?: CheckpointTuple | null,
  ): Promise<{ tuple: CheckpointTuple | undefined; from: string | null; steps: ChannelMigration[] }> {
    const tuple = latest === undefined ? await saver.getTuple(threadConfig(threadId)) : (latest ?? undefined);
    if (!tuple) return { tuple, from: null, steps: [] };
    const from = graphVersionOf(tuple);
    if (from === null || from === spec.version) return { tuple, from, steps: [] };
    quiescent(threadId, tuple);
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

  /** Refuse a thread whose latest checkpoint has pending writes other than interrupts (a run stopped between tasks). */
  function quiescent(threadId: string, tuple: CheckpointTuple): void {
    const busy = (tuple.pendingWrites ?? []).filter(([, channel]) => channel !== INTERRUPT_CHANNEL);
    if (busy.length > 0)
      throw new MigrationError(
        `thread ${threadId} is not at a quiescent checkpoint: ${busy.length} pending write(s) from task(s) ` +
          `${[...new Set(busy.map(([t]) => t))].join(', ')} on ${[...new Set(busy.map(([, c]) => c))].join(', ')}`,
        { threadId, checkpointId: tuple.checkpoint.id },
      );
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

  /**
   * Carry the pending interrupts of `old` onto `bridge` (the checkpoint a migration wrote as its
   * child) under their new ids; idempotent. Returns old interrupt id → new id.
   */
  async function carry(
    old: CheckpointTuple,
    bridge: RunnableConfig,
    subgraphIds: Record<string, string> = {},
  ): Promise<Record<string, string>> {
    if (!(old.pendingWrites ?? []).some(([, c]) => c === INTERRUPT_CHANNEL)) return {};
    const snap = await graph.getState(bridge);
    const moved = carryInterrupts(old.pendingWrites ?? [], snap.tasks, undefined, subgraphIds);
    for (const w of moved.writes) await saver.putWrites(bridge, w.writes, w.taskId);
    return moved.ids;
  }

  /** `latest`: the thread's latest checkpoint when the caller just read it (null: none). */
  async function migrateThread(
    threadId: string,
    latest?: CheckpointTuple | null,
  ): Promise<MigrateThreadResult> {
    const { tuple, from, steps } = await check(threadId, [], latest);
    const unchanged = async (): Promise<MigrateThreadResult> => {
      const result: MigrateThreadResult = {
        migrated: false,
        from,
        to: spec.version,
        checkpointId: tuple?.checkpoint.id ?? null,
        next: tuple ? pendingNodes(tuple.checkpoint) : [],
        interruptIds: {},
      };
      // a bridge this version wrote before (a migration that is run again): carry again, same ids
      const bridgedFrom = (tuple?.metadata as Record<string, unknown> | undefined)?.[MIGRATED_FROM_KEY];
      if (tuple && from === spec.version && typeof bridgedFrom === 'string' && tuple.parentConfig) {
        const parent = await saver.getTuple(tuple.parentConfig);
        if (parent) result.interruptIds = await carry(parent, tuple.config);
      }
      return result;
    };
    if (!tuple || steps.length === 0) return unchanged();
    let migrated: MigratedCheckpoint;
    try {
      migrated = applyPlan(tuple.checkpoint, steps);
    } catch (e) {
      throw new MigrationError(
        `channel migration of thread ${threadId} from graph ${from} to ${spec.version} threw: ${e instanceof Error ? e.message : String(e)}`,
        { threadId, from, to: spec.version },
      );
    }
    return writeBridge(tuple, migrated, from, spec.version, steps);
  }

  /** Write `migrated` as the child of `tuple`, stamped `to` (bridged from `from`), interrupts carried. */
  async function writeBridge(
    tuple: CheckpointTuple,
    migrated: MigratedCheckpoint,
    from: string | null,
    to: string,
    stepsOf: readonly ChannelStep[],
  ): Promise<MigrateThreadResult> {
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
        [GRAPH_VERSION_KEY]: to,
        [MIGRATED_FROM_KEY]: from,
      } as never,
      newVersions,
    );
    // subgraphs interrupted inside move to the new task ids' namespaces, with the same steps
    // (only pending tasks can have a subgraph run in progress; a pushed task shows by its writes)
    const subgraphIds =
      pendingNodes(tuple.checkpoint).length === 0 && (tuple.pendingWrites ?? []).length === 0
        ? {}
        : await moveSubgraphs(
            { saver, graph, steps: stepsOf, stamp: { [GRAPH_VERSION_KEY]: to, [MIGRATED_FROM_KEY]: from } },
            String(tuple.config.configurable?.thread_id),
            tuple.config,
            config,
          );
    return {
      migrated: true,
      from,
      to,
      checkpointId: (config.configurable?.checkpoint_id as string | undefined) ?? null,
      next: pendingNodes(migrated.checkpoint),
      interruptIds: await carry(tuple, config, subgraphIds),
    };
  }

  /** The steps that undo `m` (inverse transforms, then the renames back), or why it cannot be undone. */
  function inverseOf(m: ChannelMigration): ChannelStep[] | string {
    if (m.drop?.length) return `it drops ${m.drop.map((c) => `'${c}'`).join(', ')}, which cannot be restored`;
    const missing = Object.keys(m.transform ?? {}).filter((c) => typeof m.inverse?.[c] !== 'function');
    if (missing.length) return `its transform of ${missing.map((c) => `'${c}'`).join(', ')} has no inverse`;
    const back = Object.fromEntries(Object.entries(m.rename ?? {}).map(([a, b]) => [b, a]));
    return [{ transform: m.inverse ?? {} }, { rename: back }];
  }

  /** Which step `i` of the migrations can be reversed (for the agent's `down` migrations). */
  function reversible(i: number): boolean {
    const m = migrations[i];
    return m !== undefined && typeof inverseOf(m) !== 'string';
  }

  /**
   * Move the thread back over migration step `i` (from the graph version after it to
   * `migrations[i].from`): the inverse channel steps written as a child checkpoint stamped with
   * the older graph version. A dry run only checks. No-op on a thread already there.
   */
  async function reverseThread(threadId: string, i: number, dryRun: boolean): Promise<MigrateThreadResult> {
    const m = migrations[i]!;
    const target = m.from;
    const source = migrations[i + 1]?.from ?? spec.version;
    const steps = inverseOf(m);
    if (typeof steps === 'string')
      throw new MigrationError(
        `graph ${spec.name}@${spec.version} cannot move thread ${threadId} back to graph ${target}: ${steps}`,
        { threadId, from: source, to: target },
      );
    const tuple = await saver.getTuple(threadConfig(threadId));
    const from = graphVersionOf(tuple);
    const none: MigrateThreadResult = {
      migrated: false,
      from,
      to: target,
      checkpointId: tuple?.checkpoint.id ?? null,
      next: tuple ? pendingNodes(tuple.checkpoint) : [],
      interruptIds: {},
    };
    if (!tuple || from === target) return none;
    if (from !== source)
      throw new MigrationError(
        `thread ${threadId} is on graph ${from}; moving back to ${target} starts from ${source}`,
        { threadId, from, to: target },
      );
    quiescent(threadId, tuple);
    let migrated: MigratedCheckpoint;
    try {
      migrated = applyChannelSteps(tuple.checkpoint, steps, (v) => saver.getNextVersion(v));
    } catch (e) {
      throw new MigrationError(
        `reverse channel migration of thread ${threadId} from graph ${source} to ${target} threw: ${e instanceof Error ? e.message : String(e)}`,
        { threadId, from: source, to: target },
      );
    }
    if (dryRun) return none;
    return writeBridge(tuple, migrated, source, target, steps);
  }

  return { inspect, preflight, migrateThread, reverseThread, reversible };
}
