/**
 * PostgreSQL side of crash recovery (migration 4): in-doubt effect resolution, session-creation
 * idempotency keys and the durable evaluation queue. The store class delegates to it.
 */
import type { PoolClient, QueryResultRow } from 'pg';
import type { EffectRecord, EffectResolutionInput } from '@baton/core';
import { effectFromRow, jsonText } from './common';
import type { RecordCipher } from './cipher';
import { sealJson } from './sealed';
import type { Row } from './common';
import {
  effectIdNotFound,
  evaluationFromRow,
  evaluationNotFound,
  notInDoubt,
  resolutionColumns,
} from './recovery';
import type { EvaluationJob, SessionKeyReservation } from './store';

export interface PgRecoveryDeps {
  q: <R extends QueryResultRow = Row>(sql: string, values?: unknown[], prepare?: boolean) => Promise<R[]>;
  tx: <T>(op: string, fn: (c: PoolClient) => Promise<T>) => Promise<T>;
  now: () => number;
  cipher: RecordCipher;
  /** On `c`, inside a transaction: add metrics to the session's aggregate for the version. */
  addMetrics: (
    c: PoolClient,
    sessionId: string,
    version: string,
    metrics: Record<string, number>,
  ) => Promise<void>;
}

export class PgRecovery {
  constructor(private readonly d: PgRecoveryDeps) {}

  async resolveEffect(id: string, r: EffectResolutionInput): Promise<EffectRecord> {
    const now = this.d.now();
    const c = resolutionColumns(r, now);
    if (this.d.cipher.enabled && c.result !== null) {
      const k = await this.d.q('SELECT idempotency_key FROM effects WHERE id = $1', [id]);
      if (k[0]) c.result = sealJson(this.d.cipher, c.result, String(k[0].idempotency_key), 'result');
    }
    const rows = await this.d.q(
      `UPDATE effects SET status = $1, result = $2, error = $3, resolution = $4, updated_at = $5
       WHERE id = $6 AND status = 'intent' RETURNING *`,
      [c.status, c.result, c.error, c.resolution, now, id],
    );
    if (rows[0]) return effectFromRow(rows[0], this.d.cipher);
    const cur = await this.d.q('SELECT * FROM effects WHERE id = $1', [id]);
    if (!cur[0]) throw effectIdNotFound(id);
    throw notInDoubt(effectFromRow(cur[0], this.d.cipher));
  }

  async reserveSessionKey(input: {
    agent: string;
    key: string;
    sessionId: string;
    bodyHash: string;
  }): Promise<SessionKeyReservation> {
    const ins = await this.d.q(
      `INSERT INTO session_keys (agent, key, session_id, body_hash, created_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT DO NOTHING RETURNING session_id`,
      [input.agent, input.key, input.sessionId, input.bodyHash, this.d.now()],
    );
    if (ins[0]) return { sessionId: input.sessionId, bodyHash: input.bodyHash, reserved: true };
    // ON CONFLICT waited for a concurrent reservation to commit; this statement sees it.
    const rows = await this.d.q(
      'SELECT session_id, body_hash FROM session_keys WHERE agent = $1 AND key = $2',
      [input.agent, input.key],
    );
    const row = rows[0]!;
    return { sessionId: row.session_id as string, bodyHash: row.body_hash as string, reserved: false };
  }

  async enqueueEvaluation(job: {
    id: string;
    sessionId: string;
    version: string;
    turn: unknown;
  }): Promise<boolean> {
    const rows = await this.d.q(
      `INSERT INTO evaluation_jobs (id, session_id, version, turn, status, owner, claimed_until, attempts, created_at)
       VALUES ($1, $2, $3, $4, 'pending', NULL, 0, 0, $5) ON CONFLICT DO NOTHING RETURNING id`,
      [job.id, job.sessionId, job.version, jsonText(job.turn ?? null), this.d.now()],
      true,
    );
    return rows.length === 1;
  }

  async claimEvaluations(owner: string, limit: number, ttlMs: number): Promise<EvaluationJob[]> {
    if (limit < 1) return [];
    const now = this.d.now();
    const rows = await this.d.q(
      `UPDATE evaluation_jobs SET owner = $1, claimed_until = $2, attempts = attempts + 1
       WHERE id IN (SELECT id FROM evaluation_jobs WHERE status = 'pending' AND claimed_until <= $3
                    ORDER BY created_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [owner, now + ttlMs, now, limit],
      true,
    );
    return rows.map(evaluationFromRow).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  completeEvaluation(id: string, metrics: Record<string, number>): Promise<boolean> {
    return this.d.tx('completeEvaluation', async (c) => {
      const r = await c.query<Row>(
        `UPDATE evaluation_jobs SET status = 'done', recorded_at = $1, owner = NULL
         WHERE id = $2 AND status = 'pending' RETURNING session_id, version`,
        [this.d.now(), id],
      );
      const row = r.rows[0];
      if (!row) {
        const found = await c.query('SELECT 1 FROM evaluation_jobs WHERE id = $1', [id]);
        if (found.rowCount === 0) throw evaluationNotFound(id);
        return false;
      }
      if (Object.keys(metrics).length > 0)
        await this.d.addMetrics(c, row.session_id as string, row.version as string, metrics);
      return true;
    });
  }

  async listEvaluations(
    q: { status?: 'pending' | 'done'; sessionId?: string; limit?: number } = {},
  ): Promise<EvaluationJob[]> {
    const rows = await this.d.q(
      `SELECT * FROM evaluation_jobs WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR session_id = $2)
       ORDER BY created_at, id LIMIT $3`,
      [q.status ?? null, q.sessionId ?? null, q.limit ?? 1000],
    );
    return rows.map(evaluationFromRow);
  }
}
