/**
 * Pieces shared by the backends: row mapping, checkpoint encoding, effect transitions,
 * aggregate merging. Columns use snake_case; JSON is stored as text in both backends.
 */
import {
  BatonError,
  CHECKPOINT_PARTS,
  CheckpointCorruptError,
  HISTORY_GENESIS,
  NotFoundError,
  ValidationError,
  historyChain,
  historyEntryText,
  sha256Hex,
} from '@baton/core';
import { NO_ENCRYPTION } from './cipher';
import type { RecordCipher } from './cipher';
import { openEffectRow } from './sealed';
import type {
  Checkpoint,
  CheckpointBody,
  CheckpointPart,
  HistoryEntry,
  HistoryQuery,
  HistoryRetention,
  PartHashes,
  StoredHistoryEntry,
  Wait,
} from '@baton/core';
import type {
  Decision,
  EffectRecord,
  CompensationState,
  EffectStatus,
  MigrationRecord,
  RolloutRecord,
  RouteRecord,
  SessionAggregate,
  SessionRecord,
  SessionStatus,
  TurnTelemetry,
  TurnTelemetryRecord,
  VersionRecord,
  WaitRecord,
  WorkerRecord,
} from '@baton/core';
import { SESSION_STATUSES } from '@baton/core';
import type { CheckpointMeta, HistoryWindow } from '@baton/core';
import type {
  AppendCheckpointInput,
  BeginTurnResult,
  Lease,
  SessionExpectation,
  WindowChoice,
} from './store';

export const DEFAULT_MAX_CHECKPOINT_BYTES = 8 * 1024 * 1024;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

export type Row = Record<string, unknown>;

/**
 * Refuse a NUL character (U+0000) in a value bound to its own column, the same on every backend
 * (PostgreSQL text cannot hold one; SQLite could, but then the backends would disagree). JSON
 * content is bound as JSON text, where a NUL is the escape `\u0000`, so it is never refused.
 */
export function checkNoNul(values: readonly unknown[]): void {
  for (const v of values) {
    if (typeof v === 'string' && v.includes('\0')) throw nulInColumn();
  }
}

export function nulInColumn(): BatonError {
  return new BatonError('INVALID_CHARACTER', 'a text value contains a NUL character (U+0000)');
}

/** JSON to text; `undefined` becomes SQL NULL. */
export function jsonText(v: unknown): string | null {
  if (v === undefined) return null;
  const s = JSON.stringify(v);
  return s === undefined ? null : s;
}

export function parseJson(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  return JSON.parse(v as string);
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : (v as string);
}

export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1) throw new ValidationError('limit must be a positive integer');
  return Math.min(limit, MAX_PAGE);
}

export function toPage<T extends { id: string }>(
  rows: T[],
  limit: number,
): { items: T[]; nextCursor: string | null } {
  if (rows.length > limit) {
    const items = rows.slice(0, limit);
    return { items, nextCursor: items[items.length - 1]!.id };
  }
  return { items: rows, nextCursor: null };
}

/** Lease and lock durations must be positive, finite milliseconds. */
export function checkTtl(ttlMs: number): void {
  if (!(typeof ttlMs === 'number' && Number.isFinite(ttlMs) && ttlMs > 0)) {
    throw new ValidationError('ttlMs must be a positive number of milliseconds', { ttlMs });
  }
}

export function asArray<T>(v: T | T[] | undefined): T[] | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v : [v];
}

/** `fn()`, or the `BatonError` it throws (anything else propagates): one item's outcome in a batch. */
export function batonErrorOr<T>(fn: () => T): T | BatonError {
  try {
    return fn();
  } catch (e) {
    if (e instanceof BatonError) return e;
    throw e;
  }
}

// ---------- checkpoints ----------

export const DEFAULT_MAX_HISTORY_ENTRY_BYTES = 1024 * 1024;
export const DEFAULT_KEEP_CHECKPOINTS = 10;

/**
 * What a server of the previous release gets when it tries to write a checkpoint into a store this
 * release upgraded (a trigger refuses rows in the old layout): the version fence.
 */
export const LEGACY_WRITER =
  'this store was upgraded to the history-log layout: servers of the previous Baton release cannot write to it; stop them and run this release everywhere';

/** Checkpoint row formats: 1 = the whole body (history included) in one blob; 2 = manifest + parts. */
export const FORMAT_LEGACY = 1;
export const FORMAT_PARTS = 2;

/** Size limits an append is held to. */
export interface AppendLimits {
  maxCheckpointBytes: number;
  maxHistoryEntryBytes: number;
}

export interface EncodedPart {
  part: CheckpointPart;
  hash: string;
  bytes: Buffer;
}

export interface EncodedEntry {
  role: HistoryEntry['role'];
  turnId: string;
  at: number;
  hash: string;
  bytes: Buffer;
}

