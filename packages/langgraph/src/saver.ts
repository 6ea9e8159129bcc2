/**
 * A LangGraph checkpoint saver backed by Baton's store (`store.graph`), on SQLite or PostgreSQL.
 *
 * Values go through the saver's serializer (`this.serde`) as in LangGraph's own savers; the
 * checkpoint document (without channel values) and the metadata are stored as JSON. Channel
 * values are stored per (channel, version), so a put only writes the channels in `newVersions`.
 */
import { randomInt } from 'node:crypto';
import type { RunnableConfig } from '@langchain/core/runnables';
import {
  BaseCheckpointSaver,
  TASKS,
  WRITES_IDX_MAP,
  maxChannelVersion,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  type PendingWrite,
  type SerializerProtocol,
} from '@langchain/langgraph-checkpoint';
import { ValidationError } from '@baton/core';
import type { GraphBlob, GraphCheckpointRow, GraphCheckpointStore, GraphWrite } from '@baton/store/graph';
import {
  NEEDS_SERDE,
  dumpTyped,
  isDefaultSerde,
  isPlainJson,
  loadBySerde,
  loadTyped,
  nothingToRevive,
  parsedTyped,
} from './plain-json';

export interface BatonCheckpointSaverOptions {
  serde?: SerializerProtocol;
  /**
   * Entries merged into the metadata of every checkpoint this saver writes (e.g. the graph
   * version that wrote it). Explicit metadata from LangGraph wins on a key clash.
   */
  stamp?: Record<string, unknown>;
  /** Called at every put: entries merged into the metadata after `stamp` (e.g. the running turn's id). */
  dynamicStamp?: () => Record<string, unknown> | undefined;
}

/** Anything that carries a graph checkpoint store: a Baton `Store` with `graph`, or the graph store itself. */
export type GraphStoreSource = GraphCheckpointStore | { graph?: GraphCheckpointStore };

function isGraphStore(s: GraphStoreSource): s is GraphCheckpointStore {
  return (
    typeof (s as GraphCheckpointStore).put === 'function' &&
    typeof (s as GraphCheckpointStore).get === 'function'
  );
}

export function graphStoreOf(source: GraphStoreSource): GraphCheckpointStore {
  if (isGraphStore(source)) return source;
  if (source.graph) return source.graph;
  throw new ValidationError('this store has no LangGraph checkpoint storage (store.graph)');
}

const dec = new TextDecoder();

/** Whether any object in `v` has an "lc" key (what the serializer's reviver looks for). */
function mayHoldLc(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.some(mayHoldLc);
  for (const k in v) if (k === 'lc' || mayHoldLc((v as Record<string, unknown>)[k])) return true;
  return false;
}

/** A value kept in the checkpoint row: one whose serialized form is this short (cheap to write at every step). */
const INLINE_BYTES_MAX = 256;
const isSmall = (b: GraphBlob): boolean => b.value === null || b.value.byteLength <= INLINE_BYTES_MAX;
/** How many checkpoints' row values a saver remembers (one per thread in a run is enough). */
const RECENT_INLINE_MAX = 1024;

/**
 * Channel versions are `step * BRANCH_SPAN + r`, with `r` random in [1, BRANCH_SPAN): still
 * increasing numbers (LangGraph compares them with `>`), but unique per branch, so two
 * checkpoints forked from one parent that write the same channel do not share a blob key.
 * Integers stay exact up to 2^53: about 9 million super-steps per thread.
 */
export const BRANCH_SPAN = 1_000_000_000;

/** The version after `current`: one step up, with a random part of its own. */
export function nextChannelVersion(current: number | string | undefined): number {
  const n = current === undefined ? 0 : Number(current);
  const step = Number.isFinite(n) ? Math.floor(n / BRANCH_SPAN) + 1 : 1;
  return step * BRANCH_SPAN + randomInt(1, BRANCH_SPAN);
}

export class BatonCheckpointSaver extends BaseCheckpointSaver {
  readonly graphStore: GraphCheckpointStore;
  private readonly stamp: Record<string, unknown>;
  private readonly dynamicStamp: (() => Record<string, unknown> | undefined) | undefined;

