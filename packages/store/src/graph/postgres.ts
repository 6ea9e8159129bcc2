/** LangGraph checkpoint storage on PostgreSQL (pg), beside the Store's own tables. */
import type pg from 'pg';
import { ValidationError, sha256Hex } from '@baton/core';
import { checkNoNul } from '../common';
import { fromGraphJson, graphFilter, graphJson } from './nul';
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
import { blobVersionsOf, decodeInline, encodeInline } from './inline';

function tables(schema: string | undefined) {
  const q = (t: string) => (schema ? `"${schema.replace(/"/g, '""')}".${t}` : t);
  return {
    migrations: q('baton_graph_migrations'),
    checkpoints: q('baton_graph_checkpoints'),
    blobs: q('baton_graph_blobs'),
    writes: q('baton_graph_writes'),
  };
}

/** Versioned DDL; the position in the list is the version. Append only. */
export function postgresGraphMigrations(schema?: string): string[] {
  const t = tables(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${t.checkpoints} (
       thread_id TEXT COLLATE "C" NOT NULL,
       checkpoint_ns TEXT COLLATE "C" NOT NULL DEFAULT '',
       checkpoint_id TEXT COLLATE "C" NOT NULL,
       parent_checkpoint_id TEXT COLLATE "C",
       checkpoint JSONB NOT NULL,
       metadata JSONB NOT NULL DEFAULT '{}',
       PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
     )`,
    `CREATE TABLE IF NOT EXISTS ${t.blobs} (
       thread_id TEXT COLLATE "C" NOT NULL,
       checkpoint_ns TEXT COLLATE "C" NOT NULL DEFAULT '',
       channel TEXT COLLATE "C" NOT NULL,
       version TEXT COLLATE "C" NOT NULL,
       type TEXT NOT NULL,
       blob BYTEA,
       PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
     )`,
    `CREATE TABLE IF NOT EXISTS ${t.writes} (
       thread_id TEXT COLLATE "C" NOT NULL,
       checkpoint_ns TEXT COLLATE "C" NOT NULL DEFAULT '',
       checkpoint_id TEXT COLLATE "C" NOT NULL,
       task_id TEXT COLLATE "C" NOT NULL,
       idx INTEGER NOT NULL,
       channel TEXT COLLATE "C" NOT NULL,
       type TEXT NOT NULL,
       blob BYTEA NOT NULL,
       PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
     )`,
    // 3: small channel values in the checkpoint row, and the channels still looked up in the
    // blob table (inline.ts); NULL on older rows, whose channels are all blobs
    `ALTER TABLE ${t.checkpoints} ADD COLUMN IF NOT EXISTS inline JSONB,
       ADD COLUMN IF NOT EXISTS blob_versions JSONB`,
  ];
}

type Row = Record<string, unknown>;
const dec = new TextDecoder();

function buf(v: Uint8Array | null): Buffer | null {
  if (v === null) return null;
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export interface PostgresGraphOptions {
  /** Schema holding the tables (created when missing); default: the connection's search_path. */
  schema?: string;
}

export class PostgresGraphCheckpointStore implements GraphCheckpointStore {
  private readonly t: ReturnType<typeof tables>;
  private ready: Promise<void> | null = null;
  private readonly selectSql: string;
  private readonly names = new Map<string, string>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: PostgresGraphOptions = {},
  ) {
    this.t = tables(options.schema);
    this.selectSql = `SELECT cp.thread_id, cp.checkpoint_ns, cp.checkpoint_id, cp.parent_checkpoint_id, cp.checkpoint, cp.metadata, cp.inline,
        (SELECT array_agg(array[bl.channel::bytea, bl.version::bytea, bl.type::bytea, bl.blob])
           FROM jsonb_each_text(COALESCE(cp.blob_versions, cp.checkpoint -> 'channel_versions')) v
           CROSS JOIN LATERAL (
             SELECT b.channel, b.version, b.type, b.blob FROM ${this.t.blobs} b
              WHERE b.thread_id = cp.thread_id AND b.checkpoint_ns = cp.checkpoint_ns
                AND b.channel = v.key AND b.version = v.value
              LIMIT 1 -- one primary-key lookup per channel, however long the thread's history
           ) bl) AS blobs,
        (SELECT array_agg(array[cw.task_id::bytea, cw.idx::text::bytea, cw.channel::bytea, cw.type::bytea, cw.blob]
                          ORDER BY cw.task_id, cw.idx)
           FROM ${this.t.writes} cw
          WHERE cw.thread_id = cp.thread_id AND cw.checkpoint_ns = cp.checkpoint_ns
            AND cw.checkpoint_id = cp.checkpoint_id) AS writes
      FROM ${this.t.checkpoints} cp`;
  }

  /** A named (server-side prepared) statement: parsed and planned once per connection. */
  private run(text: string, values: unknown[]): Promise<pg.QueryResult> {
    let name = this.names.get(text);
    if (name === undefined) {
      name = `baton_graph_${sha256Hex(text).slice(0, 16)}`;
      this.names.set(text, name);
    }
    checkNoNul(values.flatMap((v) => (Array.isArray(v) ? v : [v])));
    return this.pool.query({ name, text, values });
  }

  /** Apply pending migrations (idempotent, safe across processes; runs on first use). */
  migrate(): Promise<void> {
    this.ready ??= this.runMigrations().catch((e: unknown) => {
      this.ready = null;
      throw e;
    });
    return this.ready;
  }

  private async runMigrations(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('baton_graph_migrations'))`);
      if (this.options.schema)
        await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.options.schema.replace(/"/g, '""')}"`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.t.migrations} (v INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`,
      );
      const r = await client.query<{ v: number | null }>(`SELECT MAX(v) AS v FROM ${this.t.migrations}`);
      const current = r.rows[0]?.v ?? -1;
      const list = postgresGraphMigrations(this.options.schema);
      for (let v = current + 1; v < list.length; v++) {
        await client.query(list[v]!);
        await client.query(`INSERT INTO ${this.t.migrations} (v, applied_at) VALUES ($1, $2)`, [
          v,
          Date.now(),
        ]);
      }
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  async put(record: GraphCheckpointRecord, blobs: GraphBlob[]): Promise<void> {
    await this.migrate();
    // One statement (atomic, one round trip): the blobs through a data-modifying CTE, then the checkpoint.
    await this.run(
      `WITH b AS (
         INSERT INTO ${this.t.blobs} (thread_id, checkpoint_ns, channel, version, type, blob)
         SELECT $1, $2, x.c, x.v, x.t, x.b FROM unnest($7::text[], $8::text[], $9::text[], $10::bytea[]) AS x(c, v, t, b)
         ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING
       )
       INSERT INTO ${this.t.checkpoints} (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata, inline, blob_versions)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $11::jsonb, $12::jsonb)
       ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id)
       DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata,
         inline = EXCLUDED.inline, blob_versions = EXCLUDED.blob_versions`,
      [
        record.threadId,
        record.ns,
        record.checkpointId,
        record.parentId,
        graphJson(record.checkpoint),
        graphJson(record.metadata),
        blobs.map((b) => b.channel),
        blobs.map((b) => b.version),
        blobs.map((b) => b.type),
        blobs.map((b) => buf(b.value)),
        record.inline ? encodeInline(record.inline) : null,
        record.inline ? JSON.stringify(blobVersionsOf(record)) : null,
      ],
    );
  }

  async putWrites(key: GraphCheckpointKey, writes: GraphWrite[], overwrite: boolean): Promise<void> {
    await this.migrate();
    if (writes.length === 0) return;
    const conflict = overwrite
      ? `DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob`
      : `DO NOTHING`;
    await this.run(
      `INSERT INTO ${this.t.writes} (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob)
       SELECT $1, $2, $3, x.task, x.idx, x.c, x.t, x.b
         FROM unnest($4::text[], $5::int[], $6::text[], $7::text[], $8::bytea[]) AS x(task, idx, c, t, b)
       ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) ${conflict}`,
      [
        key.threadId,
        key.ns,
        key.checkpointId,
        writes.map((w) => w.taskId),
        writes.map((w) => w.idx),
        writes.map((w) => w.channel),
        writes.map((w) => w.type),
        writes.map((w) => buf(w.value)),
      ],
    );
  }

  private hydrate(row: Row): GraphCheckpointRow {
    const inline = decodeInline(row.inline);
    const looked = ((row.blobs as Buffer[][] | null) ?? []).map(([c, v, t, b]): GraphBlob => ({
      channel: dec.decode(c),
      version: dec.decode(v),
      type: dec.decode(t),
      value: b ?? null,
    }));
    const writes = ((row.writes as Buffer[][] | null) ?? []).map(([task, idx, c, t, b]): GraphWrite => ({
      taskId: dec.decode(task),
      idx: Number(dec.decode(idx)),
      channel: dec.decode(c),
      type: dec.decode(t),
      value: b!,
    }));
    return {
      threadId: row.thread_id as string,
      ns: row.checkpoint_ns as string,
      checkpointId: row.checkpoint_id as string,
      parentId: (row.parent_checkpoint_id as string | null) ?? null,
      checkpoint: fromGraphJson(row.checkpoint as Record<string, unknown>),
      metadata: fromGraphJson(row.metadata as Record<string, unknown>),
      blobs: [...inline, ...looked],
      writes,
      inlineChannels: inline.map((b) => b.channel),
    };
  }

  async get(threadId: string, ns: string, checkpointId?: string): Promise<GraphCheckpointRow | null> {
    await this.migrate();
    const r =
      checkpointId === undefined
        ? await this.run(
            `${this.selectSql} WHERE cp.thread_id = $1 AND cp.checkpoint_ns = $2 ORDER BY cp.checkpoint_id DESC LIMIT 1`,
            [threadId, ns],
          )
        : await this.run(
            `${this.selectSql} WHERE cp.thread_id = $1 AND cp.checkpoint_ns = $2 AND cp.checkpoint_id = $3`,
            [threadId, ns, checkpointId],
          );
    const row = r.rows[0] as Row | undefined;
    return row ? this.hydrate(row) : null;
  }

  async list(q: GraphListQuery): Promise<GraphCheckpointRow[]> {
    await this.migrate();
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      args.push(v);
      where.push(sql.replace('?', `$${args.length}`));
    };
    if (q.threadId !== undefined) add('cp.thread_id = ?', q.threadId);
    if (q.ns !== undefined) add('cp.checkpoint_ns = ?', q.ns);
    if (q.checkpointId !== undefined) add('cp.checkpoint_id = ?', q.checkpointId);
    if (q.beforeId !== undefined) add('cp.checkpoint_id < ?', q.beforeId);
    const filter = Object.fromEntries(Object.entries(q.metadata ?? {}).filter(([, v]) => v !== undefined));
    if (Object.keys(filter).length > 0) add('cp.metadata @> ?::jsonb', graphFilter(filter));
    let sql = `${this.selectSql}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY cp.checkpoint_id DESC`;
    if (q.limit !== undefined) {
      if (!Number.isInteger(q.limit) || q.limit < 0)
        throw new ValidationError('limit must be a non-negative integer');
      sql += ` LIMIT ${q.limit}`;
    }
    checkNoNul(args);
    const r = await this.pool.query(sql, args);
    return (r.rows as Row[]).map((row) => this.hydrate(row));
  }

  async listChannelWrites(
    threadId: string,
    checkpointIds: string[],
    channel: string,
  ): Promise<Array<{ checkpointId: string; type: string; value: Uint8Array }>> {
    await this.migrate();
    if (checkpointIds.length === 0) return [];
    checkNoNul([threadId, channel, ...checkpointIds]);
    const r = await this.pool.query(
      `SELECT checkpoint_id, type, blob FROM ${this.t.writes}
        WHERE thread_id = $1 AND channel = $2 AND checkpoint_id = ANY($3::text[])
        ORDER BY checkpoint_id, task_id, idx`,
      [threadId, channel, checkpointIds],
    );
    return (r.rows as Row[]).map((row) => ({
      checkpointId: row.checkpoint_id as string,
      type: row.type as string,
      value: row.blob as Buffer,
    }));
  }

  async deleteThread(threadId: string): Promise<void> {
    await this.migrate();
    checkNoNul([threadId]);
    await this.pool.query(
      `WITH a AS (DELETE FROM ${this.t.blobs} WHERE thread_id = $1),
            b AS (DELETE FROM ${this.t.writes} WHERE thread_id = $1)
       DELETE FROM ${this.t.checkpoints} WHERE thread_id = $1`,
      [threadId],
    );
  }

  async listThreads(q: { afterThreadId?: string; limit?: number } = {}): Promise<GraphThreadSummary[]> {
    await this.migrate();
    checkNoNul([q.afterThreadId]);
    const r = await this.pool.query(
      `SELECT thread_id, COUNT(*)::int AS n FROM ${this.t.checkpoints} WHERE thread_id > $1
        GROUP BY thread_id ORDER BY thread_id LIMIT $2`,
      [q.afterThreadId ?? '', q.limit ?? 1000],
    );
    return (r.rows as Row[]).map((row) => ({
      threadId: row.thread_id as string,
      checkpoints: Number(row.n),
    }));
  }
}
