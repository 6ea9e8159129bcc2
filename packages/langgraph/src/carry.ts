/**
 * Pending interrupts across a migration: the interrupted task of the thread's checkpoint gets a
 * new task id on the checkpoint the migration writes (task ids derive from the checkpoint id),
 * so its interrupt gets a new id too. The interrupt writes are carried over under the new ids, so
 * that `graph.getState()` shows the thread interrupted (tasks with their interrupts) before any new
 * turn, and a resume by interrupt id names an interrupt LangGraph knows.
 */
import type { CheckpointPendingWrite, PendingWrite } from '@langchain/langgraph-checkpoint';
import { interruptIdOf } from './interrupt-id';

export const INTERRUPT_CHANNEL = '__interrupt__';

interface InterruptLike {
  id?: string;
  value?: unknown;
  [key: string]: unknown;
}

/** One interrupt write to store on the new checkpoint. */
export interface CarriedWrite {
  taskId: string;
  writes: PendingWrite[];
}

export interface Carry {
  writes: CarriedWrite[];
  /** Old interrupt id → new interrupt id. */
  ids: Record<string, string>;
}

/** How many interrupts of the task were answered before the one with `id` (at most a few), if it is the node's. */
function answeredOf(node: string, taskId: string, id: unknown, ns: string): number | undefined {
  if (typeof id !== 'string') return undefined;
  for (let k = 0; k < 16; k++) if (interruptIdOf(node, taskId, k, ns) === id) return k;
  return undefined;
}

/**
 * Interrupt writes of `pending` (the old checkpoint's) re-keyed for `tasks` (the new checkpoint's
 * tasks, as `graph.getState` lists them). The node of an old write is found by its interrupt id
 * (a hash of `<node>:<task id>`) among `nodes`; a write whose node is not found (e.g. an
 * interrupt inside a subgraph, whose id hashes a longer namespace) moves unchanged to the task of
 * the same node when there is exactly one interrupted node, its interrupt ids changed as `known`
 * says (the ids a subgraph move gave them, subgraphs.ts). `ns`: the namespaces of the old and
 * the new checkpoint (a subgraph's, which a move changes), '' at the root.
 */
export function carryInterrupts(
  pending: readonly CheckpointPendingWrite[],
  tasks: ReadonlyArray<{ id: string; name: string }>,
  ns: { from: string; to: string } = { from: '', to: '' },
  known: Readonly<Record<string, string>> = {},
): Carry {
  const out: Carry = { writes: [], ids: {} };
  const interruptWrites = pending.filter(([, channel]) => channel === INTERRUPT_CHANNEL);
  const names = [...new Set(tasks.map((t) => t.name))];
  for (const [oldTask, , raw] of interruptWrites) {
    const list = (Array.isArray(raw) ? raw : [raw]) as InterruptLike[];
    let node: string | undefined;
    for (const n of names)
      if (list.some((it) => answeredOf(n, oldTask, it.id, ns.from) !== undefined)) node = n;
    const target =
      node !== undefined
        ? tasks.find((t) => t.name === node)
        : interruptWrites.length === 1 && tasks.length === 1
          ? tasks[0]
          : undefined;
    if (!target) continue;
    const moved = list.map((it) => {
      const k = node === undefined ? undefined : answeredOf(node, oldTask, it.id, ns.from);
      if (typeof it.id === 'string' && k === undefined && known[it.id] !== undefined) {
        out.ids[it.id] = known[it.id]!;
        return { ...it, id: known[it.id] };
      }
      if (k === undefined || typeof it.id !== 'string') return it;
      const id = interruptIdOf(node!, target.id, k, ns.to);
      out.ids[it.id] = id;
      return { ...it, id };
    });
    out.writes.push({ taskId: target.id, writes: [[INTERRUPT_CHANNEL, moved]] });
  }
  return out;
}
