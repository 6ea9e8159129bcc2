/**
 * The latest checkpoint of each session as this process wrote it, so that the session's next turn
 * start verifies the bytes it reads by comparing them with the bytes this process hashed when it
 * wrote them (a byte comparison instead of a SHA-256 per part, the waits and the manifest). The
 * bytes are still read at every turn start: a stored byte that differs (corruption, another
 * process's write, a rewrite) is a miss, and the row is then verified in full by its hashes.
 * Kept only for unencrypted stores (the stored bytes are then the plain ones). Bounded: sessions
 * (LRU) and bytes kept.
 */
import { CHECKPOINT_PARTS } from '@baton/core';
import type { Checkpoint, CheckpointBody, CheckpointMeta } from '@baton/core';
import { FORMAT_PARTS, checkpointMeta, checkpointOf, type Row } from './common';

interface Kept {
  meta: CheckpointMeta;
  /** The waits column as stored (sealed when encryption is on). */
  storedWaits: Buffer;
  waitsText: string;
  /** Part hash → the part's JSON bytes. */
  parts: Map<string, Buffer>;
  bytes: number;
}

export interface CheckpointCacheLimits {
  /** Sessions whose latest checkpoint is kept (default 4,096). */
  sessions: number;
  /** Bytes of kept parts and waits in all (default 32 MiB); a larger checkpoint is not kept. */
  bytes: number;
}

export const DEFAULT_CHECKPOINT_CACHE: CheckpointCacheLimits = { sessions: 4096, bytes: 32 * 1024 * 1024 };

export class CheckpointCache {
  /** Insertion order is recency: a hit or a write moves the session to the end. */
  private readonly kept = new Map<string, Kept>();
  private bytes = 0;

  constructor(private readonly limits: CheckpointCacheLimits = DEFAULT_CHECKPOINT_CACHE) {}

  /**
   * The checkpoint of a stored row read with its parts' bodies (`p_state`, `p_context`,
   * `p_memory`), when its manifest and every stored byte are those this process wrote last for the
   * session. Undefined otherwise (verify it by its hashes).
   */
  open(sid: string, row: Row): Checkpoint | undefined {
    const k = this.kept.get(sid);
    if (!k || Number(row.format) !== FORMAT_PARTS) return undefined;
    const meta = checkpointMeta(row);
    if (!sameManifest(k.meta, meta) || !sameBytes(k.storedWaits, row.body)) return undefined;
    for (const part of CHECKPOINT_PARTS) {
      const h = meta.parts[part];
      if (h !== null && !sameBytes(k.parts.get(h), row[`p_${part}`])) return undefined;
    }
    this.kept.delete(sid);
    this.kept.set(sid, k);
    const body: CheckpointBody = {
      state: null,
      context: null,
      waits: JSON.parse(k.waitsText) as CheckpointBody['waits'],
    };
    for (const part of CHECKPOINT_PARTS) {
      const h = meta.parts[part];
      if (h === null) continue;
      body[part] = JSON.parse(k.parts.get(h)!.toString('utf8'));
    }
    return checkpointOf(meta, body);
  }

  /**
   * After checkpoint `meta` of `sid` committed: keep it. `written` holds the parts the write
   * stored; an unchanged part's bytes come from the checkpoint kept before (none kept: nothing is).
   */
  wrote(
    sid: string,
    meta: CheckpointMeta,
    storedWaits: Buffer,
    waitsText: string,
    written: Array<{ hash: string; bytes: Buffer }>,
  ): void {
    const before = this.kept.get(sid);
    this.forget(sid);
    const parts = new Map<string, Buffer>();
    let bytes = storedWaits.length + waitsText.length;
    for (const part of CHECKPOINT_PARTS) {
      const h = meta.parts[part];
      if (h === null) continue;
      const b = written.find((p) => p.hash === h)?.bytes ?? before?.parts.get(h);
      if (!b) return;
      if (!parts.has(h)) bytes += b.length;
      parts.set(h, b);
    }
    if (bytes > this.limits.bytes) return;
    this.kept.set(sid, { meta, storedWaits, waitsText, parts, bytes });
    this.bytes += bytes;
    while (this.kept.size > this.limits.sessions || this.bytes > this.limits.bytes) {
      const oldest = this.kept.keys().next().value as string;
      this.forget(oldest);
    }
  }

  forget(sid: string): void {
    const k = this.kept.get(sid);
    if (!k) return;
    this.kept.delete(sid);
    this.bytes -= k.bytes;
  }
}

function sameBytes(kept: Buffer | undefined, stored: unknown): boolean {
  return kept !== undefined && Buffer.isBuffer(stored) && kept.equals(stored);
}

/** Whether two manifests name the same checkpoint content (what its hash covers, and its seq). */
function sameManifest(a: CheckpointMeta, b: CheckpointMeta): boolean {
  return (
    a.seq === b.seq &&
    a.hash === b.hash &&
    a.parts.state === b.parts.state &&
    a.parts.context === b.parts.context &&
    a.parts.memory === b.parts.memory &&
    a.historyLength === b.historyLength &&
    a.historyHead === b.historyHead
  );
}
