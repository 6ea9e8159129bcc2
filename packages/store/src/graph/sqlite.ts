/** LangGraph checkpoint storage on SQLite (better-sqlite3), beside the Store's own tables. */
import type Database from 'better-sqlite3';
import { ValidationError } from '@baton/core';
import { checkNoNul } from '../common';
import { guarded } from '../sqlite-guard';
import type {
  GraphBlob,
  GraphCheckpointKey,
  GraphCheckpointRecord,
  GraphCheckpointRow,
  GraphCheckpointStore,
  GraphListQuery,
  GraphThreadSummary,
  GraphWrite,
} from './types';
import { decodeInline, encodeInline } from './inline';
import { COPY_HELD, decodeHeld, encodeHeld } from './held';

/** Versioned DDL; the position in the list is the version. Append only. */
export const SQLITE_GRAPH_MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS baton_graph_checkpoints (
     thread_id TEXT NOT NULL,
     checkpoint_ns TEXT NOT NULL DEFAULT '',
     checkpoint_id TEXT NOT NULL,
     parent_checkpoint_id TEXT,
     checkpoint TEXT NOT NULL,
     metadata TEXT NOT NULL DEFAULT '{}',
     PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
   )`,
  `CREATE TABLE IF NOT EXISTS baton_graph_blobs (
     thread_id TEXT NOT NULL,
     checkpoint_ns TEXT NOT NULL DEFAULT '',
     channel TEXT NOT NULL,
     version TEXT NOT NULL,
     type TEXT NOT NULL,
     blob BLOB,
     PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
   )`,
  `CREATE TABLE IF NOT EXISTS baton_graph_writes (
     thread_id TEXT NOT NULL,
     checkpoint_ns TEXT NOT NULL DEFAULT '',
     checkpoint_id TEXT NOT NULL,
     task_id TEXT NOT NULL,
     idx INTEGER NOT NULL,
     channel TEXT NOT NULL,
     type TEXT NOT NULL,
     blob BLOB NOT NULL,
     PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
   )`,
  // 3: small channel values in the checkpoint row (inline: [[channel, version, type, base64|null]]),
  // and the channels still looked up in the blob table (blob_versions); NULL on older rows, whose
  // channels are all blobs (channel_versions)
  `ALTER TABLE baton_graph_checkpoints ADD COLUMN inline TEXT;
   ALTER TABLE baton_graph_checkpoints ADD COLUMN blob_versions TEXT`,
  // 4: the larger values a checkpoint changed, in its own row (held.ts); NULL on older rows
  `ALTER TABLE baton_graph_checkpoints ADD COLUMN vals BLOB;
   ALTER TABLE baton_graph_checkpoints ADD COLUMN held TEXT`,
];

type Row = Record<string, unknown>;
type Statements = ReturnType<SqliteGraphCheckpointStore['prepare']>;

/**
 * One checkpoint row, raw: `[checkpoint_id, parent_checkpoint_id, checkpoint, metadata, pending
 * write count, inline, held, vals, blob_versions]`. The blobs it names and does not hold are then
 * looked up by primary key, one statement each (cheaper than one statement joining them in).
 */
function oneCheckpoint(tail: string): string {
  return `SELECT checkpoint_id, parent_checkpoint_id, checkpoint, metadata,
      (SELECT COUNT(*) FROM baton_graph_writes w
        WHERE w.thread_id = cp.thread_id AND w.checkpoint_ns = cp.checkpoint_ns
          AND w.checkpoint_id = cp.checkpoint_id),
      inline, held, vals, blob_versions
    FROM baton_graph_checkpoints cp WHERE thread_id = ? AND checkpoint_ns = ? ${tail}`;
}

/** How many checkpoints' held channels a store remembers (one per thread in a run is enough). */
const HELD_REMEMBERED_MAX = 1024;

const heldKey = (...parts: string[]): string => parts.join('\0');

function jsonPath(key: string): string {
  return `$."${key.replace(/"/g, '""')}"`;
}

export class SqliteGraphCheckpointStore implements GraphCheckpointStore {
  private ready = false;
  private stmts!: Statements;

  constructor(private readonly db: Database.Database) {
    // made once: a transaction function costs more to make than to run
    this.putTx = db.transaction(
      (s: Statements, loose: GraphBlob[], copyParent: string | null, row: readonly unknown[]) => {
        const [threadId, ns, , , , , , blobVersions] = row;
        for (const b of loose) s.putBlob.run(threadId, ns, b.channel, b.version, b.type, b.value);
        if (copyParent !== null) s.copyHeld.run(threadId, ns, copyParent, blobVersions);
        s.putCheckpoint.run(...row);
      },
    );
  }

