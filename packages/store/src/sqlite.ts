/**
 * SQLite backend (better-sqlite3). One file, WAL, `synchronous=NORMAL` by default (`FULL` as an
 * option), a busy timeout, `BEGIN IMMEDIATE` for write transactions and statements prepared once.
 * The driver is synchronous, so every method runs to completion before its promise settles. The
 * methods shared with PostgreSQL are in `sql/` (this file runs their plans synchronously); what is
 * SQLite's own is here: the schema, the turn's begin and its checkpoint append, checkpoint and
 * history reads, and aggregate writes.
 */
import Database from 'better-sqlite3';
import { createPrivate, exposedFiles, privateSideFiles } from './file-mode';
import { digestWaitTokens } from './wait-digests';
import type { Database as Db, Statement } from 'better-sqlite3';
import { BatonError, SequenceConflictError, SessionBusyError, TERMINAL_SESSION_STATUSES } from '@baton/core';
import type {
  Checkpoint,
  CheckpointMeta,
  HistoryPage,
  HistoryQuery,
  HistoryWindow,
  MigrationRecord,
  SessionAggregate,
  TurnTelemetryRecord,
  Wait,
} from '@baton/core';
import type {
  AppendCheckpointInput,
  AppendCheckpointsResult,
  BeginTurnInput,
  BeginTurnResult,
  BeginTurnsResult,
  Lease,
  Store,
  StoreOptions,
  WindowChoice,
} from './store';
import { openGraphStore } from './graph';
import type { GraphCheckpointStore } from './graph';
import { SqliteLog } from './sqlite-log';
import { BACKSTOP_PAGES, Checkpointer, DEFAULT_AUTOCHECKPOINT_PAGES } from './sqlite-checkpointer';
import { SQLITE_MIGRATIONS } from './schema/sqlite';
import {
  aggregateFromRow,
  batonErrorOr,
  checkKeep,
  checkNoNul,
  checkTtl,
  checkpointMeta,
  checkpointNotFound,
  encodeAppend,
  jsonText,
  mergeCounts,
  mergeMetrics,
  metricsDelta,
  parseJson,
  sessionFromRow,
  TELEMETRY_COLUMNS,
  telemetryMeasures,
  turnDelta,
  leaseLost,
  sessionNotFound,
  startedTurn,
  windowFor,
} from './common';
import type { AggregateDelta, EncodedAppend, Row } from './common';
import { guarded, type GuardedStatement } from './sqlite-guard';
import { openValue, sealValue, turnResultPlace } from './sealed';
import { LogCache } from './log-cache';
import { done, runSync } from './sql/dialect';
import type { Dialect, Plan, Step } from './sql/dialect';
import { migrationInsert } from './sql/journal';
import { migrate } from './sql/migrate';
import { SqlStore } from './sql/store-base';

