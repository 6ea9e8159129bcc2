/**
 * The graph checkpoint store of the call in progress, for an agent given no `store`: each turn
 * and migration of a Baton worker gets its session's graph checkpoints from the worker's ledger
 * client (`TurnContext.graph`, `MigrationContext.graph`) — through the router's worker API under
 * the call's capability for a worker over HTTP. The saver's calls during the call go there.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { BatonError } from '@baton/core';
import type { GraphCheckpointStore } from '@baton/core';

const current = new AsyncLocalStorage<GraphCheckpointStore>();

/** Run `fn` with `graph` as the graph store of the call (no-op when `graph` is undefined). */
export function withCallGraph<T>(graph: GraphCheckpointStore | undefined, fn: () => Promise<T>): Promise<T> {
  return graph === undefined ? fn() : current.run(graph, fn);
}

export class CallGraphStore implements GraphCheckpointStore {
  constructor(private readonly agent: string) {}

  private g(): GraphCheckpointStore {
    const g = current.getStore();
    if (!g)
      throw new BatonError(
        'VALIDATION',
        `LangGraph agent ${this.agent} has no graph checkpoint storage here: give it a \`store\` ` +
          `(in-process), or serve it as a Baton worker whose ledger reaches the server ` +
          `(\`baton worker --server URL\` with a worker token); outside a turn or migration only \`store\` works`,
      );
    return g;
  }

  put(...a: Parameters<GraphCheckpointStore['put']>) {
    return this.g().put(...a);
  }
  putWrites(...a: Parameters<GraphCheckpointStore['putWrites']>) {
    return this.g().putWrites(...a);
  }
  get(...a: Parameters<GraphCheckpointStore['get']>) {
    return this.g().get(...a);
  }
  list(...a: Parameters<GraphCheckpointStore['list']>) {
    return this.g().list(...a);
  }
  listChannelWrites(...a: Parameters<GraphCheckpointStore['listChannelWrites']>) {
    return this.g().listChannelWrites(...a);
  }
  deleteThread(...a: Parameters<GraphCheckpointStore['deleteThread']>) {
    return this.g().deleteThread(...a);
  }
  listThreads(...a: Parameters<GraphCheckpointStore['listThreads']>) {
    return this.g().listThreads(...a);
  }
}
