/**
 * PostgreSQL backend (`pg` Pool). Hot paths are one round trip: a checkpoint append is a single
 * statement whose data-modifying CTEs do the compare-and-set on the session's seq and every write
 * that belongs to the same turn commit (parts, history entries, retention, compaction: see
 * `pg-history.ts`); it is finished (`finishAppend`) against the previous checkpoint this process
 * last wrote or read, which the statement guards by hash, so only a cold or stale cache costs one
 * extra read. When the statement matches no row, a follow-up query tells a stale writer from an
 * unknown session. `beginTurn` is one statement too. Frequently used statements are prepared per
 * connection.
 */
import { randomBytes } from 'node:crypto';
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
  CheckpointMeta,
  Decision,
  DecisionInput,
  EffectIntentInput,
  EffectRecord,
  EffectResolutionInput,
  HistoryPage,
  HistoryQuery,
  HistoryWindow,
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
  BeginTurnInput,
  BeginTurnResult,
  BeginTurnsResult,
  CreateRolloutInput,
  CreateSessionInput,
  EvaluationJob,
  Lease,
  CompensationClaim,
  CompensationOutcome,
  ListEffectsQuery,
  ListSessionsQuery,
  RolloutPatch,
  SessionExpectation,
  SessionKeyReservation,
  SessionPatch,
  Store,
  StoreOptions,
  TelemetryQuery,
  TurnTelemetryQuery,
  SessionSample,
} from './store';
import { PostgresGraphCheckpointStore } from './graph-postgres';
import { PG_RECOVERY_MIGRATION, PgRecovery } from './pg-recovery';
import { CompensationLedger, compensationMigration, initialCompensation } from './compensation';
import { cipherFor } from './cipher';
import type { RecordCipher } from './cipher';
import { openValue, sealJson, sealValue, stepPlace, turnResultPlace } from './sealed';
import { reencrypt } from './reencrypt';
import { ownIntent, resolvedConflict } from './recovery';
import {
  DEFAULT_KEEP_CHECKPOINTS,
  DEFAULT_MAX_CHECKPOINT_BYTES,
  DEFAULT_MAX_HISTORY_ENTRY_BYTES,
  EFFECT_TRANSITIONS,
  aggregateFromRow,
  asArray,
  batonErrorOr,
  checkKeep,
  checkRouteWeight,
  checkSameVersion,
  checkTtl,
  checkpointMeta,
  checkpointNotFound,
  decisionFromRow,
  effectConflict,
  effectFromRow,
  effectNotFound,
  emptyCounts,
  encodeAppend,
  finishAppend,
  historyQuery,
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
  checkNoNul,
  nulInColumn,
} from './common';
import type {
  AggregateDelta,
  AppendLimits,
  EffectOp,
  EncodedAppend,
  FinishedAppend,
  PreviousCheckpoint,
  Row,
} from './common';
import {
  COMPACT_SQL,
  CP_SELECT,
  PG_LOG_MIGRATION,
  PREV_SQL,
  PrevCache,
  TRIM_SELECT,
  appendedPrev,
  beginTurnSql,
  cpJoins,
  decodeCpRow,
  latestSql,
  logCtes,
  params,
  prevFromRow,
  sliceJoin,
  stmtName,
  trimOf,
  upgradeLegacy,
  verifySlice,
} from './pg-history';
import type { PrevRead, ReadCheckpoint, Runner } from './pg-history';
import { digestWaitTokensPostgres } from './wait-digests';

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
  /** Data upgrade run right after `sql`, in the same locked transaction. */
  after?: (c: PoolClient) => Promise<unknown>;
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
  {
    version: 3,
    name: 'history log, checkpoint parts, lease epochs',
    sql: PG_LOG_MIGRATION,
    after: upgradeLegacy,
  },
  {
    version: 4,
    name: 'effect attempts and resolutions, session keys, evaluation queue',
    sql: PG_RECOVERY_MIGRATION,
  },
  { version: 5, name: 'wait tokens stored as digests', sql: 'SELECT 1', after: digestWaitTokensPostgres },
  { version: 6, name: 'compensation state beside the effect status', sql: compensationMigration('BIGINT') },
  {
    version: 7,
    name: 'sessions by version and status over time; sessions by tenant',
    sql: `
CREATE TABLE session_samples (
  rollout_id TEXT NOT NULL, at BIGINT NOT NULL, counts JSONB NOT NULL, PRIMARY KEY (rollout_id, at)
);
CREATE INDEX sessions_tenant ON sessions (tenant, id);
CREATE INDEX sessions_agent_version_id ON sessions (agent, version, id);
`,
  },
];

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const DEFAULT_POOL_SIZE = 10;

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

/**
 * Connection-level failures (refused, reset, server shutting down, too many clients) become
 * `STORE_UNAVAILABLE` so callers can retry or answer 503; everything else passes through.
 */