/** An append's input serialized and size-checked before its transaction (no chain yet). */
export interface EncodedAppend {
  /** Parts to write (the changed ones), with their hashes. */
  parts: EncodedPart[];
  /** Hashes of the parts the caller declared unchanged. */
  unchanged: Partial<Record<CheckpointPart, string>>;
  /** Whether the body has a memory part (unchanged or written). */
  hasMemory: boolean;
  waitsText: string;
  waitsHash: string;
  entries: EncodedEntry[];
  /** Bytes of parts + waits (the checkpoint's logical size, unchanged parts counted by `finishAppend`). */
  written: number;
}

/** What an append needs of the checkpoint it builds on (read in its transaction). */
export interface PreviousCheckpoint {
  parts: PartHashes;
  partSizes: Record<CheckpointPart, number>;
  historyLength: number;
  historyHead: string;
}

/** An append ready to be written: the new checkpoint's meta and its history rows with index and chain. */
export interface FinishedAppend {
  meta: CheckpointMeta;
  entries: Array<EncodedEntry & { index: number; chain: string }>;
}

function tooLarge(sessionId: string, message: string, details: Record<string, unknown>): BatonError {
  return new BatonError('CHECKPOINT_TOO_LARGE', message, { sessionId, ...details });
}

function jsonBytes(v: unknown, what: string, sessionId: string): Buffer {
  let text: string | undefined;
  try {
    text = JSON.stringify(v === undefined ? null : v);
  } catch (e) {
    throw new ValidationError(`checkpoint ${what} is not serializable: ${(e as Error).message}`, {
      sessionId,
      part: what,
    });
  }
  if (text === undefined)
    throw new ValidationError(`checkpoint ${what} is not serializable`, { sessionId, part: what });
  return Buffer.from(text, 'utf8');
}

/**
 * Serialize an append's parts, waits and history entries and enforce the size limits, before
 * anything is written: each entry at most `maxHistoryEntryBytes`, and what the append rewrites
 * (changed parts + waits + new entries) at most `maxCheckpointBytes`. Then `expectedSeq`.
 */
export function encodeAppend(input: AppendCheckpointInput, limits: AppendLimits): EncodedAppend {
  const sid = input.sessionId;
  const unchanged = input.unchanged ?? {};
  const parts: EncodedPart[] = [];
  const sizes: Record<string, number> = {};
  let total = 0;
  for (const part of CHECKPOINT_PARTS) {
    if (unchanged[part] !== undefined) continue;
    const v = input.body[part];
    if (part === 'memory' && v === undefined) continue;
    const bytes = jsonBytes(v, part, sid);
    parts.push({ part, hash: sha256Hex(bytes), bytes });
    sizes[part] = bytes.length;
    total += bytes.length;
  }
  const waitsBytes = jsonBytes(input.body.waits ?? [], 'waits', sid);
  sizes.waits = waitsBytes.length;
  total += waitsBytes.length;
  const written = total;
  const entries: EncodedEntry[] = [];
  let historyBytes = 0;
  (input.history ?? []).forEach((e, i) => {
    let text: string;
    try {
      text = historyEntryText(e);
    } catch (err) {
      throw new ValidationError(
        `history entry ${i} of this turn is not serializable: ${(err as Error).message}`,
        {
          sessionId: sid,
        },
      );
    }
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length > limits.maxHistoryEntryBytes) {
      throw tooLarge(
        sid,
        `history entry ${i} of this turn (${e.role}) is ${bytes.length} bytes: over the limit of ${limits.maxHistoryEntryBytes} bytes by ${bytes.length - limits.maxHistoryEntryBytes}`,
        { part: `history[${i}]`, size: bytes.length, limit: limits.maxHistoryEntryBytes },
      );
    }
    historyBytes += bytes.length;
    entries.push({ role: e.role, turnId: e.turnId, at: e.at, hash: sha256Hex(bytes), bytes });
  });
  sizes.history = historyBytes;
  total += historyBytes;
  if (total > limits.maxCheckpointBytes) {
    const biggest = Object.entries(sizes).sort((a, b) => b[1] - a[1])[0]!;
    throw tooLarge(
      sid,
      `checkpoint write of ${total} bytes is over the limit of ${limits.maxCheckpointBytes} bytes by ${total - limits.maxCheckpointBytes}; the largest part is ${biggest[0]} (${biggest[1]} bytes)`,
      { part: biggest[0], size: total, limit: limits.maxCheckpointBytes, parts: sizes },
    );
  }
  checkExpectedSeq(input);
  const hasMemory = unchanged.memory !== undefined || input.body.memory !== undefined;
  return {
    parts,
    unchanged,
    hasMemory,
    waitsText: waitsBytes.toString('utf8'),
    waitsHash: sha256Hex(waitsBytes),
    entries,
    written,
  };
}

