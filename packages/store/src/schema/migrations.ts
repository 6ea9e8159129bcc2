/**
 * The store's own schema, written once: each migration's DDL in portable SQL that `render.ts`
 * turns into each dialect's. Column types are written as
 *
 * - `TEXT`, `INT` (32-bit), `BIGINT` (epoch ms and other 64-bit counts), `REAL`, `BOOL` (with
 *   `FALSE`), `JSON`;
 * - `BODY`: a stored record body (bytes on SQLite, text on PostgreSQL);
 * - `SERIAL`: an auto-increment row id (`PRIMARY KEY`);
 * - `CTEXT`: a text id that keyset paging compares bytewise (`COLLATE "C"` on PostgreSQL).
 *   Queries match other tables' `session_id` columns against the parameter, never against
 *   `sessions.id`: a join across the two collations could not use the indexes.
 *
 * What a dialect writes its own way (or not at all) is a `native` object, in `sqlite.ts` and
 * `postgres.ts`. Each migration takes the next version number on each dialect it applies to (a
 * PostgreSQL-only one shifts the numbers after it there: SQLite 2 is PostgreSQL 3). Never edit an
 * applied migration; append a new one.
 */
import { NO_COMPENSATION } from '@baton/core';

export type Dialect = 'sqlite' | 'postgres';

/** Objects each dialect writes in its own syntax, after the migration's portable DDL. */
export type NativeObject =
  | 'aggregate merge functions'
  | 'checkpoint bodies compressed'
  | 'refuse legacy checkpoints'
  | 'log bodies compressed'
  | 'pending evaluations index';

/** What a data step upgrades; each backend runs its own code for it, in the migration's transaction. */
export type DataStep = 'legacy checkpoints' | 'wait digests';

export interface MigrationSpec {
  name: string;
  /** Portable DDL (see above). */
  sql: string;
  native?: NativeObject[];
  /** A migration one dialect has and the others do not (it takes a version number there only). */
  only?: Dialect;
  /** Written so that a half-applied run can be repeated (`IF NOT EXISTS` where the dialect has it). */
  repeatable?: boolean;
  /** A data upgrade run right after the DDL, in the same transaction. */
  data?: DataStep;
}