  /** Apply pending migrations (idempotent; runs on first use). */
  migrate(): void {
    if (this.ready) return;
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS baton_graph_migrations (v INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)',
    );
    const apply = this.db.transaction(() => {
      const row = this.db.prepare('SELECT MAX(v) AS v FROM baton_graph_migrations').get() as {
        v: number | null;
      };
      const current = row.v ?? -1;
      for (let v = current + 1; v < SQLITE_GRAPH_MIGRATIONS.length; v++) {
        this.db.exec(SQLITE_GRAPH_MIGRATIONS[v]!);
        this.db
          .prepare('INSERT INTO baton_graph_migrations (v, applied_at) VALUES (?, ?)')
          .run(v, Date.now());
      }
    });
    apply.immediate();
    this.stmts = this.prepare();
    this.ready = true;
  }

  private prepare() {
    const db = { prepare: (sql: string) => guarded(this.db.prepare(sql)) };
    return {
      putBlob: db.prepare(
        `INSERT INTO baton_graph_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      putCheckpoint: this.db.prepare(
        `INSERT INTO baton_graph_checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata, inline, blob_versions, vals, held)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id)
         DO UPDATE SET checkpoint = excluded.checkpoint, metadata = excluded.metadata,
           inline = excluded.inline, blob_versions = excluded.blob_versions,
           vals = excluded.vals, held = excluded.held`,
      ),
      copyHeld: this.db.prepare(COPY_HELD),
      upsertWrite: db.prepare(
        `INSERT INTO baton_graph_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
         DO UPDATE SET channel = excluded.channel, type = excluded.type, blob = excluded.blob`,
      ),
      insertWrite: db.prepare(
        `INSERT INTO baton_graph_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      // the hot statements check their bound values themselves (checkNoNul), without the proxy
      getById: this.db.prepare(oneCheckpoint('AND checkpoint_id = ?')).raw(true),
      getLatest: this.db.prepare(oneCheckpoint('ORDER BY checkpoint_id DESC LIMIT 1')).raw(true),
      blob: this.db
        .prepare(
          `SELECT type, blob FROM baton_graph_blobs
            WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?`,
        )
        .raw(true),
      blobs: db.prepare(
        `SELECT bl.channel, bl.version, bl.type, bl.blob
           FROM json_each(COALESCE(?, json_extract(?, '$.channel_versions'))) AS v
           CROSS JOIN baton_graph_blobs bl
             ON bl.thread_id = ? AND bl.checkpoint_ns = ? AND bl.channel = v.key AND bl.version = CAST(v.value AS TEXT)`,
      ),
      writes: db.prepare(
        `SELECT task_id, idx, channel, type, blob FROM baton_graph_writes
          WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?
          ORDER BY task_id, idx`,
      ),
      delCheckpoints: db.prepare('DELETE FROM baton_graph_checkpoints WHERE thread_id = ?'),
      delBlobs: db.prepare('DELETE FROM baton_graph_blobs WHERE thread_id = ?'),
      delWrites: db.prepare('DELETE FROM baton_graph_writes WHERE thread_id = ?'),
      threads: db.prepare(
        `SELECT thread_id, COUNT(*) AS n FROM baton_graph_checkpoints WHERE thread_id > ?
          GROUP BY thread_id ORDER BY thread_id LIMIT ?`,
      ),
    };
  }

  private s() {
    this.migrate();
    return this.stmts;
  }

  /**
   * A record with `inline` (every current writer) keeps its changed larger values in its row
   * (held.ts) and copies from the parent's row what it names unchanged; a record without
   * (an older writer) puts every value in the blob table, as before migration 4.
   */
  async put(record: GraphCheckpointRecord, blobs: GraphBlob[]): Promise<void> {
    const s = this.s();
    const { threadId, ns, checkpointId, parentId } = record;
    const checkpoint = JSON.stringify(record.checkpoint);
    const metadata = JSON.stringify(record.metadata);
    for (const b of blobs) checkNoNul([b.channel, b.version, b.type]);
    const head = [threadId, ns, checkpointId, parentId, checkpoint, metadata] as const;
    checkNoNul(head);
    if (!record.inline) {
      // every value in the blob table, none in the row (as before migration 3)
      this.putTx(s, blobs, null, [...head, null, null, null, null]);
      return Promise.resolve();
    }
    for (const b of record.inline) checkNoNul([b.channel, b.version, b.type]);
    // held in the row: the values at the version the checkpoint names (any other one goes to the
    // blob table, where a read of this checkpoint does not look for it, as before)
    const named = (record.checkpoint.channel_versions ?? {}) as Record<string, unknown>;
    const mine: GraphBlob[] = [];
    const loose: GraphBlob[] = [];
    for (const b of blobs)
      (named[b.channel] !== undefined && String(named[b.channel]) === b.version ? mine : loose).push(b);
    // the channels looked up in the blob table: named, neither inline nor held here
    const here = new Set<string>();
    for (const b of record.inline) here.add(b.channel);
    for (const b of mine) here.add(b.channel);
    const elsewhere: Record<string, unknown> = {};
    let copyFromParent = false;
    const parentHeld = parentId === null ? undefined : this.heldBy.get(heldKey(threadId, ns, parentId));
    for (const c in named) {
      if (here.has(c)) continue;
      elsewhere[c] = named[c];
      // a parent this store wrote is known: copy only when it holds one of these at that version
      if (parentHeld === undefined || parentHeld.has(heldKey(c, String(named[c])))) copyFromParent = true;
    }
    const blobVersions = JSON.stringify(elsewhere);
    checkNoNul([blobVersions]);
    const { vals, held } = encodeHeld(mine);
    const row = [...head, encodeInline(record.inline), blobVersions, vals, held] as const;
    // one statement commits alone (atomic by itself); more go in one transaction
    if (loose.length === 0 && !(parentId !== null && copyFromParent)) s.putCheckpoint.run(...row);
    else this.putTx(s, loose, copyFromParent ? parentId : null, row);
    this.rememberHeld(threadId, ns, checkpointId, mine);
    return Promise.resolve();
  }

  /** The blob-table rows, the copy from the parent's row (when `copyParent`), then the checkpoint row. */
  private readonly putTx: (
    s: Statements,
    loose: GraphBlob[],
    copyParent: string | null,
    row: readonly unknown[],
  ) => void;

  /**
   * What the checkpoints this store wrote last hold in their rows (channel and version), so the
   * put of a child knows whether anything is to be copied from its parent's row without reading
   * it (a graph run's next put names the checkpoint just written). A checkpoint id names one
   * checkpoint; a parent not here (written elsewhere, or long ago) is copied from as before.
   */
  private readonly heldBy = new Map<string, Set<string>>();

  private rememberHeld(threadId: string, ns: string, checkpointId: string, mine: GraphBlob[]): void {
    const key = heldKey(threadId, ns, checkpointId);
    this.heldBy.delete(key);
    this.heldBy.set(key, new Set(mine.map((b) => heldKey(b.channel, b.version))));
    if (this.heldBy.size > HELD_REMEMBERED_MAX) {
      const oldest = this.heldBy.keys().next().value;
      if (oldest !== undefined) this.heldBy.delete(oldest);
    }
  }

  async putWrites(key: GraphCheckpointKey, writes: GraphWrite[], overwrite: boolean): Promise<void> {
    const s = this.s();
    const stmt = overwrite ? s.upsertWrite : s.insertWrite;
    const tx = this.db.transaction(() => {
      for (const w of writes)
        stmt.run(key.threadId, key.ns, key.checkpointId, w.taskId, w.idx, w.channel, w.type, w.value);
    });
    tx();
    return Promise.resolve();
  }

  private toRow(row: Row, blobs: GraphBlob[], hasWrites: boolean, inline: GraphBlob[]): GraphCheckpointRow {
    const threadId = row.thread_id as string;
    const ns = row.checkpoint_ns as string;
    const writes = hasWrites
      ? (this.stmts.writes.all(threadId, ns, row.checkpoint_id) as Row[]).map((w) => ({
          taskId: w.task_id as string,
          idx: Number(w.idx),
          channel: w.channel as string,
          type: w.type as string,
          value: w.blob as Uint8Array,
        }))
      : [];
    return {
      threadId,
      ns,
      checkpointId: row.checkpoint_id as string,
      parentId: (row.parent_checkpoint_id as string | null) ?? null,
      checkpoint: JSON.parse(row.checkpoint as string) as Record<string, unknown>,
      metadata: JSON.parse(row.metadata as string) as Record<string, unknown>,
      blobs,
      writes,
      inlineChannels: inline.map((b) => b.channel),
    };
  }

  private hydrate(row: Row): GraphCheckpointRow {
    const looked = (
      this.stmts.blobs.all(
        row.blob_versions ?? null,
        row.checkpoint,
        row.thread_id,
        row.checkpoint_ns,
      ) as Row[]
    ).map((b) => ({
      channel: b.channel as string,
      version: b.version as string,
      type: b.type as string,
      value: (b.blob as Uint8Array | null) ?? null,
    }));
    const inline = decodeInline(row.inline);
    return this.toRow(row, [...inline, ...decodeHeld(row.held, row.vals), ...looked], true, inline);
  }

  async get(threadId: string, ns: string, checkpointId?: string): Promise<GraphCheckpointRow | null> {
    const s = this.s();
    const first = (
      checkpointId === undefined
        ? (checkNoNul([threadId, ns]), s.getLatest.get(threadId, ns))
        : (checkNoNul([threadId, ns, checkpointId]), s.getById.get(threadId, ns, checkpointId))
    ) as unknown[] | undefined;
    if (!first) return Promise.resolve(null);
    const inline = decodeInline(first[5]);
    const blobs: GraphBlob[] = [...inline, ...decodeHeld(first[6], first[7])];
    // the channels in the blob table (all of them on rows from before migration 3)
    const elsewhere = (
      typeof first[8] === 'string'
        ? JSON.parse(first[8])
        : ((JSON.parse(first[2] as string) as Record<string, unknown>).channel_versions ?? {})
    ) as Record<string, unknown>;
    for (const channel in elsewhere) {
      const version = String(elsewhere[channel]);
      const b = s.blob.get(threadId, ns, channel, version) as [string, Uint8Array | null] | undefined;
      if (b) blobs.push({ channel, version, type: b[0], value: b[1] ?? null });
    }
    const row: Row = {
      thread_id: threadId,
      checkpoint_ns: ns,
      checkpoint_id: first[0],
      parent_checkpoint_id: first[1],
      checkpoint: first[2],
      metadata: first[3],
    };
    return Promise.resolve(this.toRow(row, blobs, Number(first[4]) > 0, inline));
  }

  async list(q: GraphListQuery): Promise<GraphCheckpointRow[]> {
    this.s();
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.threadId !== undefined) {
      where.push('thread_id = ?');
      args.push(q.threadId);
    }
    if (q.ns !== undefined) {
      where.push('checkpoint_ns = ?');
      args.push(q.ns);
    }
    if (q.checkpointId !== undefined) {
      where.push('checkpoint_id = ?');
      args.push(q.checkpointId);
    }
    if (q.beforeId !== undefined) {
      where.push('checkpoint_id < ?');
      args.push(q.beforeId);
    }
    for (const [key, value] of Object.entries(q.metadata ?? {})) {
      const path = jsonPath(key);
      if (value === null) {
        where.push(`json_type(metadata, ?) = 'null'`);
        args.push(path);
      } else if (typeof value === 'boolean') {
        where.push(`json_type(metadata, ?) = ?`);
        args.push(path, value ? 'true' : 'false');
      } else if (typeof value === 'string' && value.includes('\u0000')) {
        // a NUL is never bound raw: the JSON text's escape decodes to the same SQL text
        where.push(`json_extract(metadata, ?) = json_extract(?, '$')`);
        args.push(path, JSON.stringify(value));
      } else if (typeof value === 'string' || typeof value === 'number') {
        where.push(`json_extract(metadata, ?) = ?`);
        args.push(path, value);
      } else if (value === undefined) {
        continue;
      } else {
        where.push(`json_extract(metadata, ?) = json(?)`);
        args.push(path, JSON.stringify(value));
      }
    }
    let sql = `SELECT * FROM baton_graph_checkpoints${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY checkpoint_id DESC`;
    if (q.limit !== undefined) {
      if (!Number.isInteger(q.limit) || q.limit < 0)
        throw new ValidationError('limit must be a non-negative integer');
      sql += ` LIMIT ${q.limit}`;
    }
    const rows = guarded(this.db.prepare(sql)).all(...args) as Row[];
    return Promise.resolve(rows.map((r) => this.hydrate(r)));
  }

  async listChannelWrites(
    threadId: string,
    checkpointIds: string[],
    channel: string,
  ): Promise<Array<{ checkpointId: string; type: string; value: Uint8Array }>> {
    this.s();
    if (checkpointIds.length === 0) return Promise.resolve([]);
    checkNoNul(checkpointIds);
    const rows = guarded(
      this.db.prepare(
        `SELECT checkpoint_id, type, blob FROM baton_graph_writes
          WHERE thread_id = ? AND channel = ? AND checkpoint_id IN (SELECT value FROM json_each(?))
          ORDER BY checkpoint_id, task_id, idx`,
      ),
    ).all(threadId, channel, JSON.stringify(checkpointIds)) as Row[];
    return Promise.resolve(
      rows.map((r) => ({
        checkpointId: r.checkpoint_id as string,
        type: r.type as string,
        value: r.blob as Uint8Array,
      })),
    );
  }

  async deleteThread(threadId: string): Promise<void> {
    const s = this.s();
    for (const key of this.heldBy.keys()) if (key.startsWith(heldKey(threadId, ''))) this.heldBy.delete(key);
    this.db.transaction(() => {
      s.delBlobs.run(threadId);
      s.delCheckpoints.run(threadId);
      s.delWrites.run(threadId);
    })();
    return Promise.resolve();
  }

  async listThreads(q: { afterThreadId?: string; limit?: number } = {}): Promise<GraphThreadSummary[]> {
    const s = this.s();
    const rows = s.threads.all(q.afterThreadId ?? '', q.limit ?? 1000) as Row[];
    return Promise.resolve(rows.map((r) => ({ threadId: r.thread_id as string, checkpoints: Number(r.n) })));
  }
}
