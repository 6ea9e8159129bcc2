/**
 * SQLite: checkpoints as manifest + content-addressed parts, and the session history log.
 * Every function here runs inside the caller's transaction (the store's write or read), on the
 * store's prepared statements; see the layout in the history-log migration (schema/migrations.ts).
 */
import type { Statement } from 'better-sqlite3';
import { CHECKPOINT_PARTS, CheckpointCorruptError, HISTORY_GENESIS, sha256Hex } from '@baton/core';
import type {
  Checkpoint,
  CheckpointBody,
  CheckpointMeta,
  HistoryEntry,
  PartHashes,
  HistoryPage,
  HistoryQuery,
  HistoryWindow,
  StoredHistoryEntry,
} from '@baton/core';
import type { AppendCheckpointInput } from './store';
import {
  FORMAT_LEGACY,
  FORMAT_PARTS,
  checkpointMeta,
  decodeCheckpoint,
  decodeHistory,
  encodeAppend,
  finishAppend,
  fitBytes,
  historyQuery,
  retentionCut,
} from './common';
import type { EncodedAppend, HistoryRow, PreviousCheckpoint, Row } from './common';
import { Deferred, LogCache, parseEntries, type CachedEntry } from './log-cache';
import { NO_ENCRYPTION } from './cipher';
import type { RecordCipher } from './cipher';
import { entryPlace, openCheckpointRecord, partPlace, sealBytes, waitsPlace } from './sealed';

type St = (sql: string) => Statement;

const CP_COLUMNS =
  'session_id, seq, schema_version, written_by, hash, size, created_at, format, state_hash, context_hash, memory_hash, history_length, history_head, body';
const CP_PREFIXED = CP_COLUMNS.split(', ')
  .map((c) => `c.${c}`)
  .join(', ');
const PART_BODIES = 'ps.body AS p_state, pc.body AS p_context, pm.body AS p_memory';
const PART_JOINS = `LEFT JOIN checkpoint_parts ps ON ps.session_id = c.session_id AND ps.hash = c.state_hash
  LEFT JOIN checkpoint_parts pc ON pc.session_id = c.session_id AND pc.hash = c.context_hash
  LEFT JOIN checkpoint_parts pm ON pm.session_id = c.session_id AND pm.hash = c.memory_hash`;

interface TrimRow {
  before_idx: number;
  chain: string;
  at: number;
  reason: string;
}

/** The checkpoint and history half of the SQLite store. */
export class SqliteLog {
  /** Cache changes made in the open write transaction, applied by the store when it commits. */
  readonly deferred = new Deferred();

  constructor(
    private readonly st: St,
    private readonly keep: number,
    private readonly cache: LogCache = new LogCache(),
    private readonly cipher: RecordCipher = NO_ENCRYPTION,
  ) {}

  /** The stored row of checkpoint `seq` (or the latest), undecoded; with `parts`, their bodies too (one read). */
  row(sessionId: string, seq: number | 'latest', parts = false): Row | undefined {
    const cols = parts ? `${CP_PREFIXED}, ${PART_BODIES}` : CP_COLUMNS;
    const from = parts ? `checkpoints c ${PART_JOINS}` : 'checkpoints c';
    return seq === 'latest'
      ? (this.st(`SELECT ${cols} FROM ${from} WHERE c.session_id = ? ORDER BY c.seq DESC LIMIT 1`).get(
          sessionId,
        ) as Row | undefined)
      : (this.st(`SELECT ${cols} FROM ${from} WHERE c.session_id = ? AND c.seq = ?`).get(sessionId, seq) as
          Row | undefined);
  }

