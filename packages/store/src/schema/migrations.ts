/**
 * The store's own schema, as migrations in order, for every backend. Each migration takes the
 * next version number on each dialect it applies to (a PostgreSQL-only one shifts the numbers
 * after it there: SQLite 2 is PostgreSQL 3). Never edit an applied migration; append a new one.
 *
 * Ids used for keyset paging (`sessions.id`, `effects.id`, `evaluation_jobs.id`) are `key`
 * columns, which PostgreSQL compares bytewise (`COLLATE "C"`); queries match other tables'
 * `session_id` columns against the parameter, never against `sessions.id`: a join across the two
 * collations could not use the indexes.
 */
import { NO_COMPENSATION } from '@baton/core';
import { addColumns, compress, index, native, sql, table } from './describe';
import type { MigrationSpec } from './describe';

export const STORE_MIGRATIONS: readonly MigrationSpec[] = [
  {
    name: 'initial',
    steps: [
      table(
        'versions',
        `agent text, label text, schema_version int, model_id text, prompt_hash text, tool_manifest_hash text,
         code_hash text, identity text, accepts_schemas text, down_schemas text, created_at bigint, metadata text`,
        'agent, label',
      ),
      table(
        'workers',
        'id text pk, agent text, version text, url text?, health text, registered_at bigint, last_seen_at bigint',
      ),
      table(
        'routes',
        'agent text pk, stable text, candidate text?, weight real, move text?, rollout_id text?, updated_at bigint',
      ),
      table(
        'sessions',
        `id key pk, agent text, tenant text?, version text, status text, seq int =0, token_hash text,
         lease_owner text?, lease_expires_at bigint?, reason text?, created_at bigint, updated_at bigint, metadata text`,
      ),
      index('sessions_agent_version_status', 'sessions', 'agent, version, status'),
      table(
        'checkpoints',
        `session_id text, seq int, schema_version int, written_by text, hash text, size int, created_at bigint,
         body body`,
        'session_id, seq',
      ),
      table(
        'migrations',
        `id serial pk, session_id text, seq int, from_version text, to_version text, from_schema int, to_schema int,
         context_policy text, rollout_id text?, status text, error text?, at bigint`,
      ),
      index('migrations_session', 'migrations', 'session_id'),
      index('migrations_rollout', 'migrations', 'rollout_id'),
      table(
        'waits',
        'token text pk, session_id text, name text, deadline bigint, schema text?, created_at bigint, status text',
      ),
      index('waits_session', 'waits', 'session_id, status'),
      index('waits_due', 'waits', 'status, deadline'),
      table(
        'steps',
        'session_id text, turn_id text, idx int, name text, result text?',
        'session_id, turn_id, idx',
      ),
      table('turn_results', 'session_id text, key text, result text?, created_at bigint', 'session_id, key'),
      table(
        'effects',
        `id key pk, idempotency_key text unique, session_id text, agent text, version text, rollout_id text?,
         turn_id text, name text, args text?, status text, result text?, error text?, compensation text?,
         compensation_result text?, created_at bigint, updated_at bigint`,
      ),
      index('effects_session', 'effects', 'session_id'),
      index('effects_agent_version', 'effects', 'agent, version'),
      index('effects_rollout', 'effects', 'rollout_id'),
      table(
        'rollouts',
        `id text pk, agent text, from_version text, to_version text, spec text?, phase text, step int, state text?,
         rev int, decision_seq int, created_at bigint, updated_at bigint`,
      ),
      index('rollouts_agent', 'rollouts', 'agent'),
      table(
        'decisions',
        'rollout_id text, seq int, kind text, message text, evidence text?, at bigint',
        'rollout_id, seq',
      ),
      table(
        'turn_telemetry',
        `id serial pk, session_id text, agent text, version text, turn_id text, seq int, at bigint, latency_ms real,
         tool_calls text, reasoning_steps int, tokens_in bigint, tokens_out bigint, context_utilization real,
         metrics text, signals text, error text?`,
      ),
      index('turn_telemetry_agent_version_at', 'turn_telemetry', 'agent, version, at'),
      table(
        'session_aggregates',
        `session_id text, version text, agent text, session_started_at bigint, first_at bigint, last_at bigint,
         turns int, errors int, tool_calls bigint, tool_mix text, reasoning_steps bigint, tokens_in bigint,
         tokens_out bigint, latency_ms_sum real, latency_ms_max real, context_utilization_max real, metrics text,
         signals text, completed bool`,
        'session_id, version',
      ),
      index('session_aggregates_cohort', 'session_aggregates', 'agent, version, session_started_at'),
      table('locks', 'name text pk, owner text, expires_at bigint'),
      native('aggregate merge functions'),
    ],
  },
  {
    name: 'checkpoint bodies compressed with lz4 where the server supports it',
    only: 'postgres',
    steps: [compress('checkpoints.body')],
  },
  {
    name: 'history log, checkpoint parts, lease epochs',
    repeatable: true,
    data: 'legacy checkpoints',
    steps: [
      ...addColumns('sessions', 'lease_epoch int =0'),
      ...addColumns(
        'checkpoints',
        `format int =1, state_hash text?, context_hash text?, memory_hash text?, history_length int =0,
         history_head text?, pinned bool =false`,
      ),
      table('checkpoint_parts', 'id serial pk, session_id text, hash text, size int, body body'),
      index('checkpoint_parts_key', 'checkpoint_parts', 'session_id, hash', { unique: true }),
      table(
        'history',
        `id serial pk, session_id text, idx int, turn_id text, role text, at bigint, size int, hash text,
         chain text, body body`,
      ),
      index('history_key', 'history', 'session_id, idx', { unique: true }),
      table('history_trims', 'session_id text pk, before_idx int, chain text, at bigint, reason text'),
      table('secrets', 'name text pk, value text, created_at bigint'),
      native('refuse legacy checkpoints'),
      compress('checkpoint_parts.body', 'history.body'),
    ],
  },
  {
    name: 'effect attempts and resolutions, session keys, evaluation queue',
    steps: [
      ...addColumns('effects', 'attempt_id text?, resolution text?'),
      table(
        'session_keys',
        'agent text, key text, session_id text, body_hash text, created_at bigint',
        'agent, key',
      ),
      table(
        'evaluation_jobs',
        `id key pk, session_id text, version text, turn text, status text, owner text?, claimed_until bigint,
         attempts int, created_at bigint, recorded_at bigint?`,
      ),
      index('evaluation_jobs_pending', 'evaluation_jobs', 'status, created_at', {
        // PostgreSQL: only the pending jobs, in claim order
        on: { postgres: { columns: 'created_at, id', where: "status = 'pending'" } },
      }),
      index('evaluation_jobs_session', 'evaluation_jobs', 'session_id'),
    ],
  },
  { name: 'wait tokens stored as digests', data: 'wait digests', steps: [] },
  {
    name: 'compensation state beside the effect status',
    steps: [
      ...addColumns(
        'effects',
        `compensation_state text ='pending', compensation_reason text?, compensation_by text?,
         compensation_error text?, compensation_owner text?, compensation_expires_at bigint?,
         compensation_version text?, compensation_attempts int =0, compensates text?`,
      ),
      sql(`
UPDATE effects SET status = 'committed', compensation_state = 'recorded-by-operator',
  compensation_reason = 'marked compensated by hand before compensations ran; nothing ran'
  WHERE status = 'compensated'`),
      sql(`
UPDATE effects SET compensation_state = 'not-compensable', compensation_reason = '${NO_COMPENSATION}'
  WHERE compensation IS NULL AND compensation_state = 'pending'`),
      index('effects_compensation_state', 'effects', 'compensation_state'),
    ],
  },
  {
    name: 'sessions by version and status over time; sessions by tenant',
    steps: [
      table('session_samples', 'rollout_id text, at bigint, counts json', 'rollout_id, at'),
      index('sessions_tenant', 'sessions', 'tenant, id'),
      index('sessions_agent_version_id', 'sessions', 'agent, version, id'),
    ],
  },
];
