/**
 * The history-log rows as both backends read them, once fetched (each fetches them its own way:
 * SQLite with a statement per read, PostgreSQL as columns of one statement): a checkpoint with its
 * sealed parts, what an append needs of it, a slice of the log, and a legacy checkpoint as the
 * append that would write it today.
 */
import { CHECKPOINT_PARTS, CheckpointCorruptError, HISTORY_GENESIS } from '@baton/core';
import type {
  Checkpoint,
  CheckpointBody,
  CheckpointMeta,
  CheckpointPart,
  HistoryEntry,
  StoredHistoryEntry,
} from '@baton/core';
import type { AppendCheckpointInput } from './store';
import {
  FORMAT_PARTS,
  checkpointMeta,
  decodeBody,
  decodeCheckpoint,
  decodeHistory,
  encodeAppend,
  finishAppend,
  fitBytes,
} from './common';
import type { EncodedAppend, FinishedAppend, PreviousCheckpoint, Row } from './common';
import type { RecordCipher } from './cipher';
import { entryPlace, openCheckpointRecord, partPlace, waitsPlace } from './sealed';

/** A checkpoint decoded, and what an append on it needs (`prev`, format 2 only). */
export interface ReadCheckpoint {
  checkpoint: Checkpoint;
  prev: PreviousCheckpoint | null;
}

/**
 * Open and verify a checkpoint row (the `checkpoints` columns) whose parts' bodies were read beside
 * it, in `partBodies` as `p_state`, `p_context` and `p_memory`.
 */
export function openCheckpoint(row: Row, partBodies: Row, cipher: RecordCipher): ReadCheckpoint {
  const meta = checkpointMeta(row);
  const format = Number(row.format);
  const parts = new Map<string, unknown>();
  if (format !== FORMAT_PARTS) {
    return { checkpoint: decodeCheckpoint({ meta, format, body: row.body }, parts), prev: null };
  }
  const partSizes: Record<CheckpointPart, number> = { state: 0, context: 0, memory: 0 };
  for (const part of CHECKPOINT_PARTS) {
    const h = meta.parts[part];
    const body = partBodies[`p_${part}`];
    if (h === null || body === null || body === undefined) continue;
    const plain = openCheckpointRecord(cipher, body, partPlace(meta.sessionId, h), meta.seq, part);
    parts.set(h, plain);
    partSizes[part] = typeof plain === 'string' ? Buffer.byteLength(plain, 'utf8') : plain.length;
  }
  const waits = openCheckpointRecord(
    cipher,
    row.body,
    waitsPlace(meta.sessionId, meta.seq),
    meta.seq,
    'waits',
  );
  const checkpoint = decodeCheckpoint({ meta, format, body: waits }, parts);
  return { checkpoint, prev: prevOf(meta, partSizes) };
}

function prevOf(meta: CheckpointMeta, partSizes: Record<CheckpointPart, number>): PreviousCheckpoint {
  return { parts: meta.parts, partSizes, historyLength: meta.historyLength, historyHead: meta.historyHead };
}

/** The new checkpoint of an append as the next append's `prev`. */
export function appendedPrev(
  fin: FinishedAppend,
  enc: EncodedAppend,
  prev: PreviousCheckpoint | null,
): PreviousCheckpoint {
  const sizes: Record<CheckpointPart, number> = { state: 0, context: 0, memory: 0 };
  for (const part of CHECKPOINT_PARTS) {
    if (enc.unchanged[part] !== undefined && prev) sizes[part] = prev.partSizes[part];
  }
  for (const p of enc.parts) sizes[p.part] = p.bytes.length;
  return prevOf(fin.meta, sizes);
}

/** What an append needs of a checkpoint, from its manifest columns and its parts' sizes (`ss`, `cs`, `ms`). */
export function previousFromRow(r: Row): PreviousCheckpoint {
  return {
    parts: {
      state: (r.state_hash as string | null) ?? '',
      context: (r.context_hash as string | null) ?? '',
      memory: (r.memory_hash as string | null) ?? null,
    },
    partSizes: { state: Number(r.ss ?? 0), context: Number(r.cs ?? 0), memory: Number(r.ms ?? 0) },
    historyLength: Number(r.history_length ?? 0),
    historyHead: (r.history_head as string | null) ?? HISTORY_GENESIS,
  };
}

/** A stored history row of a slice; `body` is null when it was not read (it does not fit). */
export interface LogRow {
  idx: number;
  size: number;
  hash: string;
  chain: string;
  body: unknown;
}

/** A verified slice: its entries, the rows they came from (bodies opened), and whether all of it fit. */
export interface VerifiedSlice {
  entries: StoredHistoryEntry[];
  opened: Array<LogRow & { body: Buffer | string }>;
  whole: boolean;
}