  constructor(source: GraphStoreSource, options: BatonCheckpointSaverOptions = {}) {
    super(options.serde);
    this.graphStore = graphStoreOf(source);
    this.stamp = options.stamp ?? {};
    this.dynamicStamp = options.dynamicStamp;
  }

  /**
   * Unique per branch (see `nextChannelVersion`): LangGraph's default (`current + 1`) gives two
   * forks of one checkpoint the same version of a channel, and a blob store keyed by version would
   * read one fork's value in the other. Older threads' small integer versions stay comparable.
   */
  override getNextVersion(current: number | undefined): number {
    return nextChannelVersion(current);
  }

  /** A saver on the same storage that stamps `stamp` into the metadata of what it writes. */
  withStamp(stamp: Record<string, unknown>): BatonCheckpointSaver {
    return new BatonCheckpointSaver(this.graphStore, {
      serde: this.serde,
      stamp: { ...this.stamp, ...stamp },
      ...(this.dynamicStamp ? { dynamicStamp: this.dynamicStamp } : {}),
    });
  }

  /** The channel values of `blobs`; a promise only when the serializer must read one. */
  private loadBlobs(blobs: GraphBlob[]): Record<string, unknown> | Promise<Record<string, unknown>> {
    const byDefault = isDefaultSerde(this.serde);
    const out: Record<string, unknown> = {};
    let pending: Array<Promise<void>> | undefined;
    for (const b of blobs) {
      if (b.type === 'empty' || b.value === null) continue;
      const v = parsedTyped(byDefault, b.type, b.value);
      out[b.channel] = v;
      if (v === NEEDS_SERDE)
        (pending ??= []).push(
          loadBySerde(this.serde, byDefault, b.type, b.value).then((x) => {
            out[b.channel] = x;
          }),
        );
    }
    return pending ? Promise.all(pending).then(() => out) : out;
  }

  private async loadWrites(writes: GraphWrite[]): Promise<CheckpointPendingWrite[]> {
    if (writes.length === 0) return [];
    const values = await Promise.all(writes.map((w) => loadTyped(this.serde, w.type, w.value)));
    return writes.map((w, i): CheckpointPendingWrite => [w.taskId, w.channel, values[i]]);
  }

  private loadMetadata(metadata: Record<string, unknown>): CheckpointMetadata | Promise<CheckpointMetadata> {
    // Through the serializer, so serialized LangChain objects are revived; every such encoding is
    // an object with an "lc" key, so a text without one has nothing to revive (and is parsed already).
    if (!mayHoldLc(metadata)) return metadata as CheckpointMetadata;
    const text = JSON.stringify(metadata);
    if (nothingToRevive(text)) return metadata as CheckpointMetadata;
    return this.serde.loadsTyped('json', text) as Promise<CheckpointMetadata>;
  }

  private async dumpMetadata(metadata: CheckpointMetadata): Promise<Record<string, unknown>> {
    const all = { ...this.stamp, ...this.dynamicStamp?.(), ...metadata };
    // plain JSON comes back from the serializer's text as it went in: a copy of it is the same
    if (isPlainJson(all)) return all;
    const [, bytes] = await this.serde.dumpsTyped(all);
    return JSON.parse(dec.decode(bytes).replace(/\0/g, '')) as Record<string, unknown>;
  }

  /** Checkpoints written before format v4 kept pending sends as writes on the parent. */
  private async migratePendingSends(rows: GraphCheckpointRow[], checkpoints: Checkpoint[]): Promise<void> {
    const old = rows
      .map((row, i) => ({ row, cp: checkpoints[i]! }))
      .filter(({ cp, row }) => cp.v < 4 && row.parentId !== null);
    if (old.length === 0) return;
    const byThread = new Map<string, typeof old>();
    for (const o of old) byThread.set(o.row.threadId, [...(byThread.get(o.row.threadId) ?? []), o]);
    for (const [threadId, group] of byThread) {
      const sends = await this.graphStore.listChannelWrites(
        threadId,
        [...new Set(group.map((g) => g.row.parentId!))],
        TASKS,
      );
      for (const { row, cp } of group) {
        const mine = sends.filter((s) => s.checkpointId === row.parentId);
        if (mine.length === 0) continue;
        const values = await Promise.all(mine.map((s) => this.serde.loadsTyped(s.type, s.value)));
        cp.channel_values[TASKS] = values;
        const versions = Object.values(cp.channel_versions);
        cp.channel_versions[TASKS] =
          versions.length > 0 ? maxChannelVersion(...versions) : this.getNextVersion(undefined);
      }
    }
  }

