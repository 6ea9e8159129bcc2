/**
 * PostgreSQL: checkpoints as manifest + content-addressed parts, and the session history log
 * (the layout of the history-log migration in schema/migrations.ts). The statements here are
 * fragments and whole reads that the store sends as ONE statement each: the checkpoint with its
 * parts, the retention marker and the history slice come back in one row; an append's log writes
 * are data-modifying CTEs of the append's single statement (see `logCtes`).
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { PoolClient } from 'pg';
import type { HistoryTrim, HistoryWindow, StoredHistoryEntry } from '@baton/core';
import type { AppendCheckpointInput } from './store';
import { FORMAT_LEGACY, FORMAT_PARTS, retentionCut } from './common';
import { NO_ENCRYPTION } from './cipher';
import type { RecordCipher } from './cipher';
import { all, run } from './sql/dialect';
import type { Plan } from './sql/dialect';
import { legacyRows, openCheckpoint, previousFromRow, verifyLogSlice } from './log-rows';
import type { LogRow, ReadCheckpoint } from './log-rows';
import { entryPlace, partPlace, sealValue, waitsPlace } from './sealed';
import type { EncodedAppend, FinishedAppend, PreviousCheckpoint, Row } from './common';

export { appendedPrev } from './log-rows';
export type { ReadCheckpoint } from './log-rows';
export type Runner = pg.Pool | PoolClient;

/** Builds a parameter list: `p(value)` appends the value and returns its placeholder. */
export function params(): { p: (v: unknown) => string; values: unknown[] } {
  const values: unknown[] = [];
  return {
    values,
    p: (v: unknown) => {
      values.push(v);
      return `$${values.length}`;
    },
  };
}

export function stmtName(sql: string): string {
  return 'baton_' + createHash('sha1').update(sql).digest('hex').slice(0, 24);
}

// ---------- reads: checkpoint + parts, marker, history slice (fragments of one statement) ----------

/** Columns of the checkpoint `c` and its parts `p1..p3`, prefixed (see `cpJoins`). */
export const CP_SELECT = `c.session_id AS c_session_id, c.seq AS c_seq, c.schema_version AS c_schema_version,
  c.written_by AS c_written_by, c.hash AS c_hash, c.size AS c_size, c.created_at AS c_created_at, c.format AS c_format,
  c.state_hash AS c_state_hash, c.context_hash AS c_context_hash, c.memory_hash AS c_memory_hash,
  c.history_length AS c_history_length, c.history_head AS c_history_head, c.body AS c_body,
  p1.body AS p_state, p2.body AS p_context, p3.body AS p_memory`;

/** The checkpoint of session `sid` chosen by `where` (latest first), and its parts by hash. */
export function cpJoins(sid: string, where = ''): string {
  return `LEFT JOIN LATERAL (SELECT * FROM checkpoints WHERE session_id = ${sid} ${where} ORDER BY seq DESC LIMIT 1) c ON true
  LEFT JOIN LATERAL (SELECT body FROM checkpoint_parts WHERE session_id = ${sid} AND hash = c.state_hash) p1 ON true
  LEFT JOIN LATERAL (SELECT body FROM checkpoint_parts WHERE session_id = ${sid} AND hash = c.context_hash) p2 ON true
  LEFT JOIN LATERAL (SELECT body FROM checkpoint_parts WHERE session_id = ${sid} AND hash = c.memory_hash) p3 ON true`;
}

export const TRIM_SELECT = 't.before_idx AS t_before, t.chain AS t_chain, t.at AS t_at, t.reason AS t_reason';

/**
 * History rows [from - 1, to) of session `sid` as arrays in index order (`h_*`): the row before
 * `from` only for its chain; bodies only of the newest rows from `from` on that fit in `bytes`
 * (the others' metadata still comes back, so a gap is visible), and with `atLeastOne` the newest
 * row's even when it alone is larger (see `fitBytes`). `from`/`to` are SQL expressions.
 */
