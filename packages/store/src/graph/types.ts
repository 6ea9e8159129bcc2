/**
 * Storage for LangGraph checkpoints (`store.graph`): the interface and its shapes are defined in
 * `@baton/core` (graph.ts), because a remote worker reaches the same storage through the worker
 * API; this module re-exports them for the backends.
 */
export type {
  GraphBlob,
  GraphCheckpointKey,
  GraphCheckpointRecord,
  GraphCheckpointRow,
  GraphCheckpointStore,
  GraphListQuery,
  GraphThreadSummary,
  GraphWrite,
} from '@baton/core';
