/**
 * Graph tables written before inline channel values (graph migration 3) stay readable, on both
 * backends: a thread whose rows have every channel as a blob is read back whole by the current
 * saver, and a checkpoint written on top of it (naming the old, unchanged channels) reads whole too.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { MemorySaver, emptyCheckpoint } from '@langchain/langgraph-checkpoint';
import { openStore } from '@baton/store';
import { SQLITE_GRAPH_MIGRATIONS, postgresGraphMigrations } from '@baton/store/graph';
import type { Store } from '@baton/store';
import { BatonCheckpointSaver } from '../src/index';
import { dropSchema, pgUrl, uniqueSchema } from './helpers';

const THREAD = 'old-thread';
const values = { topic: 'refunds', count: 3, history: ['a', 'b', 'c'] };
const versions = { topic: 1, count: 2, history: 2 };

/** The rows the previous release wrote for one checkpoint: no inline values, every channel a blob. */
async function oldRows() {
  const serde = new MemorySaver().serde; // LangGraph's default serializer, as the saver's
  const cp = { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-0000000000aa', channel_versions: versions };
  const { channel_values: _v, ...doc } = cp;
  const blobs = await Promise.all(
    Object.entries(values).map(async ([channel, v]) => {
      const [type, bytes] = await serde.dumpsTyped(v);
      return { channel, version: String(versions[channel as keyof typeof versions]), type, bytes };
    }),
  );
  return {
    id: cp.id,
    doc: JSON.stringify(doc),
    metadata: JSON.stringify({ source: 'loop', step: 1, parents: {} }),
    blobs,
  };
}

async function readAndContinue(store: Store): Promise<void> {
  const saver = new BatonCheckpointSaver(store);
  const config = { configurable: { thread_id: THREAD, checkpoint_ns: '' } };
  const old = await saver.getTuple(config);
  expect(old?.checkpoint.channel_values).toEqual(values);
  // a child that changes only `count`; `topic` and `history` stay the old blobs
  const child = {
    ...old!.checkpoint,
    id: '1ef00000-0000-6000-8000-0000000000bb',
    channel_values: { ...values, count: 4 },
    channel_versions: { ...versions, count: 3 },
  };
  await saver.put(old!.config, child, { source: 'loop', step: 2, parents: {} }, { count: 3 });
  const fresh = new BatonCheckpointSaver(store); // no memory of what was written
  expect((await fresh.getTuple(config))?.checkpoint.channel_values).toEqual({ ...values, count: 4 });
  expect((await fresh.getTuple(old!.config))?.checkpoint.channel_values).toEqual(values);
}

describe('graph tables from before inline values (migration 3)', () => {
  test('sqlite', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-lg-upgrade-'));
    try {
      const file = path.join(dir, 'store.db');
      const db = new Database(file);
      db.exec('CREATE TABLE baton_graph_migrations (v INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
      for (let v = 0; v < 3; v++) {
        db.exec(SQLITE_GRAPH_MIGRATIONS[v]!);
        db.prepare('INSERT INTO baton_graph_migrations (v, applied_at) VALUES (?, ?)').run(v, Date.now());
      }
      const rows = await oldRows();
      db.prepare(
        `INSERT INTO baton_graph_checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
         VALUES (?, '', ?, NULL, ?, ?)`,
      ).run(THREAD, rows.id, rows.doc, rows.metadata);
      for (const b of rows.blobs)
        db.prepare(
          `INSERT INTO baton_graph_blobs (thread_id, checkpoint_ns, channel, version, type, blob) VALUES (?, '', ?, ?, ?, ?)`,
        ).run(THREAD, b.channel, b.version, b.type, Buffer.from(b.bytes));
      db.close();
      const store = await openStore(file);
      try {
        await readAndContinue(store);
      } finally {
        await store.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  const url = pgUrl();
  test.skipIf(!url)('postgres', async () => {
    const schema = uniqueSchema('lg_upgrade');
    const client = new pg.Client({ connectionString: url! });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA "${schema}"`);
      await client.query(
        `CREATE TABLE "${schema}".baton_graph_migrations (v INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`,
      );
      const ddl = postgresGraphMigrations(schema);
      for (let v = 0; v < 3; v++) {
        await client.query(ddl[v]!);
        await client.query(`INSERT INTO "${schema}".baton_graph_migrations (v, applied_at) VALUES ($1, $2)`, [
          v,
          Date.now(),
        ]);
      }
      const rows = await oldRows();
      await client.query(
        `INSERT INTO "${schema}".baton_graph_checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
         VALUES ($1, '', $2, NULL, $3::jsonb, $4::jsonb)`,
        [THREAD, rows.id, rows.doc, rows.metadata],
      );
      for (const b of rows.blobs)
        await client.query(
          `INSERT INTO "${schema}".baton_graph_blobs (thread_id, checkpoint_ns, channel, version, type, blob) VALUES ($1, '', $2, $3, $4, $5)`,
          [THREAD, b.channel, b.version, b.type, Buffer.from(b.bytes)],
        );
      const store = await openStore(url!, { schema });
      try {
        await readAndContinue(store);
      } finally {
        await store.close();
      }
    } finally {
      await client.end();
      await dropSchema(url!, schema);
    }
  });
});
