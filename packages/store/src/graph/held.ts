/**
 * SQLite: the larger channel values a checkpoint changed, kept in the checkpoint's own row
 * (graph table migration 4): `vals` is their bytes end to end, `held` says where each one is
 * (`[[channel, version, type, offset, length]]`, length -1 for a channel with no value). A put
 * then writes one row (plus the small inline values) instead of a row and one blob row per
 * changed channel, and a read of the checkpoint gets them with the row.
 *
 * The blob table still holds the values a checkpoint names without having changed them: when a
 * child does not change a value its parent holds in its row, the put copies it from the parent's
 * row to the blob table (`COPY_HELD`, inside SQLite, once per value), so every checkpoint finds
 * what it names either in its own row or in the blob table, and a read never loads an older row.
 */
import type { GraphBlob } from './types';

type HeldEntry = [channel: string, version: string, type: string, offset: number, length: number];

/** The row columns for `blobs`: the bytes end to end, and where each value is. */
export function encodeHeld(blobs: GraphBlob[]): { vals: Buffer | null; held: string } {
  const entries: HeldEntry[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const b of blobs) {
    if (b.value === null) {
      entries.push([b.channel, b.version, b.type, 0, -1]);
      continue;
    }
    entries.push([b.channel, b.version, b.type, offset, b.value.byteLength]);
    parts.push(b.value);
    offset += b.value.byteLength;
  }
  return { vals: parts.length > 0 ? Buffer.concat(parts, offset) : null, held: JSON.stringify(entries) };
}

/** The values a row holds (none on rows written before migration 4). Slices of `vals`, not copies. */
export function decodeHeld(held: unknown, vals: unknown): GraphBlob[] {
  if (typeof held !== 'string') return [];
  const bytes = vals instanceof Uint8Array ? vals : null;
  return (JSON.parse(held) as HeldEntry[]).map(([channel, version, type, offset, length]) => ({
    channel,
    version,
    type,
    value: length < 0 || bytes === null ? null : bytes.subarray(offset, offset + length),
  }));
}

/**
 * Copy into the blob table the values the parent row (thread, namespace, id)
 * holds that the child names without holding them (then the child's channel → version JSON).
 */
export const COPY_HELD = `
  INSERT INTO baton_graph_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
  SELECT p.thread_id, p.checkpoint_ns, h.value ->> 0, h.value ->> 1, h.value ->> 2,
         CASE WHEN (h.value ->> 4) < 0 THEN NULL ELSE substr(p.vals, (h.value ->> 3) + 1, h.value ->> 4) END
    FROM baton_graph_checkpoints p, json_each(p.held) AS h
   WHERE p.thread_id = ? AND p.checkpoint_ns = ? AND p.checkpoint_id = ?
     AND EXISTS (SELECT 1 FROM json_each(?) AS v
                  WHERE v.key = h.value ->> 0 AND CAST(v.value AS TEXT) = h.value ->> 1)
  ON CONFLICT DO NOTHING`;