export interface SqliteStoreOptions extends StoreOptions {
  /** `NORMAL` (default; durable against process crashes, WAL) or `FULL` (also against power loss). */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long a writer waits for another connection's write lock. Default 5000 ms. */
  busyTimeoutMs?: number;
  /**
   * Who copies the WAL into the database file: `background` (default for a file; a worker thread
   * with its own connection, see sqlite-checkpointer.ts) or `inline` (SQLite's automatic checkpoint,
   * run by the store's connection after the commit that fills the WAL past 1,000 pages).
   */
  walCheckpoint?: 'background' | 'inline';
  /**
   * Fault injection for tests: `beforeCommit` is called inside a write transaction just before it
   * commits; `checkpointDriver` is the module the WAL checkpoint thread loads as its driver.
   */
  hooks?: { beforeCommit?: (op: string) => void; checkpointDriver?: string };
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

function sqlitePath(target: string): string {
  return target.startsWith('sqlite:') ? target.slice('sqlite:'.length) : target;
}

/** Built once: a turn's statement lookup hashes no freshly built SQL text. */
const TELEMETRY_INSERT = `INSERT INTO turn_telemetry (${TELEMETRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** What SQLite's SQL needs of the shared plans (`sql/dialect.ts`). */
const SQLITE: Dialect = {
  kind: 'sqlite',
  skipLocked: '',
  isUniqueViolation: (e) =>
    /^SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)$/.test(String((e as { code?: string }).code)),
};

/** Another connection held the write lock for longer than the busy timeout: STORE_UNAVAILABLE. */
function busyError(e: unknown, op: string): unknown {
  if (!String((e as { code?: string }).code).startsWith('SQLITE_BUSY')) return e;
  return new BatonError(
    'STORE_UNAVAILABLE',
    'the SQLite store is busy: another writer holds the lock',
    { op },
    { cause: e },
  );
}

/** What an append's seq compare-and-set took: the new seq, and the clock it read. */
interface AppendCas {
  seq: number;
  sessionCreatedAt: number;
  now: number;
}

/** Thrown inside a batch's transaction to roll it back: an item failed after its first write. */
class FailedAfterCas extends Error {
  constructor(readonly failure: unknown) {
    super('an append failed after its seq compare-and-set');
  }
}

export class SqliteStore extends SqlStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly db: Db;
  private readonly log: SqliteLog;
  private readonly hooks: SqliteStoreOptions['hooks'];
  private readonly stmts = new Map<string, GuardedStatement>();
  /** One transaction wrapper, created once: runs its argument inside the transaction. */
  private readonly txRun: Database.Transaction<(fn: () => unknown) => unknown>;
  private closed = false;
  /** The WAL checkpoint thread, while it runs (a file store with `walCheckpoint: 'background'`). */
  private checkpointer: Checkpointer | undefined;
  readonly warnings: readonly string[] = [];

  constructor(target: string, opts: SqliteStoreOptions = {}) {
    super(SQLITE, opts);
    this.log = new SqliteLog((sql) => this.st(sql), this.keep, new LogCache(), this.cipher);
    this.hooks = opts.hooks;
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
    const synchronous = opts.synchronous === 'FULL' ? 'FULL' : 'NORMAL';
    this.db.pragma(`synchronous = ${synchronous}`);
    this.txRun = this.db.transaction((fn: () => unknown) => fn());
    this.migrate();
    if (onDisk && opts.walCheckpoint !== 'inline') this.startCheckpointer(path, synchronous);
  }

  /** Checkpoint the WAL from a worker thread; the store's automatic checkpoint becomes a backstop. */
  private startCheckpointer(path: string, synchronous: 'NORMAL' | 'FULL'): void {
    const inline = (e: unknown): void => {
      this.checkpointer = undefined;
      if (this.closed) return;
      this.db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
      process.emitWarning(
        `the SQLite store's WAL checkpoint thread failed (${(e as Error).message ?? String(e)}); the store checkpoints inline from now on`,
        { code: 'BATON_WAL_CHECKPOINT' },
      );
    };
    this.db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
    try {
      this.checkpointer = new Checkpointer({
        file: path,
        synchronous,
        driver: this.hooks?.checkpointDriver,
        onFailure: inline,
      });
    } catch (e) {
      inline(e);
    }
  }

  /** The WAL checkpoint thread of this store, if it runs one (for tests). */
  get walCheckpointer(): Checkpointer | undefined {
    return this.checkpointer;
  }

  private migrate(): void {
    const data = {
      'legacy checkpoints': () => done(this.log.upgradeLegacy()),
      'wait digests': digestWaitTokens,
    };
    // the wait-digest step overwrites tokens: zero what it frees, so no copy stays in the file
    const secure = this.db.pragma('secure_delete', { simple: true }) as number;
    this.db.pragma('secure_delete = ON');
    try {
      this.txRun.immediate(() => runSync(migrate(SQLITE_MIGRATIONS, 'INTEGER', data), this.exec));
    } finally {
      this.db.pragma(`secure_delete = ${secure ? 'ON' : 'OFF'}`);
    }
  }

  /** Prepared once per SQL text, reused afterwards. */
  private st(sql: string): GuardedStatement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = guarded(this.db.prepare(sql));
      this.stmts.set(sql, s);
    }
    return s;
  }

  private readonly plans = new Map<string, { stmt: Statement; order: number[] }>();

  /** One statement of a plan: its `$n` placeholders bound positionally (`?`), booleans as 1/0. */
  private readonly exec = (s: Step): unknown => {
    if (s.kind === 'script') return void this.db.exec(s.sql);
    let p = this.plans.get(s.sql);
    if (!p) {
      const order: number[] = [];
      const text = s.sql.replace(/\$(\d+)/g, (_m, d: string) => {
        order.push(Number(d) - 1);
        return '?';
      });
      p = { stmt: this.db.prepare(text), order };
      this.plans.set(s.sql, p);
    }
    const args = p.order.map((i) => {
      const v = s.args[i];
      return typeof v === 'boolean' ? Number(v) : v;
    });
    checkNoNul(args);
    if (s.kind === 'run') return p.stmt.run(...args).changes;
    return s.kind === 'one' ? p.stmt.get(...args) : p.stmt.all(...args);
  };

  /** A plan outside a transaction, run to completion synchronously (each statement commits on its own). */
  async runPlan<T>(plan: Plan<T>): Promise<T> {
    try {
      return runSync(plan, this.exec);
    } catch (e) {
      throw busyError(e, 'statement');
    }
  }

  /** A plan inside one write transaction (`write`), run synchronously. */
  async runInTx<T>(op: string, plan: Plan<T>): Promise<T> {
    return this.write(op, () => runSync(plan, this.exec));
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
      throw busyError(e, op);
    }
  }

  private graphStore: GraphCheckpointStore | undefined;

  /** LangGraph checkpoint tables on the same database (their own migrations, applied on first use). */
  get graph(): GraphCheckpointStore {
    return (this.graphStore ??= openGraphStore({ kind: 'sqlite', db: this.db }));
  }

  override async reencrypt(opts?: Parameters<Store['reencrypt']>[0]): ReturnType<Store['reencrypt']> {
    // the old bytes (plaintext, or under the old key) must not stay behind in freed pages or the
    // WAL: zero what the rewrites free, and checkpoint the WAL into the file when done
    const secure = this.db.pragma('secure_delete', { simple: true }) as number;
    this.db.pragma('secure_delete = ON');
    try {
      const out = await super.reencrypt(opts);
      await this.truncateWal();
      return out;
    } finally {
      this.db.pragma(`secure_delete = ${secure ? 'ON' : 'OFF'}`);
    }
  }

  /**
   * Checkpoint the whole WAL into the file and empty it; a checkpoint the worker thread is running
   * at that moment makes SQLite answer busy at once, so wait for it and try again.
   */
  private async truncateWal(): Promise<void> {
    for (let i = 0; ; i++) {
      const r = (this.db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>)[0];
      if (!r || r.busy === 0) return;
      if (i >= 500) throw busyError({ code: 'SQLITE_BUSY' }, 'wal_checkpoint');
      await new Promise((res) => setTimeout(res, 10));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // the worker's connection first: the last connection to close checkpoints and removes the WAL
    await this.checkpointer?.stop();
    this.db.close();
  }

  /** The part of `beginTurn` that runs inside the write transaction (throws before any write). */
  private beginInTx(
    sessionId: string,
    key: string,
    owner: string,
    ttlMs: number,
    window: HistoryWindow | WindowChoice | undefined,
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
    // the window of the session just read, when the caller left the choice to it
    const w = windowFor(window, session);
    return startedTurn(lease, session, route ? JSON.stringify(route) : null, w, () => {
      const checkpoint = this.log.latest(sessionId);
      if (!checkpoint) return { checkpoint: null, history: [] };
      return { checkpoint, history: w ? this.log.window(checkpoint, w) : [] };
    });
  }

  async beginTurn(
    sessionId: string,
    key: string,
    owner: string,
    ttlMs: number,
    window?: HistoryWindow | WindowChoice,
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

  private readonly casStatements: Array<GuardedStatement | undefined> = [];

  /** The seq compare-and-set of an append, one prepared statement per shape of the session patch. */
  private casStatement(mask: number): GuardedStatement {
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
    try {
      return this.write('appendCheckpoints', () => this.appendBatch(inputs, encoded, false));
    } catch (e) {
      if (!(e instanceof FailedAfterCas)) throw e;
      // an item failed after its first write: redo the batch (a fresh transaction) with a
      // savepoint per item, so that item leaves nothing behind and the others still commit
      return this.write('appendCheckpoints', () => this.appendBatch(inputs, encoded, true));
    }
  }

  /**
   * A batch's items in the open write transaction. Without savepoints (the common case, and the
   * cheaper one: a savepoint per item costs more than the item's own statements) an item refused
   * at its seq compare-and-set has written nothing, so it is answered on its own; an item that
   * fails after it throws `FailedAfterCas`, which rolls the whole transaction back.
   */
  private appendBatch(
    inputs: Array<AppendCheckpointInput & { requireNoLease?: boolean }>,
    encoded: Array<EncodedAppend | BatonError>,
    savepoints: boolean,
  ): AppendCheckpointsResult[] {
    return inputs.map((input, i): AppendCheckpointsResult => {
      const enc = encoded[i]!;
      if (enc instanceof BatonError) return { ok: false, error: enc };
      const noLease = input.requireNoLease === true;
      const mark = this.log.deferred.mark();
      const meta = batonErrorOr(() => {
        // a savepoint per item: a refused item leaves nothing behind (nor in the log's cache)
        if (savepoints) return this.txRun(() => this.appendInTx(input, enc, noLease)) as CheckpointMeta;
        const cas = this.casAppend(input, noLease);
        try {
          return this.writeAppend(input, enc, cas);
        } catch (e) {
          throw new FailedAfterCas(e);
        }
      });
      if (meta instanceof BatonError) this.log.deferred.rollback(mark);
      return meta instanceof BatonError ? { ok: false, error: meta } : { ok: true, meta };
    });
  }

  private appendInTx(
    input: AppendCheckpointInput,
    enc: EncodedAppend,
    requireNoLease: boolean,
  ): CheckpointMeta {
    return this.writeAppend(input, enc, this.casAppend(input, requireNoLease));
  }

  /** An append's seq compare-and-set on its session; a refusal throws before anything is written. */
  private casAppend(input: AppendCheckpointInput, requireNoLease: boolean): AppendCas {
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
    return { seq: upd.seq, sessionCreatedAt: upd.created_at, now };
  }

  /** The rest of an append, once its compare-and-set took the session's next seq. */
  private writeAppend(input: AppendCheckpointInput, enc: EncodedAppend, cas: AppendCas): CheckpointMeta {
    const { seq, now } = cas;
    const meta = this.log.write(input, enc, seq, now);
    if (input.resolvedWaits && input.resolvedWaits.length > 0) {
      const st = this.st(`UPDATE waits SET status = 'resolved' WHERE token = ? AND session_id = ?`);
      for (const t of input.resolvedWaits) st.run(t, input.sessionId);
    }
    if (input.waits) this.replaceWaits(input.sessionId, input.waits, input.resolvedWaits ?? []);
    if (input.migration) {
      const m = input.migration;
      this.insertMigration(
        Object.assign({}, m, { sessionId: input.sessionId, seq, status: 'ok' as const, error: null }),
      );
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
      this.insertTelemetry(Object.assign({}, input.telemetry, { seq }), cas.sessionCreatedAt);
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
    const { sql, args } = migrationInsert(m);
    this.exec({ kind: 'run', sql, args });
  }

  private insertTelemetry(t: TurnTelemetryRecord, sessionStartedAt: number): void {
    this.st(TELEMETRY_INSERT).run(
      t.sessionId,
      t.agent,
      t.version,
      t.turnId,
      t.seq,
      t.at,
      ...telemetryMeasures(t),
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
    return this.runInTx('recordSessionMetrics', this.addMetrics(sessionId, version, m));
  }

  /** Inside a write transaction: add metrics and signal counts to the session's aggregate. */
  // eslint-disable-next-line require-yield
  protected *addMetrics(
    sessionId: string,
    version: string,
    m: { metrics?: Record<string, number>; signals?: Record<string, number> },
  ): Plan<void> {
    const s = this.st('SELECT agent, created_at FROM sessions WHERE id = ?').get(sessionId) as
      Row | undefined;
    if (!s) throw sessionNotFound(sessionId);
    this.applyDelta(sessionId, version, s.agent as string, Number(s.created_at), this.now(), metricsDelta(m));
  }
}