function storeError(e: unknown): unknown {
  if (e instanceof BatonError) return e;
  const code = (e as { code?: string }).code ?? '';
  // a NUL in a text parameter (22021) or a jsonb value (22P05): the answer SQLite gives too
  if (code === '22021' || code === '22P05') return nulInColumn();
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
  readonly parallelWrites: number;
  readonly pool: pg.Pool;
  private readonly now: () => number;
  private readonly limits: AppendLimits;
  private readonly keep: number;
  /** Encryption at rest (a no-op without a current key). */
  readonly cipher: RecordCipher;
  /** The latest checkpoint this process wrote or read, per recent session: an append's `prev`. */
  private readonly prevs = new PrevCache();
  private readonly hooks: PostgresStoreOptions['hooks'];
  private readonly schema: string | undefined;
  private closed = false;
  private graphStore: PostgresGraphCheckpointStore | undefined;
  private recoveryImpl: PgRecovery | undefined;

  private constructor(pool: pg.Pool, opts: PostgresStoreOptions) {
    this.pool = pool;
    this.schema = opts.schema;
    this.now = opts.now ?? Date.now;
    this.limits = {
      maxCheckpointBytes: opts.maxCheckpointBytes ?? DEFAULT_MAX_CHECKPOINT_BYTES,
      maxHistoryEntryBytes: opts.maxHistoryEntryBytes ?? DEFAULT_MAX_HISTORY_ENTRY_BYTES,
    };
    this.keep = opts.keepCheckpoints ?? DEFAULT_KEEP_CHECKPOINTS;
    this.cipher = cipherFor(opts.encryption);
    this.hooks = opts.hooks;
    this.parallelWrites = opts.poolSize ?? DEFAULT_POOL_SIZE;
  }

  /** Connect, create the schema when asked, and apply pending migrations under an advisory lock. */
  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const schema = opts.schema;
    if (schema !== undefined && !IDENT.test(schema)) {
      throw new ValidationError(`invalid schema name ${JSON.stringify(schema)}`);
    }
    if (opts.keepCheckpoints !== undefined) checkKeep(opts.keepCheckpoints);
    const pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize ?? DEFAULT_POOL_SIZE,
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
        if (m.after) await m.after(c);
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

  reencrypt(opts?: Parameters<Store['reencrypt']>[0]): ReturnType<Store['reencrypt']> {
    return reencrypt(
      {
        all: (sql, args) => this.q(sql, args),
        update: (stmts) =>
          this.tx('reencrypt', async (c) => {
            let n = 0;
            for (const s of stmts) n += (await c.query(s.sql, s.args)).rowCount ?? 0;
            return n;
          }),
      },
      this.cipher,
      opts,
    );
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
    checkNoNul(values);
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
         AND ($6::text IS NULL OR tenant = $6)
       ORDER BY id LIMIT $5`,
      [q.agent ?? null, q.version ?? null, statuses ?? null, q.cursor ?? null, limit + 1, q.tenant ?? null],
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
    const rows = await this.q<{ epoch: number | null; lease_expires_at: string | null; found: boolean }>(
      `WITH u AS (
         UPDATE sessions SET lease_owner = $1, lease_expires_at = $2, lease_epoch = lease_epoch + 1
         WHERE id = $3 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_expires_at <= $4)
         RETURNING lease_epoch)
       SELECT (SELECT lease_epoch FROM u) AS epoch, s.lease_expires_at, s.id IS NOT NULL AS found
       FROM (SELECT 1) one LEFT JOIN sessions s ON s.id = $3`,
      [owner, expiresAt, sessionId, now],
      true,
    );
    const r = rows[0]!;
    if (r.epoch !== null) return { sessionId, owner, expiresAt, epoch: Number(r.epoch) };
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

  /** One `beginTurn` on `c` (the pool, or a transaction's connection). */
  private async beginOne(
    c: Runner,
    sessionId: string,
    key: string,
    owner: string,
    ttlMs: number,
    window: HistoryWindow | undefined,
    tokenHash: string | undefined,
    attempt = 0,
  ): Promise<BeginTurnResult> {
    const now = this.now();
    const expiresAt = now + ttlMs;
    const sql = beginTurnSql(window);
    const values: unknown[] = [
      sessionId,
      key,
      owner,
      expiresAt,
      now,
      TERMINAL_SESSION_STATUSES,
      tokenHash ?? null,
    ];
    if (window && window.entries > 0) values.push(window.entries, window.bytes);
    let row: Row;
    try {
      row = (await c.query<Row>({ name: stmtName(sql), text: sql, values })).rows[0]!;
    } catch (e) {
      throw storeError(e);
    }
    const cur = row.cur_row as Row | null;
    if (!cur) throw sessionNotFound(sessionId);
    // the session token first: a refused request gets no result and took no lease
    if (tokenHash !== undefined && cur.token_hash !== tokenHash)
      return { kind: 'forbidden', session: sessionFromRow(cur) };
    if (row.tr_found)
      return {
        kind: 'replayed',
        result: parseJson(openValue(this.cipher, row.tr_result, turnResultPlace(sessionId, key))),
      };
    const u = row.u_row as Row | null;
    if (!u) {
      const s = sessionFromRow(cur);
      if (TERMINAL_SESSION_STATUSES.includes(s.status)) return { kind: 'closed', session: s };
      if (s.leaseExpiresAt !== null && s.leaseExpiresAt > now && s.leaseOwner !== owner) {
        throw new SessionBusyError(sessionId, s.leaseExpiresAt - now);
      }
      // the snapshot raced with another writer (the lease was freed meanwhile): ask again
      if (attempt < 3) return this.beginOne(c, sessionId, key, owner, ttlMs, window, tokenHash, attempt + 1);
      throw new SessionBusyError(sessionId, 0);
    }
    const session = sessionFromRow(u);
    const lease: Lease = { sessionId, owner, expiresAt, epoch: session.leaseEpoch };
    // the route's revision: its whole row (any change to it is a new revision, whatever the clock says)
    const routeRevision = typeof row.route_rev === 'string' ? row.route_rev : null;
    const cpSeq = row.c_seq === null || row.c_seq === undefined ? 0 : Number(row.c_seq);
    if (cpSeq !== session.seq) {
      // A turn committed between the statement's snapshot and the lease: read again under the lease.
      return this.beginReread(c, lease, session, key, window, routeRevision);
    }
    try {
      return startedTurn(lease, session, routeRevision, () => this.decodeStarted(row, window));
    } catch (e) {
      // a record under a key this process lacks: nothing was started, so the lease is given back
      // (as SQLite's transaction rolls it back) and the session stays free for a server that has it
      if (e instanceof BatonError && e.code === 'ENCRYPTION_KEY_MISSING') await this.releaseOn(c, lease);
      throw e;
    }
  }

  /** The checkpoint and window of a row read with `beginSql` / `latestSql`, verified (throws CHECKPOINT_CORRUPT). */
  private decodeStarted(row: Row, window: HistoryWindow | undefined) {
    const read = decodeCpRow(row, this.cipher);
    if (!read) return { checkpoint: null, history: [] };
    this.remember(read);
    const cp = read.checkpoint;
    if (!window || window.entries <= 0 || read.prev === null || cp.historyLength === 0) {
      return { checkpoint: cp, history: [] };
    }
    const trim = trimOf(row);
    const from = Math.max(trim?.before ?? 0, cp.historyLength - window.entries);
    const history = verifySlice(
      cp.sessionId,
      cp.seq,
      row,
      from,
      cp.historyLength,
      window.bytes,
      trim,
      cp.historyHead,
      false,
      this.cipher,
    );
    return { checkpoint: cp, history };
  }

  private remember(read: ReadCheckpoint): void {
    if (read.prev)
      this.prevs.set(read.checkpoint.sessionId, read.checkpoint.seq, read.checkpoint.hash, read.prev);
  }

  /** The second read of a `beginTurn` that raced with a commit; a result stored meanwhile is replayed. */
  private async beginReread(
    c: Runner,
    lease: Lease,
    session: SessionRecord,
    key: string,
    window: HistoryWindow | undefined,
    routeRevision: string | null,
  ): Promise<BeginTurnResult> {
    const sql = latestSql(window);
    const values: unknown[] = [lease.sessionId];
    if (window && window.entries > 0) values.push(window.entries, window.bytes);
    values.push(key);
    let row: Row;
    let cur: Row | undefined;
    try {
      row = (await c.query<Row>({ name: stmtName(sql), text: sql, values })).rows[0]!;
      cur = (await c.query<Row>('SELECT * FROM sessions WHERE id = $1', [lease.sessionId])).rows[0];
    } catch (e) {
      throw storeError(e);
    }
    if (row.tr_found) {
      await this.releaseOn(c, lease);
      return {
        kind: 'replayed',
        result: parseJson(openValue(this.cipher, row.tr_result, turnResultPlace(session.id, key))),
      };
    }
    const s = cur ? sessionFromRow(cur) : session;
    if (TERMINAL_SESSION_STATUSES.includes(s.status)) {
      await this.releaseOn(c, lease);
      return { kind: 'closed', session: s };
    }
    return startedTurn(lease, s, routeRevision, () => this.decodeStarted(row, window));
  }

  private async releaseOn(c: Runner, lease: Lease): Promise<void> {
    try {
      await c.query(
        'UPDATE sessions SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2',
        [lease.sessionId, lease.owner],
      );
    } catch (e) {
      throw storeError(e);
    }
  }

  async beginTurn(
    sessionId: string,
    key: string,
    owner: string,
    ttlMs: number,
    window?: HistoryWindow,
    tokenHash?: string,
  ): Promise<BeginTurnResult> {
    checkTtl(ttlMs);
    if (this.hooks?.beforeCommit) {
      return this.tx('beginTurn', (c) => this.beginOne(c, sessionId, key, owner, ttlMs, window, tokenHash));
    }
    return this.beginOne(this.pool, sessionId, key, owner, ttlMs, window, tokenHash);
  }

  /**
   * Several `beginTurn`s in one transaction (one commit). A refused item's statement changes
   * nothing (its lease update matches no row), so the transaction stays usable for the others.
   */
  async beginTurns(items: BeginTurnInput[]): Promise<BeginTurnsResult[]> {
    const checked = items.map((it) =>
      batonErrorOr(() => {
        checkTtl(it.ttlMs);
        return null;
      }),
    );
    if (items.length === 0) return [];
    if (items.length === 1 && checked[0] === null && !this.hooks?.beforeCommit) {
      const it = items[0]!;
      try {
        return [
          await this.beginOne(this.pool, it.sessionId, it.key, it.owner, it.ttlMs, it.window, it.tokenHash),
        ];
      } catch (e) {
        if (e instanceof BatonError && e.code !== 'STORE_UNAVAILABLE') return [{ kind: 'error', error: e }];
        throw e;
      }
    }
    return this.tx('beginTurns', async (c) => {
      const out: BeginTurnsResult[] = new Array<BeginTurnsResult>(items.length);
      // sessions are locked in id order, so two routers' batches cannot deadlock
      for (const i of lockOrder(items)) {
        const it = items[i]!;
        const bad = checked[i];
        if (bad) {
          out[i] = { kind: 'error', error: bad };
          continue;
        }
        try {
          out[i] = await this.beginOne(c, it.sessionId, it.key, it.owner, it.ttlMs, it.window, it.tokenHash);
        } catch (e) {
          if (e instanceof BatonError && e.code !== 'STORE_UNAVAILABLE') out[i] = { kind: 'error', error: e };
          else throw e;
        }
      }
      return out;
    });
  }

  async renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    checkTtl(ttlMs);
    const expiresAt = this.now() + ttlMs;
    const rows = await this.q(
      'UPDATE sessions SET lease_expires_at = $1 WHERE id = $2 AND lease_owner = $3 RETURNING id',
      [expiresAt, lease.sessionId, lease.owner],
      true,
    );
    if (rows.length === 1)
      return { sessionId: lease.sessionId, owner: lease.owner, expiresAt, epoch: lease.epoch };
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

  async appendCheckpoint(input: AppendCheckpointInput): Promise<CheckpointMeta> {
    const enc = encodeAppend(input, this.limits);
    const now = this.now();
    if (this.hooks?.beforeCommit) {
      const done = await this.tx('appendCheckpoint', (c) => this.appendOne(c, input, enc, now, false));
      this.prevs.set(input.sessionId, done.meta.seq, done.meta.hash, done.next);
      return done.meta;
    }
    const done = await this.appendOne(this.pool, input, enc, now, false);
    this.prevs.set(input.sessionId, done.meta.seq, done.meta.hash, done.next);
    return done.meta;
  }

  /**
   * Several appends, each applied or refused on its own. The appends whose previous checkpoint this
   * process knows (the common case: it wrote it) go in ONE statement, a round trip and a commit for
   * all of them: each append's CTEs are those of its single statement, named apart, every write
   * guarded by its own seq compare-and-set, so an append whose guard fails writes nothing while the
   * others apply. The rest (previous checkpoint unknown, a session twice in the batch, a guard that
   * failed, or the combined statement refused as a whole) take the path of one statement each, in
   * one transaction, which reads the session to say why or to finish the append again.
   */
  async appendCheckpoints(
    inputs: Array<AppendCheckpointInput & { requireNoLease?: boolean }>,
  ): Promise<AppendCheckpointsResult[]> {
    const encoded = inputs.map((input) => batonErrorOr(() => encodeAppend(input, this.limits)));
    if (inputs.length === 0) return [];
    const now = this.now();
    const res: AppendCheckpointsResult[] = new Array<AppendCheckpointsResult>(inputs.length);
    const fallback = new Set<number>();
    const combined: Array<{ i: number; fin: FinishedAppend; prev: PreviousCheckpoint | null }> = [];
    const { p, values } = params();
    const ctes: string[] = [];
    const seen = new Map<string, number>();
    for (const input of inputs) seen.set(input.sessionId, (seen.get(input.sessionId) ?? 0) + 1);
    // sessions are locked in id order, as by beginTurns, so concurrent batches cannot deadlock
    const order = lockOrder(inputs);
    for (const i of order) {
      const input = inputs[i]!;
      const enc = encoded[i]!;
      if (enc instanceof BatonError) {
        res[i] = { ok: false, error: enc };
        continue;
      }
      const known =
        input.expectedSeq === 0
          ? { hash: null, prev: null }
          : this.prevs.get(input.sessionId, input.expectedSeq);
      if (this.hooks?.beforeCommit || seen.get(input.sessionId)! > 1 || !known) {
        fallback.add(i);
        continue;
      }
      let fin: FinishedAppend;
      try {
        fin = finishAppend(input, enc, known.prev, input.expectedSeq + 1, now);
      } catch {
        fallback.add(i); // a stale unchanged part against the cached checkpoint: decided against the stored one
        continue;
      }
      const t = `_${combined.length}`;
      const stmt = this.appendStatement(
        input,
        enc,
        fin,
        known.hash,
        now,
        input.requireNoLease === true,
        { p, values },
        t,
      );
      ctes.push(...stmt.ctes);
      combined.push({ i, fin, prev: known.prev });
    }
    if (combined.length > 0) {
      const select = combined.map((_, k) => `SELECT ${k} AS k, seq FROM c_${k}`).join(' UNION ALL ');
      let applied: Set<number> | null = null;
      try {
        const rows = (
          await this.pool.query<{ k: number }>({ text: `WITH ${ctes.join(',\n')} ${select}`, values })
        ).rows;
        applied = new Set(rows.map((r) => Number(r.k)));
      } catch (e) {
        const err = storeError(e);
        if (err instanceof BatonError && err.code === 'STORE_UNAVAILABLE') throw err;
        // refused as a whole (one statement: nothing was written): each on its own below
      }
      combined.forEach(({ i, fin, prev }, k) => {
        if (applied?.has(k)) {
          const input = inputs[i]!;
          this.prevs.set(
            input.sessionId,
            fin.meta.seq,
            fin.meta.hash,
            appendedPrev(fin, encoded[i] as EncodedAppend, prev),
          );
          res[i] = { ok: true, meta: fin.meta };
        } else fallback.add(i);
      });
    }
    if (fallback.size === 0) return res;
    const rest = order.filter((i) => fallback.has(i));
    const learned = new Map<string, { meta: CheckpointMeta; next: PreviousCheckpoint }>();
    await this.tx('appendCheckpoints', async (c) => {
      for (const i of rest) {
        const input = inputs[i]!;
        try {
          const done = await this.appendOne(
            c,
            input,
            encoded[i] as EncodedAppend,
            now,
            input.requireNoLease === true,
            learned,
          );
          learned.set(input.sessionId, { meta: done.meta, next: done.next });
          res[i] = { ok: true, meta: done.meta };
        } catch (e) {
          if (e instanceof BatonError && e.code !== 'STORE_UNAVAILABLE') res[i] = { ok: false, error: e };
          else throw e;
        }
      }
    });
    for (const [sid, l] of learned) this.prevs.set(sid, l.meta.seq, l.meta.hash, l.next);
    return res;
  }

  /**
   * One append on `c`: finish it against the previous checkpoint (cached, or read), then its single
   * statement; when that matches no row, the session as it is now says why, or (the guard failed:
   * the cached previous checkpoint was stale) the append is finished again against the fresh row.
   */
  private async appendOne(
    c: Runner,
    input: AppendCheckpointInput,
    enc: EncodedAppend,
    now: number,
    requireNoLease: boolean,
    batch: Map<string, { meta: CheckpointMeta; next: PreviousCheckpoint }> = new Map(),
  ): Promise<{ meta: CheckpointMeta; next: PreviousCheckpoint }> {
    const sid = input.sessionId;
    let known: { hash: string | null; prev: PreviousCheckpoint | null } | undefined;
    if (input.expectedSeq === 0) known = { hash: null, prev: null };
    else {
      const inBatch = batch.get(sid);
      if (inBatch) {
        if (inBatch.meta.seq === input.expectedSeq) known = { hash: inBatch.meta.hash, prev: inBatch.next };
      } else known = this.prevs.get(sid, input.expectedSeq);
    }
    for (let attempt = 0; ; attempt++) {
      const cached = known !== undefined && input.expectedSeq > 0;
      if (!known) {
        const fresh = await this.readPrev(c, sid, input.expectedSeq);
        const refusal = this.refusal(input, fresh, now, requireNoLease);
        if (refusal) throw refusal;
        known = { hash: fresh.hash, prev: fresh.prev };
      }
      let fin: ReturnType<typeof finishAppend>;
      try {
        fin = finishAppend(input, enc, known.prev, input.expectedSeq + 1, now);
      } catch (e) {
        // a stale unchanged part against a cached checkpoint: decide against the stored one
        if (!cached || !(e instanceof BatonError)) throw e;
        known = undefined;
        continue;
      }
      const { sql, values } = this.appendStatement(input, enc, fin, known.hash, now, requireNoLease);
      let rows: Array<{ seq: number }>;
      try {
        rows = (await c.query<{ seq: number }>({ name: stmtName(sql), text: sql, values })).rows;
      } catch (e) {
        throw storeError(e);
      }
      if (rows[0]) return { meta: fin.meta, next: appendedPrev(fin, enc, known.prev) };
      const cur = await this.readPrev(c, sid, input.expectedSeq);
      const refusal = this.refusal(input, cur, now, requireNoLease);
      if (refusal) throw refusal;
      // the session is as expected: the previous checkpoint was not the one we finished against
      this.prevs.drop(sid);
      if (attempt >= 2) throw leaseLost(sid, input.leaseOwner ?? '', cur.leaseOwner);
      known = { hash: cur.hash, prev: cur.prev };
    }
  }

  private async readPrev(c: Runner, sessionId: string, expectedSeq: number): Promise<PrevRead> {
    let r: Row | undefined;
    try {
      r = (await c.query<Row>({ name: stmtName(PREV_SQL), text: PREV_SQL, values: [sessionId, expectedSeq] }))
        .rows[0];
    } catch (e) {
      throw storeError(e);
    }
    if (!r) throw sessionNotFound(sessionId);
    return prevFromRow(r);
  }

  /** Why an append cannot apply to the session as read: stale seq, a live lease, a lost lease; null if it can. */
  private refusal(
    input: AppendCheckpointInput,
    cur: PrevRead,
    now: number,
    requireNoLease: boolean,
  ): BatonError | null {
    if (cur.seq !== input.expectedSeq)
      return new SequenceConflictError(input.sessionId, input.expectedSeq, cur.seq);
    const exp = cur.leaseExpiresAt;
    if (requireNoLease && exp !== null && exp > now) return new SessionBusyError(input.sessionId, exp - now);
    if (input.leaseOwner !== undefined && cur.leaseOwner !== input.leaseOwner) {
      return leaseLost(input.sessionId, input.leaseOwner, cur.leaseOwner);
    }
    return null;
  }

  /**
   * The single statement of an append: seq compare-and-set (guarded by the hash of the checkpoint
   * it was finished against) plus every write of the turn commit.
   */
  private appendStatement(
    input: AppendCheckpointInput,
    enc: EncodedAppend,
    fin: ReturnType<typeof finishAppend>,
    prevHash: string | null,
    now: number,
    requireNoLease: boolean,
    /** The statement's parameters (shared when several appends make one statement). */
    { p, values }: { p: (v: unknown) => string; values: unknown[] } = params(),
    /** Suffix of every CTE name of this append. */
    t = '',
  ): { ctes: string[]; sql: string; values: unknown[] } {
    const sid = p(input.sessionId);
    const nowP = p(now);
    const sets = ['seq = seq + 1', `updated_at = ${nowP}`];
    const patch = input.session;
    if (patch?.status !== undefined) sets.push(`status = ${p(patch.status)}`);
    if (patch?.version !== undefined) sets.push(`version = ${p(patch.version)}`);
    if (patch?.reason !== undefined) sets.push(`reason = ${p(patch.reason)}::text`);
    const expP = p(input.expectedSeq);
    let where = `id = ${sid} AND seq = ${expP}`;
    if (input.leaseOwner !== undefined) {
      sets.push('lease_owner = NULL', 'lease_expires_at = NULL');
      where += ` AND lease_owner = ${p(input.leaseOwner)}`;
    }
    if (requireNoLease) where += ` AND (lease_expires_at IS NULL OR lease_expires_at <= ${nowP})`;
    if (prevHash !== null) {
      where += ` AND EXISTS (SELECT 1 FROM checkpoints WHERE session_id = ${sid} AND seq = ${expP} AND hash = ${p(prevHash)})`;
    }
    const ctes = [
      `s${t} AS (UPDATE sessions SET ${sets.join(', ')} WHERE ${where} RETURNING seq, created_at)`,
      ...logCtes(p, sid, input, enc, fin, nowP, now, this.keep, t, this.cipher),
    ];
    const resolved = input.resolvedWaits ?? [];
    const resolvedP = resolved.length > 0 || input.waits ? p(resolved) : '';
    if (resolved.length > 0) {
      ctes.push(`rw${t} AS (UPDATE waits SET status = 'resolved'
        WHERE session_id = ${sid} AND token = ANY(${resolvedP}::text[]) AND EXISTS (SELECT 1 FROM s${t}))`);
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
      ctes.push(`dw${t} AS (DELETE FROM waits WHERE session_id = ${sid} AND status = 'pending'
          AND NOT (token = ANY(${keepP}::text[])) AND NOT (token = ANY(${resolvedP}::text[])) AND EXISTS (SELECT 1 FROM s${t}))`);
      ctes.push(`iw${t} AS (INSERT INTO waits (token, session_id, name, deadline, schema, created_at, status)
          SELECT w.token, ${sid}, w.name, w.deadline, w.schema, w.created_at, 'pending'
          FROM s${t}, json_to_recordset(${p(JSON.stringify(waits))}::json)
            AS w(token text, name text, deadline bigint, schema text, created_at bigint)
          WHERE NOT (w.token = ANY(${resolvedP}::text[]))
          ON CONFLICT (token) DO UPDATE SET name = excluded.name, deadline = excluded.deadline, schema = excluded.schema
          WHERE waits.session_id = excluded.session_id AND waits.status = 'pending')`);
    }
    if (input.migration) {
      const m = input.migration;
      ctes.push(`m${t} AS (INSERT INTO migrations (session_id, seq, from_version, to_version, from_schema, to_schema,
          context_policy, rollout_id, status, error, at)
        SELECT ${sid}, s${t}.seq, ${p(m.fromVersion)}, ${p(m.toVersion)}, ${p(m.fromSchema)}, ${p(m.toSchema)},
          ${p(m.contextPolicy)}, ${p(m.rolloutId ?? null)}, 'ok', NULL, ${p(m.at)} FROM s${t})`);
    }
    if (input.turnResult) {
      ctes.push(`tr${t} AS (INSERT INTO turn_results (session_id, key, result, created_at)
        SELECT ${sid}, ${p(input.turnResult.key)}, ${p(sealValue(this.cipher, jsonText(input.turnResult.result), turnResultPlace(input.sessionId, input.turnResult.key)))}, ${nowP} FROM s${t}
        ON CONFLICT DO NOTHING)`);
    }
    ctes.push(`st${t} AS (DELETE FROM steps WHERE session_id = ${sid} AND EXISTS (SELECT 1 FROM s${t}))`);
    if (input.telemetry) {
      const tel = input.telemetry;
      ctes.push(`tt${t} AS (${telemetryInsert(p, tel, `s${t}.seq`, `FROM s${t}`)})`);
      ctes.push(
        `ta${t} AS (${aggregateUpsert(p, sid, p(tel.version), p(tel.agent), `s${t}.created_at`, tel.at, turnDelta(tel), `FROM s${t}`)})`,
      );
    }
    return { ctes, sql: `WITH ${ctes.join(',\n')} SELECT seq FROM c`, values };
  }

  async getLatestCheckpoint(sessionId: string): Promise<Checkpoint | null> {
    // One statement: the latest row and its parts (a backward index probe); only a session
    // without checkpoints needs a second query.
    const sql = `SELECT ${CP_SELECT} FROM (SELECT 1) one ${cpJoins('$1')}`;
    const rows = await this.q(sql, [sessionId], true);
    const read = decodeCpRow(rows[0]!, this.cipher);
    if (read) {
      this.remember(read);
      return read.checkpoint;
    }
    await this.getSession(sessionId);
    return null;
  }

  async getCheckpoint(sessionId: string, seq: number): Promise<Checkpoint> {
    const sql = `SELECT s.id AS sid, ${CP_SELECT} FROM (SELECT 1) one
      LEFT JOIN sessions s ON s.id = $1 ${cpJoins('$1', 'AND seq = $2')}`;
    const rows = await this.q(sql, [sessionId, seq], true);
    const row = rows[0]!;
    if (row.sid === null) throw sessionNotFound(sessionId);
    const read = decodeCpRow(row, this.cipher);
    if (!read) throw checkpointNotFound(sessionId, seq);
    return read.checkpoint;
  }

  async listCheckpoints(
    sessionId: string,
    q: { limit?: number; beforeSeq?: number } = {},
  ): Promise<CheckpointMeta[]> {
    const rows = await this.q(
      `SELECT s.id AS sid, c.session_id, c.seq, c.schema_version, c.written_by, c.hash, c.size, c.created_at,
         c.state_hash, c.context_hash, c.memory_hash, c.history_length, c.history_head
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
    // The session row lock first (concurrent appends wait), then the deletes in a fresh snapshot
    // that sees every committed checkpoint, so no part still referenced is collected.
    return this.tx('compactCheckpoints', async (c) => {
      const s = (
        await c.query<{ seq: number }>('SELECT seq FROM sessions WHERE id = $1 FOR UPDATE', [sessionId])
      ).rows[0];
      if (!s) throw sessionNotFound(sessionId);
      const limit = Number(s.seq) - keep;
      if (limit < 1) return 0;
      const r = await c.query<{ n: string }>({
        name: stmtName(COMPACT_SQL),
        text: COMPACT_SQL,
        values: [sessionId, limit],
      });
      return Number(r.rows[0]!.n);
    });
  }

  // ---------- history log ----------

  async readHistory(sessionId: string, q?: HistoryQuery): Promise<HistoryPage> {
    const { before, limit, maxBytes } = historyQuery(q);
    // One statement: the session, the latest checkpoint's length and head, the marker, the page.
    const len = 'coalesce(c.history_length, 0)';
    const to = `least(coalesce($2::int, ${len}), ${len})`;
    const sql = `SELECT s.id AS sid, c.seq AS c_seq, c.history_length AS c_len, c.history_head AS c_head, ${TRIM_SELECT}, hs.*
      FROM (SELECT 1) one
      LEFT JOIN sessions s ON s.id = $1
      LEFT JOIN LATERAL (SELECT seq, history_length, history_head FROM checkpoints WHERE session_id = $1
        ORDER BY seq DESC LIMIT 1) c ON true
      LEFT JOIN history_trims t ON t.session_id = $1
      ${sliceJoin('$1', `greatest(coalesce(t.before_idx, 0), ${to} - $3::int)`, to, '$4::bigint', true)}`;
    const rows = await this.q(
      sql,
      [sessionId, before, limit, Math.min(maxBytes, Number.MAX_SAFE_INTEGER)],
      true,
    );
    const r = rows[0]!;
    if (r.sid === null) throw sessionNotFound(sessionId);
    const total = Number(r.c_len ?? 0);
    const seq = Number(r.c_seq ?? 0);
    const trim = trimOf(r);
    const floor = trim?.before ?? 0;
    const upTo = Math.min(before ?? total, total);
    const from = Math.max(floor, upTo - limit);
    const head = upTo === total && r.c_seq !== null ? ((r.c_head as string | null) ?? undefined) : undefined;
    const entries = verifySlice(sessionId, seq, r, from, upTo, maxBytes, trim, head, true, this.cipher);
    const firstIdx = entries[0]?.index ?? upTo;
    return {
      sessionId,
      entries,
      total,
      nextBefore: firstIdx > floor ? firstIdx : null,
      trimmed: trim ? { before: trim.before, at: trim.at, reason: trim.reason } : null,
    };
  }

  async sharedSecret(name: string): Promise<Buffer> {
    const rows = await this.q<{ value: string }>(
      `WITH i AS (INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING value)
       SELECT value FROM i UNION ALL SELECT value FROM secrets WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM i)`,
      [name, randomBytes(32).toString('hex'), this.now()],
    );
    // inserted by a transaction that committed after this statement's snapshot: read it now
    const value =
      rows[0]?.value ??
      (await this.q<{ value: string }>('SELECT value FROM secrets WHERE name = $1', [name]))[0]?.value;
    if (value === undefined) throw new Error(`shared secret ${name} could not be created`);
    return Buffer.from(value, 'hex');
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
    return rows.map((r) => ({
      index: Number(r.idx),
      name: r.name as string,
      result: parseJson(openValue(this.cipher, r.result, stepPlace(sessionId, turnId, Number(r.idx)))),
    }));
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
      [
        sessionId,
        turnId,
        index,
        name,
        sealValue(this.cipher, jsonText(result), stepPlace(sessionId, turnId, index)),
      ],
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
    return rows[0]
      ? parseJson(openValue(this.cipher, rows[0].result, turnResultPlace(sessionId, key)))
      : undefined;
  }

  async putTurnResult(sessionId: string, key: string, result: unknown): Promise<void> {
    await this.q(
      'INSERT INTO turn_results (session_id, key, result, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [sessionId, key, sealValue(this.cipher, jsonText(result), turnResultPlace(sessionId, key)), this.now()],
      true,
    );
  }

  // ---------- effects ----------

  async recordEffectIntent(
    input: EffectIntentInput & { rolloutId?: string | null },
  ): Promise<{ effect: EffectRecord; existing: boolean }> {
    const now = this.now();
    const comp = initialCompensation(input.compensation);
    const rows = await this.q<Row & { inserted: boolean }>(
      `WITH i AS (
         INSERT INTO effects (id, idempotency_key, session_id, agent, version, rollout_id, turn_id, name, args, status,
           compensation, created_at, updated_at, attempt_id, compensation_state, compensation_reason, compensates)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'intent', $10, $11, $11, $12, $13, $14, $15)
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
        sealJson(this.cipher, jsonText(input.args), input.idempotencyKey, 'args'),
        input.compensation ?? null,
        now,
        input.attemptId ?? null,
        comp.state,
        comp.reason,
        input.compensates ?? null,
      ],
      true,
    );
    if (rows[0]) {
      const effect = effectFromRow(rows[0], this.cipher);
      return { effect, existing: !rows[0].inserted && !ownIntent(effect, input.attemptId) };
    }
    // Inserted concurrently by another transaction that committed after our snapshot.
    const effect = await this.getEffect(input.idempotencyKey);
    return { effect, existing: !ownIntent(effect, input.attemptId) };
  }

  private async transition(key: string, op: EffectOp, value: unknown): Promise<EffectRecord> {
    const { from, to } = EFFECT_TRANSITIONS[op];
    const col = op === 'fail' ? 'error' : 'result';
    const v = op === 'fail' ? String(value) : sealJson(this.cipher, jsonText(value), key, 'result');
    const rows = await this.q(
      `UPDATE effects SET status = $1, ${col} = $2, updated_at = $3 WHERE idempotency_key = $4 AND status = $5 RETURNING *`,
      [to, v, this.now(), key, from],
      true,
    );
    if (rows[0]) return effectFromRow(rows[0], this.cipher);
    const e = await this.getEffect(key);
    if (e.resolution) throw resolvedConflict(e, op);
    if (e.status === to) return e;
    throw effectConflict(key, op, e.status);
  }

  commitEffect(idempotencyKey: string, result: unknown): Promise<EffectRecord> {
    return this.transition(idempotencyKey, 'commit', result);
  }

  failEffect(idempotencyKey: string, error: string): Promise<EffectRecord> {
    return this.transition(idempotencyKey, 'fail', error);
  }

  getEffectById(id: string): Promise<EffectRecord> {
    return this.compensations.getById(id);
  }

  claimCompensation(id: string, claim: CompensationClaim): Promise<EffectRecord> {
    return this.compensations.claim(id, claim);
  }

  finishCompensation(id: string, owner: string, outcome: CompensationOutcome): Promise<EffectRecord> {
    return this.compensations.finish(id, owner, outcome);
  }

  skipCompensation(id: string, by: string, reason: string): Promise<EffectRecord> {
    return this.compensations.skip(id, by, reason);
  }

  holdCompensation(id: string, reason: string): Promise<EffectRecord> {
    return this.compensations.hold(id, reason);
  }

  async getEffect(idempotencyKey: string): Promise<EffectRecord> {
    const rows = await this.q('SELECT * FROM effects WHERE idempotency_key = $1', [idempotencyKey], true);
    if (!rows[0]) throw effectNotFound(idempotencyKey);
    return effectFromRow(rows[0], this.cipher);
  }

  async listEffects(q: ListEffectsQuery): Promise<Page<EffectRecord>> {
    const limit = pageLimit(q.limit);
    const statuses = asArray(q.status);
    if (statuses && statuses.length === 0) return { items: [], nextCursor: null };
    const rows = await this.q(
      `SELECT * FROM effects WHERE ($1::text IS NULL OR session_id = $1) AND ($2::text IS NULL OR agent = $2)
         AND ($3::text IS NULL OR version = $3) AND ($4::text IS NULL OR rollout_id = $4)
         AND ($5::text[] IS NULL OR status = ANY($5)) AND ($6::text IS NULL OR id > $6)
         AND ($8::text[] IS NULL OR compensation_state = ANY($8))
         AND ($9::text IS NULL OR ($9 = 'turn') = (compensates IS NULL))
       ORDER BY id LIMIT $7`,
      [
        q.sessionId ?? null,
        q.agent ?? null,
        q.version ?? null,
        q.rolloutId ?? null,
        statuses ?? null,
        q.cursor ?? null,
        limit + 1,
        asArray(q.compensationState) ?? null,
        q.kind ?? null,
      ],
    );
    return toPage(
      rows.map((r) => effectFromRow(r, this.cipher)),
      limit,
    );
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

  async appendSessionSample(sample: SessionSample): Promise<void> {
    await this.q(
      `INSERT INTO session_samples (rollout_id, at, counts) VALUES ($1, $2, $3)
       ON CONFLICT (rollout_id, at) DO UPDATE SET counts = excluded.counts`,
      [sample.rolloutId, sample.at, JSON.stringify(sample.counts)],
    );
  }

  async listSessionSamples(
    rolloutId: string,
    q: { after?: number; limit?: number } = {},
  ): Promise<SessionSample[]> {
    const rows = await this.q(
      'SELECT * FROM session_samples WHERE rollout_id = $1 AND at > $2 ORDER BY at LIMIT $3',
      [rolloutId, q.after ?? -1, pageLimit(q.limit ?? 1000)],
    );
    return rows.map((r) => ({
      rolloutId: String(r.rollout_id),
      at: Number(r.at),
      counts: r.counts as SessionSample['counts'],
    }));
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
    const { sql, values } = this.metricsSql(sessionId, version, m);
    const rows = await this.q<{ n: string }>(sql, values);
    if (Number(rows[0]!.n) === 0) throw sessionNotFound(sessionId);
  }

  /** One statement adding metrics and signal counts to a session's aggregate; answers `n` = rows upserted. */
  private metricsSql(
    sessionId: string,
    version: string,
    m: { metrics?: Record<string, number>; signals?: Record<string, number> },
  ): { sql: string; values: unknown[] } {
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
    return { sql: `WITH ta AS (${up} RETURNING 1) SELECT (SELECT count(*) FROM ta) AS n`, values };
  }

  // ---------- crash recovery (pg-recovery.ts) ----------

  private compensationsImpl: CompensationLedger | undefined;

  private get compensations(): CompensationLedger {
    return (this.compensationsImpl ??= new CompensationLedger(
      async (sql, args) => (await this.q(sql, args, true))[0],
      () => this.now(),
      this.cipher,
    ));
  }

  private get recovery(): PgRecovery {
    return (this.recoveryImpl ??= new PgRecovery({
      q: (sql, values, prepare) => this.q(sql, values, prepare),
      tx: (op, fn) => this.tx(op, fn),
      now: () => this.now(),
      cipher: this.cipher,
      addMetrics: async (c, sessionId, version, metrics) => {
        const { sql, values } = this.metricsSql(sessionId, version, { metrics });
        const r = await c.query<{ n: string }>(sql, values);
        if (Number(r.rows[0]!.n) === 0) throw sessionNotFound(sessionId);
      },
    }));
  }

  resolveEffect(id: string, r: EffectResolutionInput): Promise<EffectRecord> {
    return this.recovery.resolveEffect(id, r);
  }

  reserveSessionKey(input: {
    agent: string;
    key: string;
    sessionId: string;
    bodyHash: string;
  }): Promise<SessionKeyReservation> {
    return this.recovery.reserveSessionKey(input);
  }

  enqueueEvaluation(job: {
    id: string;
    sessionId: string;
    version: string;
    turn: unknown;
  }): Promise<boolean> {
    return this.recovery.enqueueEvaluation(job);
  }

  claimEvaluations(owner: string, limit: number, ttlMs: number): Promise<EvaluationJob[]> {
    return this.recovery.claimEvaluations(owner, limit, ttlMs);
  }

  completeEvaluation(id: string, metrics: Record<string, number>): Promise<boolean> {
    return this.recovery.completeEvaluation(id, metrics);
  }

  listEvaluations(q?: {
    status?: 'pending' | 'done';
    sessionId?: string;
    limit?: number;
  }): Promise<EvaluationJob[]> {
    return this.recovery.listEvaluations(q);
  }

  async markSessionCompleted(sessionId: string): Promise<void> {
    await this.q(
      `WITH w AS (UPDATE waits SET status = 'expired' WHERE session_id = $1 AND status = 'pending')
       UPDATE session_aggregates SET completed = true WHERE session_id = $1`,
      [sessionId],
    );
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

/**
 * The indexes of `items` in session-id order (stable: a session's items keep their order). Every
 * batch transaction locks session rows in this order, so two of them never wait on each other in
 * a cycle (PostgreSQL's `deadlock detected`).
 */
function lockOrder(items: ReadonlyArray<{ sessionId: string }>): number[] {
  return items
    .map((_, i) => i)
    .sort((a, b) => {
      const x = items[a]!.sessionId;
      const y = items[b]!.sessionId;
      return x < y ? -1 : x > y ? 1 : a - b;
    });
}