  /** Decode and verify a checkpoint row read with `row(…, parts = true)`. */
  decode(r: Row): Checkpoint {
    const meta = checkpointMeta(r);
    const format = Number(r.format);
    const parts = new Map<string, unknown>();
    if (format === FORMAT_PARTS) {
      for (const part of CHECKPOINT_PARTS) {
        const h = meta.parts[part];
        const b = r[`p_${part}`] as Buffer | null | undefined;
        if (h !== null && b !== null && b !== undefined)
          parts.set(h, openCheckpointRecord(this.cipher, b, partPlace(meta.sessionId, h), meta.seq, part));
      }
      const waits = openCheckpointRecord(
        this.cipher,
        r.body,
        waitsPlace(meta.sessionId, meta.seq),
        meta.seq,
        'waits',
      );
      const cp = decodeCheckpoint({ meta, format, body: waits }, parts);
      const size = (h: string | null): number =>
        h === null ? 0 : ((parts.get(h) as Buffer | undefined)?.length ?? 0);
      const prev: PreviousCheckpoint = {
        parts: meta.parts,
        partSizes: {
          state: size(meta.parts.state),
          context: size(meta.parts.context),
          memory: size(meta.parts.memory),
        },
        historyLength: meta.historyLength,
        historyHead: meta.historyHead,
      };
      this.deferred.add(() => this.cache.rememberPrevious(meta.sessionId, meta.seq, prev));
      return cp;
    }
    return decodeCheckpoint({ meta, format, body: r.body }, parts);
  }

  /** What an append needs of checkpoint `seq` (null before the first). Format-1 rows have been upgraded. */
  previous(sessionId: string, seq: number): PreviousCheckpoint | null {
    if (seq === 0) return null;
    const known = this.cache.previous(sessionId, seq);
    if (known) return known;
    const r = this.st(
      `SELECT c.format, c.state_hash, c.context_hash, c.memory_hash, c.history_length, c.history_head,
         (SELECT size FROM checkpoint_parts p WHERE p.session_id = c.session_id AND p.hash = c.state_hash) AS ss,
         (SELECT size FROM checkpoint_parts p WHERE p.session_id = c.session_id AND p.hash = c.context_hash) AS cs,
         (SELECT size FROM checkpoint_parts p WHERE p.session_id = c.session_id AND p.hash = c.memory_hash) AS ms
       FROM checkpoints c WHERE c.session_id = ? AND c.seq = ?`,
    ).get(sessionId, seq) as Row | undefined;
    if (!r) return null;
    return {
      parts: {
        state: (r.state_hash as string | null) ?? '',
        context: (r.context_hash as string | null) ?? '',
        memory: (r.memory_hash as string | null) ?? null,
      },
      partSizes: { state: Number(r.ss ?? 0), context: Number(r.cs ?? 0), memory: Number(r.ms ?? 0) },
      historyLength: Number(r.history_length),
      historyHead: (r.history_head as string | null) ?? HISTORY_GENESIS,
    };
  }