/** The hash over a format-2 checkpoint's manifest (what its `hash` column holds). */
export function checkpointHash(
  parts: PartHashes,
  historyLength: number,
  historyHead: string,
  waitsHash: string,
): string {
  return sha256Hex(
    `baton-checkpoint/2\n${parts.state}\n${parts.context}\n${parts.memory ?? '-'}\n${historyLength}\n${historyHead}\n${waitsHash}`,
  );
}

/**
 * Complete an append against the checkpoint it builds on (null for a session's first): carry the
 * unchanged parts (their hashes must be the previous checkpoint's, else the caller's view is
 * stale), number and chain the new history entries, and hash the new manifest.
 */
export function finishAppend(
  input: AppendCheckpointInput,
  enc: EncodedAppend,
  prev: PreviousCheckpoint | null,
  seq: number,
  now: number,
): FinishedAppend {
  const hashes: PartHashes = { state: '', context: '', memory: null };
  let size = enc.written;
  for (const p of enc.parts) hashes[p.part] = p.hash;
  for (const part of CHECKPOINT_PARTS) {
    const h = enc.unchanged[part];
    if (h === undefined) continue;
    if (!prev || prev.parts[part] !== h) {
      throw new BatonError(
        'SEQUENCE_CONFLICT',
        `session ${input.sessionId}: the ${part} declared unchanged is not the one of checkpoint #${input.expectedSeq}`,
        { sessionId: input.sessionId, expectedSeq: input.expectedSeq, part, hash: h },
      );
    }
    hashes[part] = h;
    size += prev.partSizes[part];
  }
  if (!enc.hasMemory) hashes.memory = null;
  let length = prev?.historyLength ?? 0;
  let head = prev?.historyHead ?? HISTORY_GENESIS;
  const entries = enc.entries.map((e) => {
    head = historyChain(head, e.hash);
    return {
      role: e.role,
      turnId: e.turnId,
      at: e.at,
      hash: e.hash,
      bytes: e.bytes,
      index: length++,
      chain: head,
    };
  });
  const hash = checkpointHash(hashes, length, head, enc.waitsHash);
  return {
    meta: {
      sessionId: input.sessionId,
      seq,
      schemaVersion: input.schemaVersion,
      writtenBy: input.writtenBy,
      hash,
      size,
      createdAt: now,
      parts: hashes,
      historyLength: length,
      historyHead: head,
    },
    entries,
  };
}

/** A stored value as text: bytes (SQLite BLOB) decoded as UTF-8, text as it is. */
function utf8(raw: unknown): string {
  return typeof raw === 'string' ? raw : (raw as Buffer).toString('utf8');
}

/** Parse a stored JSON value (bytes or text) after checking it against `hash`. */
function verifiedJson(raw: unknown, hash: string, corrupt: (actual: string) => Error): unknown {
  const actual = sha256Hex(raw as string | Uint8Array);
  if (actual !== hash) throw corrupt(actual);
  return JSON.parse(utf8(raw));
}

/** A stored checkpoint row's columns as both backends read them. */
export interface CheckpointRow {
  meta: CheckpointMeta;
  format: number;
  /** Format 2: the waits JSON; format 1: the whole body. */
  body: unknown;
}

/**
 * Verify and decode a checkpoint: format 2 from its manifest columns, waits and part bytes (`parts`
 * by hash); format 1 (written before the history log existed) from its one blob, history dropped.
 */
export function decodeCheckpoint(row: CheckpointRow, parts: Map<string, unknown>): Checkpoint {
  const { meta } = row;
  if (row.format === FORMAT_LEGACY) {
    const body = decodeBody<CheckpointBody & { history?: HistoryEntry[] }>(meta, row.body);
    const { history, ...rest } = body;
    // the history length and chain head the body's own history has (a legacy row has no columns for them)
    const h = Array.isArray(history) ? history : [];
    let head = HISTORY_GENESIS;
    for (const e of h) head = historyChain(head, sha256Hex(historyEntryText(e)));
    const cp = checkpointOf(meta, Object.assign({}, rest, { waits: rest.waits ?? [] }));
    cp.historyLength = h.length;
    cp.historyHead = head;
    return cp;
  }
  const waitsHash = sha256Hex(row.body as string | Uint8Array);
  const expected = checkpointHash(meta.parts, meta.historyLength, meta.historyHead, waitsHash);
  if (expected !== meta.hash) throw new CheckpointCorruptError(meta.sessionId, meta.seq, meta.hash, expected);
  const waits = JSON.parse(utf8(row.body)) as Wait[];
  const body: CheckpointBody = { state: null, context: null, waits };
  for (const part of CHECKPOINT_PARTS) {
    const h = meta.parts[part];
    if (h === null) continue;
    const raw = parts.get(h);
    const corrupt = (actual: string) => new CheckpointCorruptError(meta.sessionId, meta.seq, h, actual, part);
    if (raw === undefined) throw corrupt('missing');
    body[part] = verifiedJson(raw, h, corrupt);
  }
  return checkpointOf(meta, body);
}

