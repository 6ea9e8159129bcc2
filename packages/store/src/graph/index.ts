/**
 * `@baton/store/graph`: storage for LangGraph checkpoints (`store.graph`), on the store's own
 * database: its interface and shapes (types.ts), the tables' migrations, and the one factory
 * that knows the graph backends (`openGraphStore`).
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { GraphCheckpointStore } from './types';
import { PostgresGraphCheckpointStore } from './postgres';
import { SqliteGraphCheckpointStore } from './sqlite';

export type * from './types';
export { SQLITE_GRAPH_MIGRATIONS } from './sqlite';
export { postgresGraphMigrations } from './postgres';

/** The database a graph store lives on: a store's SQLite handle, or its PostgreSQL pool and schema. */
export type GraphDatabase =
  | { kind: 'sqlite'; db: Database.Database }
  | { kind: 'postgres'; pool: pg.Pool; schema?: string | undefined };

/** LangGraph checkpoint storage on `on`; its tables are created or upgraded on first use. */
export function openGraphStore(on: GraphDatabase): GraphCheckpointStore {
  if (on.kind === 'sqlite') return new SqliteGraphCheckpointStore(on.db);
  return new PostgresGraphCheckpointStore(on.pool, on.schema === undefined ? {} : { schema: on.schema });
}