export function sliceJoin(sid: string, from: string, to: string, bytes: string, atLeastOne = false): string {
  return `LEFT JOIN LATERAL (
    SELECT array_agg(w.idx ORDER BY w.idx) AS h_idx, array_agg(w.size ORDER BY w.idx) AS h_size,
      array_agg(w.hash ORDER BY w.idx) AS h_hash, array_agg(w.chain ORDER BY w.idx) AS h_chain,
      array_agg(CASE WHEN w.idx >= w.f AND (w.cum <= ${bytes}${atLeastOne ? ' OR w.idx = w.t - 1' : ''}) THEN w.body END
        ORDER BY w.idx) AS h_body
    FROM (SELECT h.idx, h.size, h.hash, h.chain, h.body, r.f, r.t,
            sum(CASE WHEN h.idx >= r.f THEN h.size ELSE 0 END) OVER (ORDER BY h.idx DESC) AS cum
          FROM (SELECT (${from})::int AS f, (${to})::int AS t) r
          JOIN history h ON h.session_id = ${sid} AND h.idx >= r.f - 1 AND h.idx < r.t) w
  ) hs ON true`;
}

function unprefix(r: Row, prefix: string): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(r)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

/** Decode the `c_*`/`p_*` columns of a row (null when it has no checkpoint). */
export function decodeCpRow(r: Row, cipher: RecordCipher = NO_ENCRYPTION): ReadCheckpoint | null {
  if (r.c_seq === null || r.c_seq === undefined) return null;
  return openCheckpoint(unprefix(r, 'c_'), r, cipher);
}

export function trimOf(r: Row): (HistoryTrim & { chain: string }) | null {
  if (r.t_before === null || r.t_before === undefined) return null;
  return {
    before: Number(r.t_before),
    chain: r.t_chain as string,
    at: Number(r.t_at),
    reason: r.t_reason as string,
  };
}

function sliceRows(r: Row): LogRow[] {
  const idx = (r.h_idx as number[] | null) ?? [];
  const size = r.h_size as number[];
  const hash = r.h_hash as string[];
  const chain = r.h_chain as string[];
  const body = r.h_body as Array<string | null>;
  return idx.map((i, k) => ({
    idx: Number(i),
    size: Number(size[k]),
    hash: hash[k]!,
    chain: chain[k]!,
    body: body[k] ?? null,
  }));
}

/** Verify and decode a history slice read with `sliceJoin(from, to, bytes)` (see `verifyLogSlice`). */
export function verifySlice(
  sid: string,
  seq: number,
  r: Row,
  from: number,
  to: number,
  maxBytes: number,
  trim: { before: number; chain: string } | null,
  head: string | undefined,
  atLeastOne = false,
  cipher: RecordCipher = NO_ENCRYPTION,
): StoredHistoryEntry[] {
  const rows = sliceRows(r);
  return verifyLogSlice(sid, seq, rows, from, to, maxBytes, atLeastOne, () => trim, head, cipher).entries;
}

// ---------- whole reads ----------

/**
 * `beginTurn` as ONE statement: the stored result of `key`, the lease (epoch + 1) unless there
 * is a result or the session is terminal, and under it the latest checkpoint with its parts, the
 * retention marker and the history window (only the bodies of entries that fit are sent).
 */
