/**
 * Subgraph namespaces across a migration. A subgraph run keeps its own checkpoints in the
 * namespace `<node>:<task id>` of the task that runs it (nested ones: `<outer ns>|<node>:<task
 * id>`). The checkpoint a migration writes gives every pending task a new id, so a subgraph that
 * was interrupted inside would start over in a new, empty namespace on resume. Moving the
 * subgraph along: its latest checkpoint is written again, with the same channel steps applied (a
 * subgraph's channels are addressed by their names in the subgraph, as the root's are: a rename
 * of `orderId` renames the subgraph's `orderId` too; transforms and renames of channels the
 * subgraph does not have do nothing there), in the namespace of the new task id, and its pending
 * interrupts are carried to its tasks' new ids, recursively for nested subgraphs.
 */
import type { RunnableConfig } from '@langchain/core/runnables';
import type { Checkpoint } from '@langchain/langgraph-checkpoint';
import { INTERRUPT_CHANNEL, carryInterrupts } from './carry';
import { applyChannelSteps, type ChannelStep } from './channels';
import type { BatonCheckpointSaver } from './saver';
import type { CompiledGraphLike } from './types';

interface TaskLike {
  id: string;
  name: string;
}

/** The steps as they apply to `cp`: transforms only of channels it has (after the renames before them). */
export function stepsForNamespace(cp: Checkpoint, steps: readonly ChannelStep[]): ChannelStep[] {
  const present = new Set(Object.keys(cp.channel_versions));
  return steps.map((s) => {
    for (const [from, to] of Object.entries(s.rename ?? {})) if (present.delete(from)) present.add(to);
    const transform = Object.fromEntries(Object.entries(s.transform ?? {}).filter(([c]) => present.has(c)));
    for (const c of s.drop ?? []) present.delete(c);
    return { ...s, transform };
  });
}

export interface SubgraphMoveDeps {
  saver: BatonCheckpointSaver;
  graph: CompiledGraphLike;
  /** The channel steps of the migration (the root's). */
  steps: readonly ChannelStep[];
  /** Metadata entries stamped on every checkpoint the move writes. */
  stamp: Record<string, unknown>;
}

async function tasksOf(graph: CompiledGraphLike, config: RunnableConfig): Promise<TaskLike[]> {
  const snap = (await graph.getState(config)) as unknown as { tasks?: readonly TaskLike[] };
  return [...(snap.tasks ?? [])];
}

/**
 * Move the subgraph namespaces under the pending tasks of `oldParent` (namespace `oldNs`) to those
 * of `newParent` (namespace `newNs`): the tasks of one node are matched by name. Returns old
 * interrupt id → new interrupt id for every interrupt moved.
 */
export async function moveSubgraphs(
  deps: SubgraphMoveDeps,
  threadId: string,
  oldParent: RunnableConfig,
  newParent: RunnableConfig,
  oldNs = '',
  newNs = '',
): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  const [oldTasks, newTasks] = await Promise.all([
    tasksOf(deps.graph, oldParent),
    tasksOf(deps.graph, newParent),
  ]);
  for (const old of oldTasks) {
    const target = newTasks.find((t) => t.name === old.name);
    if (!target) continue;
    const from = `${oldNs ? `${oldNs}|` : ''}${old.name}:${old.id}`;
    const to = `${newNs ? `${newNs}|` : ''}${target.name}:${target.id}`;
    const sub = await deps.saver.getTuple({ configurable: { thread_id: threadId, checkpoint_ns: from } });
    if (!sub) continue;
    const migrated = applyChannelSteps(sub.checkpoint, stepsForNamespace(sub.checkpoint, deps.steps), (v) =>
      deps.saver.getNextVersion(v),
    );
    const cp = migrated.checkpoint;
    // a new namespace has nothing to inherit: every channel is written
    const written = await deps.saver.put(
      { configurable: { thread_id: threadId, checkpoint_ns: to } },
      cp,
      { ...(sub.metadata ?? {}), ...deps.stamp } as never,
      { ...cp.channel_versions },
    );
    const config: RunnableConfig = {
      configurable: { thread_id: threadId, checkpoint_ns: to, checkpoint_id: cp.id },
    };
    // nested subgraphs first: their interrupts are this subgraph's too
    const nested = await moveSubgraphs(deps, threadId, sub.config, config, from, to);
    Object.assign(ids, nested);
    const moved = carryInterrupts(
      (sub.pendingWrites ?? []).filter(([, c]) => c === INTERRUPT_CHANNEL),
      await tasksOf(deps.graph, config),
      { from, to },
      nested,
    );
    for (const w of moved.writes) await deps.saver.putWrites(written, w.writes, w.taskId);
    Object.assign(ids, moved.ids);
  }
  return ids;
}