/**
 * A checkpoint of `meta` with `body`, as one literal: in Node 20 an object made by a spread
 * (`{ ...meta, body }`) is slow to add properties to, and a turn start makes one.
 */
export function checkpointOf(meta: CheckpointMeta, body: CheckpointBody): Checkpoint {
  return {
    sessionId: meta.sessionId,
    seq: meta.seq,
    schemaVersion: meta.schemaVersion,
    writtenBy: meta.writtenBy,
    hash: meta.hash,
    size: meta.size,
    createdAt: meta.createdAt,
    parts: meta.parts,
    historyLength: meta.historyLength,
    historyHead: meta.historyHead,
    body,
  };
}

/** A stored history row as both backends read it. */
export interface HistoryRow {
  idx: number;
  hash: string;
  chain: string;
  body: unknown;
}

/**
 * Verify history rows (ascending, contiguous) and decode them: each entry's bytes against its hash,
 * and each chain link against the one before (`prevChain`: the chain before the first row, or null
 * when unknown). `head`, when given, must be the last row's chain.
 */
export function decodeHistory(
  sessionId: string,
  seq: number,
  rows: HistoryRow[],
  prevChain: string | null,
  head?: string,
): StoredHistoryEntry[] {
  let prev = prevChain;
  return rows.map((r, i) => {
    const where = `history[${r.idx}]`;
    const e = verifiedJson(
      r.body,
      r.hash,
      (a) => new CheckpointCorruptError(sessionId, seq, r.hash, a, where),
    ) as HistoryEntry;
    if (prev !== null) {
      const want = historyChain(prev, r.hash);
      if (want !== r.chain) throw new CheckpointCorruptError(sessionId, seq, r.chain, want, `${where} chain`);
    }
    if (head !== undefined && i === rows.length - 1 && r.chain !== head) {
      throw new CheckpointCorruptError(sessionId, seq, head, r.chain, 'history head');
    }
    prev = r.chain;
    return { index: r.idx, role: e.role, content: e.content, turnId: e.turnId, at: e.at };
  });
}

/**
 * Verify a stored body against its hash and parse it. `raw` is the stored value as the driver
 * returns it: bytes (SQLite BLOB) or text (PostgreSQL, or a value written as text by other tools).
 */
export function decodeBody<B>(meta: CheckpointMeta, raw: unknown): B {
  const corrupt = (actual: string) => new CheckpointCorruptError(meta.sessionId, meta.seq, meta.hash, actual);
  return verifiedJson(raw, meta.hash, corrupt) as B;
}

function checkExpectedSeq(input: { sessionId: string; expectedSeq: number }): void {
  if (!Number.isInteger(input.expectedSeq) || input.expectedSeq < 0) {
    throw new ValidationError('expectedSeq must be a non-negative integer', { sessionId: input.sessionId });
  }
}

/** A history page request's checks and defaults. */
export function historyQuery(q: HistoryQuery | undefined): {
  before: number | null;
  limit: number;
  maxBytes: number;
} {
  const before = q?.before;
  if (before !== undefined && (!Number.isInteger(before) || before < 0)) {
    throw new ValidationError('before must be a non-negative integer', { before });
  }
  const limit = q?.limit ?? DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new ValidationError(`limit must be an integer from 1 to ${MAX_PAGE}`, { limit });
  }
  const maxBytes = q?.maxBytes ?? Number.MAX_SAFE_INTEGER;
  if (!(typeof maxBytes === 'number' && maxBytes >= 0)) throw new ValidationError('maxBytes must be >= 0');
  return { before: before ?? null, limit, maxBytes };
}

/**
 * Drop the oldest rows until the rest fit in `maxBytes` (rows ascending, with their sizes). With
 * `atLeastOne` (history pages) the newest row is kept even when it alone is larger, so a reader
 * paging with a small `maxBytes` always makes progress; a turn's window has no such floor.
 */
export function fitBytes<R extends { size: number }>(rows: R[], maxBytes: number, atLeastOne = false): R[] {
  let total = 0;
  let from = rows.length;
  while (from > 0 && total + rows[from - 1]!.size <= maxBytes) {
    total += rows[from - 1]!.size;
    from--;
  }
  if (atLeastOne && from === rows.length && rows.length > 0) from = rows.length - 1;
  return from === 0 ? rows : rows.slice(from);
}

/**
 * The window a turn start reads: the one asked, or a `WindowChoice`'s for `session` (null: the
 * backend reads the window before it has the session, so the guess).
 */