export function beginTurnSql(window: HistoryWindow | undefined): string {
  const entries = window && window.entries > 0;
  const slice = entries
    ? sliceJoin(
        '$1',
        'greatest(coalesce(t.before_idx, 0), c.history_length - $8::int)',
        'CASE WHEN c.format = 2 THEN c.history_length ELSE 0 END',
        '$9::bigint',
      )
    : '';
  // $7: the presented session token's hash (null: no check); a wrong one takes no lease
  return `WITH tr AS (SELECT result FROM turn_results WHERE session_id = $1 AND key = $2),
    cur AS (SELECT * FROM sessions WHERE id = $1),
    u AS (UPDATE sessions SET lease_owner = $3, lease_expires_at = $4, lease_epoch = lease_epoch + 1
      WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM tr) AND NOT (status = ANY ($6::text[]))
        AND ($7::text IS NULL OR token_hash = $7::text)
        AND (lease_owner IS NULL OR lease_owner = $3 OR lease_expires_at <= $5)
      RETURNING *)
  SELECT EXISTS (SELECT 1 FROM tr) AS tr_found, (SELECT result FROM tr) AS tr_result,
    (SELECT row_to_json(u) FROM u) AS u_row, (SELECT row_to_json(cur) FROM cur) AS cur_row,
    (SELECT row_to_json(r)::text FROM routes r WHERE r.agent = (SELECT agent FROM cur)) AS route_rev,
    ${CP_SELECT}, ${TRIM_SELECT}${entries ? ', hs.*' : ''}
  FROM (SELECT 1) one
  ${cpJoins('$1', 'AND EXISTS (SELECT 1 FROM u)')}
  LEFT JOIN history_trims t ON t.session_id = $1 AND c.seq IS NOT NULL
  ${slice}`;
}

/** Latest checkpoint (+ marker + window) of a session, one statement. */
export function latestSql(window: HistoryWindow | undefined): string {
  const entries = window && window.entries > 0;
  const slice = entries
    ? sliceJoin(
        '$1',
        'greatest(coalesce(t.before_idx, 0), c.history_length - $2::int)',
        'CASE WHEN c.format = 2 THEN c.history_length ELSE 0 END',
        '$3::bigint',
      )
    : '';
  return `SELECT ${CP_SELECT}, ${TRIM_SELECT}${entries ? ', hs.*' : ''}, tr.result AS tr_result, tr.key IS NOT NULL AS tr_found
    FROM (SELECT 1) one
    ${cpJoins('$1')}
    LEFT JOIN history_trims t ON t.session_id = $1 AND c.seq IS NOT NULL
    LEFT JOIN turn_results tr ON tr.session_id = $1 AND tr.key = $${entries ? 4 : 2}
    ${slice}`;
}

// ---------- the previous checkpoint of an append ----------

/** The session's seq and lease, and checkpoint `expectedSeq`'s manifest (what an append needs of it). */
export const PREV_SQL = `SELECT s.seq, s.lease_owner, s.lease_expires_at, c.format, c.hash, c.state_hash, c.context_hash,
    c.memory_hash, c.history_length, c.history_head,
    (SELECT size FROM checkpoint_parts WHERE session_id = $1 AND hash = c.state_hash) AS ss,
    (SELECT size FROM checkpoint_parts WHERE session_id = $1 AND hash = c.context_hash) AS cs,
    (SELECT size FROM checkpoint_parts WHERE session_id = $1 AND hash = c.memory_hash) AS ms
  FROM sessions s LEFT JOIN checkpoints c ON c.session_id = $1 AND c.seq = $2
  WHERE s.id = $1`;

export interface PrevRead {
  seq: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  /** Hash of checkpoint expectedSeq (the append's guard), null when there is none. */
  hash: string | null;
  prev: PreviousCheckpoint | null;
}

export function prevFromRow(r: Row): PrevRead {
  const hasCp = r.hash !== null && r.hash !== undefined;
  return {
    seq: Number(r.seq),
    leaseOwner: (r.lease_owner as string | null) ?? null,
    leaseExpiresAt:
      r.lease_expires_at === null || r.lease_expires_at === undefined ? null : Number(r.lease_expires_at),
    hash: hasCp ? (r.hash as string) : null,
    // a format-1 row here was not upgraded (its body failed its hash check): the log starts afresh
    prev: hasCp ? previousFromRow(r) : null,
  };
}

/**
 * The latest known checkpoint of recently used sessions (what this process wrote or read), so an
 * append can be finished before its statement is sent: the statement's guard (`hash` of checkpoint
 * expectedSeq) makes a stale entry harmless (the append is retried with the row read fresh).
 */
