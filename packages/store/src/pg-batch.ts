/**
 * PostgreSQL: the appends of a group commit as ONE statement of constant text, its data as array
 * parameters (one element per append, part or entry), so a connection prepares it once and every
 * batch size reuses its plan. The statement built append by append (`logCtes`, named CTEs per
 * append) is parsed, planned and set up anew at every flush, and that work grows with the batch:
 * it cost more than the batch saved. This one covers the appends of a router's ordinary turn
 * commit (`fixedShape`: with its turn result, resolved and cleared waits, telemetry and session
 * aggregate); the others (a migration, retention, waits left pending) keep the statement built per
 * append.
 *
 * Each append keeps its own compare-and-set: the session update `s` matches only the sessions
 * whose seq (and lease, and previous checkpoint's hash) are as the append expects, and every
 * other write joins `s` on the append's position `k`, so a refused append writes nothing while
 * the others apply. Every CTE sees the snapshot from before the statement, so the compaction
 * excludes by hand what the statement itself writes (as `logCtes` does). Session ids are compared
 * in each table's own collation (`sessions.id` is "C"), and every table is read through
 * `session_id = ANY ($1)` beside its join condition: the plan is generic (the same for every
 * batch), and without that bound it may join by scanning a whole table.
 */
import type { AppendCheckpointInput } from './store';
import { FORMAT_PARTS, TELEMETRY_COLUMNS, jsonText, telemetryMeasures, turnDelta } from './common';
import type { EncodedAppend, FinishedAppend } from './common';
import type { RecordCipher } from './cipher';
import { AGGREGATE_COLUMNS, AGGREGATE_ON_CONFLICT, aggregateDeltaValues } from './pg-aggregate';
import { entryPlace, partPlace, sealBytes, sealValue, turnResultPlace, waitsPlace } from './sealed';

/**
 * Whether an append fits the constant statement: no migration or retention, no pending waits after
 * it (the pending ones cleared, `waits: []`, or left alone), and a session patch of at most status
 * and version. Resolved waits, the turn result and the telemetry (its row and the session
 * aggregate) go in it: a router's ordinary turn commit.
 */
export function fixedShape(input: AppendCheckpointInput): boolean {
  const patch = input.session;
  return (
    input.migration === undefined &&
    input.retention === undefined &&
    (input.waits === undefined || input.waits.length === 0) &&
    (patch === undefined || patch.reason === undefined)
  );
}

