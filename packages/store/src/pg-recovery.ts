/**
 * PostgreSQL side of crash recovery (migration 4): the schema of in-doubt effect resolution,
 * session-creation idempotency keys and the durable evaluation queue. Their methods are shared with
 * SQLite (`sql/effects.ts`, `sql/queues.ts`).
 */
export const PG_RECOVERY_MIGRATION = `
ALTER TABLE effects ADD COLUMN attempt_id TEXT;
ALTER TABLE effects ADD COLUMN resolution TEXT;
CREATE TABLE session_keys (
  agent TEXT NOT NULL, key TEXT NOT NULL, session_id TEXT NOT NULL, body_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL, PRIMARY KEY (agent, key)
);
CREATE TABLE evaluation_jobs (
  id TEXT COLLATE "C" PRIMARY KEY, session_id TEXT NOT NULL, version TEXT NOT NULL, turn TEXT NOT NULL,
  status TEXT NOT NULL, owner TEXT, claimed_until BIGINT NOT NULL, attempts INTEGER NOT NULL,
  created_at BIGINT NOT NULL, recorded_at BIGINT
);
CREATE INDEX evaluation_jobs_pending ON evaluation_jobs (created_at, id) WHERE status = 'pending';
CREATE INDEX evaluation_jobs_session ON evaluation_jobs (session_id);
`;