export class PrevCache {
  private readonly map = new Map<string, { seq: number; hash: string; prev: PreviousCheckpoint }>();
  constructor(private readonly max = 10_000) {}

  get(sessionId: string, seq: number): { hash: string; prev: PreviousCheckpoint } | undefined {
    const e = this.map.get(sessionId);
    return e && e.seq === seq ? e : undefined;
  }

  set(sessionId: string, seq: number, hash: string, prev: PreviousCheckpoint): void {
    const cur = this.map.get(sessionId);
    if (cur && cur.seq > seq) return;
    this.map.delete(sessionId);
    this.map.set(sessionId, { seq, hash, prev });
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }

  drop(sessionId: string): void {
    this.map.delete(sessionId);
  }
}

// ---------- an append's log writes (CTEs of its single statement) ----------

/**
 * The data-modifying CTEs an append adds to its statement after the seq compare-and-set `s`
 * (each runs only when `s` matched): parts (insert-or-ignore), history rows, the checkpoint row
 * (format 2; pinned for a migration, and the one before it), retention with its marker, and
 * compaction (unpinned checkpoints at or below seq - keep, then the parts only they used).
 * Every CTE sees the snapshot from before the statement, so the compaction excludes by hand what
 * the statement itself writes or pins. The checkpoint insert is named `c` (RETURNING seq).
 */