export const BATCH_APPEND_SQL = `WITH x AS (
    SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::text[], $38::bool[])
      WITH ORDINALITY AS x(sid, exp, prev, owner, nolease, status, version, clearwaits, k)),
  s AS (UPDATE sessions ss SET seq = ss.seq + 1, updated_at = $8::bigint,
      status = coalesce(x.status, ss.status), version = coalesce(x.version, ss.version),
      lease_owner = CASE WHEN x.owner IS NULL THEN ss.lease_owner END,
      lease_expires_at = CASE WHEN x.owner IS NULL THEN ss.lease_expires_at END
    FROM x
    WHERE ss.id = ANY ($1::text[]) AND ss.id = x.sid COLLATE "C" AND ss.seq = x.exp
      AND (x.owner IS NULL OR ss.lease_owner = x.owner)
      AND (NOT x.nolease OR ss.lease_expires_at IS NULL OR ss.lease_expires_at <= $8::bigint)
      AND (x.prev IS NULL OR EXISTS (SELECT 1 FROM checkpoints pc
        WHERE pc.session_id = ANY ($1::text[]) AND pc.session_id = x.sid AND pc.seq = x.exp AND pc.hash = x.prev))
    RETURNING x.k, x.sid AS id, ss.seq, ss.created_at, x.clearwaits),
  y AS (SELECT * FROM unnest($9::int[], $10::text[], $11::text[], $12::int[], $13::text[], $14::text[], $15::text[],
      $16::text[], $17::int[], $18::text[], $19::int[]) WITH ORDINALITY
      AS y(schema_version, written_by, hash, size, body, state_hash, context_hash, memory_hash, history_length,
        history_head, compact_to, k)),
  cp AS (INSERT INTO checkpoint_parts (session_id, hash, size, body)
    SELECT s.id, p.h, p.n, convert_from(substring($24::bytea FROM p.at + 1 FOR p.bl), 'UTF8')
    FROM (SELECT *, (sum(bl) OVER (ORDER BY o) - bl)::int AS at
      FROM unnest($20::int[], $21::text[], $22::int[], $23::int[]) WITH ORDINALITY AS p(k, h, n, bl, o)) p
      JOIN s ON s.k = p.k
    ON CONFLICT (session_id, hash) DO NOTHING),
  h AS (INSERT INTO history (session_id, idx, turn_id, role, at, size, hash, chain, body)
    SELECT s.id, e.i, e.t, e.r, e.a, e.n, e.h, e.c, convert_from(substring($34::bytea FROM e.at + 1 FOR e.bl), 'UTF8')
    FROM (SELECT *, (sum(bl) OVER (ORDER BY o) - bl)::int AS at
      FROM unnest($25::int[], $26::int[], $27::text[], $28::text[], $29::bigint[], $30::int[], $31::text[], $32::text[],
        $33::int[]) WITH ORDINALITY AS e(k, i, t, r, a, n, h, c, bl, o)) e
      JOIN s ON s.k = e.k),
  c AS (INSERT INTO checkpoints (session_id, seq, schema_version, written_by, hash, size, created_at, body,
      format, state_hash, context_hash, memory_hash, history_length, history_head, pinned)
    SELECT s.id, s.seq, y.schema_version, y.written_by, y.hash, y.size, $8::bigint, y.body, ${FORMAT_PARTS},
      y.state_hash, y.context_hash, y.memory_hash, y.history_length, y.history_head, false
    FROM s JOIN y ON y.k = s.k),
  dc AS (DELETE FROM checkpoints d USING s JOIN y ON y.k = s.k
    WHERE d.session_id = ANY ($1::text[]) AND d.session_id = s.id AND d.seq <= y.compact_to AND NOT d.pinned
    RETURNING d.session_id, d.seq, d.state_hash, d.context_hash, d.memory_hash),
  dp AS (DELETE FROM checkpoint_parts pt
    USING (SELECT DISTINCT dc.session_id, u.h FROM dc, unnest(ARRAY[dc.state_hash, dc.context_hash, dc.memory_hash]) AS u(h)
      WHERE u.h IS NOT NULL) g
    WHERE pt.session_id = ANY ($1::text[]) AND pt.session_id = g.session_id AND pt.hash = g.h
      AND NOT EXISTS (SELECT 1 FROM s JOIN y ON y.k = s.k
        WHERE s.id = g.session_id AND g.h IN (y.state_hash, y.context_hash, y.memory_hash))
      AND NOT EXISTS (SELECT 1 FROM checkpoints kc WHERE kc.session_id = ANY ($1::text[]) AND kc.session_id = g.session_id
        AND NOT kc.seq IN (SELECT seq FROM dc WHERE dc.session_id = g.session_id)
        AND (kc.state_hash = g.h OR kc.context_hash = g.h OR kc.memory_hash = g.h))),
  st AS (DELETE FROM steps WHERE session_id = ANY ($1::text[]) AND session_id IN (SELECT id FROM s)),
  tr AS (INSERT INTO turn_results (session_id, key, result, created_at)
    SELECT s.id, r.key, r.result, $8::bigint FROM unnest($35::int[], $36::text[], $37::text[]) AS r(k, key, result)
      JOIN s ON s.k = r.k
    ON CONFLICT DO NOTHING),
  r AS (SELECT * FROM unnest($39::int[], $40::text[]) AS r(k, token)),
  rw AS (UPDATE waits w SET status = 'resolved' FROM r JOIN s ON s.k = r.k
    WHERE w.session_id = ANY ($1::text[]) AND w.session_id = s.id AND w.token = r.token),
  dw AS (DELETE FROM waits w USING s
    WHERE s.clearwaits AND w.session_id = ANY ($1::text[]) AND w.session_id = s.id AND w.status = 'pending'
      AND NOT EXISTS (SELECT 1 FROM r WHERE r.k = s.k AND r.token = w.token)),
  t AS (SELECT * FROM unnest($41::int[], $42::text[], $43::text[], $44::text[], $45::text[], $46::bigint[],
      $47::float8[], $48::text[], $49::int[], $50::bigint[], $51::bigint[], $52::float8[], $53::text[], $54::text[],
      $55::text[], $56::int[], $57::int[], $58::bigint[], $59::text[], $60::bigint[], $61::bigint[], $62::bigint[],
      $63::float8[], $64::float8[], $65::float8[], $66::text[], $67::text[])
      AS t(k, sid, agent, version, turn_id, at, latency, tool_calls, reasoning, tokens_in, tokens_out, utilization,
        metrics, signals, error, d_turns, d_errors, d_calls, d_tool_mix, d_steps, d_tokens_in, d_tokens_out,
        d_latency_sum, d_latency_max, d_utilization, d_metrics, d_signals)),
  tt AS (INSERT INTO turn_telemetry (${TELEMETRY_COLUMNS})
    SELECT t.sid, t.agent, t.version, t.turn_id, s.seq, t.at, t.latency, t.tool_calls, t.reasoning, t.tokens_in,
      t.tokens_out, t.utilization, t.metrics, t.signals, t.error
    FROM t JOIN s ON s.k = t.k),
  ta AS (INSERT INTO session_aggregates AS a (${AGGREGATE_COLUMNS})
    SELECT s.id, t.version, t.agent, s.created_at, t.at, t.at, t.d_turns, t.d_errors, t.d_calls, t.d_tool_mix,
      t.d_steps, t.d_tokens_in, t.d_tokens_out, t.d_latency_sum, t.d_latency_max, t.d_utilization, t.d_metrics,
      t.d_signals, false
    FROM t JOIN s ON s.k = t.k
    ${AGGREGATE_ON_CONFLICT})
  SELECT k FROM s`;

