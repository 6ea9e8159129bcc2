/**
 * Small channel values kept in the graph checkpoint row (`inline`), both backends: the saver
 * puts numbers, booleans, nulls and short strings there at every step, so a read looks up only
 * the larger channels in the blob table (`blob_versions`, the checkpoint's channel versions
 * minus the inline ones). Rows written before this have neither column: every channel is a blob.
 */
import type { GraphBlob, GraphCheckpointRecord } from './types';

/** The inline values of a row: `[[channel, version, type, base64 | null]]` as JSON. */
export function inlineRows(blobs: GraphBlob[]): Array<[string, string, string, string | null]> {
  return blobs.map((b) => [
    b.channel,
    b.version,
    b.type,
    b.value === null
      ? null
      : Buffer.from(b.value.buffer, b.value.byteOffset, b.value.byteLength).toString('base64'),
  ]);
}

export function encodeInline(blobs: GraphBlob[]): string {
  return JSON.stringify(inlineRows(blobs));
}

/** Inline values from a row: JSON text (SQLite) or the parsed array (PostgreSQL's JSONB); none on older rows. */
export function decodeInline(v: unknown): GraphBlob[] {
  if (v === null || v === undefined) return [];
  const rows = (typeof v === 'string' ? JSON.parse(v) : v) as Array<[string, string, string, string | null]>;
  return rows.map(([channel, version, type, v]) => ({
    channel,
    version,
    type,
    value: v === null ? null : Buffer.from(v, 'base64'),
  }));
}

/** The channel → version map of the channels not inline (what a read looks up in the blob table). */
export function blobVersionsOf(record: GraphCheckpointRecord): Record<string, unknown> | null {
  if (!record.inline) return null;
  const inline = new Set(record.inline.map((b) => b.channel));
  const all = (record.checkpoint.channel_versions ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(all).filter(([c]) => !inline.has(c)));
}