export function logCtes(
  p: (v: unknown) => string,
  sid: string,
  input: AppendCheckpointInput,
  enc: EncodedAppend,
  fin: FinishedAppend,
  now: string,
  nowMs: number,
  keep: number,
  /** Suffix of every CTE name (several appends in one statement each have their own). */
  t = '',
  cipher: RecordCipher = NO_ENCRYPTION,
): string[] {
  const meta = fin.meta;
  const seq = meta.seq;
  const owner = input.sessionId;
  const migration = input.migration !== undefined;
  const ctes: string[] = [];
  if (enc.parts.length > 0) {
    ctes.push(`cp${t} AS (INSERT INTO checkpoint_parts (session_id, hash, size, body)
      SELECT ${sid}, x.h, x.n, x.b FROM s${t}, unnest(${p(enc.parts.map((x) => x.hash))}::text[],
        ${p(enc.parts.map((x) => x.bytes.length))}::int[], ${p(enc.parts.map((x) => sealValue(cipher, x.bytes.toString('utf8'), partPlace(owner, x.hash))))}::text[]) AS x(h, n, b)
      ON CONFLICT (session_id, hash) DO NOTHING)`);
  }
  if (fin.entries.length > 0) {
    const e = fin.entries;
    ctes.push(`h${t} AS (INSERT INTO history (session_id, idx, turn_id, role, at, size, hash, chain, body)
      SELECT ${sid}, x.i, x.t, x.r, x.a, x.n, x.h, x.c, x.b FROM s${t}, unnest(${p(e.map((x) => x.index))}::int[],
        ${p(e.map((x) => x.turnId))}::text[], ${p(e.map((x) => x.role))}::text[], ${p(e.map((x) => x.at))}::bigint[],
        ${p(e.map((x) => x.bytes.length))}::int[], ${p(e.map((x) => x.hash))}::text[], ${p(e.map((x) => x.chain))}::text[],
        ${p(e.map((x) => sealValue(cipher, x.bytes.toString('utf8'), entryPlace(owner, x.index))))}::text[]) AS x(i, t, r, a, n, h, c, b))`);
  }
  ctes.push(`c${t} AS (INSERT INTO checkpoints (session_id, seq, schema_version, written_by, hash, size, created_at, body,
      format, state_hash, context_hash, memory_hash, history_length, history_head, pinned)
    SELECT ${sid}, s${t}.seq, ${p(input.schemaVersion)}, ${p(input.writtenBy)}, ${p(meta.hash)}, ${p(meta.size)}, ${now},
      ${p(sealValue(cipher, enc.waitsText, waitsPlace(owner, seq)))}, ${FORMAT_PARTS}, ${p(meta.parts.state)}, ${p(meta.parts.context)}, ${p(meta.parts.memory)}::text,
      ${p(meta.historyLength)}, ${p(meta.historyHead)}, ${migration ? 'true' : 'false'} FROM s${t} RETURNING seq)`);
  if (migration && input.expectedSeq > 0) {
    ctes.push(`pin${t} AS (UPDATE checkpoints SET pinned = true
      WHERE session_id = ${sid} AND seq = ${p(input.expectedSeq)} AND EXISTS (SELECT 1 FROM s${t}))`);
  }
  if (input.retention) {
    const { beforeIndex, olderThan, reason } = retentionCut(input.retention, meta.historyLength, nowMs);
    const keepFrom = fin.entries[0]?.index ?? meta.historyLength;
    if (beforeIndex !== null || olderThan !== null) {
      const age =
        olderThan === null
          ? '0'
          : `coalesce((SELECT idx FROM history WHERE session_id = ${sid} AND at >= ${p(olderThan)}::bigint ORDER BY idx LIMIT 1), ${p(meta.historyLength)}::int)`;
      const cutP = `least(${p(keepFrom)}::int, greatest(${p(beforeIndex ?? 0)}::int, ${age}))`;
      ctes.push(`rc${t} AS (SELECT ${cutP} AS cut FROM s${t})`);
      ctes.push(`rd${t} AS (DELETE FROM history WHERE session_id = ${sid} AND idx < (SELECT cut FROM rc${t})
        AND EXISTS (SELECT 1 FROM history WHERE session_id = ${sid} AND idx = (SELECT cut FROM rc${t}) - 1)
        RETURNING idx, chain)`);
      ctes.push(`rm${t} AS (INSERT INTO history_trims (session_id, before_idx, chain, at, reason)
        SELECT ${sid}, rc.cut, rd.chain, ${now}, ${p(reason)} FROM rc${t} rc JOIN rd${t} rd ON rd.idx = rc.cut - 1
        ON CONFLICT (session_id) DO UPDATE SET before_idx = excluded.before_idx, chain = excluded.chain,
          at = excluded.at, reason = excluded.reason)`);
    }
  }
  const limit = seq - keep;
  if (limit >= 1) {
    const spare = migration && input.expectedSeq > 0 ? ` AND seq <> ${p(input.expectedSeq)}` : '';
    const own = [meta.parts.state, meta.parts.context, meta.parts.memory].filter(
      (h): h is string => h !== null,
    );
    ctes.push(`dc${t} AS (DELETE FROM checkpoints WHERE session_id = ${sid} AND seq <= ${p(limit)} AND NOT pinned${spare}
      AND EXISTS (SELECT 1 FROM s${t}) RETURNING seq, state_hash, context_hash, memory_hash)`);
    ctes.push(`dp${t} AS (DELETE FROM checkpoint_parts pt WHERE pt.session_id = ${sid}
      AND pt.hash IN (SELECT unnest(ARRAY[dc.state_hash, dc.context_hash, dc.memory_hash]) FROM dc${t} dc)
      AND NOT (pt.hash = ANY(${p(own)}::text[]))
      AND NOT EXISTS (SELECT 1 FROM checkpoints k WHERE k.session_id = ${sid} AND NOT k.seq IN (SELECT seq FROM dc${t} dc)
        AND (k.state_hash = pt.hash OR k.context_hash = pt.hash OR k.memory_hash = pt.hash)))`);
  }
  return ctes;
}

/** Standalone compaction (in a transaction that holds the session row lock): deleted count. */
export const COMPACT_SQL = `WITH dc AS (DELETE FROM checkpoints WHERE session_id = $1 AND seq <= $2 AND NOT pinned
    RETURNING seq, state_hash, context_hash, memory_hash),
  dp AS (DELETE FROM checkpoint_parts pt WHERE pt.session_id = $1
    AND pt.hash IN (SELECT unnest(ARRAY[dc.state_hash, dc.context_hash, dc.memory_hash]) FROM dc)
    AND NOT EXISTS (SELECT 1 FROM checkpoints k WHERE k.session_id = $1 AND NOT k.seq IN (SELECT seq FROM dc)
      AND (k.state_hash = pt.hash OR k.context_hash = pt.hash OR k.memory_hash = pt.hash)))
  SELECT count(*) AS n FROM dc`;