export function windowFor(
  w: HistoryWindow | WindowChoice | undefined,
  session: SessionRecord | null,
): HistoryWindow | undefined {
  if (w === undefined || !('guess' in w)) return w;
  return (session ? w.of(session) : undefined) ?? w.guess;
}

/** A started turn with its checkpoint and window decoded, or with `checkpointError` when a hash check fails. */
export function startedTurn(
  lease: Lease,
  session: SessionRecord,
  routeRevision: string | null,
  historyWindow: HistoryWindow | undefined,
  decode: () => { checkpoint: Checkpoint | null; history: StoredHistoryEntry[] },
): BeginTurnResult {
  let read: { checkpoint: Checkpoint | null; history: StoredHistoryEntry[] } | undefined;
  let corrupt: CheckpointCorruptError | undefined;
  try {
    read = decode();
  } catch (e) {
    if (!(e instanceof CheckpointCorruptError)) throw e;
    corrupt = e;
  }
  const started: BeginTurnResult = {
    kind: 'started',
    lease,
    session,
    routeRevision,
    historyWindow,
    checkpoint: read ? read.checkpoint : null,
    history: read ? read.history : [],
  };
  if (corrupt) started.checkpointError = corrupt;
  return started;
}

/** The session's history retention to apply after an append, as `history` row deletions, and the marker's reason. */
export function retentionCut(
  r: HistoryRetention | undefined,
  length: number,
  now: number,
): { beforeIndex: number | null; olderThan: number | null; reason: string } {
  if (!r) return { beforeIndex: null, olderThan: null, reason: '' };
  const beforeIndex = r.maxEntries !== undefined && length > r.maxEntries ? length - r.maxEntries : null;
  const olderThan = r.maxAgeMs !== undefined ? now - r.maxAgeMs : null;
  const policy = [
    r.maxEntries !== undefined ? `maxEntries ${r.maxEntries}` : null,
    r.maxAgeMs !== undefined ? `maxAgeMs ${r.maxAgeMs}` : null,
  ];
  return { beforeIndex, olderThan, reason: `retention: ${policy.filter((x) => x !== null).join(', ')}` };
}

export function checkpointMeta(r: Row): CheckpointMeta {
  return {
    sessionId: r.session_id as string,
    seq: num(r.seq),
    schemaVersion: num(r.schema_version),
    writtenBy: r.written_by as string,
    hash: r.hash as string,
    size: num(r.size),
    createdAt: num(r.created_at),
    parts: {
      state: (r.state_hash as string | null) ?? '',
      context: (r.context_hash as string | null) ?? '',
      memory: strOrNull(r.memory_hash),
    },
    historyLength: num(r.history_length ?? 0),
    historyHead: (r.history_head as string | null) ?? HISTORY_GENESIS,
  };
}

// ---------- row mappers ----------

export function sessionFromRow(r: Row): SessionRecord {
  return {
    id: r.id as string,
    agent: r.agent as string,
    tenant: strOrNull(r.tenant),
    version: r.version as string,
    status: r.status as SessionStatus,
    seq: num(r.seq),
    tokenHash: r.token_hash as string,
    leaseOwner: strOrNull(r.lease_owner),
    leaseExpiresAt: numOrNull(r.lease_expires_at),
    leaseEpoch: num(r.lease_epoch ?? 0),
    reason: strOrNull(r.reason),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    metadata: (parseJson(r.metadata) as Record<string, unknown> | null) ?? {},
  };
}

export function versionFromRow(r: Row): VersionRecord {
  return {
    agent: r.agent as string,
    label: r.label as string,
    schemaVersion: num(r.schema_version),
    modelId: r.model_id as string,
    promptHash: r.prompt_hash as string,
    toolManifestHash: r.tool_manifest_hash as string,
    codeHash: r.code_hash as string,
    identity: r.identity as string,
    acceptsSchemas: (parseJson(r.accepts_schemas) as number[] | null) ?? [],
    downSchemas: (parseJson(r.down_schemas) as number[] | null) ?? [],
    createdAt: num(r.created_at),
    metadata: (parseJson(r.metadata) as Record<string, unknown> | null) ?? {},
  };
}

export function workerFromRow(r: Row): WorkerRecord {
  return {
    id: r.id as string,
    agent: r.agent as string,
    version: r.version as string,
    url: strOrNull(r.url),
    health: r.health as WorkerRecord['health'],
    registeredAt: num(r.registered_at),
    lastSeenAt: num(r.last_seen_at),
  };
}

export function routeFromRow(r: Row): RouteRecord {
  return {
    agent: r.agent as string,
    stable: r.stable as string,
    candidate: strOrNull(r.candidate),
    weight: num(r.weight),
    move: parseJson(r.move) as RouteRecord['move'],
    rolloutId: strOrNull(r.rollout_id),
    updatedAt: num(r.updated_at),
  };
}

