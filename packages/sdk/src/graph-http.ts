/**
 * LangGraph checkpoints of a remote worker's session through the router's worker API
 * (`/v1/worker/graph/*`), under the capability of the call in progress: the worker needs the
 * server URL and the worker token, never a store connection of its own.
 */
import {
  BatonError,
  blobToWire,
  bytesFromWire,
  rowFromWire,
  writeToWire,
  type GraphCheckpointStore,
  type GraphRowWire,
} from '@baton/core';

/** `post(path, body)` sends one worker API call (retries, fail-over and headers are the caller's). */
export function httpGraphStore(
  post: (path: string, body: unknown) => Promise<unknown>,
): GraphCheckpointStore {
  return {
    async put(record, blobs) {
      const wire = record.inline ? { ...record, inline: record.inline.map(blobToWire) } : record;
      await post('put', { record: wire, blobs: blobs.map(blobToWire) });
    },
    async putWrites(key, writes, overwrite) {
      if (writes.length === 0) return;
      await post('writes', { key, writes: writes.map(writeToWire), overwrite });
    },
    async get(threadId, ns, checkpointId) {
      const r = (await post('get', {
        threadId,
        ns,
        ...(checkpointId !== undefined ? { checkpointId } : {}),
      })) as {
        row: GraphRowWire | null;
      };
      return r.row === null ? null : rowFromWire(r.row);
    },
    async list(q) {
      const r = (await post('list', q)) as { rows: GraphRowWire[] };
      return r.rows.map(rowFromWire);
    },
    async listChannelWrites(threadId, checkpointIds, channel) {
      if (checkpointIds.length === 0) return [];
      const r = (await post('channel-writes', { threadId, checkpointIds, channel })) as {
        writes: Array<{ checkpointId: string; type: string; value: string }>;
      };
      return r.writes.map((w) => ({ ...w, value: bytesFromWire(w.value) }));
    },
    deleteThread() {
      return Promise.reject(new BatonError('FORBIDDEN', 'a worker cannot delete graph threads'));
    },
    listThreads() {
      return Promise.reject(new BatonError('FORBIDDEN', 'a worker cannot list graph threads'));
    },
  };
}