/** One append of a batch: its input, encoding, finished rows and the previous checkpoint's hash. */
export interface BatchItem {
  input: AppendCheckpointInput & { requireNoLease?: boolean };
  enc: EncodedAppend;
  fin: FinishedAppend;
  prevHash: string | null;
}

/** Stored texts as one binary parameter and their byte lengths (the statement cuts them apart). */
class Blob {
  readonly lengths: number[] = [];
  private readonly chunks: Buffer[] = [];

  add(b: Buffer): void {
    this.chunks.push(b);
    this.lengths.push(b.length);
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/**
 * The parameters of `BATCH_APPEND_SQL` for `items` (in lock order); the statement answers the
 * positions (1-based, `k`) of the appends that applied. `keep`: checkpoints kept per session.
 * Bodies go as one binary parameter per table (`Blob`): a text array of them costs the escaping
 * of every character here and its parsing (`array_in`) on the server.
 */
export function batchAppendValues(
  items: BatchItem[],
  now: number,
  keep: number,
  cipher: RecordCipher,
): unknown[] {
  const col = (n: number) => Array.from({ length: n }, () => [] as unknown[]);
  const row = (cols: unknown[][], values: unknown[]) => values.forEach((v, j) => cols[j]!.push(v));
  const x = col(7);
  const cp = col(11);
  const parts = col(3);
  const partBodies = new Blob();
  const entries = col(8);
  const entryBodies = new Blob();
  const results = col(3);
  const resolved = col(2);
  const telemetry = col(27);
  const clearWaits: boolean[] = [];
  items.forEach(({ input, enc, fin, prevHash }, i) => {
    const k = i + 1;
    const meta = fin.meta;
    const o = input.sessionId;
    row(x, [
      o,
      input.expectedSeq,
      prevHash,
      input.leaseOwner ?? null,
      input.requireNoLease === true,
      input.session?.status ?? null,
      input.session?.version ?? null,
    ]);
    clearWaits.push(input.waits !== undefined);
    for (const token of input.resolvedWaits ?? []) row(resolved, [k, token]);
    if (input.telemetry) {
      const t = input.telemetry;
      row(telemetry, [
        k,
        t.sessionId,
        t.agent,
        t.version,
        t.turnId,
        t.at,
        ...telemetryMeasures(t),
        ...aggregateDeltaValues(turnDelta(t)),
      ]);
    }
    row(cp, [
      input.schemaVersion,
      input.writtenBy,
      meta.hash,
      meta.size,
      sealValue(cipher, enc.waitsText, waitsPlace(o, meta.seq)),
      meta.parts.state,
      meta.parts.context,
      meta.parts.memory,
      meta.historyLength,
      meta.historyHead,
      meta.seq - keep,
    ]);
    for (const p of enc.parts) {
      row(parts, [k, p.hash, p.bytes.length]);
      partBodies.add(sealBytes(cipher, p.bytes, partPlace(o, p.hash)));
    }
    for (const e of fin.entries) {
      row(entries, [k, e.index, e.turnId, e.role, e.at, e.bytes.length, e.hash, e.chain]);
      entryBodies.add(sealBytes(cipher, e.bytes, entryPlace(o, e.index)));
    }
    if (input.turnResult) {
      const key = input.turnResult.key;
      row(results, [k, key, sealValue(cipher, jsonText(input.turnResult.result), turnResultPlace(o, key))]);
    }
  });
  return [
    ...x,
    now,
    ...cp,
    ...parts,
    partBodies.lengths,
    partBodies.bytes(),
    ...entries,
    entryBodies.lengths,
    entryBodies.bytes(),
    ...results,
    clearWaits,
    ...resolved,
    ...telemetry,
  ];
}
