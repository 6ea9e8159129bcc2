/**
 * Storage for LangGraph checkpoints: a sub-interface of the Store (`store.graph`), and what a
 * remote worker reaches through the worker API (`/v1/worker/graph/*`, under the turn capability)
 * — the same interface either way. Types only; the backends live in `@baton/store/graph`.
 *
 * Layout follows LangGraph's PostgreSQL saver:
 * - one row per checkpoint (thread, namespace, checkpoint id) with its parent id and metadata;
 *   the checkpoint document is kept without its channel values;
 * - channel values as blobs per (thread, namespace, channel, version), written once: a checkpoint
 *   names the version of each channel it holds, so channels that did not change are not rewritten;
 * - pending writes per (thread, namespace, checkpoint id, task id, idx).
 *
 * The store only moves bytes and JSON; serialization of values (LangGraph's `serde`) is the
 * saver's business. The tables have their own migration list (`baton_graph_migrations`),
 * applied lazily on first use.
 */

/** One channel value at one version. `value` is null for a channel that had no value ("empty"). */
export interface GraphBlob {
  channel: string;
  version: string;
  type: string;
  value: Uint8Array | null;
}

/** One pending write of a task against a checkpoint. */
export interface GraphWrite {
  taskId: string;
  idx: number;
  channel: string;
  type: string;
  value: Uint8Array;
}

export interface GraphCheckpointKey {
  threadId: string;
  ns: string;
  checkpointId: string;
}

export interface GraphCheckpointRecord extends GraphCheckpointKey {
  parentId: string | null;
  /** The checkpoint document without `channel_values` (plain JSON). */
  checkpoint: Record<string, unknown>;
  /** Checkpoint metadata (plain JSON). */
  metadata: Record<string, unknown>;
  /**
   * Channel values kept in the checkpoint row itself: a read takes them from the row, without a
   * blob lookup (the saver puts small changed values there, and carries its parent's forward).
   * The other channels the checkpoint names are in the blob table. Absent on rows written before
   * inline values existed (every channel a blob).
   */
  inline?: GraphBlob[];
}

export interface GraphCheckpointRow extends GraphCheckpointRecord {
  /** The blobs at the channel versions the checkpoint names (channels without a stored blob are absent). */
  blobs: GraphBlob[];
  /** Pending writes against this checkpoint, ordered by task id, then idx. */
  writes: GraphWrite[];
  /** The channels of `blobs` kept in the checkpoint row itself (`GraphCheckpointRecord.inline`). */
  inlineChannels?: string[];
}

export interface GraphListQuery {
  threadId?: string;
  ns?: string;
  checkpointId?: string;
  /** Only checkpoints whose id sorts before this one. */
  beforeId?: string;
  /** Only checkpoints whose metadata contains these key/value pairs. */
  metadata?: Record<string, unknown>;
  limit?: number;
}

export interface GraphThreadSummary {
  threadId: string;
  /** Number of checkpoints (all namespaces). */
  checkpoints: number;
}

export interface GraphCheckpointStore {
  /**
   * Store a checkpoint and the blobs of its changed channels in one transaction.
   * Blobs already stored for (thread, ns, channel, version) are kept as they are; the
   * checkpoint row is replaced when the id exists.
   */
  put(record: GraphCheckpointRecord, blobs: GraphBlob[]): Promise<void>;
  /**
   * Store pending writes against a checkpoint, in one transaction. With `overwrite`, a write at
   * an existing (task id, idx) replaces it; otherwise the existing one is kept.
   */
  putWrites(key: GraphCheckpointKey, writes: GraphWrite[], overwrite: boolean): Promise<void>;
  /** One checkpoint by id, or the latest of the thread's namespace when `checkpointId` is omitted. */
  get(threadId: string, ns: string, checkpointId?: string): Promise<GraphCheckpointRow | null>;
  /** Checkpoints matching the query, newest (highest id) first. */
  list(q: GraphListQuery): Promise<GraphCheckpointRow[]>;
  /** Writes to `channel` against the given checkpoints of a thread, by checkpoint, task id, idx. */
  listChannelWrites(
    threadId: string,
    checkpointIds: string[],
    channel: string,
  ): Promise<Array<{ checkpointId: string; type: string; value: Uint8Array }>>;
  /** Delete the thread's checkpoints, blobs and writes (all namespaces). */
  deleteThread(threadId: string): Promise<void>;
  /** Thread ids in ascending order, a page at a time. */
  listThreads(q?: { afterThreadId?: string; limit?: number }): Promise<GraphThreadSummary[]>;
}
