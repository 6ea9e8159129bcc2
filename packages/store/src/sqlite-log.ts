/**
 * SQLite: checkpoints as manifest + content-addressed parts, and the session history log.
 * Every function here runs inside the caller's transaction (the store's write or read), on the
 * store's prepared statements; see the layout in the history-log migration (schema/migrations.ts).
 */
import { HISTORY_GENESIS } from '@baton/core';
import type {
  Checkpoint,
  CheckpointMeta,
  PartHashes,
  HistoryPage,
  HistoryQuery,
  HistoryWindow,
  StoredHistoryEntry,
} from '@baton/core';
import type { AppendCheckpointInput } from './store';
import { FORMAT_LEGACY, FORMAT_PARTS, finishAppend, fitBytes, historyQuery, retentionCut } from './common';
import type { EncodedAppend, PreviousCheckpoint, Row } from './common';
import { CheckpointCache } from './checkpoint-cache';
import { Deferred, LogCache, cachedEntry, parseEntries, type CachedEntry } from './log-cache';
import type { GuardedStatement } from './sqlite-guard';
import {
  appendedPrev,
  historyValues,
  legacyRows,
  openCheckpoint,
  previousFromRow,
  verifyLogSlice,
} from './log-rows';
import type { LogRow } from './log-rows';
import { NO_ENCRYPTION } from './cipher';
import type { RecordCipher } from './cipher';
import { entryPlace, partPlace, sealBytes, waitsPlace } from './sealed';

type St = (sql: string) => GuardedStatement;

const CP_COLUMNS =
  'session_id, seq, schema_version, written_by, hash, size, created_at, format, state_hash, context_hash, memory_hash, history_length, history_head, body';
const CP_PREFIXED = CP_COLUMNS.split(', ')
  .map((c) => `c.${c}`)
  .join(', ');
const PART_BODIES = 'ps.body AS p_state, pc.body AS p_context, pm.body AS p_memory';
const PART_JOINS = `LEFT JOIN checkpoint_parts ps ON ps.session_id = c.session_id AND ps.hash = c.state_hash
  LEFT JOIN checkpoint_parts pc ON pc.session_id = c.session_id AND pc.hash = c.context_hash
  LEFT JOIN checkpoint_parts pm ON pm.session_id = c.session_id AND pm.hash = c.memory_hash`;

/**
 * The checkpoint row reads, without and with the parts' bodies: built once, so a turn's statement
 * lookup hashes no freshly built SQL text.
 */
const ROW_SQL = [false, true].map((parts) => {
  const cols = parts ? `${CP_PREFIXED}, ${PART_BODIES}` : CP_COLUMNS;
  const from = parts ? `checkpoints c ${PART_JOINS}` : 'checkpoints c';
  return {
    latest: `SELECT ${cols} FROM ${from} WHERE c.session_id = ? ORDER BY c.seq DESC LIMIT 1`,
    at: `SELECT ${cols} FROM ${from} WHERE c.session_id = ? AND c.seq = ?`,
  };
});

/** The INSERT of `n` history entries (1–4), built once per `n`. */
const HISTORY_INSERT = [1, 2, 3, 4].map(
  (n) =>
    `INSERT INTO history (session_id, idx, turn_id, role, at, size, hash, chain, body) VALUES ${Array.from(
      { length: n },
      () => '(?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ).join(', ')}`,
);

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
    private readonly checkpoints: CheckpointCache = new CheckpointCache(),
  ) {}

  /** The stored row of checkpoint `seq` (or the latest), undecoded; with `parts`, their bodies too (one read). */
  row(sessionId: string, seq: number | 'latest', parts = false): Row | undefined {
    const q = ROW_SQL[parts ? 1 : 0]!;
    return (seq === 'latest' ? this.st(q.latest).get(sessionId) : this.st(q.at).get(sessionId, seq)) as
      Row | undefined;
  }

  /**
   * The latest checkpoint, verified: against the bytes this process wrote when they are the stored
   * ones (`CheckpointCache`), else by its hashes.
   */
  latest(sessionId: string): Checkpoint | null {
    const r = this.row(sessionId, 'latest', true);
    if (!r) return null;
    return this.checkpoints.open(sessionId, r) ?? this.decode(r);
  }

  /** Decode and verify a checkpoint row read with `row(…, parts = true)`. */
  decode(r: Row): Checkpoint {
    const { checkpoint: cp, prev } = openCheckpoint(r, r, this.cipher);
    if (prev) this.deferred.add(() => this.cache.rememberPrevious(cp.sessionId, cp.seq, prev));
    return cp;
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
    return r ? previousFromRow(r) : null;
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
        args.push(...historyValues(sid, e, sealBytes(this.cipher, e.bytes, entryPlace(sid, e.index))));
      this.st(HISTORY_INSERT[chunk.length - 1]!).run(...args);
    }
    const pinned = input.migration ? 1 : 0;
    const storedWaits = sealBytes(this.cipher, Buffer.from(enc.waitsText, 'utf8'), waitsPlace(sid, seq));
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
      storedWaits,
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
    const next = appendedPrev(done, enc, prev);
    const added: CachedEntry[] = done.entries.map((e) =>
      cachedEntry(e.index, e.bytes.length, e.bytes.toString('utf8')),
    );
    this.deferred.add(() => {
      if (!this.cipher.enabled) this.checkpoints.wrote(sid, meta, storedWaits, enc.waitsText, enc.parts);
      this.cache.rememberPrevious(sid, seq, next);
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
    const { beforeIndex, olderThan, reason } = retentionCut(input.retention, length, now);
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
    this.st(
      `INSERT INTO history_trims (session_id, before_idx, chain, at, reason) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (session_id) DO UPDATE SET before_idx = excluded.before_idx, chain = excluded.chain,
         at = excluded.at, reason = excluded.reason`,
    ).run(sid, cut, last.chain, now, reason);
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
    ).all(sid, Math.max(0, from - 1), to) as LogRow[];
    const trim = () => {
      const t = this.trim(sid);
      return t && { before: t.before_idx, chain: t.chain };
    };
    const slice = verifyLogSlice(sid, seq, rows, from, to, maxBytes, atLeastOne, trim, head, this.cipher);
    // the verified rows, for the cache: only a slice that reaches the head is worth keeping
    const verified: CachedEntry[] =
      head === undefined || !slice.whole
        ? []
        : slice.opened.map((r) => cachedEntry(r.idx, r.size, r.body.toString('utf8')));
    return { entries: slice.entries, rows: verified };
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
      const up = legacyRows(r, false);
      if (!up) continue;
      const insPart = this.st(
        'INSERT INTO checkpoint_parts (session_id, hash, size, body) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      );
      for (const p of up.parts) insPart.run(...p);
      const insEntry = this.st(
        'INSERT INTO history (session_id, idx, turn_id, role, at, size, hash, chain, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      for (const e of up.entries) insEntry.run(...e);
      const [sid, seq, ...columns] = up.checkpoint;
      this.st(
        `UPDATE checkpoints SET format = ${FORMAT_PARTS}, hash = ?, size = ?, body = ?, state_hash = ?, context_hash = ?,
           memory_hash = ?, history_length = ?, history_head = ? WHERE session_id = ? AND seq = ?`,
      ).run(...columns, sid, seq);
      n++;
    }
    this.st(
      `UPDATE checkpoints SET pinned = 1 WHERE EXISTS (SELECT 1 FROM migrations m WHERE m.session_id = checkpoints.session_id
         AND m.status = 'ok' AND (m.seq = checkpoints.seq OR m.seq - 1 = checkpoints.seq))`,
    ).run();
    return n;
  }
}