  /**
   * Write checkpoint `seq` of an append whose seq CAS already succeeded: parts, history entries,
   * the checkpoint row, pins for a migration, retention and compaction.
   */
  write(input: AppendCheckpointInput, enc: EncodedAppend, seq: number, now: number): CheckpointMeta {
    const sid = input.sessionId;
    const prev = this.previous(sid, input.expectedSeq);
    const done = finishAppend(input, enc, prev, seq, now);
    const meta = done.meta;
    if (enc.parts.length > 0) {
      const ins = this.st(
        'INSERT INTO checkpoint_parts (session_id, hash, size, body) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      );
      for (const p of enc.parts)
        ins.run(sid, p.hash, p.bytes.length, sealBytes(this.cipher, p.bytes, partPlace(sid, p.hash)));
    }
    // a turn's entries in as few statements as possible (one for up to four entries)
    for (let i = 0; i < done.entries.length; i += 4) {
      const chunk = done.entries.slice(i, i + 4);
      const args: unknown[] = [];
      for (const e of chunk)
        args.push(
          sid,
          e.index,
          e.turnId,
          e.role,
          e.at,
          e.bytes.length,
          e.hash,
          e.chain,
          sealBytes(this.cipher, e.bytes, entryPlace(sid, e.index)),
        );
      this.st(
        `INSERT INTO history (session_id, idx, turn_id, role, at, size, hash, chain, body) VALUES ${chunk
          .map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)')
          .join(', ')}`,
      ).run(...args);
    }
    const pinned = input.migration ? 1 : 0;
    this.st(
      `INSERT INTO checkpoints (session_id, seq, schema_version, written_by, hash, size, created_at, body, format,
         state_hash, context_hash, memory_hash, history_length, history_head, pinned)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      sid,
      seq,
      input.schemaVersion,
      input.writtenBy,
      meta.hash,
      meta.size,
      now,
      sealBytes(this.cipher, Buffer.from(enc.waitsText, 'utf8'), waitsPlace(sid, seq)),
      FORMAT_PARTS,
      meta.parts.state,
      meta.parts.context,
      meta.parts.memory,
      meta.historyLength,
      meta.historyHead,
      pinned,
    );
    if (pinned && input.expectedSeq > 0) {
      this.st('UPDATE checkpoints SET pinned = 1 WHERE session_id = ? AND seq = ?').run(
        sid,
        input.expectedSeq,
      );
    }
    const trimmedTo = input.retention
      ? this.retain(sid, input, meta.historyLength, now, done.entries[0]?.index ?? meta.historyLength)
      : undefined;
    this.compact(sid, seq, this.keep, meta.parts);
    const sizes = { state: 0, context: 0, memory: 0 };
    for (const part of CHECKPOINT_PARTS) sizes[part] = prev?.partSizes[part] ?? 0;
    for (const p of enc.parts) sizes[p.part] = p.bytes.length;
    const added: CachedEntry[] = done.entries.map((e) => ({
      index: e.index,
      size: e.bytes.length,
      hash: e.hash,
      chain: e.chain,
      text: e.bytes.toString('utf8'),
    }));
    this.deferred.add(() => {
      this.cache.rememberPrevious(sid, seq, {
        parts: meta.parts,
        partSizes: sizes,
        historyLength: meta.historyLength,
        historyHead: meta.historyHead,
      });
      this.cache.extend(
        sid,
        prev?.historyLength ?? 0,
        prev?.historyHead ?? HISTORY_GENESIS,
        meta.historyLength,
        meta.historyHead,
        trimmedTo,
        added,
      );
    });
    return meta;
  }

  /**
   * Apply a retention policy: delete old entries (never `keepFrom` and later) and record the
   * marker. Returns the log's new lowest index when entries were removed.
   */
  private retain(
    sid: string,
    input: AppendCheckpointInput,
    length: number,
    now: number,
    keepFrom: number,
  ): number | undefined {
    const { beforeIndex, olderThan } = retentionCut(input.retention, length, now);
    let cut = beforeIndex ?? 0;
    if (olderThan !== null) {
      const r = this.st('SELECT min(idx) AS i FROM history WHERE session_id = ? AND at >= ?').get(
        sid,
        olderThan,
      ) as {
        i: number | null;
      };
      cut = Math.max(cut, r.i ?? length);
    }
    cut = Math.min(cut, keepFrom);
    const trim = this.st('SELECT before_idx FROM history_trims WHERE session_id = ?').get(sid) as
      { before_idx: number } | undefined;
    if (cut <= (trim?.before_idx ?? 0)) return undefined;
    const last = this.st('SELECT chain FROM history WHERE session_id = ? AND idx = ?').get(sid, cut - 1) as
      { chain: string } | undefined;
    if (!last) return undefined;
    const removed = this.st('DELETE FROM history WHERE session_id = ? AND idx < ?').run(sid, cut).changes;
    if (removed === 0) return undefined;
    const r = input.retention!;
    const reason = [
      r.maxEntries !== undefined ? `maxEntries ${r.maxEntries}` : null,
      r.maxAgeMs !== undefined ? `maxAgeMs ${r.maxAgeMs}` : null,
    ]
      .filter((x) => x !== null)
      .join(', ');
    this.st(
      `INSERT INTO history_trims (session_id, before_idx, chain, at, reason) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (session_id) DO UPDATE SET before_idx = excluded.before_idx, chain = excluded.chain,
         at = excluded.at, reason = excluded.reason`,
    ).run(sid, cut, last.chain, now, `retention: ${reason}`);
    return cut;
  }

  /** Delete checkpoints at or below `seq - keep` that are not pinned, and the parts only they used. */
  compact(sid: string, seq: number, keep: number, inUse?: PartHashes): number {
    const limit = seq - keep;
    if (limit < 1) return 0;
    const doomed = this.st(
      `DELETE FROM checkpoints WHERE session_id = ? AND seq <= ? AND pinned = 0
       RETURNING state_hash, context_hash, memory_hash`,
    ).all(sid, limit) as Row[];
    if (doomed.length === 0) return 0;
    const hashes = new Set<string>();
    for (const r of doomed)
      for (const c of ['state_hash', 'context_hash', 'memory_hash'])
        if (typeof r[c] === 'string') hashes.add(r[c]);
    // parts the newest checkpoint uses are referenced: no need to ask
    if (inUse) for (const h of [inUse.state, inUse.context, inUse.memory]) if (h !== null) hashes.delete(h);
    const del = this.st(
      `DELETE FROM checkpoint_parts WHERE session_id = @sid AND hash = @h AND NOT EXISTS (
         SELECT 1 FROM checkpoints WHERE session_id = @sid AND (state_hash = @h OR context_hash = @h OR memory_hash = @h))`,
    );
    for (const h of hashes) del.run({ sid, h });
    return doomed.length;
  }

  private trim(sid: string): TrimRow | undefined {
    return this.st('SELECT before_idx, chain, at, reason FROM history_trims WHERE session_id = ?').get(
      sid,
    ) as TrimRow | undefined;
  }

  /**
   * Entries [from, to) of the log, verified: each against its hash, the chain from the entry
   * before `from` (or the retention marker, or the genesis), and `head` against the last when given.
   */
  private entries(
    sid: string,
    seq: number,
    from: number,
    to: number,
    maxBytes: number,
    head: string | undefined,
    atLeastOne: boolean,
  ): { entries: StoredHistoryEntry[]; rows: CachedEntry[] } {
    if (to <= from) return { entries: [], rows: [] };
    const rows = this.st(
      'SELECT idx, size, hash, chain, body FROM history WHERE session_id = ? AND idx >= ? AND idx < ? ORDER BY idx',
    ).all(sid, Math.max(0, from - 1), to) as Array<{
      idx: number;
      size: number;
      hash: string;
      chain: string;
      body: Buffer;
    }>;
    let prevChain: string | null = null;
    let body = rows;
    if (rows[0] && rows[0].idx === from - 1) {
      prevChain = rows[0].chain;
      body = rows.slice(1);
    }
    // every index in [from, to) must be there: a missing entry is corruption
    for (let i = 0; i < to - from; i++) {
      if (body[i]?.idx !== from + i)
        throw new CheckpointCorruptError(sid, seq, 'present', 'missing', `history[${from + i}]`);
    }
    const fitted = fitBytes(body, maxBytes, atLeastOne).map((r) => ({
      ...r,
      body: openCheckpointRecord(
        this.cipher,
        r.body,
        entryPlace(sid, r.idx),
        seq,
        `history[${r.idx}]`,
      ) as Buffer,
    }));
    if (fitted.length !== body.length) prevChain = body[body.length - fitted.length - 1]!.chain;
    const first = fitted[0];
    if (first && prevChain === null) {
      if (first.idx === 0) prevChain = HISTORY_GENESIS;
      else {
        const t = this.trim(sid);
        if (t && t.before_idx === first.idx) prevChain = t.chain;
      }
    }
    if (first && prevChain === null) {
      // the entry before is missing and no marker explains it
      throw new CheckpointCorruptError(sid, seq, 'present', 'missing', `history[${first.idx - 1}]`);
    }
    const mapped: HistoryRow[] = fitted.map((r) => ({
      index: r.idx,
      hash: r.hash,
      chain: r.chain,
      body: r.body,
    }));
    const entries = decodeHistory(sid, seq, mapped, prevChain, head);
    // the verified rows, for the cache: only a slice that reaches the head is worth keeping
    const verified: CachedEntry[] =
      head === undefined || fitted.length !== body.length
        ? []
        : fitted.map((r) => ({
            index: r.idx,
            size: r.size,
            hash: r.hash,
            chain: r.chain,
            text: r.body.toString('utf8'),
          }));
    return { entries, rows: verified };
  }

  /**
   * The newest entries of a checkpoint's history within `window` (verified up to its head), from
   * this process's cache when it holds them for exactly this head.
   */
  window(cp: CheckpointMeta, w: HistoryWindow): StoredHistoryEntry[] {
    if (w.entries <= 0 || cp.historyLength === 0) return [];
    const sid = cp.sessionId;
    const cached = this.cache.window(sid, cp.historyLength, cp.historyHead, cp.historyLength - w.entries);
    if (cached) return parseEntries(fitBytes(cached.entries, w.bytes));
    const t = this.trim(sid);
    const floor = t?.before_idx ?? 0;
    const from = Math.max(cp.historyLength - w.entries, floor);
    const { entries, rows } = this.entries(
      sid,
      cp.seq,
      from,
      cp.historyLength,
      w.bytes,
      cp.historyHead,
      false,
    );
    this.deferred.add(() => this.cache.put(sid, cp.historyLength, cp.historyHead, floor, rows));
    return entries;
  }

  /** One page of the history log (see Store.readHistory); `latest` is the latest checkpoint's meta, if any. */
  page(sid: string, latest: CheckpointMeta | null, q: HistoryQuery | undefined): HistoryPage {
    const { before, limit, maxBytes } = historyQuery(q);
    const total = latest?.historyLength ?? 0;
    const t = this.trim(sid);
    const floor = t?.before_idx ?? 0;
    const to = Math.min(before ?? total, total);
    const from = Math.max(floor, to - limit);
    const head = to === total && latest ? latest.historyHead : undefined;
    const { entries } = this.entries(sid, latest?.seq ?? 0, from, to, maxBytes, head, true);
    const firstIdx = entries[0]?.index ?? to;
    return {
      sessionId: sid,
      entries,
      total,
      nextBefore: firstIdx > floor ? firstIdx : null,
      trimmed: t ? { before: t.before_idx, at: Number(t.at), reason: t.reason } : null,
    };
  }

  /**
   * Upgrade the checkpoints written before the history log (format 1): each session's latest one is
   * rewritten in place as format 2 (same seq), its history moved into the log; older format-1 rows
   * stay readable until compaction removes them. Runs inside the migration's transaction.
   */
  upgradeLegacy(): number {
    const latest = this.st(
      `SELECT ${CP_COLUMNS} FROM checkpoints c WHERE format = ${FORMAT_LEGACY}
         AND seq = (SELECT max(seq) FROM checkpoints WHERE session_id = c.session_id)`,
    ).all() as Row[];
    let n = 0;
    for (const r of latest) {
      const meta = checkpointMeta(r);
      let body: (CheckpointBody & { history?: HistoryEntry[] }) | null = null;
      try {
        const raw = r.body as Buffer | string;
        if (sha256Hex(raw) === meta.hash)
          body = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8')) as typeof body;
      } catch {
        body = null;
      }
      // a corrupt legacy checkpoint is left as it is: reading it quarantines the session
      if (!body) continue;
      this.rewriteLegacy(meta, body);
      n++;
    }
    this.st(
      `UPDATE checkpoints SET pinned = 1 WHERE EXISTS (SELECT 1 FROM migrations m WHERE m.session_id = checkpoints.session_id
         AND m.status = 'ok' AND (m.seq = checkpoints.seq OR m.seq - 1 = checkpoints.seq))`,
    ).run();
    return n;
  }

  private rewriteLegacy(meta: CheckpointMeta, body: CheckpointBody & { history?: HistoryEntry[] }): void {
    const sid = meta.sessionId;
    const history = Array.isArray(body.history) ? body.history : [];
    // a legacy body is one unit: its history becomes entries 0..n-1 of the log, chained from the genesis
    const { history: _h, ...rest } = body;
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
      history,
    };
    const enc = encodeLegacy(input);
    const done = finishAppend(input, enc, null, meta.seq, meta.createdAt);
    const insPart = this.st(
      'INSERT INTO checkpoint_parts (session_id, hash, size, body) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    );
    for (const p of enc.parts) insPart.run(sid, p.hash, p.bytes.length, p.bytes);
    const insEntry = this.st(
      'INSERT INTO history (session_id, idx, turn_id, role, at, size, hash, chain, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (const e of done.entries)
      insEntry.run(sid, e.index, e.turnId, e.role, e.at, e.bytes.length, e.hash, e.chain, e.bytes);
    this.st(
      `UPDATE checkpoints SET format = ?, hash = ?, size = ?, body = ?, state_hash = ?, context_hash = ?, memory_hash = ?,
         history_length = ?, history_head = ? WHERE session_id = ? AND seq = ?`,
    ).run(
      FORMAT_PARTS,
      done.meta.hash,
      done.meta.size,
      Buffer.from(enc.waitsText, 'utf8'),
      done.meta.parts.state,
      done.meta.parts.context,
      done.meta.parts.memory,
      done.meta.historyLength,
      done.meta.historyHead,
      sid,
      meta.seq,
    );
  }
}

/** A legacy body re-encoded without size limits (it was accepted by the release that wrote it). */
function encodeLegacy(input: AppendCheckpointInput): EncodedAppend {
  return encodeAppend(input, { maxCheckpointBytes: Infinity, maxHistoryEntryBytes: Infinity });
}
