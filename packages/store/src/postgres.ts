/**
 * PostgreSQL backend (`pg` Pool). Hot paths are one round trip: a checkpoint append is a single
 * statement whose data-modifying CTEs do the compare-and-set on the session's seq and every write
 * that belongs to the same turn commit; only when it matches no row does a follow-up query tell a
 * stale writer from an unknown session. Frequently used statements are prepared per connection.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import {
  BatonError,
  SequenceConflictError,
  SessionBusyError,
  TERMINAL_SESSION_STATUSES,
  ValidationError,
  newId,
} from '@baton/core';
import type {
  Checkpoint,
  CheckpointBody,
  CheckpointMeta,
  Decision,
  DecisionInput,
  EffectIntentInput,
  EffectRecord,
  MigrationRecord,
  Page,
  RolloutPhase,
  RolloutRecord,
  RouteRecord,
  SessionAggregate,
  SessionRecord,
  SessionStatus,
  TurnTelemetryRecord,
  VersionRecord,
  WaitRecord,
  WorkerRecord,
} from '@baton/core';
import type {
  AppendCheckpointInput,
  AppendCheckpointsResult,
  BeginTurnResult,
  CreateRolloutInput,
  CreateSessionInput,
  Lease,
  ListEffectsQuery,
  ListSessionsQuery,
  RolloutPatch,
  SessionExpectation,
  SessionPatch,
  Store,
  StoreOptions,
  TelemetryQuery,
  TurnTelemetryQuery,
} from './store';
import { PostgresGraphCheckpointStore } from './graph-postgres';
import {
  DEFAULT_MAX_CHECKPOINT_BYTES,
  EFFECT_TRANSITIONS,
  aggregateFromRow,
  appendedMeta,
  asArray,
  batonErrorOr,
  checkKeep,
  checkRouteWeight,
  checkSameVersion,
  checkTtl,
  checkpointMeta,
  checkpointNotFound,
  decodeBody,
  decisionFromRow,
  effectConflict,
  effectFromRow,
  effectNotFound,
  emptyCounts,
  encodeAppend,
  jsonText,
  leaseLost,
  metricsDelta,
  migrationFromRow,
  pageLimit,
  parseJson,
  rolloutFromRow,
  rolloutNotFound,
  rolloutRevConflict,
  routeFromRow,
  sessionConflict,
  sessionExists,
  sessionFromRow,
  sessionNotFound,
  startedTurn,
  telemetryFromRow,
  toPage,
  turnDelta,
  versionFromRow,
  versionNotFound,
  waitFromRow,
  waitNotFound,
  workerFromRow,
  workerNotFound,
} from './common';
import type { AggregateDelta, EffectOp, EncodedBody, Row } from './common';

export interface PostgresStoreOptions extends StoreOptions {
  /** Schema holding Baton's tables; created when missing and set as the connections' search_path. */
  schema?: string;
  /** Pool size. Default 10. */
  poolSize?: number;
  /** Fault injection for crash tests: called inside a write transaction just before it commits. */
  hooks?: { beforeCommit?: (op: string) => void | Promise<void> };
}

interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The store's own schema, in order. Never edit an applied migration; append a new one.
 * Ids used for keyset paging (`sessions.id`, `effects.id`) compare bytewise (`COLLATE "C"`), so
 * queries match other tables' `session_id` columns against the parameter, never against
 * `sessions.id`: a join across the two collations could not use the indexes.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE versions (
  agent TEXT NOT NULL, label TEXT NOT NULL, schema_version INTEGER NOT NULL, model_id TEXT NOT NULL,
  prompt_hash TEXT NOT NULL, tool_manifest_hash TEXT NOT NULL, code_hash TEXT NOT NULL, identity TEXT NOT NULL,
  accepts_schemas TEXT NOT NULL, down_schemas TEXT NOT NULL, created_at BIGINT NOT NULL, metadata TEXT NOT NULL,
  PRIMARY KEY (agent, label)
);
CREATE TABLE workers (
  id TEXT PRIMARY KEY, agent TEXT NOT NULL, version TEXT NOT NULL, url TEXT, health TEXT NOT NULL,
  registered_at BIGINT NOT NULL, last_seen_at BIGINT NOT NULL
);
CREATE TABLE routes (
  agent TEXT PRIMARY KEY, stable TEXT NOT NULL, candidate TEXT, weight DOUBLE PRECISION NOT NULL, move TEXT,
  rollout_id TEXT, updated_at BIGINT NOT NULL
);
CREATE TABLE sessions (
  id TEXT COLLATE "C" PRIMARY KEY, agent TEXT NOT NULL, tenant TEXT, version TEXT NOT NULL, status TEXT NOT NULL,
  seq INTEGER NOT NULL DEFAULT 0, token_hash TEXT NOT NULL, lease_owner TEXT, lease_expires_at BIGINT,
  reason TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, metadata TEXT NOT NULL
);
CREATE INDEX sessions_agent_version_status ON sessions (agent, version, status);
CREATE TABLE checkpoints (
  session_id TEXT NOT NULL, seq INTEGER NOT NULL, schema_version INTEGER NOT NULL, written_by TEXT NOT NULL,
  hash TEXT NOT NULL, size INTEGER NOT NULL, created_at BIGINT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (session_id, seq)
);
CREATE TABLE migrations (
  id BIGSERIAL PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL, from_version TEXT NOT NULL,
  to_version TEXT NOT NULL, from_schema INTEGER NOT NULL, to_schema INTEGER NOT NULL,
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
  session_id TEXT NOT NULL, turn_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, result TEXT,
  PRIMARY KEY (session_id, turn_id, idx)
);
CREATE TABLE turn_results (
  session_id TEXT NOT NULL, key TEXT NOT NULL, result TEXT, created_at BIGINT NOT NULL,
  PRIMARY KEY (session_id, key)
);
CREATE TABLE effects (
  id TEXT COLLATE "C" PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, session_id TEXT NOT NULL,
  agent TEXT NOT NULL, version TEXT NOT NULL, rollout_id TEXT, turn_id TEXT NOT NULL, name TEXT NOT NULL,
  args TEXT, status TEXT NOT NULL, result TEXT, error TEXT, compensation TEXT, compensation_result TEXT,
  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL
);
CREATE INDEX effects_session ON effects (session_id);
CREATE INDEX effects_agent_version ON effects (agent, version);
CREATE INDEX effects_rollout ON effects (rollout_id);
CREATE TABLE rollouts (
  id TEXT PRIMARY KEY, agent TEXT NOT NULL, from_version TEXT NOT NULL, to_version TEXT NOT NULL, spec TEXT,
  phase TEXT NOT NULL, step INTEGER NOT NULL, state TEXT, rev INTEGER NOT NULL, decision_seq INTEGER NOT NULL,
  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL
);
CREATE INDEX rollouts_agent ON rollouts (agent);
CREATE TABLE decisions (
  rollout_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL, evidence TEXT,
  at BIGINT NOT NULL, PRIMARY KEY (rollout_id, seq)
);
CREATE TABLE turn_telemetry (
  id BIGSERIAL PRIMARY KEY, session_id TEXT NOT NULL, agent TEXT NOT NULL, version TEXT NOT NULL,
  turn_id TEXT NOT NULL, seq INTEGER NOT NULL, at BIGINT NOT NULL, latency_ms DOUBLE PRECISION NOT NULL,
  tool_calls TEXT NOT NULL, reasoning_steps INTEGER NOT NULL, tokens_in BIGINT NOT NULL,
  tokens_out BIGINT NOT NULL, context_utilization DOUBLE PRECISION NOT NULL, metrics TEXT NOT NULL,
  signals TEXT NOT NULL, error TEXT
);
CREATE INDEX turn_telemetry_agent_version_at ON turn_telemetry (agent, version, at);
CREATE TABLE session_aggregates (
  session_id TEXT NOT NULL, version TEXT NOT NULL, agent TEXT NOT NULL, session_started_at BIGINT NOT NULL,
  first_at BIGINT NOT NULL, last_at BIGINT NOT NULL, turns INTEGER NOT NULL, errors INTEGER NOT NULL,
  tool_calls BIGINT NOT NULL, tool_mix TEXT NOT NULL, reasoning_steps BIGINT NOT NULL,
  tokens_in BIGINT NOT NULL, tokens_out BIGINT NOT NULL, latency_ms_sum DOUBLE PRECISION NOT NULL,
  latency_ms_max DOUBLE PRECISION NOT NULL, context_utilization_max DOUBLE PRECISION NOT NULL,
  metrics TEXT NOT NULL, signals TEXT NOT NULL, completed BOOLEAN NOT NULL, PRIMARY KEY (session_id, version)
);
CREATE INDEX session_aggregates_cohort ON session_aggregates (agent, version, session_started_at);
CREATE TABLE locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at BIGINT NOT NULL);
CREATE FUNCTION baton_merge_counts(a TEXT, b TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $f$
  SELECT coalesce(jsonb_object_agg(k, v), '{}'::jsonb)::text FROM (
    SELECT key AS k, sum(value::numeric) AS v
    FROM (SELECT * FROM jsonb_each_text(a::jsonb) UNION ALL SELECT * FROM jsonb_each_text(b::jsonb)) x
    GROUP BY key) y
$f$;
CREATE FUNCTION baton_merge_metrics(a TEXT, b TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $f$
  SELECT coalesce(jsonb_object_agg(k, jsonb_build_object('sum', s, 'count', c)), '{}'::jsonb)::text FROM (
    SELECT key AS k, sum((value->>'sum')::numeric) AS s, sum((value->>'count')::numeric) AS c
    FROM (SELECT * FROM jsonb_each(a::jsonb) UNION ALL SELECT * FROM jsonb_each(b::jsonb)) x
    GROUP BY key) y
$f$;
`,
  },
  {
    version: 2,
    name: 'checkpoint bodies compressed with lz4 where the server supports it',
    sql: `
DO $d$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    ALTER TABLE checkpoints ALTER COLUMN body SET COMPRESSION lz4;
  END IF;
END $d$;
`,
  },
];

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Upsert of a session aggregate from a delta; the `…Sql` arguments are SQL expressions (placeholders or columns). */
function aggregateUpsert(
  p: (v: unknown) => string,
  sessionIdSql: string,
  versionSql: string,
  agentSql: string,
  startedAtSql: string,
  at: number,
  d: AggregateDelta,
  from: string,
): string {
  const atP = p(at);
  const latP = p(d.latencyMs);
  return `INSERT INTO session_aggregates AS a (session_id, version, agent, session_started_at, first_at, last_at,
      turns, errors, tool_calls, tool_mix, reasoning_steps, tokens_in, tokens_out, latency_ms_sum, latency_ms_max,
      context_utilization_max, metrics, signals, completed)
    SELECT ${sessionIdSql}, ${versionSql}, ${agentSql}, ${startedAtSql}, ${atP}::bigint, ${atP}::bigint, ${p(d.turns)}::int,
      ${p(d.errors)}::int, ${p(d.toolCalls)}::bigint, ${p(JSON.stringify(d.toolMix))}, ${p(d.reasoningSteps)}::bigint,
      ${p(d.tokensIn)}::bigint, ${p(d.tokensOut)}::bigint, ${latP}::float8, ${latP}::float8,
      ${p(d.contextUtilization)}::float8, ${p(JSON.stringify(d.metrics))}, ${p(JSON.stringify(d.signals))}, false
    ${from}
    ON CONFLICT (session_id, version) DO UPDATE SET
      first_at = least(a.first_at, excluded.first_at), last_at = greatest(a.last_at, excluded.last_at),
      turns = a.turns + excluded.turns, errors = a.errors + excluded.errors,
      tool_calls = a.tool_calls + excluded.tool_calls, tool_mix = baton_merge_counts(a.tool_mix, excluded.tool_mix),
      reasoning_steps = a.reasoning_steps + excluded.reasoning_steps, tokens_in = a.tokens_in + excluded.tokens_in,
      tokens_out = a.tokens_out + excluded.tokens_out, latency_ms_sum = a.latency_ms_sum + excluded.latency_ms_sum,
      latency_ms_max = greatest(a.latency_ms_max, excluded.latency_ms_max),
      context_utilization_max = greatest(a.context_utilization_max, excluded.context_utilization_max),
      metrics = baton_merge_metrics(a.metrics, excluded.metrics), signals = baton_merge_counts(a.signals, excluded.signals)`;
}

function telemetryInsert(
  p: (v: unknown) => string,
  t: Omit<TurnTelemetryRecord, 'seq'>,
  seqSql: string,
  from: string,
) {
  return `INSERT INTO turn_telemetry (session_id, agent, version, turn_id, seq, at, latency_ms, tool_calls,
      reasoning_steps, tokens_in, tokens_out, context_utilization, metrics, signals, error)
    SELECT ${p(t.sessionId)}, ${p(t.agent)}, ${p(t.version)}, ${p(t.turnId)}, ${seqSql}, ${p(t.at)}::bigint,
      ${p(t.latencyMs ?? 0)}::float8, ${p(JSON.stringify(t.toolCalls ?? {}))}, ${p(t.reasoningSteps ?? 0)}::int,
      ${p(t.tokensIn ?? 0)}::bigint, ${p(t.tokensOut ?? 0)}::bigint, ${p(t.contextUtilization ?? 0)}::float8,
      ${p(JSON.stringify(t.metrics ?? {}))}, ${p(JSON.stringify(t.signals ?? []))}, ${p(t.error ?? null)}
    ${from}`;
}

/** Builds a parameter list: `p(value)` appends the value and returns its placeholder. */
function params(): { p: (v: unknown) => string; values: unknown[] } {
  const values: unknown[] = [];
  return {
    values,
    p: (v: unknown) => {
      values.push(v);
      return `$${values.length}`;
    },
  };
}

function stmtName(sql: string): string {
  return 'baton_' + createHash('sha1').update(sql).digest('hex').slice(0, 24);
}

/**
 * Connection-level failures (refused, reset, server shutting down, too many clients) become
 * `STORE_UNAVAILABLE` so callers can retry or answer 503; everything else passes through.
 */
function storeError(e: unknown): unknown {
  if (e instanceof BatonError) return e;
  const code = (e as { code?: string }).code ?? '';
  const connection =
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(code) ||
    code.startsWith('08') || // connection exception
    code.startsWith('57P') || // operator intervention: admin/crash shutdown, cannot connect now
    code === '53300' || // too many connections
    /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
      (e as Error)?.message ?? '',
    );
  if (!connection) return e;
  return new BatonError(
    'STORE_UNAVAILABLE',
    `the PostgreSQL store is unavailable: ${(e as Error).message}`,
    { code },
    { cause: e },
  );
}

function isUniqueViolation(e: unknown): boolean {
  return (e as { code?: string }).code === '23505';
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  private readonly now: () => number;
  private readonly maxBytes: number;
  private readonly hooks: PostgresStoreOptions['hooks'];
  private readonly schema: string | undefined;
  private closed = false;
  private graphStore: PostgresGraphCheckpointStore | undefined;

  private constructor(pool: pg.Pool, opts: PostgresStoreOptions) {
    this.pool = pool;
    this.schema = opts.schema;
    this.now = opts.now ?? Date.now;
    this.maxBytes = opts.maxCheckpointBytes ?? DEFAULT_MAX_CHECKPOINT_BYTES;
    this.hooks = opts.hooks;
  }

  /** Connect, create the schema when asked, and apply pending migrations under an advisory lock. */
  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const schema = opts.schema;
    if (schema !== undefined && !IDENT.test(schema)) {
      throw new ValidationError(`invalid schema name ${JSON.stringify(schema)}`);
    }
    const pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize ?? 10,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    // An idle client that loses its connection must not crash the process.
    pool.on('error', () => {});
    const store = new PostgresStore(pool, opts);
    try {
      await store.migrate(schema);
    } catch (e) {
      await pool.end().catch(() => {});
      throw storeError(e);
    }
    return store;
  }

  private async migrate(schema: string | undefined): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`SELECT pg_advisory_xact_lock(hashtext('baton_schema:' || $1))`, [schema ?? 'current']);
      if (schema) await c.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await c.query(
        'CREATE TABLE IF NOT EXISTS baton_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
      );
      const r = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM baton_schema_migrations');
      const current = r.rows[0]?.v ?? 0;
      for (const m of POSTGRES_MIGRATIONS) {
        if (m.version <= current) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO baton_schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          Date.now(),
        ]);
      }
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  /** LangGraph checkpoint tables on the same database and schema (their own migrations, applied on first use). */
  get graph(): PostgresGraphCheckpointStore {
    return (this.graphStore ??= new PostgresGraphCheckpointStore(
      this.pool,
      this.schema === undefined ? {} : { schema: this.schema },
    ));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** One statement on any pooled connection, prepared on that connection when `prepare` is set. */
  private async q<R extends QueryResultRow = Row>(
    sql: string,
    values: unknown[] = [],
    prepare = false,
  ): Promise<R[]> {
    try {
      const res = await this.pool.query<R>(
        prepare ? { name: stmtName(sql), text: sql, values } : { text: sql, values },
      );
      return res.rows;
    } catch (e) {
      throw storeError(e);
    }
  }

  /** A transaction on one connection; the fault-injection hook runs just before COMMIT. */
  private async tx<T>(op: string, fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect().catch((e: unknown) => {
      throw storeError(e);
    });
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await this.hooks?.beforeCommit?.(op);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw storeError(e);
    } finally {
      c.release();
    }
  }

  // ---------- versions and workers ----------

  async registerVersion(v: Omit<VersionRecord, 'createdAt'>): Promise<VersionRecord> {
    const rows = await this.q(
      `INSERT INTO versions (agent, label, schema_version, model_id, prompt_hash, tool_manifest_hash, code_hash,
         identity, accepts_schemas, down_schemas, created_at, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (agent, label) DO NOTHING RETURNING *`,
      [
        v.agent,
        v.label,
        v.schemaVersion,
        v.modelId,
        v.promptHash,
        v.toolManifestHash,
        v.codeHash,
        v.identity,
        JSON.stringify(v.acceptsSchemas ?? []),
        JSON.stringify(v.downSchemas ?? []),
        this.now(),
        JSON.stringify(v.metadata ?? {}),
      ],
    );
    if (rows[0]) return versionFromRow(rows[0]);
    const rec = await this.getVersion(v.agent, v.label);
    checkSameVersion(v, rec);
    return rec;
  }

  async getVersion(agent: string, label: string): Promise<VersionRecord> {
    const rows = await this.q('SELECT * FROM versions WHERE agent = $1 AND label = $2', [agent, label], true);
    if (!rows[0]) throw versionNotFound(agent, label);
    return versionFromRow(rows[0]);
  }

  async listVersions(agent?: string): Promise<VersionRecord[]> {
    const rows =
      agent === undefined
        ? await this.q('SELECT * FROM versions ORDER BY agent, created_at, label')
        : await this.q('SELECT * FROM versions WHERE agent = $1 ORDER BY created_at, label', [agent]);
    return rows.map(versionFromRow);
  }

  async registerWorker(w: Omit<WorkerRecord, 'registeredAt' | 'lastSeenAt'>): Promise<WorkerRecord> {
    const now = this.now();
    const rows = await this.q(
      `INSERT INTO workers (id, agent, version, url, health, registered_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
       ON CONFLICT (id) DO UPDATE SET agent = excluded.agent, version = excluded.version, url = excluded.url,
         health = excluded.health, last_seen_at = excluded.last_seen_at
       RETURNING *`,
      [w.id, w.agent, w.version, w.url ?? null, w.health, now],
    );
    return workerFromRow(rows[0]!);
  }

  async updateWorker(
    id: string,
    patch: { health?: WorkerRecord['health']; seen?: boolean },
  ): Promise<WorkerRecord> {
    const rows = await this.q(
      `UPDATE workers SET health = coalesce($1, health),
         last_seen_at = CASE WHEN $2::boolean THEN $3::bigint ELSE last_seen_at END
       WHERE id = $4 RETURNING *`,
      [patch.health ?? null, patch.seen === true, this.now(), id],
    );
    if (!rows[0]) throw workerNotFound(id);
    return workerFromRow(rows[0]);
  }

  async removeWorker(id: string): Promise<void> {
    const rows = await this.q('DELETE FROM workers WHERE id = $1 RETURNING id', [id]);
    if (rows.length === 0) throw workerNotFound(id);
  }

  async listWorkers(q: { agent?: string; version?: string } = {}): Promise<WorkerRecord[]> {
    const rows = await this.q(
      `SELECT * FROM workers WHERE ($1::text IS NULL OR agent = $1) AND ($2::text IS NULL OR version = $2)
       ORDER BY registered_at, id`,
      [q.agent ?? null, q.version ?? null],
    );
    return rows.map(workerFromRow);
  }

  // ---------- routes ----------

  async getRoute(agent: string): Promise<RouteRecord | null> {
    const rows = await this.q('SELECT * FROM routes WHERE agent = $1', [agent], true);
    return rows[0] ? routeFromRow(rows[0]) : null;
  }

  async setRoute(r: Omit<RouteRecord, 'updatedAt'>): Promise<RouteRecord> {
    checkRouteWeight(r.weight);
    const rows = await this.q(
      `INSERT INTO routes (agent, stable, candidate, weight, move, rollout_id, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (agent) DO UPDATE SET stable = excluded.stable, candidate = excluded.candidate,
         weight = excluded.weight, move = excluded.move, rollout_id = excluded.rollout_id, updated_at = excluded.updated_at
       RETURNING *`,
      [
        r.agent,
        r.stable,
        r.candidate ?? null,
        r.weight,
        r.move ? JSON.stringify(r.move) : null,
        r.rolloutId ?? null,
        this.now(),
      ],
    );
    return routeFromRow(rows[0]!);
  }

  // ---------- sessions ----------

  async createSession(input: CreateSessionInput): Promise<SessionRecord> {
    const now = this.now();
    const id = input.id ?? newId('s', now);
    try {
      const rows = await this.q(
        `INSERT INTO sessions (id, agent, tenant, version, status, seq, token_hash, created_at, updated_at, metadata)
         VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $7, $8) RETURNING *`,
        [
          id,
          input.agent,
          input.tenant ?? null,
          input.version,
          input.status ?? 'idle',
          input.tokenHash,
          now,
          JSON.stringify(input.metadata ?? {}),
        ],
        true,
      );
      return sessionFromRow(rows[0]!);
    } catch (e) {
      if (isUniqueViolation(e)) throw sessionExists(id);
      throw e;
    }
  }

  async getSession(id: string): Promise<SessionRecord> {
    const rows = await this.q('SELECT * FROM sessions WHERE id = $1', [id], true);
    if (!rows[0]) throw sessionNotFound(id);
    return sessionFromRow(rows[0]);
  }

  async listSessions(q: ListSessionsQuery): Promise<Page<SessionRecord>> {
    const limit = pageLimit(q.limit);
    const statuses = asArray(q.status);
    if (statuses && statuses.length === 0) return { items: [], nextCursor: null };
    const rows = await this.q(
      `SELECT * FROM sessions WHERE ($1::text IS NULL OR agent = $1) AND ($2::text IS NULL OR version = $2)
         AND ($3::text[] IS NULL OR status = ANY($3)) AND ($4::text IS NULL OR id > $4)
       ORDER BY id LIMIT $5`,
      [q.agent ?? null, q.version ?? null, statuses ?? null, q.cursor ?? null, limit + 1],
    );
    return toPage(rows.map(sessionFromRow), limit);
  }

  async countSessions(q: {
    agent?: string;
    version?: string;
  }): Promise<Record<string, Record<SessionStatus, number>>> {
    const rows = await this.q<{ version: string; status: SessionStatus; n: string }>(
      `SELECT version, status, count(*) AS n FROM sessions
       WHERE ($1::text IS NULL OR agent = $1) AND ($2::text IS NULL OR version = $2) GROUP BY version, status`,
      [q.agent ?? null, q.version ?? null],
    );
    const out: Record<string, Record<SessionStatus, number>> = {};
    for (const r of rows) {
      const byStatus = (out[r.version] ??= emptyCounts());
      byStatus[r.status] = Number(r.n);
    }
    return out;
  }

  async updateSession(id: string, expect: SessionExpectation, patch: SessionPatch): Promise<SessionRecord> {
    const statuses = asArray(expect.status);
    const rows = await this.q(
      `UPDATE sessions SET status = coalesce($1, status), version = coalesce($2, version),
         reason = CASE WHEN $3::boolean THEN $4 ELSE reason END, updated_at = $5
       WHERE id = $6 AND ($7::text[] IS NULL OR status = ANY($7)) AND ($8::text IS NULL OR version = $8)
         AND ($9::int IS NULL OR seq = $9)
       RETURNING *`,
      [
        patch.status ?? null,
        patch.version ?? null,
        patch.reason !== undefined,
        patch.reason ?? null,
        this.now(),
        id,
        statuses ?? null,
        expect.version ?? null,
        expect.seq ?? null,
      ],
      true,
    );
    if (rows[0]) return sessionFromRow(rows[0]);
    const cur = await this.getSession(id);
    throw sessionConflict(id, expect, cur);
  }

  async quarantineSession(id: string, reason: string): Promise<SessionRecord> {
    const rows = await this.q(
      `UPDATE sessions SET status = 'quarantined', reason = $1, updated_at = $2 WHERE id = $3 RETURNING *`,
      [reason, this.now(), id],
    );
    if (!rows[0]) throw sessionNotFound(id);
    return sessionFromRow(rows[0]);
  }

  async acquireLease(sessionId: string, owner: string, ttlMs: number): Promise<Lease> {
    checkTtl(ttlMs);
    const now = this.now();
    const expiresAt = now + ttlMs;
    // One round trip: the update, plus the current holder when it did not apply.
    const rows = await this.q<{ ok: boolean; lease_expires_at: string | null; found: boolean }>(
      `WITH u AS (
         UPDATE sessions SET lease_owner = $1, lease_expires_at = $2
         WHERE id = $3 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_expires_at <= $4)
         RETURNING id)
       SELECT EXISTS (SELECT 1 FROM u) AS ok, s.lease_expires_at, s.id IS NOT NULL AS found
       FROM (SELECT 1) one LEFT JOIN sessions s ON s.id = $3`,
      [owner, expiresAt, sessionId, now],
      true,
    );
    const r = rows[0]!;
    if (r.ok) return { sessionId, owner, expiresAt };
    if (!r.found) throw sessionNotFound(sessionId);
    const exp = r.lease_expires_at === null ? null : Number(r.lease_expires_at);
    if (exp === null || exp <= now) {
      // The snapshot raced with another writer; ask again for an exact answer.
      const cur = await this.getSession(sessionId);
      if (cur.leaseExpiresAt === null || cur.leaseExpiresAt <= now)
        return this.acquireLease(sessionId, owner, ttlMs);
      throw new SessionBusyError(sessionId, cur.leaseExpiresAt - now);
    }
    throw new SessionBusyError(sessionId, exp - now);
  }

  async beginTurn<B = CheckpointBody>(
    sessionId: string,
    key: string,
    owner: string,
    ttlMs: number,
  ): Promise<BeginTurnResult<B>> {
    checkTtl(ttlMs);
    const prior = await this.getTurnResult(sessionId, key);
    if (prior !== undefined) return { kind: 'replayed', result: prior };
    const lease = await this.acquireLease(sessionId, owner, ttlMs);
    let row: Row | undefined;
    try {
      // Under the lease, one round trip: the session, a result committed since, the latest checkpoint.
      const rows = await this.q(
        `SELECT s.*, tr.result AS tr_result, c.seq AS c_seq, c.schema_version AS c_schema_version,
           c.written_by AS c_written_by, c.hash AS c_hash, c.size AS c_size, c.created_at AS c_created_at,
           c.body AS c_body
         FROM sessions s
         LEFT JOIN turn_results tr ON tr.session_id = s.id AND tr.key = $2
         LEFT JOIN LATERAL (SELECT seq, schema_version, written_by, hash, size, created_at, body
           FROM checkpoints WHERE session_id = s.id ORDER BY seq DESC LIMIT 1) c ON true
         WHERE s.id = $1`,
        [sessionId, key],
        true,
      );
      row = rows[0];
      if (!row) throw sessionNotFound(sessionId);
    } catch (e) {
      await this.releaseLease(lease).catch(() => undefined);
      throw e;
    }
    const session = sessionFromRow(row);
    if (row.tr_result !== null && row.tr_result !== undefined) {
      await this.releaseLease(lease);
      return { kind: 'replayed', result: parseJson(row.tr_result) };
    }
    if (TERMINAL_SESSION_STATUSES.includes(session.status)) {
      await this.releaseLease(lease);
      return { kind: 'closed', session };
    }
    if (row.c_seq === null || row.c_seq === undefined) {
      return { kind: 'started', lease, session, checkpoint: null };
    }
    const meta = checkpointMeta({
      session_id: sessionId,
      seq: row.c_seq,
      schema_version: row.c_schema_version,
      written_by: row.c_written_by,
      hash: row.c_hash,
      size: row.c_size,
      created_at: row.c_created_at,
    });
    return startedTurn<B>(lease, session, meta, row.c_body);
  }

  async renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    checkTtl(ttlMs);
    const expiresAt = this.now() + ttlMs;
    const rows = await this.q(
      'UPDATE sessions SET lease_expires_at = $1 WHERE id = $2 AND lease_owner = $3 RETURNING id',
      [expiresAt, lease.sessionId, lease.owner],
      true,
    );
    if (rows.length === 1) return { sessionId: lease.sessionId, owner: lease.owner, expiresAt };
    const cur = await this.getSession(lease.sessionId);
    throw leaseLost(lease.sessionId, lease.owner, cur.leaseOwner);
  }

  async releaseLease(lease: Lease): Promise<void> {
    await this.q(
      'UPDATE sessions SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2',
      [lease.sessionId, lease.owner],
      true,
    );
  }

  // ---------- checkpoints ----------

  async appendCheckpoint<B = CheckpointBody>(input: AppendCheckpointInput<B>): Promise<CheckpointMeta> {
    const enc = encodeAppend(input, this.maxBytes);
    const now = this.now();
    const { sql, values } = this.appendStatement(input, enc, now, false);
    const run = async (c: pg.Pool | PoolClient) => {
      try {
        return (await c.query<{ seq: number }>({ name: stmtName(sql), text: sql, values })).rows;
      } catch (e) {
        throw storeError(e);
      }
    };
    const rows = this.hooks?.beforeCommit ? await this.tx('appendCheckpoint', run) : await run(this.pool);
    if (!rows[0]) throw await this.appendRefusal(this.pool, input, now, false);
    return appendedMeta(input, enc, rows[0].seq, now);
  }

  /**
   * Several appends in one transaction, each applied or refused on its own. A refused item matches
   * no row in its statement, so it writes nothing and leaves the transaction usable for the rest.
   */
  async appendCheckpoints<B = CheckpointBody>(
    inputs: Array<AppendCheckpointInput<B> & { requireNoLease?: boolean }>,
  ): Promise<AppendCheckpointsResult[]> {
    const encoded = inputs.map((input) => batonErrorOr(() => encodeAppend(input, this.maxBytes)));
    if (inputs.length === 0) return [];
    const now = this.now();
    return this.tx('appendCheckpoints', async (c) => {
      const out: AppendCheckpointsResult[] = [];
      for (const [i, input] of inputs.entries()) {
        const enc = encoded[i]!;
        if (enc instanceof BatonError) {
          out.push({ ok: false, error: enc });
          continue;
        }
        const noLease = input.requireNoLease === true;
        const { sql, values } = this.appendStatement(input, enc, now, noLease);
        const rows = (await c.query<{ seq: number }>({ name: stmtName(sql), text: sql, values })).rows;
        if (rows[0]) out.push({ ok: true, meta: appendedMeta(input, enc, rows[0].seq, now) });
        else out.push({ ok: false, error: await this.appendRefusal(c, input, now, noLease) });
      }
      return out;
    });
  }

  /** Why an append matched no row: unknown session, stale seq, a live lease, or a lost lease. */
  private async appendRefusal(
    c: pg.Pool | PoolClient,
    input: AppendCheckpointInput<unknown>,
    now: number,
    requireNoLease: boolean,
  ): Promise<BatonError> {
    let cur: { seq: number; lease_owner: string | null; lease_expires_at: string | null } | undefined;
    try {
      cur = (
        await c.query<{ seq: number; lease_owner: string | null; lease_expires_at: string | null }>({
          name: 'baton_append_refusal',
          text: 'SELECT seq, lease_owner, lease_expires_at FROM sessions WHERE id = $1',
          values: [input.sessionId],
        })
      ).rows[0];
    } catch (e) {
      throw storeError(e);
    }
    if (!cur) return sessionNotFound(input.sessionId);
    if (cur.seq !== input.expectedSeq)
      return new SequenceConflictError(input.sessionId, input.expectedSeq, cur.seq);
    const exp = cur.lease_expires_at === null ? null : Number(cur.lease_expires_at);
    if (requireNoLease && exp !== null && exp > now) return new SessionBusyError(input.sessionId, exp - now);
    return leaseLost(input.sessionId, input.leaseOwner ?? '', cur.lease_owner);
  }

  /** The single statement of an append: seq compare-and-set plus every write of the turn commit. */
  private appendStatement(
    input: AppendCheckpointInput<unknown>,
    enc: EncodedBody,
    now: number,
    requireNoLease: boolean,
  ): { sql: string; values: unknown[] } {
    const { p, values } = params();
    const sid = p(input.sessionId);
    const nowP = p(now);
    const sets = ['seq = seq + 1', `updated_at = ${nowP}`];
    const patch = input.session;
    if (patch?.status !== undefined) sets.push(`status = ${p(patch.status)}`);
    if (patch?.version !== undefined) sets.push(`version = ${p(patch.version)}`);
    if (patch?.reason !== undefined) sets.push(`reason = ${p(patch.reason)}::text`);
    let where = `id = ${sid} AND seq = ${p(input.expectedSeq)}`;
    if (input.leaseOwner !== undefined) {
      sets.push('lease_owner = NULL', 'lease_expires_at = NULL');
      where += ` AND lease_owner = ${p(input.leaseOwner)}`;
    }
    if (requireNoLease) where += ` AND (lease_expires_at IS NULL OR lease_expires_at <= ${nowP})`;
    const ctes = [
      `s AS (UPDATE sessions SET ${sets.join(', ')} WHERE ${where} RETURNING seq, created_at)`,
      `c AS (INSERT INTO checkpoints (session_id, seq, schema_version, written_by, hash, size, created_at, body)
         SELECT ${sid}, s.seq, ${p(input.schemaVersion)}, ${p(input.writtenBy)}, ${p(enc.hash)}, ${p(enc.size)},
           ${nowP}, ${p(enc.text)} FROM s RETURNING seq)`,
    ];
    const resolved = input.resolvedWaits ?? [];
    const resolvedP = resolved.length > 0 || input.waits ? p(resolved) : '';
    if (resolved.length > 0) {
      ctes.push(`rw AS (UPDATE waits SET status = 'resolved'
        WHERE session_id = ${sid} AND token = ANY(${resolvedP}::text[]) AND EXISTS (SELECT 1 FROM s))`);
    }
    if (input.waits) {
      const waits = input.waits.map((w) => ({
        token: w.token,
        name: w.name,
        deadline: w.deadline,
        schema: w.schema ? JSON.stringify(w.schema) : null,
        created_at: w.createdAt,
      }));
      const keepP = p(waits.map((w) => w.token));
      ctes.push(`dw AS (DELETE FROM waits WHERE session_id = ${sid} AND status = 'pending'
          AND NOT (token = ANY(${keepP}::text[])) AND NOT (token = ANY(${resolvedP}::text[])) AND EXISTS (SELECT 1 FROM s))`);
      ctes.push(`iw AS (INSERT INTO waits (token, session_id, name, deadline, schema, created_at, status)
          SELECT w.token, ${sid}, w.name, w.deadline, w.schema, w.created_at, 'pending'
          FROM s, json_to_recordset(${p(JSON.stringify(waits))}::json)
            AS w(token text, name text, deadline bigint, schema text, created_at bigint)
          WHERE NOT (w.token = ANY(${resolvedP}::text[]))
          ON CONFLICT (token) DO UPDATE SET name = excluded.name, deadline = excluded.deadline, schema = excluded.schema
          WHERE waits.session_id = excluded.session_id AND waits.status = 'pending')`);
    }
    if (input.migration) {
      const m = input.migration;
      ctes.push(`m AS (INSERT INTO migrations (session_id, seq, from_version, to_version, from_schema, to_schema,
          context_policy, rollout_id, status, error, at)
        SELECT ${sid}, s.seq, ${p(m.fromVersion)}, ${p(m.toVersion)}, ${p(m.fromSchema)}, ${p(m.toSchema)},
          ${p(m.contextPolicy)}, ${p(m.rolloutId ?? null)}, 'ok', NULL, ${p(m.at)} FROM s)`);
    }
    if (input.turnResult) {
      ctes.push(`tr AS (INSERT INTO turn_results (session_id, key, result, created_at)
        SELECT ${sid}, ${p(input.turnResult.key)}, ${p(jsonText(input.turnResult.result))}, ${nowP} FROM s
        ON CONFLICT DO NOTHING)`);
    }
    ctes.push(`st AS (DELETE FROM steps WHERE session_id = ${sid} AND EXISTS (SELECT 1 FROM s))`);
    if (input.telemetry) {
      const t = input.telemetry;
      ctes.push(`tt AS (${telemetryInsert(p, t, 's.seq', 'FROM s')})`);
      ctes.push(
        `ta AS (${aggregateUpsert(p, sid, p(t.version), p(t.agent), 's.created_at', t.at, turnDelta(t), 'FROM s')})`,
      );
    }
    return { sql: `WITH ${ctes.join(',\n')} SELECT seq FROM c`, values };
  }

  private toCheckpoint<B>(r: Row): Checkpoint<B> {
    const meta = checkpointMeta(r);
    return { ...meta, body: decodeBody<B>(meta, r.body) };
  }

  async getLatestCheckpoint<B = CheckpointBody>(sessionId: string): Promise<Checkpoint<B> | null> {
    // One backward index scan; only a session without checkpoints needs a second query.
    const rows = await this.q(
      `SELECT session_id, seq, schema_version, written_by, hash, size, created_at, body
       FROM checkpoints WHERE session_id = $1 ORDER BY seq DESC LIMIT 1`,
      [sessionId],
      true,
    );
    const row = rows[0];
    if (row) return this.toCheckpoint<B>(row);
    await this.getSession(sessionId);
    return null;
  }

  async getCheckpoint<B = CheckpointBody>(sessionId: string, seq: number): Promise<Checkpoint<B>> {
    const rows = await this.q(
      `SELECT s.id AS sid, c.session_id, c.seq, c.schema_version, c.written_by, c.hash, c.size, c.created_at, c.body
       FROM sessions s LEFT JOIN checkpoints c ON c.session_id = $1 AND c.seq = $2 WHERE s.id = $1`,
      [sessionId, seq],
      true,
    );
    const row = rows[0];
    if (!row) throw sessionNotFound(sessionId);
    if (row.session_id === null) throw checkpointNotFound(sessionId, seq);
    return this.toCheckpoint<B>(row);
  }

  async listCheckpoints(
    sessionId: string,
    q: { limit?: number; beforeSeq?: number } = {},
  ): Promise<CheckpointMeta[]> {
    const rows = await this.q(
      `SELECT s.id AS sid, c.session_id, c.seq, c.schema_version, c.written_by, c.hash, c.size, c.created_at
       FROM sessions s LEFT JOIN LATERAL (
         SELECT * FROM checkpoints WHERE session_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3) c ON true
       WHERE s.id = $1`,
      [sessionId, q.beforeSeq ?? 2147483647, pageLimit(q.limit)],
    );
    if (rows.length === 0) throw sessionNotFound(sessionId);
    return rows.filter((r) => r.session_id !== null).map(checkpointMeta);
  }

  async compactCheckpoints(sessionId: string, keep: number): Promise<number> {
    checkKeep(keep);
    const rows = await this.q<{ found: boolean; n: string }>(
      `WITH d AS (DELETE FROM checkpoints c USING sessions s
         WHERE s.id = $1 AND c.session_id = $1 AND c.seq <= s.seq - $2 RETURNING 1)
       SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1) AS found, (SELECT count(*) FROM d) AS n`,
      [sessionId, keep],
    );
    if (!rows[0]!.found) throw sessionNotFound(sessionId);
    return Number(rows[0]!.n);
  }

  async listMigrations(q: {
    sessionId?: string;
    rolloutId?: string;
    status?: 'ok' | 'failed';
    limit?: number;
  }): Promise<MigrationRecord[]> {
    const rows = await this.q(
      `SELECT * FROM migrations WHERE ($1::text IS NULL OR session_id = $1) AND ($2::text IS NULL OR rollout_id = $2)
         AND ($3::text IS NULL OR status = $3) ORDER BY id LIMIT $4`,
      [q.sessionId ?? null, q.rolloutId ?? null, q.status ?? null, pageLimit(q.limit)],
    );
    return rows.map(migrationFromRow);
  }

  async recordMigrationFailure(r: Omit<MigrationRecord, 'seq' | 'status'>): Promise<void> {
    await this.q(
      `INSERT INTO migrations (session_id, seq, from_version, to_version, from_schema, to_schema, context_policy,
         rollout_id, status, error, at) VALUES ($1, 0, $2, $3, $4, $5, $6, $7, 'failed', $8, $9)`,
      [
        r.sessionId,
        r.fromVersion,
        r.toVersion,
        r.fromSchema,
        r.toSchema,
        r.contextPolicy,
        r.rolloutId ?? null,
        r.error ?? null,
        r.at,
      ],
    );
  }

  // ---------- waits ----------

  async getWait(token: string): Promise<WaitRecord> {
    const rows = await this.q('SELECT * FROM waits WHERE token = $1', [token], true);
    if (!rows[0]) throw waitNotFound(token);
    return waitFromRow(rows[0]);
  }

  async listWaits(q: {
    sessionId?: string;
    status?: WaitRecord['status'];
    dueBefore?: number;
    limit?: number;
  }): Promise<WaitRecord[]> {
    const status = q.status ?? (q.dueBefore !== undefined ? 'pending' : null);
    const rows = await this.q(
      `SELECT * FROM waits WHERE ($1::text IS NULL OR session_id = $1) AND ($2::text IS NULL OR status = $2)
         AND ($3::bigint IS NULL OR deadline < $3) ORDER BY deadline, token LIMIT $4`,
      [q.sessionId ?? null, status, q.dueBefore ?? null, pageLimit(q.limit)],
    );
    return rows.map(waitFromRow);
  }

  // ---------- step journal ----------

  async listSteps(
    sessionId: string,
    turnId: string,
  ): Promise<Array<{ index: number; name: string; result: unknown }>> {
    const rows = await this.q(
      'SELECT idx, name, result FROM steps WHERE session_id = $1 AND turn_id = $2 ORDER BY idx',
      [sessionId, turnId],
      true,
    );
    return rows.map((r) => ({ index: Number(r.idx), name: r.name as string, result: parseJson(r.result) }));
  }

  async putStep(
    sessionId: string,
    turnId: string,
    index: number,
    name: string,
    result: unknown,
  ): Promise<void> {
    await this.q(
      `INSERT INTO steps (session_id, turn_id, idx, name, result) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (session_id, turn_id, idx) DO UPDATE SET name = excluded.name, result = excluded.result`,
      [sessionId, turnId, index, name, jsonText(result)],
      true,
    );
  }

  // ---------- turn results ----------

  async getTurnResult(sessionId: string, key: string): Promise<unknown | undefined> {
    const rows = await this.q(
      'SELECT result FROM turn_results WHERE session_id = $1 AND key = $2',
      [sessionId, key],
      true,
    );
    return rows[0] ? parseJson(rows[0].result) : undefined;
  }

  async putTurnResult(sessionId: string, key: string, result: unknown): Promise<void> {
    await this.q(
      'INSERT INTO turn_results (session_id, key, result, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [sessionId, key, jsonText(result), this.now()],
      true,
    );
  }

  // ---------- effects ----------

  async recordEffectIntent(
    input: EffectIntentInput & { rolloutId?: string | null },
  ): Promise<{ effect: EffectRecord; existing: boolean }> {
    const now = this.now();
    const rows = await this.q<Row & { inserted: boolean }>(
      `WITH i AS (
         INSERT INTO effects (id, idempotency_key, session_id, agent, version, rollout_id, turn_id, name, args, status,
           compensation, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'intent', $10, $11, $11)
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING *)
       SELECT i.*, true AS inserted FROM i
       UNION ALL SELECT e.*, false AS inserted FROM effects e WHERE e.idempotency_key = $2 AND NOT EXISTS (SELECT 1 FROM i)`,
      [
        newId('e', now),
        input.idempotencyKey,
        input.sessionId,
        input.agent,
        input.version,
        input.rolloutId ?? null,
        input.turnId,
        input.name,
        jsonText(input.args),
        input.compensation ?? null,
        now,
      ],
      true,
    );
    if (rows[0]) return { effect: effectFromRow(rows[0]), existing: !rows[0].inserted };
    // Inserted concurrently by another transaction that committed after our snapshot.
    return { effect: await this.getEffect(input.idempotencyKey), existing: true };
  }

  private async transition(key: string, op: EffectOp, value: unknown): Promise<EffectRecord> {
    const { from, to } = EFFECT_TRANSITIONS[op];
    const col = op === 'fail' ? 'error' : op === 'commit' ? 'result' : 'compensation_result';
    const v = op === 'fail' ? String(value) : jsonText(value);
    const rows = await this.q(
      `UPDATE effects SET status = $1, ${col} = $2, updated_at = $3 WHERE idempotency_key = $4 AND status = $5 RETURNING *`,
      [to, v, this.now(), key, from],
      true,
    );
    if (rows[0]) return effectFromRow(rows[0]);
    const e = await this.getEffect(key);
    if (e.status === to) return e;
    throw effectConflict(key, op, e.status);
  }

  commitEffect(idempotencyKey: string, result: unknown): Promise<EffectRecord> {
    return this.transition(idempotencyKey, 'commit', result);
  }

  failEffect(idempotencyKey: string, error: string): Promise<EffectRecord> {
    return this.transition(idempotencyKey, 'fail', error);
  }

  compensateEffect(idempotencyKey: string, result: unknown): Promise<EffectRecord> {
    return this.transition(idempotencyKey, 'compensate', result);
  }

  async getEffect(idempotencyKey: string): Promise<EffectRecord> {
    const rows = await this.q('SELECT * FROM effects WHERE idempotency_key = $1', [idempotencyKey], true);
    if (!rows[0]) throw effectNotFound(idempotencyKey);
    return effectFromRow(rows[0]);
  }

  async listEffects(q: ListEffectsQuery): Promise<Page<EffectRecord>> {
    const limit = pageLimit(q.limit);
    const statuses = asArray(q.status);
    if (statuses && statuses.length === 0) return { items: [], nextCursor: null };
    const rows = await this.q(
      `SELECT * FROM effects WHERE ($1::text IS NULL OR session_id = $1) AND ($2::text IS NULL OR agent = $2)
         AND ($3::text IS NULL OR version = $3) AND ($4::text IS NULL OR rollout_id = $4)
         AND ($5::text[] IS NULL OR status = ANY($5)) AND ($6::text IS NULL OR id > $6)
       ORDER BY id LIMIT $7`,
      [
        q.sessionId ?? null,
        q.agent ?? null,
        q.version ?? null,
        q.rolloutId ?? null,
        statuses ?? null,
        q.cursor ?? null,
        limit + 1,
      ],
    );
    return toPage(rows.map(effectFromRow), limit);
  }

  // ---------- rollouts ----------

  async createRollout(input: CreateRolloutInput): Promise<RolloutRecord> {
    const now = this.now();
    const rows = await this.q(
      `INSERT INTO rollouts (id, agent, from_version, to_version, spec, phase, step, state, rev, decision_seq,
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, 0, 0, $8, $8) RETURNING *`,
      [
        input.id ?? newId('r', now),
        input.agent,
        input.from,
        input.to,
        jsonText(input.spec),
        input.phase,
        jsonText(input.state),
        now,
      ],
    );
    return rolloutFromRow(rows[0]!);
  }

  async getRollout(id: string): Promise<RolloutRecord> {
    const rows = await this.q('SELECT * FROM rollouts WHERE id = $1', [id], true);
    if (!rows[0]) throw rolloutNotFound(id);
    return rolloutFromRow(rows[0]);
  }

  async listRollouts(
    q: { agent?: string; phase?: RolloutPhase | RolloutPhase[] } = {},
  ): Promise<RolloutRecord[]> {
    const phases = asArray(q.phase);
    if (phases && phases.length === 0) return [];
    const rows = await this.q(
      `SELECT * FROM rollouts WHERE ($1::text IS NULL OR agent = $1) AND ($2::text[] IS NULL OR phase = ANY($2))
       ORDER BY created_at, id`,
      [q.agent ?? null, phases ?? null],
    );
    return rows.map(rolloutFromRow);
  }

  async updateRollout(
    id: string,
    expectedRev: number,
    patch: RolloutPatch,
    decisions: DecisionInput[] = [],
  ): Promise<RolloutRecord> {
    const now = this.now();
    const { p, values } = params();
    const ds = decisions.map((d, i) => ({
      kind: d.kind,
      message: d.message,
      evidence: jsonText(d.evidence),
      ord: i + 1,
    }));
    const sql = `WITH u AS (
        UPDATE rollouts SET phase = coalesce(${p(patch.phase ?? null)}, phase), step = coalesce(${p(patch.step ?? null)}::int, step),
          state = CASE WHEN ${p(patch.state !== undefined)}::boolean THEN ${p(jsonText(patch.state))} ELSE state END,
          rev = rev + 1, decision_seq = decision_seq + ${p(ds.length)}::int, updated_at = ${p(now)}
        WHERE id = ${p(id)} AND rev = ${p(expectedRev)} RETURNING *),
      d AS (INSERT INTO decisions (rollout_id, seq, kind, message, evidence, at)
        SELECT u.id, u.decision_seq - ${p(ds.length)}::int + x.ord, x.kind, x.message, x.evidence, u.updated_at
        FROM u, json_to_recordset(${p(JSON.stringify(ds))}::json) AS x(kind text, message text, evidence text, ord int))
      SELECT * FROM u`;
    const rows = await this.q(sql, values);
    if (rows[0]) return rolloutFromRow(rows[0]);
    const cur = await this.getRollout(id);
    throw rolloutRevConflict(id, expectedRev, cur.rev);
  }

  async appendDecision(rolloutId: string, d: DecisionInput): Promise<Decision> {
    const rows = await this.q(
      `WITH u AS (UPDATE rollouts SET decision_seq = decision_seq + 1 WHERE id = $1 RETURNING id, decision_seq)
       INSERT INTO decisions (rollout_id, seq, kind, message, evidence, at)
       SELECT u.id, u.decision_seq, $2, $3, $4, $5 FROM u RETURNING *`,
      [rolloutId, d.kind, d.message, jsonText(d.evidence), this.now()],
    );
    if (!rows[0]) throw rolloutNotFound(rolloutId);
    return decisionFromRow(rows[0]);
  }

  async listDecisions(rolloutId: string, q: { afterSeq?: number; limit?: number } = {}): Promise<Decision[]> {
    const rows = await this.q(
      'SELECT * FROM decisions WHERE rollout_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
      [rolloutId, q.afterSeq ?? 0, pageLimit(q.limit ?? 1000)],
    );
    return rows.map(decisionFromRow);
  }

  // ---------- telemetry ----------

  async recordTurnTelemetry(t: TurnTelemetryRecord): Promise<void> {
    const { p, values } = params();
    const sidP = p(t.sessionId);
    const from = `FROM sessions ses WHERE ses.id = ${sidP}`;
    const sql = `WITH tt AS (${telemetryInsert(p, t, `${p(t.seq)}::int`, from)} RETURNING 1),
      ta AS (${aggregateUpsert(p, sidP, p(t.version), p(t.agent), 'ses.created_at', t.at, turnDelta(t), from)} RETURNING 1)
      SELECT (SELECT count(*) FROM tt) AS n`;
    const rows = await this.q<{ n: string }>(sql, values);
    if (Number(rows[0]!.n) === 0) throw sessionNotFound(t.sessionId);
  }

  async recordSessionMetrics(
    sessionId: string,
    version: string,
    m: { metrics?: Record<string, number>; signals?: Record<string, number> },
  ): Promise<void> {
    const { p, values } = params();
    const sidP = p(sessionId);
    const from = `FROM sessions ses WHERE ses.id = ${sidP}`;
    const up = aggregateUpsert(
      p,
      sidP,
      p(version),
      'ses.agent',
      'ses.created_at',
      this.now(),
      metricsDelta(m),
      from,
    );
    const sql = `WITH ta AS (${up} RETURNING 1) SELECT (SELECT count(*) FROM ta) AS n`;
    const rows = await this.q<{ n: string }>(sql, values);
    if (Number(rows[0]!.n) === 0) throw sessionNotFound(sessionId);
  }

  async markSessionCompleted(sessionId: string): Promise<void> {
    await this.q('UPDATE session_aggregates SET completed = true WHERE session_id = $1', [sessionId]);
  }

  async listSessionAggregates(q: TelemetryQuery): Promise<SessionAggregate[]> {
    const rows = await this.q(
      `SELECT * FROM session_aggregates WHERE agent = $1 AND ($2::text IS NULL OR version = $2)
         AND ($3::bigint IS NULL OR session_started_at >= $3) AND ($4::bigint IS NULL OR session_started_at < $4)
       ORDER BY session_started_at, session_id, version LIMIT $5`,
      [q.agent, q.version ?? null, q.startedFrom ?? null, q.startedTo ?? null, q.limit ?? null],
    );
    return rows.map(aggregateFromRow);
  }

  async listTurnTelemetry(q: TurnTelemetryQuery): Promise<TurnTelemetryRecord[]> {
    const rows = await this.q(
      `SELECT * FROM turn_telemetry WHERE agent = $1 AND ($2::text IS NULL OR version = $2)
         AND ($3::bigint IS NULL OR at >= $3) AND ($4::bigint IS NULL OR at < $4) ORDER BY at, id LIMIT $5`,
      [q.agent, q.version ?? null, q.from ?? null, q.to ?? null, q.limit ?? null],
    );
    return rows.map(telemetryFromRow);
  }

  // ---------- leader locks ----------

  async acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const now = this.now();
    const rows = await this.q(
      `INSERT INTO locks (name, owner, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE locks.owner = excluded.owner OR locks.expires_at <= $4
       RETURNING name`,
      [name, owner, now + ttlMs, now],
      true,
    );
    return rows.length === 1;
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    await this.q('DELETE FROM locks WHERE name = $1 AND owner = $2', [name, owner]);
  }
}
