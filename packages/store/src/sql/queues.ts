/**
 * Session-creation idempotency keys, the durable evaluation queue and shared secrets, as plans over
 * either backend (`dialect.ts`).
 */
import { randomBytes } from 'node:crypto';
import { jsonText } from '../common';
import { evaluationFromRow, evaluationNotFound } from '../recovery';
import type { EvaluationJob, SessionKeyReservation } from '../store';
import { all, done, one, run } from './dialect';
import type { Plan, SqlContext } from './dialect';
import { Where } from './where';

/** Evaluation jobs: how many `listEvaluations` answers when no `limit` is given. */
export const DEFAULT_EVALUATIONS_LIMIT = 1000;

export function* reserveSessionKey(
  c: SqlContext,
  input: { agent: string; key: string; sessionId: string; bodyHash: string },
): Plan<SessionKeyReservation> {
  const n = yield* run(
    `INSERT INTO session_keys (agent, key, session_id, body_hash, created_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT DO NOTHING`,
    [input.agent, input.key, input.sessionId, input.bodyHash, c.now()],
  );
  if (n === 1) return { sessionId: input.sessionId, bodyHash: input.bodyHash, reserved: true };
  // ON CONFLICT waited for a concurrent reservation to commit; this statement sees it
  const row = yield* one('SELECT session_id, body_hash FROM session_keys WHERE agent = $1 AND key = $2', [
    input.agent,
    input.key,
  ]);
  return { sessionId: row!.session_id as string, bodyHash: row!.body_hash as string, reserved: false };
}

export function* enqueueEvaluation(
  c: SqlContext,
  job: { id: string; sessionId: string; version: string; turn: unknown },
): Plan<boolean> {
  const n = yield* run(
    `INSERT INTO evaluation_jobs (id, session_id, version, turn, status, owner, claimed_until, attempts, created_at)
     VALUES ($1, $2, $3, $4, 'pending', NULL, 0, 0, $5) ON CONFLICT DO NOTHING`,
    [job.id, job.sessionId, job.version, jsonText(job.turn ?? null), c.now()],
    true,
  );
  return n === 1;
}

/** Up to `limit` pending jobs whose claim is free or expired, oldest first, each held by `owner` for `ttlMs`. */
export function* claimEvaluations(
  c: SqlContext,
  owner: string,
  limit: number,
  ttlMs: number,
): Plan<EvaluationJob[]> {
  if (limit < 1) return yield* done([]);
  const now = c.now();
  const rows = yield* all(
    `UPDATE evaluation_jobs SET owner = $1, claimed_until = $2, attempts = attempts + 1
     WHERE id IN (SELECT id FROM evaluation_jobs WHERE status = 'pending' AND claimed_until <= $3
                  ORDER BY created_at, id LIMIT $4${c.dialect.skipLocked})
     RETURNING *`,
    [owner, now + ttlMs, now, limit],
    true,
  );
  return rows
    .map(evaluationFromRow)
    .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Mark a job done and record its metrics with `addMetrics` (the backend's aggregate write), at most
 * once; run it in a transaction.
 */
export function* completeEvaluation(
  c: SqlContext,
  id: string,
  metrics: Record<string, number>,
  addMetrics: (sessionId: string, version: string, m: { metrics: Record<string, number> }) => Plan<void>,
): Plan<boolean> {
  const row = yield* one(
    `UPDATE evaluation_jobs SET status = 'done', recorded_at = $1, owner = NULL
     WHERE id = $2 AND status = 'pending' RETURNING session_id, version`,
    [c.now(), id],
  );
  if (!row) {
    if (!(yield* one('SELECT 1 AS one FROM evaluation_jobs WHERE id = $1', [id])))
      throw evaluationNotFound(id);
    return false;
  }
  if (Object.keys(metrics).length > 0)
    yield* addMetrics(row.session_id as string, row.version as string, { metrics });
  return true;
}

export function* listEvaluations(
  q: { status?: 'pending' | 'done'; sessionId?: string; limit?: number } = {},
): Plan<EvaluationJob[]> {
  const w = new Where().eq('status', q.status).eq('session_id', q.sessionId);
  const rows = yield* all(
    `SELECT * FROM evaluation_jobs${w.sql} ORDER BY created_at, id LIMIT ${w.p(q.limit ?? DEFAULT_EVALUATIONS_LIMIT)}`,
    w.args,
  );
  return rows.map(evaluationFromRow);
}

/** A random secret shared by every process on the store, created by the first that asks. */
export function* sharedSecret(c: SqlContext, name: string): Plan<Buffer> {
  yield* run('INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
    name,
    randomBytes(32).toString('hex'),
    c.now(),
  ]);
  // ON CONFLICT waited for a concurrent creator to commit; this statement sees its secret
  const row = yield* one('SELECT value FROM secrets WHERE name = $1', [name]);
  if (!row) throw new Error(`shared secret ${name} could not be created`);
  return Buffer.from(row.value as string, 'hex');
}
