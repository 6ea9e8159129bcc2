/** The LangGraph checkpoints a turn capability grants; see graph-api.ts. */
import { BatonError } from '@baton/core';
import type {
  GraphBlob,
  GraphCheckpointKey,
  GraphCheckpointRecord,
  GraphCheckpointRow,
  GraphCheckpointStore,
  GraphListQuery,
  GraphThreadSummary,
  GraphWrite,
} from '@baton/core';
import { MIGRATE_CALL, type Capabilities } from './capability';

/** The graph store a capability grants: the session's thread, read-only without a live lease. */
export class CapabilityGraphStore implements GraphCheckpointStore {
  constructor(
    private readonly graph: GraphCheckpointStore,
    private readonly caps: Capabilities,
    private readonly capability: string | null,
  ) {}

  /**
   * Reads: any valid capability of the session. Writes: one under the session's live lease (a
   * turn, a migration that holds the lease), or a batched eager migration's (no lease; it commits
   * with compare-and-set, refused while a turn holds the session) while no turn holds the
   * session. A dry run's capability never writes.
   */
  private async check(threadId: string | undefined, write: boolean): Promise<void> {
    if (threadId === undefined)
      throw new BatonError(
        'FORBIDDEN',
        'a worker reads the graph checkpoints of its own session only (threadId)',
      );
    const cap = await this.caps.verify(this.capability ?? undefined, threadId);
    if (!write || cap.epoch !== null) return;
    const refuse = (why: string): BatonError =>
      new BatonError('CAPABILITY_INVALID', `turn capability refused: ${why}`, {
        reason: 'read-only',
        sessionId: threadId,
      });
    if (!cap.turnId.startsWith(MIGRATE_CALL))
      throw refuse('read-only (a dry run writes no graph checkpoint)');
    if (await this.caps.leased(threadId)) throw refuse('a turn holds the session');
  }

  async put(record: GraphCheckpointRecord, blobs: GraphBlob[]): Promise<void> {
    await this.check(record.threadId, true);
    await this.graph.put(record, blobs);
  }
  async putWrites(key: GraphCheckpointKey, writes: GraphWrite[], overwrite: boolean): Promise<void> {
    await this.check(key.threadId, true);
    await this.graph.putWrites(key, writes, overwrite);
  }
  async get(threadId: string, ns: string, checkpointId?: string): Promise<GraphCheckpointRow | null> {
    await this.check(threadId, false);
    return this.graph.get(threadId, ns, checkpointId);
  }
  async list(q: GraphListQuery): Promise<GraphCheckpointRow[]> {
    await this.check(q.threadId, false);
    return this.graph.list(q);
  }
  async listChannelWrites(
    threadId: string,
    checkpointIds: string[],
    channel: string,
  ): Promise<Array<{ checkpointId: string; type: string; value: Uint8Array }>> {
    await this.check(threadId, false);
    return this.graph.listChannelWrites(threadId, checkpointIds, channel);
  }
  deleteThread(): Promise<void> {
    return Promise.reject(new BatonError('FORBIDDEN', 'a worker cannot delete graph threads'));
  }
  listThreads(): Promise<GraphThreadSummary[]> {
    return Promise.reject(new BatonError('FORBIDDEN', 'a worker cannot list graph threads'));
  }
}