  private async toTuples(rows: GraphCheckpointRow[]): Promise<CheckpointTuple[]> {
    // one row after the other, awaiting only what the serializer must read (plain JSON is parsed
    // at once): a read makes no promise per value, metadata or empty list of writes
    const checkpoints: Checkpoint[] = [];
    for (const row of rows) {
      const blobs = this.loadBlobs(row.blobs);
      checkpoints.push({
        ...row.checkpoint,
        channel_versions: (row.checkpoint.channel_versions as Checkpoint['channel_versions']) ?? {},
        versions_seen: (row.checkpoint.versions_seen as Checkpoint['versions_seen']) ?? {},
        channel_values: blobs instanceof Promise ? await blobs : blobs,
      } as Checkpoint);
    }
    if (checkpoints.some((cp) => cp.v < 4)) await this.migratePendingSends(rows, checkpoints);
    const tuples: CheckpointTuple[] = [];
    for (const [i, row] of rows.entries()) {
      const metadata = this.loadMetadata(row.metadata);
      const tuple: CheckpointTuple = {
        config: {
          configurable: { thread_id: row.threadId, checkpoint_ns: row.ns, checkpoint_id: row.checkpointId },
        },
        checkpoint: checkpoints[i]!,
        metadata: metadata instanceof Promise ? await metadata : metadata,
        pendingWrites: row.writes.length === 0 ? [] : await this.loadWrites(row.writes),
      };
      if (row.parentId !== null)
        tuple.parentConfig = {
          configurable: { thread_id: row.threadId, checkpoint_ns: row.ns, checkpoint_id: row.parentId },
        };
      tuples.push(tuple);
    }
    return tuples;
  }

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const c = config.configurable ?? {};
    const threadId = c.thread_id as string | undefined;
    if (threadId === undefined || threadId === null) return undefined;
    const ns = (c.checkpoint_ns as string | undefined) ?? '';
    const id = (c.checkpoint_id as string | undefined) || undefined;
    const row = await this.graphStore.get(String(threadId), ns, id);
    if (!row) return undefined;
    const [tuple] = await this.toTuples([row]);
    return tuple;
  }

  async *list(config: RunnableConfig, options: CheckpointListOptions = {}): AsyncGenerator<CheckpointTuple> {
    const c = config.configurable ?? {};
    const { filter, before, limit } = options;
    const beforeId = before?.configurable?.checkpoint_id as string | undefined;
    const rows = await this.graphStore.list({
      threadId: c.thread_id != null ? String(c.thread_id) : undefined,
      ns: c.checkpoint_ns != null ? String(c.checkpoint_ns) : undefined,
      checkpointId: c.checkpoint_id ? String(c.checkpoint_id) : undefined,
      beforeId: beforeId ?? undefined,
      metadata: filter && Object.keys(filter).length > 0 ? filter : undefined,
      limit: limit !== undefined ? Math.trunc(limit) : undefined,
    });
    for (const tuple of await this.toTuples(rows)) yield tuple;
  }

  async put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    newVersions: ChannelVersions,
  ): Promise<RunnableConfig> {
    if (config.configurable === undefined) throw new ValidationError('put: config.configurable is missing');
    const { thread_id, checkpoint_ns, checkpoint_id } = config.configurable as Record<string, unknown>;
    if (thread_id === undefined || thread_id === null || thread_id === '')
      throw new ValidationError('put: config.configurable.thread_id is missing');
    const threadId = String(thread_id);
    const ns = (checkpoint_ns as string | undefined) ?? '';
    const values = checkpoint.channel_values as Record<string, unknown>;
    const dump = async (channel: string, version: number | string): Promise<GraphBlob> => {
      if (!(channel in values)) return { channel, version: String(version), type: 'empty', value: null };
      const [type, value] = await dumpTyped(this.serde, values[channel]);
      return { channel, version: String(version), type, value };
    };
    // small changed values go in the checkpoint row, and the parent's row values the checkpoint
    // still names are carried forward (no blob lookup on read); the others are blobs, written
    // only when they change
    const parentId = (checkpoint_id as string | undefined) || null;
    const carried = parentId ? await this.inlineOf(threadId, ns, parentId) : new Map<string, GraphBlob>();
    const inline: GraphBlob[] = [];
    const blobs: GraphBlob[] = [];
    const versions = checkpoint.channel_versions;
    for (const [channel, version] of Object.entries(versions)) {
      if (channel in newVersions) {
        const dumped = await dump(channel, version);
        if (isSmall(dumped)) inline.push(dumped);
        else blobs.push({ ...dumped, version: String(newVersions[channel]) });
      } else {
        const kept = carried.get(channel);
        if (kept && kept.version === String(version)) inline.push(kept);
      }
    }
    for (const [channel, version] of Object.entries(newVersions))
      if (!(channel in versions)) blobs.push(await dump(channel, version));
    const doc: Record<string, unknown> = { ...checkpoint };
    delete doc.channel_values;
    await this.graphStore.put(
      {
        threadId,
        ns,
        checkpointId: checkpoint.id,
        parentId,
        checkpoint: doc,
        metadata: await this.dumpMetadata(metadata),
        inline,
      },
      blobs,
    );
    this.remember(threadId, ns, checkpoint.id, inline);
    return { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: checkpoint.id } };
  }

  /** The row values of checkpoints this saver wrote last (a graph run's next put names its parent). */
  private readonly recentInline = new Map<string, Map<string, GraphBlob>>();

  private remember(threadId: string, ns: string, id: string, inline: GraphBlob[]): void {
    this.recentInline.set(`${threadId}\0${ns}\0${id}`, new Map(inline.map((b) => [b.channel, b])));
    if (this.recentInline.size > RECENT_INLINE_MAX) {
      const oldest = this.recentInline.keys().next().value;
      if (oldest !== undefined) this.recentInline.delete(oldest);
    }
  }

  /** The values kept in a checkpoint's row: from memory when this saver wrote it, else read. */
  private async inlineOf(threadId: string, ns: string, id: string): Promise<Map<string, GraphBlob>> {
    const known = this.recentInline.get(`${threadId}\0${ns}\0${id}`);
    if (known) return known;
    const row = await this.graphStore.get(threadId, ns, id);
    const names = new Set(row?.inlineChannels ?? []);
    return new Map((row?.blobs ?? []).filter((b) => names.has(b.channel)).map((b) => [b.channel, b]));
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string): Promise<void> {
    const c = config.configurable ?? {};
    if (c.thread_id === undefined || c.thread_id === null)
      throw new ValidationError('putWrites: config.configurable.thread_id is missing');
    if (!c.checkpoint_id)
      throw new ValidationError('putWrites: config.configurable.checkpoint_id is missing');
    const dumped = await Promise.all(
      writes.map(async ([channel, value], idx): Promise<GraphWrite> => {
        const [type, bytes] = await dumpTyped(this.serde, value);
        return { taskId, idx: WRITES_IDX_MAP[channel] ?? idx, channel, type, value: bytes };
      }),
    );
    await this.graphStore.putWrites(
      {
        threadId: String(c.thread_id),
        ns: (c.checkpoint_ns as string | undefined) ?? '',
        checkpointId: String(c.checkpoint_id),
      },
      dumped,
      writes.every(([channel]) => channel in WRITES_IDX_MAP),
    );
  }

  async deleteThread(threadId: string): Promise<void> {
    await this.graphStore.deleteThread(threadId);
  }
}
