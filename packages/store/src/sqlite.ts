/**
 * SQLite backend (better-sqlite3). One file, WAL, `synchronous=NORMAL` by default (`FULL` as an
 * option), a busy timeout, `BEGIN IMMEDIATE` for write transactions and statements prepared once.
 * The driver is synchronous, so every method runs to completion before its promise settles.
 */
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { createPrivate, exposedFiles, privateSideFiles } from './file-mode';
import { digestWaitTokensSqlite } from './wait-digests';
import type { Database as Db, Statement } from 'better-sqlite3';
import {
  BatonError,
  SequenceConflictError,
  SessionBusyError,
  TERMINAL_SESSION_STATUSES,
  newId,
} from '@baton/core';
import type {
  Checkpoint,
  CheckpointMeta,
  HistoryPage,
  HistoryQuery,
  HistoryWindow,
  Decision,
  DecisionInput,
  EffectIntentInput,
  EffectRecord,
  EffectResolutionInput,
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
  Wait,
  WaitRecord,
  WorkerRecord,
} from '@baton/core';
import type {
  EvaluationJob,
  SessionKeyReservation,
  AppendCheckpointInput,
  AppendCheckpointsResult,
  BeginTurnInput,
  BeginTurnResult,
  BeginTurnsResult,
  CreateRolloutInput,
  CreateSessionInput,
  Lease,
  CompensationClaim,
  CompensationOutcome,
  ListEffectsQuery,
  ListSessionsQuery,
  RolloutPatch,
  SessionExpectation,
  SessionPatch,
  Store,
  StoreOptions,
  TelemetryQuery,
  TurnTelemetryQuery,
  SessionSample,
} from './store';
import { SqliteGraphCheckpointStore } from './graph-sqlite';
import { SQLITE_LOG_MIGRATION, SqliteLog } from './sqlite-log';
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
  emptyCounts,
  encodeAppend,
  jsonText,
  mergeCounts,
  mergeMetrics,
  metricsDelta,
  migrationFromRow,
  pageLimit,
  parseJson,
  rolloutFromRow,
  routeFromRow,
  sessionFromRow,
  telemetryFromRow,
  toPage,
  turnDelta,
  versionFromRow,
  versionNotFound,
  waitFromRow,
  waitNotFound,
  workerFromRow,
  workerNotFound,
  effectNotFound,
  leaseLost,
  rolloutNotFound,
  rolloutRevConflict,
  sessionConflict,
  sessionExists,
  sessionNotFound,
  startedTurn,
} from './common';
import type { AggregateDelta, AppendLimits, EffectOp, EncodedAppend, Row } from './common';
import { ownIntent, resolvedConflict } from './recovery';
import { guarded } from './sqlite-guard';
import { SQLITE_RECOVERY_MIGRATION, SqliteRecovery } from './sqlite-recovery';
import { CompensationLedger, compensationMigration, initialCompensation, sqliteParams } from './compensation';
import { cipherFor } from './cipher';
import type { RecordCipher } from './cipher';
import { openValue, sealJson, sealValue, stepPlace, turnResultPlace } from './sealed';
import { reencrypt } from './reencrypt';
import { LogCache } from './log-cache';

export interface SqliteStoreOptions extends StoreOptions {
  /** `NORMAL` (default; durable against process crashes, WAL) or `FULL` (also against power loss). */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long a writer waits for another connection's write lock. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** Fault injection for crash tests: called inside a write transaction just before it commits. */
  hooks?: { beforeCommit?: (op: string) => void };
}

interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The store's own schema, in order. Never edit an applied migration; append a new one. */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE versions (
  agent TEXT NOT NULL, label TEXT NOT NULL, schema_version INTEGER NOT NULL, model_id TEXT NOT NULL,
  prompt_hash TEXT NOT NULL, tool_manifest_hash TEXT NOT NULL, code_hash TEXT NOT NULL, identity TEXT NOT NULL,
  accepts_schemas TEXT NOT NULL, down_schemas TEXT NOT NULL, created_at INTEGER NOT NULL, metadata TEXT NOT NULL,
  PRIMARY KEY (agent, label)
);
CREATE TABLE workers (
  id TEXT PRIMARY KEY, agent TEXT NOT NULL, version TEXT NOT NULL, url TEXT, health TEXT NOT NULL,
  registered_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL
);
CREATE TABLE routes (
  agent TEXT PRIMARY KEY, stable TEXT NOT NULL, candidate TEXT, weight REAL NOT NULL, move TEXT,
  rollout_id TEXT, updated_at INTEGER NOT NULL
);
CREATE TABLE sessions (
  id TEXT PRIMARY KEY, agent TEXT NOT NULL, tenant TEXT, version TEXT NOT NULL, status TEXT NOT NULL,
  seq INTEGER NOT NULL DEFAULT 0, token_hash TEXT NOT NULL, lease_owner TEXT, lease_expires_at INTEGER,
  reason TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, metadata TEXT NOT NULL
);
CREATE INDEX sessions_agent_version_status ON sessions (agent, version, status);
CREATE TABLE checkpoints (
  session_id TEXT NOT NULL, seq INTEGER NOT NULL, schema_version INTEGER NOT NULL, written_by TEXT NOT NULL,
  hash TEXT NOT NULL, size INTEGER NOT NULL, created_at INTEGER NOT NULL, body BLOB NOT NULL,
  PRIMARY KEY (session_id, seq)
);
CREATE TABLE migrations (
  id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL, from_version TEXT NOT NULL,
  to_version TEXT NOT NULL, from_schema INTEGER NOT NULL, to_schema INTEGER NOT NULL,
  context_policy TEXT NOT NULL, rollout_id TEXT, status TEXT NOT NULL, error TEXT, at INTEGER NOT NULL
);
CREATE INDEX migrations_session ON migrations (session_id);
CREATE INDEX migrations_rollout ON migrations (rollout_id);
CREATE TABLE waits (
  token TEXT PRIMARY KEY, session_id TEXT NOT NULL, name TEXT NOT NULL, deadline INTEGER NOT NULL,
  schema TEXT, created_at INTEGER NOT NULL, status TEXT NOT NULL
);
CREATE INDEX waits_session ON waits (session_id, status);
CREATE INDEX waits_due ON waits (status, deadline);
CREATE TABLE steps (
  session_id TEXT NOT NULL, turn_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, result TEXT,
  PRIMARY KEY (session_id, turn_id, idx)
);
CREATE TABLE turn_results (
  session_id TEXT NOT NULL, key TEXT NOT NULL, result TEXT, created_at INTEGER NOT NULL,
  PRIMARY KEY (session_id, key)
);
CREATE TABLE effects (
  id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, session_id TEXT NOT NULL, agent TEXT NOT NULL,
  version TEXT NOT NULL, rollout_id TEXT, turn_id TEXT NOT NULL, name TEXT NOT NULL, args TEXT,
  status TEXT NOT NULL, result TEXT, error TEXT, compensation TEXT, compensation_result TEXT,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
);
CREATE INDEX effects_session ON effects (session_id);
CREATE INDEX effects_agent_version ON effects (agent, version);
CREATE INDEX effects_rollout ON effects (rollout_id);
CREATE TABLE rollouts (
  id TEXT PRIMARY KEY, agent TEXT NOT NULL, from_version TEXT NOT NULL, to_version TEXT NOT NULL, spec TEXT,
  phase TEXT NOT NULL, step INTEGER NOT NULL, state TEXT, rev INTEGER NOT NULL, decision_seq INTEGER NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
);
CREATE INDEX rollouts_agent ON rollouts (agent);
CREATE TABLE decisions (
  rollout_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL, evidence TEXT,
  at INTEGER NOT NULL, PRIMARY KEY (rollout_id, seq)
);
CREATE TABLE turn_telemetry (
  id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, agent TEXT NOT NULL, version TEXT NOT NULL,
  turn_id TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, latency_ms REAL NOT NULL,
  tool_calls TEXT NOT NULL, reasoning_steps INTEGER NOT NULL, tokens_in INTEGER NOT NULL,
  tokens_out INTEGER NOT NULL, context_utilization REAL NOT NULL, metrics TEXT NOT NULL, signals TEXT NOT NULL,
  error TEXT
);
CREATE INDEX turn_telemetry_agent_version_at ON turn_telemetry (agent, version, at);
CREATE TABLE session_aggregates (
  session_id TEXT NOT NULL, version TEXT NOT NULL, agent TEXT NOT NULL, session_started_at INTEGER NOT NULL,
  first_at INTEGER NOT NULL, last_at INTEGER NOT NULL, turns INTEGER NOT NULL, errors INTEGER NOT NULL,
  tool_calls INTEGER NOT NULL, tool_mix TEXT NOT NULL, reasoning_steps INTEGER NOT NULL,
  tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, latency_ms_sum REAL NOT NULL,
  latency_ms_max REAL NOT NULL, context_utilization_max REAL NOT NULL, metrics TEXT NOT NULL,
  signals TEXT NOT NULL, completed INTEGER NOT NULL, PRIMARY KEY (session_id, version)
);
CREATE INDEX session_aggregates_cohort ON session_aggregates (agent, version, session_started_at);
CREATE TABLE locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL);
`,
  },
  { version: 2, name: 'history log, checkpoint parts, lease epochs', sql: SQLITE_LOG_MIGRATION },
  {
    version: 3,
    name: 'effect attempts and resolutions, session keys, evaluation queue',
    sql: SQLITE_RECOVERY_MIGRATION,
  },
  // the data step (digestWaitTokensSqlite) runs right after it, in the same transaction
  { version: 4, name: 'wait tokens stored as digests', sql: 'SELECT 1;' },
  { version: 5, name: 'compensation state beside the effect status', sql: compensationMigration('INTEGER') },
  {
    version: 6,
    name: 'sessions by version and status over time; sessions by tenant',
    sql: `