/**
 * Verify and decode the history rows [from - 1, to) of a session, ascending (the row before `from`
 * only for its chain): every index in [from, to) present, then the newest rows that fit in
 * `maxBytes` (see `fitBytes`), each against its hash, the chain from the entry before them (or the
 * retention marker, asked of `trim` only then, or the genesis), and `head` against the last when given.
 */
export function verifyLogSlice(
  sid: string,
  seq: number,
  rows: LogRow[],
  from: number,
  to: number,
  maxBytes: number,
  atLeastOne: boolean,
  trim: () => { before: number; chain: string } | null | undefined,
  head: string | undefined,
  cipher: RecordCipher,
): VerifiedSlice {
  if (to <= from) return { entries: [], opened: [], whole: true };
  let prevChain: string | null = null;
  let body = rows;
  if (rows[0] && rows[0].idx === from - 1) {
    prevChain = rows[0].chain;
    body = rows.slice(1);
  }
  // every index of the range must be there: a gap (or a missing newest entry) is corruption
  for (let i = 0; i < to - from; i++) {
    if (body[i]?.idx !== from + i) {
      throw new CheckpointCorruptError(sid, seq, 'present', 'missing', `history[${from + i}]`);
    }
  }
  const fitted = fitBytes(body, maxBytes, atLeastOne);
  if (fitted.length < body.length) prevChain = body[body.length - fitted.length - 1]!.chain;
  const first = fitted[0];
  if (first && prevChain === null) {
    const t = first.idx === 0 ? null : trim();
    if (first.idx === 0) prevChain = HISTORY_GENESIS;
    else if (t && t.before === first.idx) prevChain = t.chain;
    // the entry before is missing and no marker explains it
    else throw new CheckpointCorruptError(sid, seq, 'present', 'missing', `history[${first.idx - 1}]`);
  }
  const opened = fitted.map((x) => {
    if (x.body === null || x.body === undefined)
      throw new Error(`history slice of ${sid}: entry ${x.idx} fits but its body was not read`);
    const where = `history[${x.idx}]` as const;
    return Object.assign({}, x, {
      body: openCheckpointRecord(cipher, x.body, entryPlace(sid, x.idx), seq, where),
    });
  });
  const entries = decodeHistory(sid, seq, opened, prevChain, head);
  return { entries, opened, whole: fitted.length === body.length };
}

/** A history row's values in column order: session, index, turn, role, at, size, hash, chain, body. */
export function historyValues(sid: string, e: FinishedAppend['entries'][number], body: unknown): unknown[] {
  return [sid, e.index, e.turnId, e.role, e.at, e.bytes.length, e.hash, e.chain, body];
}

/**
 * The rows that upgrade a legacy (format 1) checkpoint row in place: what the append that would
 * write it today writes (its history as entries 0..n-1 of the log, chained from the genesis, without
 * size limits: the release that wrote it accepted it), bodies as bytes or, with `text`, as text:
 *
 * - `parts`: session, hash, size, body;
 * - `entries`: session, index, turn, role, at, size, hash, chain, body;
 * - `checkpoint`: session, seq, then its new hash, size, waits body, part hashes (state, context,
 *   memory), history length and head.
 *
 * Null when its body fails its hash check: such a row is left as it is (reading it quarantines the
 * session).
 */
export function legacyRows(
  r: Row,
  text: boolean,
): { parts: unknown[][]; entries: unknown[][]; checkpoint: unknown[] } | null {
  const meta = checkpointMeta(r);
  let body: (CheckpointBody & { history?: HistoryEntry[] }) | null;
  try {
    body = decodeBody(meta, r.body);
  } catch {
    return null;
  }
  if (!body || typeof body !== 'object') return null;
  const { history, ...rest } = body;
  const sid = meta.sessionId;
  const input: AppendCheckpointInput = {
    sessionId: sid,
    expectedSeq: 0,
    schemaVersion: meta.schemaVersion,
    writtenBy: meta.writtenBy,
    body: {
      state: rest.state,
      context: rest.context,
      waits: rest.waits ?? [],
      ...(rest.memory !== undefined ? { memory: rest.memory } : {}),
    },
    history: Array.isArray(history) ? history : [],
  };
  const enc = encodeAppend(input, { maxCheckpointBytes: Infinity, maxHistoryEntryBytes: Infinity });
  const done = finishAppend(input, enc, null, meta.seq, meta.createdAt);
  const out = (b: Buffer) => (text ? b.toString('utf8') : b);
  const m = done.meta;
  return {
    parts: enc.parts.map((p) => [sid, p.hash, p.bytes.length, out(p.bytes)]),
    entries: done.entries.map((e) => historyValues(sid, e, out(e.bytes))),
    checkpoint: [
      sid,
      m.seq,
      m.hash,
      m.size,
      out(Buffer.from(enc.waitsText, 'utf8')),
      m.parts.state,
      m.parts.context,
      m.parts.memory,
      m.historyLength,
      m.historyHead,
    ],
  };
}