export function migrationFromRow(r: Row): MigrationRecord {
  return {
    sessionId: r.session_id as string,
    seq: num(r.seq),
    fromVersion: r.from_version as string,
    toVersion: r.to_version as string,
    fromSchema: num(r.from_schema),
    toSchema: num(r.to_schema),
    contextPolicy: r.context_policy as MigrationRecord['contextPolicy'],
    rolloutId: strOrNull(r.rollout_id),
    status: r.status as MigrationRecord['status'],
    error: strOrNull(r.error),
    at: num(r.at),
  };
}

export function waitFromRow(r: Row): WaitRecord {
  return {
    token: r.token as string,
    sessionId: r.session_id as string,
    name: r.name as string,
    deadline: num(r.deadline),
    schema: parseJson(r.schema) as WaitRecord['schema'],
    createdAt: num(r.created_at),
    status: r.status as WaitRecord['status'],
  };
}

export function effectFromRow(raw: Row, cipher: RecordCipher = NO_ENCRYPTION): EffectRecord {
  const r = openEffectRow(cipher, raw);
  return {
    id: r.id as string,
    idempotencyKey: r.idempotency_key as string,
    sessionId: r.session_id as string,
    agent: r.agent as string,
    version: r.version as string,
    rolloutId: strOrNull(r.rollout_id),
    turnId: r.turn_id as string,
    name: r.name as string,
    args: parseJson(r.args),
    status: r.status as EffectStatus,
    result: parseJson(r.result),
    error: strOrNull(r.error),
    compensation: strOrNull(r.compensation),
    compensationResult: parseJson(r.compensation_result),
    compensationState: (strOrNull(r.compensation_state) ?? 'pending') as CompensationState,
    compensationReason: strOrNull(r.compensation_reason),
    compensationBy: strOrNull(r.compensation_by),
    compensationError: strOrNull(r.compensation_error),
    compensationOwner: strOrNull(r.compensation_owner),
    compensationExpiresAt: r.compensation_expires_at == null ? null : num(r.compensation_expires_at),
    compensationVersion: strOrNull(r.compensation_version),
    compensationAttempts: r.compensation_attempts == null ? 0 : num(r.compensation_attempts),
    compensates: strOrNull(r.compensates),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    attemptId: strOrNull(r.attempt_id),
    resolution: (parseJson(r.resolution) as EffectRecord['resolution']) ?? null,
  };
}