// ---------- upgrade in place (inside the migration's locked transaction) ----------

const UPGRADE_BATCH = 200;

/** Rows of `width` values as `width` arrays, one per column (for `unnest`). */
function columns(rows: unknown[][], width: number): unknown[][] {
  return Array.from({ length: width }, (_, i) => rows.map((r) => r[i]));
}

/**
 * Upgrade the checkpoints written before the history log (format 1): each session's latest one is
 * rewritten in place as format 2 (same seq), its history moved into the log (indexes 0..n-1,
 * chained from the genesis) and its parts stored; older format-1 rows stay readable until
 * compaction removes them; a latest row that fails its hash check is left as is (reading it
 * quarantines the session). Then the checkpoints on both sides of every ok migration are pinned.
 * Batched: one read and one write statement per `UPGRADE_BATCH` sessions. Returns how many rows
 * were rewritten.
 */
export function* upgradeLegacy(): Plan<number> {
  let after = '';
  let n = 0;
  for (;;) {
    const rows = yield* all(
      `SELECT s.id AS sid, c.session_id, c.seq, c.schema_version, c.written_by, c.hash, c.size, c.created_at,
           c.format, c.body
         FROM (SELECT id FROM sessions WHERE id > $1 ORDER BY id LIMIT ${UPGRADE_BATCH}) s
         LEFT JOIN LATERAL (SELECT * FROM (SELECT * FROM checkpoints WHERE session_id = s.id COLLATE "default"
           ORDER BY seq DESC LIMIT 1) x WHERE x.format = ${FORMAT_LEGACY}) c ON true
         ORDER BY s.id`,
      [after],
    );
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.sid as string;
    const parts: unknown[][] = [];
    const entries: unknown[][] = [];
    const cps: unknown[][] = [];
    for (const r of rows) {
      if (r.seq === null || r.seq === undefined) continue;
      const up = legacyRows(r, true);
      if (!up) continue;
      parts.push(...up.parts);
      entries.push(...up.entries);
      cps.push(up.checkpoint);
      n++;
    }
    if (cps.length === 0) continue;
    yield* run(
      `WITH ip AS (INSERT INTO checkpoint_parts (session_id, hash, size, body)
          SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[]) ON CONFLICT (session_id, hash) DO NOTHING),
        ih AS (INSERT INTO history (session_id, idx, turn_id, role, at, size, hash, chain, body)
          SELECT * FROM unnest($5::text[], $6::int[], $7::text[], $8::text[], $9::bigint[], $10::int[], $11::text[],
            $12::text[], $13::text[]))
      UPDATE checkpoints k SET format = ${FORMAT_PARTS}, hash = x.hash, size = x.size, body = x.body, state_hash = x.sh,
        context_hash = x.ch, memory_hash = x.mh, history_length = x.len, history_head = x.head
      FROM unnest($14::text[], $15::int[], $16::text[], $17::int[], $18::text[], $19::text[], $20::text[], $21::text[],
        $22::int[], $23::text[]) AS x(sid, seq, hash, size, body, sh, ch, mh, len, head)
      WHERE k.session_id = x.sid AND k.seq = x.seq`,
      [...columns(parts, 4), ...columns(entries, 9), ...columns(cps, 10)],
    );
  }
  yield* run(
    `UPDATE checkpoints k SET pinned = true FROM migrations m
     WHERE m.session_id = k.session_id AND m.status = 'ok' AND (k.seq = m.seq OR k.seq = m.seq - 1) AND NOT k.pinned`,
  );
  return n;
}
