/**
 * SQLite side of crash recovery (migration 3): the schema of in-doubt effect resolution,
 * session-creation idempotency keys and the durable evaluation queue. Their methods are shared with
 * PostgreSQL (`sql/effects.ts`, `sql/queues.ts`).
 */
export const SQLITE_RECOVERY_MIGRATION = `
ALTER TABLE effects ADD COLUMN attempt_id TEXT;
ALTER TABLE effects ADD COLUMN resolution TEXT;
CREATE TABLE session_keys (
  agent TEXT NOT NULL, key TEXT NOT NULL, session_id TEXT NOT NULL, body_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL, PRIMARY KEY (agent, key)
);
CREATE TABLE evaluation_jobs (
  id TEXT PRIMARY KEY, session_id TEXT NOT NULL, version TEXT NOT NULL, turn TEXT NOT NULL,
  status TEXT NOT NULL, owner TEXT, claimed_until INTEGER NOT NULL, attempts INTEGER NOT NULL,
  created_at INTEGER NOT NULL, recorded_at INTEGER
);
CREATE INDEX evaluation_jobs_pending ON evaluation_jobs (status, created_at);
CREATE INDEX evaluation_jobs_session ON evaluation_jobs (session_id);
`;