CREATE TABLE session_samples (
  rollout_id TEXT NOT NULL, at INTEGER NOT NULL, counts TEXT NOT NULL, PRIMARY KEY (rollout_id, at)
);
CREATE INDEX sessions_tenant ON sessions (tenant, id);
CREATE INDEX sessions_agent_version_id ON sessions (agent, version, id);
`,
  },
];

/** The migration whose data step stores wait tokens as digests. */
const WAIT_DIGEST_VERSION = 4;

/** The first migration whose data upgrade moves legacy checkpoint bodies into the history log. */
const LOG_VERSION = 2;

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

/** A `WHERE` built from optional filters, in the order they are added; `sql` is empty without any. */
class Filters {
  private readonly clauses: string[] = [];
  readonly args: unknown[] = [];

  /** `col = v`, left out when `v` is undefined. */
  eq(col: string, v: unknown): void {
    if (v !== undefined) this.add(`${col} = ?`, v);
  }

  /** `col IN (…)`, left out when `vs` is undefined. */
  in(col: string, vs: readonly unknown[] | undefined): void {
    if (vs) this.add(`${col} IN (${vs.map(() => '?').join(', ')})`, ...vs);
  }

  add(clause: string, ...args: unknown[]): void {
    this.clauses.push(clause);
    this.args.push(...args);
  }

  get sql(): string {
    return this.clauses.length ? ' WHERE ' + this.clauses.join(' AND ') : '';
  }
}

function sqlitePath(target: string): string {
  return target.startsWith('sqlite:') ? target.slice('sqlite:'.length) : target;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly db: Db;
  private readonly now: () => number;
  private readonly limits: AppendLimits;
  private readonly log: SqliteLog;
  /** Encryption at rest (a no-op without a current key). */
  readonly cipher: RecordCipher;
  private readonly recovery: SqliteRecovery;
  private readonly compensations: CompensationLedger;
  private readonly hooks: SqliteStoreOptions['hooks'];
  private readonly stmts = new Map<string, Statement>();
  /** One transaction wrapper, created once: runs its argument inside the transaction. */
  private readonly txRun: Database.Transaction<(fn: () => unknown) => unknown>;
  private closed = false;
  readonly warnings: readonly string[] = [];

  constructor(target: string, opts: SqliteStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.limits = {
      maxCheckpointBytes: opts.maxCheckpointBytes ?? DEFAULT_MAX_CHECKPOINT_BYTES,
      maxHistoryEntryBytes: opts.maxHistoryEntryBytes ?? DEFAULT_MAX_HISTORY_ENTRY_BYTES,
    };
    this.cipher = cipherFor(opts.encryption);
    this.log = new SqliteLog(
      (sql) => this.st(sql),
      opts.keepCheckpoints ?? DEFAULT_KEEP_CHECKPOINTS,
      new LogCache(),
      this.cipher,
    );
    this.hooks = opts.hooks;
    this.recovery = new SqliteRecovery({
      st: (sql) => this.st(sql),
      write: (op, fn) => this.write(op, fn),
      now: () => this.now(),
      cipher: this.cipher,
      addMetrics: (sessionId, version, metrics) => this.addMetrics(sessionId, version, { metrics }),
    });
    this.compensations = new CompensationLedger(
      async (sql, args) => this.nst(sqliteParams(sql)).get(...args) as Row | undefined,
      () => this.now(),
      this.cipher,
    );
    const path = sqlitePath(target);
    const onDisk = path !== ':memory:' && path !== '' && !path.startsWith('file:');
    if (onDisk) {
      this.warnings = exposedFiles(path).map(
        (f) => `store file ${f.file} is readable by other users (mode ${f.mode}); chmod 600 it`,
      );
      createPrivate(path);
    }
    this.db = new Database(path);
    this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
    if (path !== ':memory:' && path !== '') this.db.pragma('journal_mode = WAL');
    if (onDisk) privateSideFiles(path);
    this.db.pragma(`synchronous = ${opts.synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
    this.txRun = this.db.transaction((fn: () => unknown) => fn());
    this.migrate();
  }

  private migrate(): void {
    // the wait-digest step overwrites tokens: zero what it frees, so no copy stays in the file
    const secure = this.db.pragma('secure_delete', { simple: true }) as number;
    this.db.pragma('secure_delete = ON');
    try {
      this.migrateAll();
    } finally {
      this.db.pragma(`secure_delete = ${secure ? 'ON' : 'OFF'}`);
    }
  }

  private migrateAll(): void {
    const run = this.db.transaction(() => {
      this.db.exec(
        'CREATE TABLE IF NOT EXISTS baton_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
      );
      const row = this.db.prepare('SELECT max(version) AS v FROM baton_schema_migrations').get() as {
        v: number | null;
      };
      const current = row.v ?? 0;
      for (const m of SQLITE_MIGRATIONS) {
        if (m.version <= current) continue;
        this.db.exec(m.sql);
        this.db
          .prepare('INSERT INTO baton_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(m.version, m.name, Date.now());
        if (m.version === LOG_VERSION) this.log.upgradeLegacy();
        if (m.version === WAIT_DIGEST_VERSION) digestWaitTokensSqlite(this.db);
      }
    });
    run.immediate();
  }

  /** Prepared once per SQL text, reused afterwards. */
  private st(sql: string): Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = guarded(this.db.prepare(sql));
      this.stmts.set(sql, s);
    }
    return s;
  }

  private readonly numbered = new Map<string, { stmt: Statement; order: number[] }>();

  /** Like `st`, for SQL with numbered parameters (`?1`, `?2`, reused freely): binds them positionally. */
  private nst(sql: string): {
    all: (...a: unknown[]) => unknown[];
    get: (...a: unknown[]) => unknown;
    run: (...a: unknown[]) => Database.RunResult;
  } {
    let n = this.numbered.get(sql);
    if (!n) {
      const order: number[] = [];
      const text = sql.replace(/\?(\d+)/g, (_m, d: string) => {
        order.push(Number(d) - 1);
        return '?';
      });
      n = { stmt: guarded(this.db.prepare(text)), order };
      this.numbered.set(sql, n);
    }
    const { stmt, order } = n;
    const bind = (a: unknown[]) => order.map((i) => a[i]);
    return {
      all: (...a) => stmt.all(...bind(a)),
      get: (...a) => stmt.get(...bind(a)),
      run: (...a) => stmt.run(...bind(a)),
    };
  }

  /** A write transaction (`BEGIN IMMEDIATE`); the log's cache changes apply once it commits. */
  private write<T>(op: string, fn: () => T): T {
    const before = this.hooks?.beforeCommit;
    try {
      const out = before
        ? (this.txRun.immediate(() => {
            const r = fn();
            before(op);
            return r;
          }) as T)
        : (this.txRun.immediate(fn) as T);
      this.log.deferred.commit();
      return out;
    } catch (e) {
      this.log.deferred.rollback();
      // Another connection held the write lock for longer than the busy timeout.
      if (String((e as { code?: string }).code).startsWith('SQLITE_BUSY')) {
        throw new BatonError(
          'STORE_UNAVAILABLE',
          'the SQLite store is busy: another writer holds the lock',
          {
            op,
          },
          { cause: e },
        );
      }
      throw e;
    }
  }

  private graphStore: SqliteGraphCheckpointStore | undefined;

  /** LangGraph checkpoint tables on the same database (their own migrations, applied on first use). */
  get graph(): SqliteGraphCheckpointStore {
    return (this.graphStore ??= new SqliteGraphCheckpointStore(this.db));
  }

  async reencrypt(opts?: Parameters<Store['reencrypt']>[0]): ReturnType<Store['reencrypt']> {
    // the old bytes (plaintext, or under the old key) must not stay behind in freed pages or the
    // WAL: zero what the rewrites free, and checkpoint the WAL into the file when done
    const secure = this.db.pragma('secure_delete', { simple: true }) as number;
    this.db.pragma('secure_delete = ON');
    try {
      const out = await this.reencryptAll(opts);
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      return out;
    } finally {
      this.db.pragma(`secure_delete = ${secure ? 'ON' : 'OFF'}`);
    }
  }

  private reencryptAll(opts?: Parameters<Store['reencrypt']>[0]): ReturnType<Store['reencrypt']> {
    return reencrypt(
      {
        all: async (sql, args) => this.nst(sqliteParams(sql)).all(...args) as Row[],
        update: async (stmts) =>
          this.write('reencrypt', () => {
            let n = 0;
            for (const s of stmts) n += this.nst(sqliteParams(s.sql)).run(...s.args).changes;
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
    this.db.close();
  }

  // ---------- versions and workers ----------

  async registerVersion(v: Omit<VersionRecord, 'createdAt'>): Promise<VersionRecord> {
    return this.write('registerVersion', () => {
      const existing = this.st('SELECT * FROM versions WHERE agent = ? AND label = ?').get(
        v.agent,
        v.label,
      ) as Row | undefined;
      if (existing) {
        const rec = versionFromRow(existing);
        checkSameVersion(v, rec);
        return rec;
      }
      const row = this.st(
        `INSERT INTO versions (agent, label, schema_version, model_id, prompt_hash, tool_manifest_hash, code_hash,
           identity, accepts_schemas, down_schemas, created_at, metadata)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      ).get(
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
      ) as Row;
      return versionFromRow(row);
    });
  }

  async getVersion(agent: string, label: string): Promise<VersionRecord> {
    const row = this.st('SELECT * FROM versions WHERE agent = ? AND label = ?').get(agent, label) as
      Row | undefined;
    if (!row) throw versionNotFound(agent, label);
    return versionFromRow(row);
  }

  async listVersions(agent?: string): Promise<VersionRecord[]> {
    const rows =
      agent === undefined
        ? this.st('SELECT * FROM versions ORDER BY agent, created_at, label').all()
        : this.st('SELECT * FROM versions WHERE agent = ? ORDER BY created_at, label').all(agent);
    return (rows as Row[]).map(versionFromRow);
  }

  async registerWorker(w: Omit<WorkerRecord, 'registeredAt' | 'lastSeenAt'>): Promise<WorkerRecord> {
    const now = this.now();
    const row = this.st(
      `INSERT INTO workers (id, agent, version, url, health, registered_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET agent = excluded.agent, version = excluded.version, url = excluded.url,
         health = excluded.health, last_seen_at = excluded.last_seen_at
       RETURNING *`,
    ).get(w.id, w.agent, w.version, w.url ?? null, w.health, now, now) as Row;
    return workerFromRow(row);
  }

  async updateWorker(
    id: string,
    patch: { health?: WorkerRecord['health']; seen?: boolean },
  ): Promise<WorkerRecord> {
    const row = this.st(
      `UPDATE workers SET health = coalesce(?, health), last_seen_at = CASE WHEN ? THEN ? ELSE last_seen_at END
       WHERE id = ? RETURNING *`,
    ).get(patch.health ?? null, patch.seen ? 1 : 0, this.now(), id) as Row | undefined;
    if (!row) throw workerNotFound(id);
    return workerFromRow(row);
  }

  async removeWorker(id: string): Promise<void> {
    const r = this.st('DELETE FROM workers WHERE id = ?').run(id);
    if (r.changes === 0) throw workerNotFound(id);
  }

  async listWorkers(q: { agent?: string; version?: string } = {}): Promise<WorkerRecord[]> {
    const rows = this.nst(
      `SELECT * FROM workers WHERE (?1 IS NULL OR agent = ?1) AND (?2 IS NULL OR version = ?2) ORDER BY registered_at, id`,
    ).all(q.agent ?? null, q.version ?? null) as Row[];
    return rows.map(workerFromRow);
  }

  // ---------- routes ----------

  async getRoute(agent: string): Promise<RouteRecord | null> {
    const row = this.st('SELECT * FROM routes WHERE agent = ?').get(agent) as Row | undefined;
    return row ? routeFromRow(row) : null;
  }

  async setRoute(r: Omit<RouteRecord, 'updatedAt'>): Promise<RouteRecord> {
    checkRouteWeight(r.weight);
    const row = this.st(
      `INSERT INTO routes (agent, stable, candidate, weight, move, rollout_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (agent) DO UPDATE SET stable = excluded.stable, candidate = excluded.candidate,
         weight = excluded.weight, move = excluded.move, rollout_id = excluded.rollout_id, updated_at = excluded.updated_at
       RETURNING *`,
    ).get(
      r.agent,
      r.stable,
      r.candidate ?? null,
      r.weight,
      r.move ? JSON.stringify(r.move) : null,
      r.rolloutId ?? null,
      this.now(),
    ) as Row;
    return routeFromRow(row);
  }

  // ---------- sessions ----------

  async createSession(input: CreateSessionInput): Promise<SessionRecord> {
    const now = this.now();
    const id = input.id ?? newId('s', now);
    try {
      const row = this.st(
        `INSERT INTO sessions (id, agent, tenant, version, status, seq, token_hash, created_at, updated_at, metadata)
         VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?) RETURNING *`,
      ).get(
        id,
        input.agent,
        input.tenant ?? null,
        input.version,
        input.status ?? 'idle',
        input.tokenHash,
        now,
        now,
        JSON.stringify(input.metadata ?? {}),
      ) as Row;
      return sessionFromRow(row);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw sessionExists(id);
      }
      throw e;
    }
  }

  async getSession(id: string): Promise<SessionRecord> {
    const row = this.st('SELECT * FROM sessions WHERE id = ?').get(id) as Row | undefined;
    if (!row) throw sessionNotFound(id);
    return sessionFromRow(row);
  }

  async listSessions(q: ListSessionsQuery): Promise<Page<SessionRecord>> {
    const limit = pageLimit(q.limit);
    const statuses = asArray(q.status);
    if (statuses && statuses.length === 0) return { items: [], nextCursor: null };
    const f = new Filters();
    f.eq('agent', q.agent);
    f.eq('version', q.version);
    f.eq('tenant', q.tenant);
    f.in('status', statuses);
    if (q.cursor) f.add('id > ?', q.cursor);
    const rows = this.st(`SELECT * FROM sessions${f.sql} ORDER BY id LIMIT ?`).all(
      ...f.args,
      limit + 1,
    ) as Row[];
    return toPage(rows.map(sessionFromRow), limit);
  }

  async countSessions(q: {
    agent?: string;
    version?: string;
  }): Promise<Record<string, Record<SessionStatus, number>>> {
    const rows = this.nst(
      `SELECT version, status, count(*) AS n FROM sessions
       WHERE (?1 IS NULL OR agent = ?1) AND (?2 IS NULL OR version = ?2) GROUP BY version, status`,
    ).all(q.agent ?? null, q.version ?? null) as Array<{ version: string; status: SessionStatus; n: number }>;
    const out: Record<string, Record<SessionStatus, number>> = {};
    for (const r of rows) {
      const byStatus = (out[r.version] ??= emptyCounts());
      byStatus[r.status] = Number(r.n);
    }
    return out;
  }

  async updateSession(id: string, expect: SessionExpectation, patch: SessionPatch): Promise<SessionRecord> {
    return this.write('updateSession', () => {
      const cur = this.st('SELECT * FROM sessions WHERE id = ?').get(id) as Row | undefined;
      if (!cur) throw sessionNotFound(id);
      const s = sessionFromRow(cur);
      const statuses = asArray(expect.status);
      if (
        (statuses && !statuses.includes(s.status)) ||
        (expect.version !== undefined && expect.version !== s.version) ||
        (expect.seq !== undefined && expect.seq !== s.seq)
      ) {
        throw sessionConflict(id, expect, s);
      }
      const row = this.st(
        `UPDATE sessions SET status = ?, version = ?, reason = ?, updated_at = ? WHERE id = ? RETURNING *`,
      ).get(
        patch.status ?? s.status,
        patch.version ?? s.version,
        patch.reason === undefined ? s.reason : patch.reason,
        this.now(),
        id,
      ) as Row;
      return sessionFromRow(row);
    });
  }

  async quarantineSession(id: string, reason: string): Promise<SessionRecord> {
    const row = this.st(
      `UPDATE sessions SET status = 'quarantined', reason = ?, updated_at = ? WHERE id = ? RETURNING *`,
    ).get(reason, this.now(), id) as Row | undefined;
    if (!row) throw sessionNotFound(id);
    return sessionFromRow(row);
  }

  async acquireLease(sessionId: string, owner: string, ttlMs: number): Promise<Lease> {
    checkTtl(ttlMs);
    const now = this.now();
    const expiresAt = now + ttlMs;
    const r = this.nst(
      `UPDATE sessions SET lease_owner = ?1, lease_expires_at = ?2, lease_epoch = lease_epoch + 1
       WHERE id = ?3 AND (lease_owner IS NULL OR lease_owner = ?1 OR lease_expires_at <= ?4) RETURNING lease_epoch`,
    ).get(owner, expiresAt, sessionId, now) as { lease_epoch: number } | undefined;
    if (r) return { sessionId, owner, expiresAt, epoch: r.lease_epoch };
    const cur = this.st('SELECT lease_owner, lease_expires_at FROM sessions WHERE id = ?').get(sessionId) as
      Row | undefined;
    if (!cur) throw sessionNotFound(sessionId);
    throw new SessionBusyError(sessionId, Math.max(0, Number(cur.lease_expires_at) - now));
  }

  async renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    checkTtl(ttlMs);
    const expiresAt = this.now() + ttlMs;
    const r = this.st('UPDATE sessions SET lease_expires_at = ? WHERE id = ? AND lease_owner = ?').run(
      expiresAt,
      lease.sessionId,
      lease.owner,
    );
    if (r.changes === 1) return { ...lease, expiresAt };
    const cur = this.st('SELECT lease_owner FROM sessions WHERE id = ?').get(lease.sessionId) as
      Row | undefined;
    if (!cur) throw sessionNotFound(lease.sessionId);
    throw leaseLost(lease.sessionId, lease.owner, cur.lease_owner as string | null);
  }

  async releaseLease(lease: Lease): Promise<void> {
    this.st(
      'UPDATE sessions SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?',
    ).run(lease.sessionId, lease.owner);
  }

  /** The part of `beginTurn` that runs inside the write transaction (throws before any write). */
  private beginInTx(
    sessionId: string,
    key: string,
    owner: string,
    ttlMs: number,
    window: HistoryWindow | undefined,
    tokenHash?: string,
  ): BeginTurnResult {
    const row = this.st('SELECT * FROM sessions WHERE id = ?').get(sessionId) as Row | undefined;
    if (!row) throw sessionNotFound(sessionId);
    const session = sessionFromRow(row);
    // the session token first: a refused request reads no result and writes nothing
    if (tokenHash !== undefined && tokenHash !== session.tokenHash) return { kind: 'forbidden', session };
    const prior = this.st('SELECT result FROM turn_results WHERE session_id = ? AND key = ?').get(
      sessionId,
      key,
    ) as Row | undefined;
    if (prior)
      return {
        kind: 'replayed',
        result: parseJson(openValue(this.cipher, prior.result, turnResultPlace(sessionId, key))),
      };
    if (TERMINAL_SESSION_STATUSES.includes(session.status)) return { kind: 'closed', session };
    const now = this.now();
    if (
      session.leaseOwner !== null &&
      session.leaseOwner !== owner &&
      !(session.leaseExpiresAt !== null && session.leaseExpiresAt <= now)
    ) {
      throw new SessionBusyError(sessionId, Math.max(0, (session.leaseExpiresAt ?? 0) - now));
    }
    const expiresAt = now + ttlMs;
    this.st('UPDATE sessions SET lease_owner = ?, lease_expires_at = ?, lease_epoch = ? WHERE id = ?').run(
      owner,
      expiresAt,
      session.leaseEpoch + 1,
      sessionId,
    );
    session.leaseOwner = owner;
    session.leaseExpiresAt = expiresAt;
    session.leaseEpoch += 1;
    const lease: Lease = { sessionId, owner, expiresAt, epoch: session.leaseEpoch };
    // the route's revision: its whole row (any change to it is a new revision, whatever the clock says)
    const route = this.st('SELECT * FROM routes WHERE agent = ?').get(session.agent) as Row | undefined;
    return startedTurn(lease, session, route ? JSON.stringify(route) : null, () => {
      const r = this.log.row(sessionId, 'latest', true);
      if (!r) return { checkpoint: null, history: [] };
      const checkpoint = this.log.decode(r);
      return { checkpoint, history: window ? this.log.window(checkpoint, window) : [] };
    });
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
    // One write transaction: session read and token check, result lookup, lease, latest
    // checkpoint, window and route revision read.
    return this.write('beginTurn', () => this.beginInTx(sessionId, key, owner, ttlMs, window, tokenHash));
  }

  async beginTurns(items: BeginTurnInput[]): Promise<BeginTurnsResult[]> {
    const checked = items.map((it) =>
      batonErrorOr(() => {
        checkTtl(it.ttlMs);
        return null;
      }),
    );
    if (items.length === 0) return [];
    // One write transaction (one commit, one fsync with synchronous=FULL) for all of them; an item
    // refused (SESSION_BUSY, SESSION_NOT_FOUND) throws before it writes anything.
    const reads = this.write('beginTurns', () =>
      items.map((it, i): BeginTurnResult | BatonError => {
        if (checked[i]) return checked[i];
        const mark = this.log.deferred.mark();
        const r = batonErrorOr(() =>
          this.beginInTx(it.sessionId, it.key, it.owner, it.ttlMs, it.window, it.tokenHash),
        );
        if (r instanceof BatonError) this.log.deferred.rollback(mark);
        return r;
      }),
    );
    return reads.map((r): BeginTurnsResult => (r instanceof BatonError ? { kind: 'error', error: r } : r));
  }

  // ---------- checkpoints ----------

  private readonly casStatements: Array<Statement | undefined> = [];

  /** The seq compare-and-set of an append, one prepared statement per shape of the session patch. */
  private casStatement(mask: number): Statement {
    let st = this.casStatements[mask];
    if (!st) {
      const sets = ['seq = seq + 1', 'updated_at = ?'];
      if (mask & 1) sets.push('status = ?');
      if (mask & 2) sets.push('version = ?');
      if (mask & 4) sets.push('reason = ?');
      let where = 'id = ? AND seq = ?';
      if (mask & 8) {
        sets.push('lease_owner = NULL', 'lease_expires_at = NULL');
        where += ' AND lease_owner = ?';
      }
      if (mask & 16) where += ' AND (lease_expires_at IS NULL OR lease_expires_at <= ?)';
      st = guarded(
        this.db.prepare(`UPDATE sessions SET ${sets.join(', ')} WHERE ${where} RETURNING seq, created_at`),
      );
      this.casStatements[mask] = st;
    }
    return st;
  }

  async appendCheckpoint(input: AppendCheckpointInput): Promise<CheckpointMeta> {
    const enc = encodeAppend(input, this.limits);
    return this.write('appendCheckpoint', () => this.appendInTx(input, enc, false));
  }

  async appendCheckpoints(
    inputs: Array<AppendCheckpointInput & { requireNoLease?: boolean }>,
  ): Promise<AppendCheckpointsResult[]> {
    const encoded = inputs.map((input) => batonErrorOr(() => encodeAppend(input, this.limits)));
    if (inputs.length === 0) return [];
    return this.write('appendCheckpoints', () =>
      inputs.map((input, i): AppendCheckpointsResult => {
        const enc = encoded[i]!;
        if (enc instanceof BatonError) return { ok: false, error: enc };
        // a savepoint per item: a refused item leaves nothing behind (nor in the log's cache)
        const mark = this.log.deferred.mark();
        const meta = batonErrorOr(
          () =>
            this.txRun(() => this.appendInTx(input, enc, input.requireNoLease === true)) as CheckpointMeta,
        );
        if (meta instanceof BatonError) this.log.deferred.rollback(mark);
        return meta instanceof BatonError ? { ok: false, error: meta } : { ok: true, meta };
      }),
    );
  }

  private appendInTx(
    input: AppendCheckpointInput,
    enc: EncodedAppend,
    requireNoLease: boolean,
  ): CheckpointMeta {
    const now = this.now();
    const p = input.session;
    const args: unknown[] = [now];
    let mask = 0;
    if (p?.status !== undefined) {
      mask |= 1;
      args.push(p.status);
    }
    if (p?.version !== undefined) {
      mask |= 2;
      args.push(p.version);
    }
    if (p?.reason !== undefined) {
      mask |= 4;
      args.push(p.reason);
    }
    args.push(input.sessionId, input.expectedSeq);
    if (input.leaseOwner !== undefined) {
      mask |= 8;
      args.push(input.leaseOwner);
    }
    if (requireNoLease) {
      mask |= 16;
      args.push(now);
    }
    const upd = this.casStatement(mask).get(...args) as { seq: number; created_at: number } | undefined;
    if (!upd) {
      const cur = this.st('SELECT seq, lease_owner, lease_expires_at FROM sessions WHERE id = ?').get(
        input.sessionId,
      ) as Row | undefined;
      if (!cur) throw sessionNotFound(input.sessionId);
      if (Number(cur.seq) !== input.expectedSeq) {
        throw new SequenceConflictError(input.sessionId, input.expectedSeq, Number(cur.seq));
      }
      if (requireNoLease && cur.lease_expires_at !== null && Number(cur.lease_expires_at) > now) {
        throw new SessionBusyError(input.sessionId, Math.max(0, Number(cur.lease_expires_at) - now));
      }
      throw leaseLost(input.sessionId, input.leaseOwner ?? '', cur.lease_owner as string | null);
    }
    const seq = upd.seq;
    const meta = this.log.write(input, enc, seq, now);
    if (input.resolvedWaits && input.resolvedWaits.length > 0) {
      const st = this.st(`UPDATE waits SET status = 'resolved' WHERE token = ? AND session_id = ?`);
      for (const t of input.resolvedWaits) st.run(t, input.sessionId);
    }
    if (input.waits) this.replaceWaits(input.sessionId, input.waits, input.resolvedWaits ?? []);
    if (input.migration) {
      const m = input.migration;
      this.insertMigration({ ...m, sessionId: input.sessionId, seq, status: 'ok', error: null });
    }
    if (input.turnResult) {
      this.st(
        'INSERT INTO turn_results (session_id, key, result, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ).run(
        input.sessionId,
        input.turnResult.key,
        sealValue(
          this.cipher,
          jsonText(input.turnResult.result),
          turnResultPlace(input.sessionId, input.turnResult.key),
        ),
        now,
      );
    }
    this.st('DELETE FROM steps WHERE session_id = ?').run(input.sessionId);
    if (input.telemetry) {
      this.insertTelemetry({ ...input.telemetry, seq }, upd.created_at);
    }
    return meta;
  }

  private replaceWaits(sessionId: string, waits: Wait[], resolved: string[]): void {
    if (waits.length === 0) {
      // the common case (no pending waits after the turn): one statement
      this.st(`DELETE FROM waits WHERE session_id = ? AND status = 'pending'`).run(sessionId);
      return;
    }
    const keep = new Set(waits.map((w) => w.token));
    const pending = this.st(`SELECT token FROM waits WHERE session_id = ? AND status = 'pending'`).all(
      sessionId,
    ) as Array<{ token: string }>;
    const del = this.st('DELETE FROM waits WHERE token = ?');
    for (const p of pending) if (!keep.has(p.token)) del.run(p.token);
    const ins = this.st(
      `INSERT INTO waits (token, session_id, name, deadline, schema, created_at, status)
       VALUES (?, ?, ?, ?, ?, ?, 'pending')
       ON CONFLICT (token) DO UPDATE SET name = excluded.name, deadline = excluded.deadline, schema = excluded.schema,
         status = 'pending'
       WHERE waits.session_id = excluded.session_id AND waits.status = 'pending'`,
    );
    const resolvedSet = new Set(resolved);
    for (const w of waits) {
      if (resolvedSet.has(w.token)) continue;
      ins.run(
        w.token,
        sessionId,
        w.name,
        w.deadline,
        w.schema ? JSON.stringify(w.schema) : null,
        w.createdAt,
      );
    }
  }

  private insertMigration(m: MigrationRecord): void {
    this.st(
      `INSERT INTO migrations (session_id, seq, from_version, to_version, from_schema, to_schema, context_policy,
         rollout_id, status, error, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
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
    );
  }

  private insertTelemetry(t: TurnTelemetryRecord, sessionStartedAt: number): void {
    this.st(
      `INSERT INTO turn_telemetry (session_id, agent, version, turn_id, seq, at, latency_ms, tool_calls, reasoning_steps,
         tokens_in, tokens_out, context_utilization, metrics, signals, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      t.sessionId,
      t.agent,
      t.version,
      t.turnId,
      t.seq,
      t.at,
      t.latencyMs ?? 0,
      JSON.stringify(t.toolCalls ?? {}),
      t.reasoningSteps ?? 0,
      t.tokensIn ?? 0,
      t.tokensOut ?? 0,
      t.contextUtilization ?? 0,
      JSON.stringify(t.metrics ?? {}),
      JSON.stringify(t.signals ?? []),
      t.error ?? null,
    );
    this.applyDelta(t.sessionId, t.version, t.agent, sessionStartedAt, t.at, turnDelta(t));
  }

  /** Read-modify-write of a session aggregate; callers run it inside a write transaction. */
  private applyDelta(
    sessionId: string,
    version: string,
    agent: string,
    sessionStartedAt: number,
    at: number,
    d: AggregateDelta,
  ): void {
    if (isEmpty(d.toolMix) && isEmpty(d.metrics) && isEmpty(d.signals)) {
      // Nothing to merge into the JSON maps: one upsert doing the arithmetic in SQL.
      this.st(
        `INSERT INTO session_aggregates (session_id, version, agent, session_started_at, first_at, last_at,
           turns, errors, tool_calls, tool_mix, reasoning_steps, tokens_in, tokens_out, latency_ms_sum, latency_ms_max,
           context_utilization_max, metrics, signals, completed)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '{}', ?, ?, ?, ?, ?, ?, '{}', '{}', 0)
         ON CONFLICT (session_id, version) DO UPDATE SET
           first_at = min(first_at, excluded.first_at), last_at = max(last_at, excluded.last_at),
           turns = turns + excluded.turns, errors = errors + excluded.errors,
           tool_calls = tool_calls + excluded.tool_calls, reasoning_steps = reasoning_steps + excluded.reasoning_steps,
           tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out,
           latency_ms_sum = latency_ms_sum + excluded.latency_ms_sum,
           latency_ms_max = max(latency_ms_max, excluded.latency_ms_max),
           context_utilization_max = max(context_utilization_max, excluded.context_utilization_max)`,
      ).run(
        sessionId,
        version,
        agent,
        sessionStartedAt,
        at,
        at,
        d.turns,
        d.errors,
        d.toolCalls,
        d.reasoningSteps,
        d.tokensIn,
        d.tokensOut,
        d.latencyMs,
        Math.max(0, d.latencyMs),
        Math.max(0, d.contextUtilization),
      );
      return;
    }
    const cur = this.st('SELECT * FROM session_aggregates WHERE session_id = ? AND version = ?').get(
      sessionId,
      version,
    ) as Row | undefined;
    const a: SessionAggregate = cur
      ? aggregateFromRow(cur)
      : {
          sessionId,
          agent,
          version,
          sessionStartedAt,
          firstAt: at,
          lastAt: at,
          turns: 0,
          errors: 0,
          toolCalls: 0,
          toolMix: {},
          reasoningSteps: 0,
          tokensIn: 0,
          tokensOut: 0,
          latencyMsSum: 0,
          latencyMsMax: 0,
          contextUtilizationMax: 0,
          metrics: {},
          signals: {},
          completed: false,
        };
    this.st(
      `INSERT OR REPLACE INTO session_aggregates (session_id, version, agent, session_started_at, first_at, last_at,
         turns, errors, tool_calls, tool_mix, reasoning_steps, tokens_in, tokens_out, latency_ms_sum, latency_ms_max,
         context_utilization_max, metrics, signals, completed)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      sessionId,
      version,
      a.agent,
      a.sessionStartedAt,
      Math.min(a.firstAt, at),
      Math.max(a.lastAt, at),
      a.turns + d.turns,
      a.errors + d.errors,
      a.toolCalls + d.toolCalls,
      JSON.stringify(mergeCounts(a.toolMix, d.toolMix)),
      a.reasoningSteps + d.reasoningSteps,
      a.tokensIn + d.tokensIn,
      a.tokensOut + d.tokensOut,
      a.latencyMsSum + d.latencyMs,
      Math.max(a.latencyMsMax, d.latencyMs),
      Math.max(a.contextUtilizationMax, d.contextUtilization),
      JSON.stringify(mergeMetrics(a.metrics, d.metrics)),
      JSON.stringify(mergeCounts(a.signals, d.signals)),
      a.completed ? 1 : 0,
    );
  }

  async getLatestCheckpoint(sessionId: string): Promise<Checkpoint | null> {
    const r = this.read(() => {
      const row = this.log.row(sessionId, 'latest', true);
      return row ? this.log.decode(row) : undefined;
    });
    if (!r) {
      await this.getSession(sessionId);
      return null;
    }
    return r;
  }

  async getCheckpoint(sessionId: string, seq: number): Promise<Checkpoint> {
    return this.read(() => {
      const r = this.log.row(sessionId, seq, true);
      if (!r) {
        if (!this.st('SELECT 1 FROM sessions WHERE id = ?').get(sessionId)) throw sessionNotFound(sessionId);
        throw checkpointNotFound(sessionId, seq);
      }
      return this.log.decode(r);
    });
  }

  async listCheckpoints(
    sessionId: string,
    q: { limit?: number; beforeSeq?: number } = {},
  ): Promise<CheckpointMeta[]> {
    await this.getSession(sessionId);
    const rows = this.st(
      `SELECT session_id, seq, schema_version, written_by, hash, size, created_at, state_hash, context_hash,
         memory_hash, history_length, history_head FROM checkpoints
       WHERE session_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
    ).all(sessionId, q.beforeSeq ?? Number.MAX_SAFE_INTEGER, pageLimit(q.limit)) as Row[];
    return rows.map(checkpointMeta);
  }

  async compactCheckpoints(sessionId: string, keep: number): Promise<number> {
    checkKeep(keep);
    return this.write('compactCheckpoints', () => {
      const s = this.st('SELECT seq FROM sessions WHERE id = ?').get(sessionId) as
        { seq: number } | undefined;
      if (!s) throw sessionNotFound(sessionId);
      return this.log.compact(sessionId, s.seq, keep);
    });
  }

  async readHistory(sessionId: string, q?: HistoryQuery): Promise<HistoryPage> {
    return this.read(() => {
      if (!this.st('SELECT 1 FROM sessions WHERE id = ?').get(sessionId)) throw sessionNotFound(sessionId);
      const r = this.log.row(sessionId, 'latest');
      return this.log.page(sessionId, r ? checkpointMeta(r) : null, q);
    });
  }

  /** A read transaction: several statements see one snapshot. */
  private read<T>(fn: () => T): T {
    try {
      const out = this.txRun.deferred(fn) as T;
      this.log.deferred.commit();
      return out;
    } catch (e) {
      this.log.deferred.rollback();
      throw e;
    }
  }

  async sharedSecret(name: string): Promise<Buffer> {
    return this.write('sharedSecret', () => {
      this.st('INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(
        name,
        randomBytes(32).toString('hex'),
        this.now(),
      );
      const r = this.st('SELECT value FROM secrets WHERE name = ?').get(name) as { value: string };
      return Buffer.from(r.value, 'hex');
    });
  }

  async listMigrations(q: {
    sessionId?: string;
    rolloutId?: string;
    status?: 'ok' | 'failed';
    limit?: number;
  }): Promise<MigrationRecord[]> {
    const rows = this.nst(
      `SELECT * FROM migrations WHERE (?1 IS NULL OR session_id = ?1) AND (?2 IS NULL OR rollout_id = ?2)
         AND (?3 IS NULL OR status = ?3) ORDER BY id LIMIT ?4`,
    ).all(q.sessionId ?? null, q.rolloutId ?? null, q.status ?? null, pageLimit(q.limit)) as Row[];
    return rows.map(migrationFromRow);
  }

  async recordMigrationFailure(r: Omit<MigrationRecord, 'seq' | 'status'>): Promise<void> {
    this.insertMigration({ ...r, seq: 0, status: 'failed', error: r.error ?? null });
  }

  // ---------- waits ----------

  async getWait(token: string): Promise<WaitRecord> {
    const row = this.st('SELECT * FROM waits WHERE token = ?').get(token) as Row | undefined;
    if (!row) throw waitNotFound(token);
    return waitFromRow(row);
  }

  async listWaits(q: {
    sessionId?: string;
    status?: WaitRecord['status'];
    dueBefore?: number;
    limit?: number;
  }): Promise<WaitRecord[]> {
    const status = q.status ?? (q.dueBefore !== undefined ? 'pending' : null);
    const rows = this.nst(
      `SELECT * FROM waits WHERE (?1 IS NULL OR session_id = ?1) AND (?2 IS NULL OR status = ?2)
         AND (?3 IS NULL OR deadline < ?3) ORDER BY deadline, token LIMIT ?4`,
    ).all(q.sessionId ?? null, status, q.dueBefore ?? null, pageLimit(q.limit)) as Row[];
    return rows.map(waitFromRow);
  }

  // ---------- step journal ----------

  async listSteps(
    sessionId: string,
    turnId: string,
  ): Promise<Array<{ index: number; name: string; result: unknown }>> {
    const rows = this.st(
      'SELECT idx, name, result FROM steps WHERE session_id = ? AND turn_id = ? ORDER BY idx',
    ).all(sessionId, turnId) as Row[];
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
    this.st(
      `INSERT INTO steps (session_id, turn_id, idx, name, result) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (session_id, turn_id, idx) DO UPDATE SET name = excluded.name, result = excluded.result`,
    ).run(
      sessionId,
      turnId,
      index,
      name,
      sealValue(this.cipher, jsonText(result), stepPlace(sessionId, turnId, index)),
    );
  }

  // ---------- turn results ----------

  async getTurnResult(sessionId: string, key: string): Promise<unknown | undefined> {
    const row = this.st('SELECT result FROM turn_results WHERE session_id = ? AND key = ?').get(
      sessionId,
      key,
    ) as Row | undefined;
    return row ? parseJson(openValue(this.cipher, row.result, turnResultPlace(sessionId, key))) : undefined;
  }

  async putTurnResult(sessionId: string, key: string, result: unknown): Promise<void> {
    this.st(
      'INSERT INTO turn_results (session_id, key, result, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ).run(
      sessionId,
      key,
      sealValue(this.cipher, jsonText(result), turnResultPlace(sessionId, key)),
      this.now(),
    );
  }

  // ---------- effects ----------

  async recordEffectIntent(
    input: EffectIntentInput & { rolloutId?: string | null },
  ): Promise<{ effect: EffectRecord; existing: boolean }> {
    const now = this.now();
    const comp = initialCompensation(input.compensation);
    const row = this.st(
      `INSERT INTO effects (id, idempotency_key, session_id, agent, version, rollout_id, turn_id, name, args, status,
         compensation, created_at, updated_at, attempt_id, compensation_state, compensation_reason, compensates)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'intent', ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (idempotency_key) DO NOTHING RETURNING *`,
    ).get(
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
      now,
      input.attemptId ?? null,
      comp.state,
      comp.reason,
      input.compensates ?? null,
    ) as Row | undefined;
    if (row) return { effect: effectFromRow(row, this.cipher), existing: false };
    const effect = await this.getEffect(input.idempotencyKey);
    return { effect, existing: !ownIntent(effect, input.attemptId) };
  }

  private transition(key: string, op: EffectOp, value: unknown): EffectRecord {
    const { from, to } = EFFECT_TRANSITIONS[op];
    const col = op === 'fail' ? 'error' : 'result';
    const v = op === 'fail' ? String(value) : sealJson(this.cipher, jsonText(value), key, 'result');
    const row = this.st(
      `UPDATE effects SET status = ?, ${col} = ?, updated_at = ? WHERE idempotency_key = ? AND status = ? RETURNING *`,
    ).get(to, v, this.now(), key, from) as Row | undefined;
    if (row) return effectFromRow(row, this.cipher);
    const cur = this.st('SELECT * FROM effects WHERE idempotency_key = ?').get(key) as Row | undefined;
    if (!cur) throw effectNotFound(key);
    const e = effectFromRow(cur, this.cipher);
    if (e.resolution) throw resolvedConflict(e, op);
    if (e.status === to) return e;
    throw effectConflict(key, op, e.status);
  }

  async commitEffect(idempotencyKey: string, result: unknown): Promise<EffectRecord> {
    return this.transition(idempotencyKey, 'commit', result);
  }

  async failEffect(idempotencyKey: string, error: string): Promise<EffectRecord> {
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
    const row = this.st('SELECT * FROM effects WHERE idempotency_key = ?').get(idempotencyKey) as
      Row | undefined;
    if (!row) throw effectNotFound(idempotencyKey);
    return effectFromRow(row, this.cipher);
  }

  async listEffects(q: ListEffectsQuery): Promise<Page<EffectRecord>> {
    const limit = pageLimit(q.limit);
    const statuses = asArray(q.status);
    if (statuses && statuses.length === 0) return { items: [], nextCursor: null };
    const f = new Filters();
    f.eq('session_id', q.sessionId);
    f.eq('agent', q.agent);
    f.eq('version', q.version);
    f.eq('rollout_id', q.rolloutId);
    f.in('status', statuses);
    f.in('compensation_state', asArray(q.compensationState));
    if (q.kind) f.add(q.kind === 'turn' ? 'compensates IS NULL' : 'compensates IS NOT NULL');
    if (q.cursor) f.add('id > ?', q.cursor);
    const rows = this.st(`SELECT * FROM effects${f.sql} ORDER BY id LIMIT ?`).all(
      ...f.args,
      limit + 1,
    ) as Row[];
    return toPage(
      rows.map((r) => effectFromRow(r, this.cipher)),
      limit,
    );
  }

  // ---------- rollouts ----------

  async createRollout(input: CreateRolloutInput): Promise<RolloutRecord> {
    const now = this.now();
    const row = this.st(
      `INSERT INTO rollouts (id, agent, from_version, to_version, spec, phase, step, state, rev, decision_seq,
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, 0, 0, ?, ?) RETURNING *`,
    ).get(
      input.id ?? newId('r', now),
      input.agent,
      input.from,
      input.to,
      jsonText(input.spec),
      input.phase,
      jsonText(input.state),
      now,
      now,
    ) as Row;
    return rolloutFromRow(row);
  }

  async getRollout(id: string): Promise<RolloutRecord> {
    const row = this.st('SELECT * FROM rollouts WHERE id = ?').get(id) as Row | undefined;
    if (!row) throw rolloutNotFound(id);
    return rolloutFromRow(row);
  }

  async listRollouts(
    q: { agent?: string; phase?: RolloutPhase | RolloutPhase[] } = {},
  ): Promise<RolloutRecord[]> {
    const phases = asArray(q.phase);
    if (phases && phases.length === 0) return [];
    const f = new Filters();
    f.eq('agent', q.agent);
    f.in('phase', phases);
    const rows = this.st(`SELECT * FROM rollouts${f.sql} ORDER BY created_at, id`).all(...f.args) as Row[];
    return rows.map(rolloutFromRow);
  }

  async updateRollout(
    id: string,
    expectedRev: number,
    patch: RolloutPatch,
    decisions: DecisionInput[] = [],
  ): Promise<RolloutRecord> {
    return this.write('updateRollout', () => {
      const now = this.now();
      const row = this.st(
        `UPDATE rollouts SET phase = coalesce(?, phase), step = coalesce(?, step),
           state = CASE WHEN ? THEN ? ELSE state END, rev = rev + 1, decision_seq = decision_seq + ?, updated_at = ?
         WHERE id = ? AND rev = ? RETURNING *`,
      ).get(
        patch.phase ?? null,
        patch.step ?? null,
        patch.state !== undefined ? 1 : 0,
        jsonText(patch.state),
        decisions.length,
        now,
        id,
        expectedRev,
      ) as Row | undefined;
      if (!row) {
        const cur = this.st('SELECT rev FROM rollouts WHERE id = ?').get(id) as Row | undefined;
        if (!cur) throw rolloutNotFound(id);
        throw rolloutRevConflict(id, expectedRev, Number(cur.rev));
      }
      const last = Number(row.decision_seq);
      this.insertDecisions(id, last - decisions.length, decisions, now);
      return rolloutFromRow(row);
    });
  }

  private insertDecisions(rolloutId: string, afterSeq: number, ds: DecisionInput[], at: number): Decision[] {
    const st = this.st(
      'INSERT INTO decisions (rollout_id, seq, kind, message, evidence, at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    return ds.map((d, i) => {
      const seq = afterSeq + i + 1;
      st.run(rolloutId, seq, d.kind, d.message, jsonText(d.evidence), at);
      const out: Decision = { rolloutId, seq, kind: d.kind, message: d.message, at };
      if (d.evidence !== undefined) out.evidence = d.evidence;
      return out;
    });
  }

  async appendDecision(rolloutId: string, d: DecisionInput): Promise<Decision> {
    return this.write('appendDecision', () => {
      const row = this.st(
        'UPDATE rollouts SET decision_seq = decision_seq + 1 WHERE id = ? RETURNING decision_seq',
      ).get(rolloutId) as Row | undefined;
      if (!row) throw rolloutNotFound(rolloutId);
      return this.insertDecisions(rolloutId, Number(row.decision_seq) - 1, [d], this.now())[0]!;
    });
  }

  async listDecisions(rolloutId: string, q: { afterSeq?: number; limit?: number } = {}): Promise<Decision[]> {
    const rows = this.st('SELECT * FROM decisions WHERE rollout_id = ? AND seq > ? ORDER BY seq LIMIT ?').all(
      rolloutId,
      q.afterSeq ?? 0,
      pageLimit(q.limit ?? 1000),
    ) as Row[];
    return rows.map(decisionFromRow);
  }

  async appendSessionSample(sample: SessionSample): Promise<void> {
    this.write('appendSessionSample', () => {
      this.st(
        'INSERT INTO session_samples (rollout_id, at, counts) VALUES (?, ?, ?) ON CONFLICT (rollout_id, at) DO UPDATE SET counts = excluded.counts',
      ).run(sample.rolloutId, sample.at, JSON.stringify(sample.counts));
    });
  }

  async listSessionSamples(
    rolloutId: string,
    q: { after?: number; limit?: number } = {},
  ): Promise<SessionSample[]> {
    const rows = this.st(
      'SELECT * FROM session_samples WHERE rollout_id = ? AND at > ? ORDER BY at LIMIT ?',
    ).all(rolloutId, q.after ?? -1, pageLimit(q.limit ?? 1000)) as Row[];
    return rows.map((r) => ({
      rolloutId: String(r.rollout_id),
      at: Number(r.at),
      counts: JSON.parse(String(r.counts)) as SessionSample['counts'],
    }));
  }

  // ---------- telemetry ----------

  async recordTurnTelemetry(t: TurnTelemetryRecord): Promise<void> {
    this.write('recordTurnTelemetry', () => {
      const s = this.st('SELECT created_at FROM sessions WHERE id = ?').get(t.sessionId) as Row | undefined;
      if (!s) throw sessionNotFound(t.sessionId);
      this.insertTelemetry(t, Number(s.created_at));
    });
  }

  async recordSessionMetrics(
    sessionId: string,
    version: string,
    m: { metrics?: Record<string, number>; signals?: Record<string, number> },
  ): Promise<void> {
    this.write('recordSessionMetrics', () => this.addMetrics(sessionId, version, m));
  }

  /** Inside a write transaction: add metrics and signal counts to the session's aggregate. */
  private addMetrics(
    sessionId: string,
    version: string,
    m: { metrics?: Record<string, number>; signals?: Record<string, number> },
  ): void {
    const s = this.st('SELECT agent, created_at FROM sessions WHERE id = ?').get(sessionId) as
      Row | undefined;
    if (!s) throw sessionNotFound(sessionId);
    this.applyDelta(sessionId, version, s.agent as string, Number(s.created_at), this.now(), metricsDelta(m));
  }

  // ---------- crash recovery (sqlite-recovery.ts) ----------

  async resolveEffect(id: string, r: EffectResolutionInput): Promise<EffectRecord> {
    return this.recovery.resolveEffect(id, r);
  }

  async reserveSessionKey(input: {
    agent: string;
    key: string;
    sessionId: string;
    bodyHash: string;
  }): Promise<SessionKeyReservation> {
    return this.recovery.reserveSessionKey(input);
  }

  async enqueueEvaluation(job: {
    id: string;
    sessionId: string;
    version: string;
    turn: unknown;
  }): Promise<boolean> {
    return this.recovery.enqueueEvaluation(job);
  }

  async claimEvaluations(owner: string, limit: number, ttlMs: number): Promise<EvaluationJob[]> {
    return this.recovery.claimEvaluations(owner, limit, ttlMs);
  }

  async completeEvaluation(id: string, metrics: Record<string, number>): Promise<boolean> {
    return this.recovery.completeEvaluation(id, metrics);
  }

  async listEvaluations(q?: {
    status?: 'pending' | 'done';
    sessionId?: string;
    limit?: number;
  }): Promise<EvaluationJob[]> {
    return this.recovery.listEvaluations(q);
  }

  async markSessionCompleted(sessionId: string): Promise<void> {
    this.write('markSessionCompleted', () => {
      this.st(`UPDATE waits SET status = 'expired' WHERE session_id = ? AND status = 'pending'`).run(
        sessionId,
      );
      this.st('UPDATE session_aggregates SET completed = 1 WHERE session_id = ?').run(sessionId);
    });
  }

  async listSessionAggregates(q: TelemetryQuery): Promise<SessionAggregate[]> {
    const rows = this.nst(
      `SELECT * FROM session_aggregates WHERE agent = ?1 AND (?2 IS NULL OR version = ?2)
         AND (?3 IS NULL OR session_started_at >= ?3) AND (?4 IS NULL OR session_started_at < ?4)
       ORDER BY session_started_at, session_id, version LIMIT ?5`,
    ).all(
      q.agent,
      q.version ?? null,
      q.startedFrom ?? null,
      q.startedTo ?? null,
      q.limit ?? 1_000_000,
    ) as Row[];
    return rows.map(aggregateFromRow);
  }

  async listTurnTelemetry(q: TurnTelemetryQuery): Promise<TurnTelemetryRecord[]> {
    const rows = this.nst(
      `SELECT * FROM turn_telemetry WHERE agent = ?1 AND (?2 IS NULL OR version = ?2)
         AND (?3 IS NULL OR at >= ?3) AND (?4 IS NULL OR at < ?4) ORDER BY at, id LIMIT ?5`,
    ).all(q.agent, q.version ?? null, q.from ?? null, q.to ?? null, q.limit ?? 1_000_000) as Row[];
    return rows.map(telemetryFromRow);
  }

  // ---------- leader locks ----------

  async acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const now = this.now();
    const r = this.nst(
      `INSERT INTO locks (name, owner, expires_at) VALUES (?1, ?2, ?3)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE locks.owner = excluded.owner OR locks.expires_at <= ?4`,
    ).run(name, owner, now + ttlMs, now);
    return r.changes === 1;
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    this.st('DELETE FROM locks WHERE name = ? AND owner = ?').run(name, owner);
  }
}
