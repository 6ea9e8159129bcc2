import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import type { GraphCheckpointStore } from '@baton/store/graph';

/** Opens a fresh store for one test (or one suite) and disposes of it. */
export type OpenStore = () => Promise<{ store: Store; close(): Promise<void> }>;

/** A fresh SQLite store file under the temp directory. */
export function sqliteStore(prefix: string): OpenStore {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    const store = await openStore(path.join(dir, 'store.db'));
    return {
      store,
      async close() {
        await store.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

/** A store in a fresh PostgreSQL schema of its own, dropped afterwards. */
export function postgresStore(url: string, prefix: string): OpenStore {
  return async () => {
    const schema = uniqueSchema(prefix);
    const store = await openStore(url, { schema });
    return {
      store,
      async close() {
        await store.close();
        await dropSchema(url, schema);
      },
    };
  };
}

/** Delete every thread the graph store holds (used between conformance tests). */
export async function wipeGraphStore(graph: GraphCheckpointStore): Promise<void> {
  for (;;) {
    const threads = await graph.listThreads({ limit: 500 });
    if (threads.length === 0) return;
    for (const t of threads) await graph.deleteThread(t.threadId);
  }
}

/**
 * The PostgreSQL URL for tests, from BATON_TEST_PG_URL. Without it the PostgreSQL tests skip
 * (with a visible warning), except under CI=true, where a missing URL is an error.
 */
export function pgUrl(): string | undefined {
  const url = process.env.BATON_TEST_PG_URL;
  if (url) return url;
  if (process.env.CI === 'true') throw new Error('BATON_TEST_PG_URL must be set when CI=true');
  console.warn('BATON_TEST_PG_URL is not set: skipping the PostgreSQL tests');
  return undefined;
}

/** A schema name unique to this run. */
export function uniqueSchema(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Drop a test schema and everything in it. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
