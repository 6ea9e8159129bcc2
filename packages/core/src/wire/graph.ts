/**
 * The worker API for LangGraph checkpoints (`/v1/worker/graph/*`), defined once: request bodies
 * (zod) and the codec of rows, blobs and writes, whose byte values travel as base64.
 */
import { z } from 'zod';
import type { GraphBlob, GraphCheckpointRow, GraphWrite } from '../graph';

const id = z.string().min(1).max(500);
const ns = z.string().max(2000);
const channel = z.string().max(2000);
const b64 = z.string().max(200_000_000);
const json = z.record(z.string(), z.unknown());

export const graphBlobWire = z.object({
  channel,
  version: z.string().max(200),
  type: z.string().max(200),
  value: b64.nullable(),
});
export const graphWriteWire = z.object({
  taskId: z.string().max(500),
  idx: z.number().int(),
  channel,
  type: z.string().max(200),
  value: b64,
});
export const graphKeyWire = z.object({ threadId: id, ns, checkpointId: id });

/** The paths (under `/v1/worker/graph/`) and request bodies of the worker's graph calls. */
export const graphWire = {
  put: z.object({
    record: graphKeyWire.extend({
      parentId: id.nullable(),
      checkpoint: json,
      metadata: json,
      inline: z.array(graphBlobWire).max(100_000).optional(),
    }),
    blobs: z.array(graphBlobWire).max(100_000),
  }),
  writes: z.object({
    key: graphKeyWire,
    writes: z.array(graphWriteWire).max(100_000),
    overwrite: z.boolean(),
  }),
  get: z.object({ threadId: id, ns, checkpointId: id.optional() }),
  list: z.object({
    threadId: id,
    ns: ns.optional(),
    checkpointId: id.optional(),
    beforeId: id.optional(),
    metadata: json.optional(),
    limit: z.number().int().min(0).max(100_000).optional(),
  }),
  'channel-writes': z.object({ threadId: id, checkpointIds: z.array(id).max(10_000), channel }),
} as const;

export type GraphBlobWire = z.infer<typeof graphBlobWire>;
export type GraphWriteWire = z.infer<typeof graphWriteWire>;
export interface GraphRowWire extends Omit<GraphCheckpointRow, 'blobs' | 'writes'> {
  blobs: GraphBlobWire[];
  writes: GraphWriteWire[];
}

export function bytesToWire(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}
export function bytesFromWire(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64'));
}

export const blobToWire = (b: GraphBlob): GraphBlobWire => ({
  ...b,
  value: b.value === null ? null : bytesToWire(b.value),
});
export const blobFromWire = (b: GraphBlobWire): GraphBlob => ({
  ...b,
  value: b.value === null ? null : bytesFromWire(b.value),
});
export const writeToWire = (w: GraphWrite): GraphWriteWire => ({ ...w, value: bytesToWire(w.value) });
export const writeFromWire = (w: GraphWriteWire): GraphWrite => ({ ...w, value: bytesFromWire(w.value) });

export function rowToWire(r: GraphCheckpointRow): GraphRowWire {
  return { ...r, blobs: r.blobs.map(blobToWire), writes: r.writes.map(writeToWire) };
}
export function rowFromWire(r: GraphRowWire): GraphCheckpointRow {
  return { ...r, blobs: r.blobs.map(blobFromWire), writes: r.writes.map(writeFromWire) };
}
