export * from './store';
export { openStore } from './factory';
export type { OpenStoreOptions } from './factory';
export type * from './graph';
export { SqliteGraphCheckpointStore, SQLITE_GRAPH_MIGRATIONS } from './graph-sqlite';
export { PostgresGraphCheckpointStore, postgresGraphMigrations } from './graph-postgres';
export type { PostgresGraphOptions } from './graph-postgres';
export * from './cipher';