export const STORE_MIGRATIONS: readonly MigrationSpec[] = [
  {
    name: 'initial',
    sql: `
CREATE TABLE versions (
  agent TEXT NOT NULL, label TEXT NOT NULL, schema_version INT NOT NULL, model_id TEXT NOT NULL,
  prompt_hash TEXT NOT NULL, tool_manifest_hash TEXT NOT NULL, code_hash TEXT NOT NULL, identity TEXT NOT NULL,
  accepts_schemas TEXT NOT NULL, down_schemas TEXT NOT NULL, created_at BIGINT NOT NULL, metadata TEXT NOT NULL,
  PRIMARY KEY (agent, label)
);
CREATE TABLE workers (
  id TEXT PRIMARY KEY, agent TEXT NOT NULL, version TEXT NOT NULL, url TEXT, health TEXT NOT NULL,
  registered_at BIGINT NOT NULL, last_seen_at BIGINT NOT NULL
);
CREATE TABLE routes (
  agent TEXT PRIMARY KEY, stable TEXT NOT NULL, candidate TEXT, weight REAL NOT NULL, move TEXT,
  rollout_id TEXT, updated_at BIGINT NOT NULL
);
CREATE TABLE sessions (
  id CTEXT PRIMARY KEY, agent TEXT NOT NULL, tenant TEXT, version TEXT NOT NULL, status TEXT NOT NULL,
  seq INT NOT NULL DEFAULT 0, token_hash TEXT NOT NULL, lease_owner TEXT, lease_expires_at BIGINT,
  reason TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, metadata TEXT NOT NULL
);
CREATE INDEX sessions_agent_version_status ON sessions (agent, version, status);
CREATE TABLE checkpoints (
  session_id TEXT NOT NULL, seq INT NOT NULL, schema_version INT NOT NULL, written_by TEXT NOT NULL,
  hash TEXT NOT NULL, size INT NOT NULL, created_at BIGINT NOT NULL, body BODY NOT NULL,
  PRIMARY KEY (session_id, seq)
);
CREATE TABLE migrations (
  id SERIAL PRIMARY KEY, session_id TEXT NOT NULL, seq INT NOT NULL, from_version TEXT NOT NULL,
  to_version TEXT NOT NULL, from_schema INT NOT NULL, to_schema INT NOT NULL,
  context_policy TEXT NOT NULL, rollout_id TEXT, status TEXT NOT NULL, error TEXT, at BIGINT NOT NULL
);
CREATE INDEX migrations_session ON migrations (session_id);
CREATE INDEX migrations_rollout ON migrations (rollout_id);
CREATE TABLE waits (
  token TEXT PRIMARY KEY, session_id TEXT NOT NULL, name TEXT NOT NULL, deadline BIGINT NOT NULL,
  schema TEXT, created_at BIGINT NOT NULL, status TEXT NOT NULL
);
CREATE INDEX waits_session ON waits (session_id, status);
CREATE INDEX waits_due ON waits (status, deadline);
CREATE TABLE steps (
  session_id TEXT NOT NULL, turn_id TEXT NOT NULL, idx INT NOT NULL, name TEXT NOT NULL, result TEXT,
  PRIMARY KEY (session_id, turn_id, idx)
);
CREATE TABLE turn_results (
  session_id TEXT NOT NULL, key TEXT NOT NULL, result TEXT, created_at BIGINT NOT NULL,
  PRIMARY KEY (session_id, key)
);
CREATE TABLE effects (
  id CTEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, session_id TEXT NOT NULL, agent TEXT NOT NULL,
  version TEXT NOT NULL, rollout_id TEXT, turn_id TEXT NOT NULL, name TEXT NOT NULL, args TEXT,
  status TEXT NOT NULL, result TEXT, error TEXT, compensation TEXT, compensation_result TEXT,
  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL
);
CREATE INDEX effects_session ON effects (session_id);
CREATE INDEX effects_agent_version ON effects (agent, version);
CREATE INDEX effects_rollout ON effects (rollout_id);
CREATE TABLE rollouts (
  id TEXT PRIMARY KEY, agent TEXT NOT NULL, from_version TEXT NOT NULL, to_version TEXT NOT NULL, spec TEXT,
  phase TEXT NOT NULL, step INT NOT NULL, state TEXT, rev INT NOT NULL, decision_seq INT NOT NULL,
  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL
);
CREATE INDEX rollouts_agent ON rollouts (agent);
CREATE TABLE decisions (
  rollout_id TEXT NOT NULL, seq INT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL, evidence TEXT,
  at BIGINT NOT NULL, PRIMARY KEY (rollout_id, seq)
);
CREATE TABLE turn_telemetry (
  id SERIAL PRIMARY KEY, session_id TEXT NOT NULL, agent TEXT NOT NULL, version TEXT NOT NULL,
  turn_id TEXT NOT NULL, seq INT NOT NULL, at BIGINT NOT NULL, latency_ms REAL NOT NULL,
  tool_calls TEXT NOT NULL, reasoning_steps INT NOT NULL, tokens_in BIGINT NOT NULL,
  tokens_out BIGINT NOT NULL, context_utilization REAL NOT NULL, metrics TEXT NOT NULL, signals TEXT NOT NULL,
  error TEXT
);
CREATE INDEX turn_telemetry_agent_version_at ON turn_telemetry (agent, version, at);
CREATE TABLE session_aggregates (
  session_id TEXT NOT NULL, version TEXT NOT NULL, agent TEXT NOT NULL, session_started_at BIGINT NOT NULL,
  first_at BIGINT NOT NULL, last_at BIGINT NOT NULL, turns INT NOT NULL, errors INT NOT NULL,
  tool_calls BIGINT NOT NULL, tool_mix TEXT NOT NULL, reasoning_steps BIGINT NOT NULL,
  tokens_in BIGINT NOT NULL, tokens_out BIGINT NOT NULL, latency_ms_sum REAL NOT NULL,
  latency_ms_max REAL NOT NULL, context_utilization_max REAL NOT NULL, metrics TEXT NOT NULL,
  signals TEXT NOT NULL, completed BOOL NOT NULL, PRIMARY KEY (session_id, version)
);
CREATE INDEX session_aggregates_cohort ON session_aggregates (agent, version, session_started_at);
CREATE TABLE locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at BIGINT NOT NULL);`,
    native: ['aggregate merge functions'],
  },
  {
    name: 'checkpoint bodies compressed with lz4 where the server supports it',
    only: 'postgres',
    sql: '',
    native: ['checkpoint bodies compressed'],
  },
  {
    name: 'history log, checkpoint parts, lease epochs',
    repeatable: true,
    data: 'legacy checkpoints',
    sql: `
ALTER TABLE sessions ADD COLUMN lease_epoch INT NOT NULL DEFAULT 0;
ALTER TABLE checkpoints ADD COLUMN format INT NOT NULL DEFAULT 1;
ALTER TABLE checkpoints ADD COLUMN state_hash TEXT;
ALTER TABLE checkpoints ADD COLUMN context_hash TEXT;
ALTER TABLE checkpoints ADD COLUMN memory_hash TEXT;
ALTER TABLE checkpoints ADD COLUMN history_length INT NOT NULL DEFAULT 0;
ALTER TABLE checkpoints ADD COLUMN history_head TEXT;
ALTER TABLE checkpoints ADD COLUMN pinned BOOL NOT NULL DEFAULT FALSE;
CREATE TABLE checkpoint_parts (
  id SERIAL PRIMARY KEY, session_id TEXT NOT NULL, hash TEXT NOT NULL, size INT NOT NULL, body BODY NOT NULL
);
CREATE UNIQUE INDEX checkpoint_parts_key ON checkpoint_parts (session_id, hash);
CREATE TABLE history (
  id SERIAL PRIMARY KEY, session_id TEXT NOT NULL, idx INT NOT NULL, turn_id TEXT NOT NULL, role TEXT NOT NULL,
  at BIGINT NOT NULL, size INT NOT NULL, hash TEXT NOT NULL, chain TEXT NOT NULL, body BODY NOT NULL
);
CREATE UNIQUE INDEX history_key ON history (session_id, idx);
CREATE TABLE history_trims (
  session_id TEXT PRIMARY KEY, before_idx INT NOT NULL, chain TEXT NOT NULL, at BIGINT NOT NULL, reason TEXT NOT NULL
);
CREATE TABLE secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL, created_at BIGINT NOT NULL);`,
    native: ['refuse legacy checkpoints', 'log bodies compressed'],
  },
  {
    name: 'effect attempts and resolutions, session keys, evaluation queue',
    sql: `
ALTER TABLE effects ADD COLUMN attempt_id TEXT;
ALTER TABLE effects ADD COLUMN resolution TEXT;
CREATE TABLE session_keys (
  agent TEXT NOT NULL, key TEXT NOT NULL, session_id TEXT NOT NULL, body_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL, PRIMARY KEY (agent, key)
);
CREATE TABLE evaluation_jobs (
  id CTEXT PRIMARY KEY, session_id TEXT NOT NULL, version TEXT NOT NULL, turn TEXT NOT NULL,
  status TEXT NOT NULL, owner TEXT, claimed_until BIGINT NOT NULL, attempts INT NOT NULL,
  created_at BIGINT NOT NULL, recorded_at BIGINT
);
CREATE INDEX evaluation_jobs_session ON evaluation_jobs (session_id);`,
    native: ['pending evaluations index'],
  },
  { name: 'wait tokens stored as digests', data: 'wait digests', sql: '' },
  {
    name: 'compensation state beside the effect status',
    sql: `
ALTER TABLE effects ADD COLUMN compensation_state TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE effects ADD COLUMN compensation_reason TEXT;
ALTER TABLE effects ADD COLUMN compensation_by TEXT;
ALTER TABLE effects ADD COLUMN compensation_error TEXT;
ALTER TABLE effects ADD COLUMN compensation_owner TEXT;
ALTER TABLE effects ADD COLUMN compensation_expires_at BIGINT;
ALTER TABLE effects ADD COLUMN compensation_version TEXT;
ALTER TABLE effects ADD COLUMN compensation_attempts INT NOT NULL DEFAULT 0;
ALTER TABLE effects ADD COLUMN compensates TEXT;
UPDATE effects SET status = 'committed', compensation_state = 'recorded-by-operator',
  compensation_reason = 'marked compensated by hand before compensations ran; nothing ran'
  WHERE status = 'compensated';
UPDATE effects SET compensation_state = 'not-compensable', compensation_reason = '${NO_COMPENSATION}'
  WHERE compensation IS NULL AND compensation_state = 'pending';
CREATE INDEX effects_compensation_state ON effects (compensation_state);`,
  },
  {
    name: 'sessions by version and status over time; sessions by tenant',
    sql: `
CREATE TABLE session_samples (
  rollout_id TEXT NOT NULL, at BIGINT NOT NULL, counts JSON NOT NULL, PRIMARY KEY (rollout_id, at)
);
CREATE INDEX sessions_tenant ON sessions (tenant, id);
CREATE INDEX sessions_agent_version_id ON sessions (agent, version, id);`,
  },
];
