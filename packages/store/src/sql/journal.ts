/**
 * What a session's turns leave beside its checkpoints: waits, the step journal, idempotent turn
 * results, migration records and the checkpoint list, as plans over either backend (`dialect.ts`).
 */
import type { CheckpointMeta, MigrationRecord, WaitRecord } from '@baton/core';
import {
  checkpointMeta,
  jsonText,
  migrationFromRow,
  pageLimit,
  parseJson,
  sessionNotFound,
  waitFromRow,
  waitNotFound,
} from '../common';
import { openValue, sealValue, stepPlace, turnResultPlace } from '../sealed';
import { all, one, run } from './dialect';
import type { Plan, SqlContext, Step } from './dialect';
import { Where } from './where';

/** The insert of one migration record (also written by a checkpoint append, in its transaction). */
export function migrationInsert(m: MigrationRecord): Pick<Step, 'sql' | 'args'> {
  return {
    sql: `INSERT INTO migrations (session_id, seq, from_version, to_version, from_schema, to_schema, context_policy,
      rollout_id, status, error, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    args: [
      m.sessionId,
      m.seq,
      m.fromVersion,
      m.toVersion,
      m.fromSchema,
      m.toSchema,
      m.contextPolicy,
      m.rolloutId ?? null,
      m.status,
      m.error ?? null,
      m.at,
    ],
  };
}

export function* recordMigrationFailure(r: Omit<MigrationRecord, 'seq' | 'status'>): Plan<void> {
  const { sql, args } = migrationInsert({ ...r, seq: 0, status: 'failed', error: r.error ?? null });
  yield* run(sql, args, true);
}

export function* listMigrations(q: {
  sessionId?: string;
  rolloutId?: string;
  status?: 'ok' | 'failed';
  limit?: number;
}): Plan<MigrationRecord[]> {
  const w = new Where().eq('session_id', q.sessionId).eq('rollout_id', q.rolloutId).eq('status', q.status);
  const rows = yield* all(
    `SELECT * FROM migrations${w.sql} ORDER BY id LIMIT ${w.p(pageLimit(q.limit))}`,
    w.args,
  );
  return rows.map(migrationFromRow);
}

/** Checkpoint metadata, newest first (below `beforeSeq`). */
export function* listCheckpoints(
  sessionId: string,
  q: { limit?: number; beforeSeq?: number } = {},
): Plan<CheckpointMeta[]> {
  const rows = yield* all(
    `SELECT session_id, seq, schema_version, written_by, hash, size, created_at, state_hash, context_hash,
       memory_hash, history_length, history_head FROM checkpoints
     WHERE session_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
    [sessionId, q.beforeSeq ?? 2147483647, pageLimit(q.limit)],
  );
  if (rows.length === 0 && !(yield* one('SELECT 1 AS one FROM sessions WHERE id = $1', [sessionId]))) {
    throw sessionNotFound(sessionId);
  }
  return rows.map(checkpointMeta);
}

export function* getWait(token: string): Plan<WaitRecord> {
  const row = yield* one('SELECT * FROM waits WHERE token = $1', [token], true);
  if (!row) throw waitNotFound(token);
  return waitFromRow(row);
}

/** Waits by session and status, soonest deadline first; `dueBefore` alone means pending ones. */
export function* listWaits(q: {
  sessionId?: string;
  status?: WaitRecord['status'];
  dueBefore?: number;
  limit?: number;
}): Plan<WaitRecord[]> {
  const status = q.status ?? (q.dueBefore !== undefined ? 'pending' : null);
  const w = new Where().eq('session_id', q.sessionId).eq('status', status).cmp('deadline', '<', q.dueBefore);
  const rows = yield* all(
    `SELECT * FROM waits${w.sql} ORDER BY deadline, token LIMIT ${w.p(pageLimit(q.limit))}`,
    w.args,
  );
  return rows.map(waitFromRow);
}

export function* listSteps(
  c: SqlContext,
  sessionId: string,
  turnId: string,
): Plan<Array<{ index: number; name: string; result: unknown }>> {
  const rows = yield* all(
    'SELECT idx, name, result FROM steps WHERE session_id = $1 AND turn_id = $2 ORDER BY idx',
    [sessionId, turnId],
    true,
  );
  return rows.map((r) => ({
    index: Number(r.idx),
    name: r.name as string,
    result: parseJson(openValue(c.cipher, r.result, stepPlace(sessionId, turnId, Number(r.idx)))),
  }));
}

export function* putStep(
  c: SqlContext,
  sessionId: string,
  turnId: string,
  index: number,
  name: string,
  result: unknown,
): Plan<void> {
  yield* run(
    `INSERT INTO steps (session_id, turn_id, idx, name, result) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (session_id, turn_id, idx) DO UPDATE SET name = excluded.name, result = excluded.result`,
    [
      sessionId,
      turnId,
      index,
      name,
      sealValue(c.cipher, jsonText(result), stepPlace(sessionId, turnId, index)),
    ],
    true,
  );
}

export function* getTurnResult(c: SqlContext, sessionId: string, key: string): Plan<unknown> {
  const row = yield* one(
    'SELECT result FROM turn_results WHERE session_id = $1 AND key = $2',
    [sessionId, key],
    true,
  );
  return row ? parseJson(openValue(c.cipher, row.result, turnResultPlace(sessionId, key))) : undefined;
}

export function* putTurnResult(c: SqlContext, sessionId: string, key: string, result: unknown): Plan<void> {
  yield* run(
    'INSERT INTO turn_results (session_id, key, result, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
    [sessionId, key, sealValue(c.cipher, jsonText(result), turnResultPlace(sessionId, key)), c.now()],
    true,
  );
}