export function rolloutFromRow(r: Row): RolloutRecord {
  return {
    id: r.id as string,
    agent: r.agent as string,
    from: r.from_version as string,
    to: r.to_version as string,
    spec: parseJson(r.spec),
    phase: r.phase as RolloutRecord['phase'],
    step: num(r.step),
    state: parseJson(r.state),
    rev: num(r.rev),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

export function decisionFromRow(r: Row): Decision {
  const d: Decision = {
    rolloutId: r.rollout_id as string,
    seq: num(r.seq),
    kind: r.kind as string,
    message: r.message as string,
    at: num(r.at),
  };
  const ev = parseJson(r.evidence);
  if (ev !== null) d.evidence = ev;
  return d;
}

export function telemetryFromRow(r: Row): TurnTelemetryRecord {
  const t: TurnTelemetryRecord = {
    sessionId: r.session_id as string,
    agent: r.agent as string,
    version: r.version as string,
    turnId: r.turn_id as string,
    seq: num(r.seq),
    at: num(r.at),
    latencyMs: num(r.latency_ms),
    toolCalls: (parseJson(r.tool_calls) as Record<string, number> | null) ?? {},
    reasoningSteps: num(r.reasoning_steps),
    tokensIn: num(r.tokens_in),
    tokensOut: num(r.tokens_out),
    contextUtilization: num(r.context_utilization),
    metrics: (parseJson(r.metrics) as Record<string, number> | null) ?? {},
    signals: (parseJson(r.signals) as string[] | null) ?? [],
  };
  if (r.error !== null && r.error !== undefined) t.error = r.error as string;
  return t;
}

export function aggregateFromRow(r: Row): SessionAggregate {
  return {
    sessionId: r.session_id as string,
    agent: r.agent as string,
    version: r.version as string,
    sessionStartedAt: num(r.session_started_at),
    firstAt: num(r.first_at),
    lastAt: num(r.last_at),
    turns: num(r.turns),
    errors: num(r.errors),
    toolCalls: num(r.tool_calls),
    toolMix: (parseJson(r.tool_mix) as Record<string, number> | null) ?? {},
    reasoningSteps: num(r.reasoning_steps),
    tokensIn: num(r.tokens_in),
    tokensOut: num(r.tokens_out),
    latencyMsSum: num(r.latency_ms_sum),
    latencyMsMax: num(r.latency_ms_max),
    contextUtilizationMax: num(r.context_utilization_max),
    metrics: (parseJson(r.metrics) as SessionAggregate['metrics'] | null) ?? {},
    signals: (parseJson(r.signals) as Record<string, number> | null) ?? {},
    completed: r.completed === true || num(r.completed) === 1,
  };
}

export function emptyCounts(): Record<SessionStatus, number> {
  const o = {} as Record<SessionStatus, number>;
  for (const s of SESSION_STATUSES) o[s] = 0;
  return o;
}

// ---------- telemetry helpers ----------

/** The increments one turn contributes to its session aggregate. */
export interface AggregateDelta {
  turns: number;
  errors: number;
  toolCalls: number;
  toolMix: Record<string, number>;
  reasoningSteps: number;
  tokensIn: number;
  tokensOut: number;
  latencyMs: number;
  contextUtilization: number;
  metrics: Record<string, { sum: number; count: number }>;
  signals: Record<string, number>;
}

/**
 * An object without a prototype, for maps keyed by names a worker or evaluator chooses: a metric
 * named `toString`, `constructor` or `__proto__` is an ordinary key there, never an inherited member.
 */
function dict<T>(from: Record<string, T> = {}): Record<string, T> {
  const out = Object.create(null) as Record<string, T>;
  for (const [k, v] of Object.entries(from)) out[k] = v;
  return out;
}

/** The `turn_telemetry` columns a turn's row is written with, on both backends. */
export const TELEMETRY_COLUMNS = `session_id, agent, version, turn_id, seq, at, latency_ms, tool_calls,
      reasoning_steps, tokens_in, tokens_out, context_utilization, metrics, signals, error`;

/** The SQL types of `telemetryMeasures`, in its order. */
export const TELEMETRY_MEASURE_TYPES = [
  'float8',
  'text',
  'int',
  'bigint',
  'bigint',
  'float8',
  'text',
  'text',
  'text',
] as const;

/**
 * A telemetry row's measured values in column order, latency_ms through error (the columns after
 * session, agent, version, turn id, seq and at), as both backends write them.
 */
export function telemetryMeasures(t: TurnTelemetry): unknown[] {
  return [
    t.latencyMs ?? 0,
    JSON.stringify(t.toolCalls ?? {}),
    t.reasoningSteps ?? 0,
    t.tokensIn ?? 0,
    t.tokensOut ?? 0,
    t.contextUtilization ?? 0,
    JSON.stringify(t.metrics ?? {}),
    JSON.stringify(t.signals ?? []),
    t.error ?? null,
  ];
}

export function turnDelta(t: TurnTelemetry): AggregateDelta {
  let toolCalls = 0;
  for (const v of Object.values(t.toolCalls ?? {})) toolCalls += v;
  const metrics = dict<{ sum: number; count: number }>();
  for (const [k, v] of Object.entries(t.metrics ?? {})) metrics[k] = { sum: v, count: 1 };
  const signals = dict<number>();
  for (const s of t.signals ?? []) signals[s] = (signals[s] ?? 0) + 1;
  return {
    turns: 1,
    errors: t.error ? 1 : 0,
    toolCalls,
    toolMix: dict(t.toolCalls ?? {}),
    reasoningSteps: t.reasoningSteps ?? 0,
    tokensIn: t.tokensIn ?? 0,
    tokensOut: t.tokensOut ?? 0,
    latencyMs: t.latencyMs ?? 0,
    contextUtilization: t.contextUtilization ?? 0,
    metrics,
    signals,
  };
}

export function metricsDelta(m: {
  metrics?: Record<string, number>;
  signals?: Record<string, number>;
}): AggregateDelta {
  const metrics = dict<{ sum: number; count: number }>();
  for (const [k, v] of Object.entries(m.metrics ?? {})) metrics[k] = { sum: v, count: 1 };
  return {
    turns: 0,
    errors: 0,
    toolCalls: 0,
    toolMix: {},
    reasoningSteps: 0,
    tokensIn: 0,
    tokensOut: 0,
    latencyMs: 0,
    contextUtilization: 0,
    metrics,
    signals: dict(m.signals ?? {}),
  };
}

/**
 * The aggregate merge of count maps (tool mix, signals), as SQLite runs it inside its write
 * transaction; PostgreSQL runs the same rule in SQL (see `aggregateUpsert` in postgres.ts).
 */
export function mergeCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = dict(a);
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

export function mergeMetrics(
  a: Record<string, { sum: number; count: number }>,
  b: Record<string, { sum: number; count: number }>,
): Record<string, { sum: number; count: number }> {
  const out = dict<{ sum: number; count: number }>();
  for (const [k, v] of Object.entries(a)) out[k] = { sum: v.sum, count: v.count };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = cur ? { sum: cur.sum + v.sum, count: cur.count + v.count } : { sum: v.sum, count: v.count };
  }
  return out;
}

// ---------- effects ----------

export type EffectOp = 'commit' | 'fail';

/** The status an op requires and the status it yields. Repeating an op that already happened is a no-op. */
export const EFFECT_TRANSITIONS: Record<EffectOp, { from: EffectStatus; to: EffectStatus }> = {
  commit: { from: 'intent', to: 'committed' },
  fail: { from: 'intent', to: 'failed' },
};

export function effectConflict(key: string, op: EffectOp, status: EffectStatus): BatonError {
  return new BatonError('CONFLICT', `cannot ${op} effect ${key}: it is ${status}`, {
    idempotencyKey: key,
    op,
    status,
  });
}

// ---------- errors shared by the backends ----------

export function versionNotFound(agent: string, label: string): NotFoundError {
  return new NotFoundError('VERSION_NOT_FOUND', `version ${agent}/${label} not found`, { agent, label });
}

/** `rec` is registered under `v`'s agent and label; a different identity there is a conflict. */
/** The manifest fields that must agree when a version is registered again (the identity alone is client-supplied). */
const VERSION_FIELDS = [
  'schemaVersion',
  'modelId',
  'promptHash',
  'toolManifestHash',
  'codeHash',
  'acceptsSchemas',
  'downSchemas',
] as const;

function sameField(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    const sa = [...new Set(a as number[])].sort((x, y) => x - y);
    const sb = [...new Set(b as number[])].sort((x, y) => x - y);
    return sa.length === sb.length && sa.every((x, i) => x === sb[i]);
  }
  return a === b;
}

