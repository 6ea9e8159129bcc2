/**
 * SQLite side of crash recovery (migration 3): in-doubt effect resolution, session-creation
 * idempotency keys and the durable evaluation queue. The store class delegates to it.
 */
import type { Statement } from 'better-sqlite3';
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

export interface SqliteRecoveryDeps {
  st: (sql: string) => Statement;
  /** A write transaction (BEGIN IMMEDIATE) named `op`. */
  write: <T>(op: string, fn: () => T) => T;
  now: () => number;
  cipher: RecordCipher;
  /** Inside a write transaction: add metrics to the session's aggregate for the version. */
  addMetrics: (sessionId: string, version: string, metrics: Record<string, number>) => void;
}

export class SqliteRecovery {
  constructor(private readonly d: SqliteRecoveryDeps) {}

  resolveEffect(id: string, r: EffectResolutionInput): EffectRecord {
    const c = resolutionColumns(r, this.d.now());
    return this.d.write('resolveEffect', () => {
      if (this.d.cipher.enabled && c.result !== null) {
        const k = this.d.st('SELECT idempotency_key FROM effects WHERE id = ?').get(id) as Row | undefined;
        if (k) c.result = sealJson(this.d.cipher, c.result, String(k.idempotency_key), 'result');
      }
      const row = this.d
        .st(
          `UPDATE effects SET status = ?, result = ?, error = ?, resolution = ?, updated_at = ?
           WHERE id = ? AND status = 'intent' RETURNING *`,
        )
        .get(c.status, c.result, c.error, c.resolution, this.d.now(), id) as Row | undefined;
      if (row) return effectFromRow(row, this.d.cipher);
      const cur = this.d.st('SELECT * FROM effects WHERE id = ?').get(id) as Row | undefined;
      if (!cur) throw effectIdNotFound(id);
      throw notInDoubt(effectFromRow(cur, this.d.cipher));
    });
  }

  reserveSessionKey(input: {
    agent: string;
    key: string;
    sessionId: string;
    bodyHash: string;
  }): SessionKeyReservation {
    return this.d.write('reserveSessionKey', () => {
      const ins = this.d
        .st(
          `INSERT INTO session_keys (agent, key, session_id, body_hash, created_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT DO NOTHING`,
        )
        .run(input.agent, input.key, input.sessionId, input.bodyHash, this.d.now());
      if (ins.changes === 1) return { sessionId: input.sessionId, bodyHash: input.bodyHash, reserved: true };
      const row = this.d
        .st('SELECT session_id, body_hash FROM session_keys WHERE agent = ? AND key = ?')
        .get(input.agent, input.key) as Row;
      return { sessionId: row.session_id as string, bodyHash: row.body_hash as string, reserved: false };
    });
  }

  enqueueEvaluation(job: { id: string; sessionId: string; version: string; turn: unknown }): boolean {
    const r = this.d
      .st(
        `INSERT INTO evaluation_jobs (id, session_id, version, turn, status, owner, claimed_until, attempts, created_at)
         VALUES (?, ?, ?, ?, 'pending', NULL, 0, 0, ?) ON CONFLICT DO NOTHING`,
      )
      .run(job.id, job.sessionId, job.version, jsonText(job.turn ?? null), this.d.now());
    return r.changes === 1;
  }

  claimEvaluations(owner: string, limit: number, ttlMs: number): EvaluationJob[] {
    if (limit < 1) return [];
    const now = this.d.now();
    return this.d.write('claimEvaluations', () => {
      const rows = this.d
        .st(
          `UPDATE evaluation_jobs SET owner = ?, claimed_until = ?, attempts = attempts + 1
           WHERE id IN (SELECT id FROM evaluation_jobs WHERE status = 'pending' AND claimed_until <= ?
                        ORDER BY created_at, id LIMIT ?)
           RETURNING *`,
        )
        .all(owner, now + ttlMs, now, limit) as Row[];
      return rows.map(evaluationFromRow).sort((a, b) => a.createdAt - b.createdAt || cmp(a.id, b.id));
    });
  }

  completeEvaluation(id: string, metrics: Record<string, number>): boolean {
    return this.d.write('completeEvaluation', () => {
      const row = this.d
        .st(
          `UPDATE evaluation_jobs SET status = 'done', recorded_at = ?, owner = NULL
           WHERE id = ? AND status = 'pending' RETURNING session_id, version`,
        )
        .get(this.d.now(), id) as Row | undefined;
      if (!row) {
        if (!this.d.st('SELECT 1 FROM evaluation_jobs WHERE id = ?').get(id)) throw evaluationNotFound(id);
        return false;
      }
      if (Object.keys(metrics).length > 0)
        this.d.addMetrics(row.session_id as string, row.version as string, metrics);
      return true;
    });
  }

  listEvaluations(
    q: { status?: 'pending' | 'done'; sessionId?: string; limit?: number } = {},
  ): EvaluationJob[] {
    const rows = this.d
      .st(
        `SELECT * FROM evaluation_jobs WHERE (? IS NULL OR status = ?) AND (? IS NULL OR session_id = ?)
         ORDER BY created_at, id LIMIT ?`,
      )
      .all(
        q.status ?? null,
        q.status ?? null,
        q.sessionId ?? null,
        q.sessionId ?? null,
        q.limit ?? 1000,
      ) as Row[];
    return rows.map(evaluationFromRow);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