/**
 * Registering a version again is idempotent only for the same manifest: a different identity, or
 * the same identity with contradicting fields, is VERSION_CONFLICT.
 */
export function checkSameVersion(v: Omit<VersionRecord, 'createdAt'>, rec: VersionRecord): void {
  if (rec.identity !== v.identity) {
    throw new BatonError(
      'VERSION_CONFLICT',
      `version ${v.agent}/${v.label} is already registered with a different identity`,
      { agent: v.agent, label: v.label, identity: rec.identity, requested: v.identity },
    );
  }
  const differ = VERSION_FIELDS.filter((f) => !sameField(rec[f] ?? [], v[f] ?? []));
  if (differ.length > 0) {
    throw new BatonError(
      'VERSION_CONFLICT',
      `version ${v.agent}/${v.label} is already registered with the same identity but a different ${differ.join(', ')}`,
      { agent: v.agent, label: v.label, identity: rec.identity, fields: differ },
    );
  }
}

export function workerNotFound(id: string): NotFoundError {
  return new NotFoundError('WORKER_NOT_FOUND', `worker ${id} not found`, { id });
}

export function waitNotFound(token: string): NotFoundError {
  return new NotFoundError('WAIT_NOT_FOUND', `wait ${token} not found`, { token });
}

export function sessionExists(id: string): BatonError {
  return new BatonError('CONFLICT', `session ${id} already exists`, { sessionId: id });
}

export function rolloutRevConflict(id: string, expectedRev: number, actualRev: number): BatonError {
  return new BatonError('CONFLICT', `rollout ${id}: expected rev ${expectedRev}, store has ${actualRev}`, {
    rolloutId: id,
    expectedRev,
    actualRev,
  });
}

export function checkRouteWeight(weight: number): void {
  if (!(weight >= 0 && weight <= 100)) throw new ValidationError('route weight must be within 0..100');
}

export function checkKeep(keep: number): void {
  if (!Number.isInteger(keep) || keep < 1) throw new ValidationError('keep must be an integer >= 1');
}

export function sessionNotFound(id: string): NotFoundError {
  return new NotFoundError('SESSION_NOT_FOUND', `session ${id} not found`, { sessionId: id });
}

export function checkpointNotFound(sessionId: string, seq: number): NotFoundError {
  return new NotFoundError('CHECKPOINT_NOT_FOUND', `checkpoint ${sessionId}#${seq} not found`, {
    sessionId,
    seq,
  });
}

export function effectNotFound(key: string): NotFoundError {
  return new NotFoundError('EFFECT_NOT_FOUND', `effect ${key} not found`, { idempotencyKey: key });
}

export function rolloutNotFound(id: string): NotFoundError {
  return new NotFoundError('ROLLOUT_NOT_FOUND', `rollout ${id} not found`, { rolloutId: id });
}

export function leaseLost(sessionId: string, owner: string, holder: string | null): BatonError {
  return new BatonError('LEASE_LOST', `session ${sessionId}: the lease is no longer held by ${owner}`, {
    sessionId,
    owner,
    holder,
  });
}

export function sessionConflict(id: string, expect: SessionExpectation, s: SessionRecord): BatonError {
  return new BatonError('CONFLICT', `session ${id} does not match the expected state`, {
    sessionId: id,
    expected: expect,
    actual: { status: s.status, version: s.version, seq: s.seq },
  });
}
