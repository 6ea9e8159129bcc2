/**
 * PostgreSQL backend (`pg` Pool). Hot paths are one round trip: a checkpoint append is a single
 * statement whose data-modifying CTEs do the compare-and-set on the session's seq and every write
 * that belongs to the same turn commit (parts, history entries, retention, compaction: see
 * `pg-history.ts`); it is finished (`finishAppend`) against the previous checkpoint this process
 * last wrote or read, which the statement guards by hash, so only a cold or stale cache costs one
 * extra read. When the statement matches no row, a follow-up query tells a stale writer from an
 * unknown session. `beginTurn` is one statement too. Frequently used statements are prepared per
 * connection. The methods shared with SQLite are in `sql/` (this file runs their plans on the pool
 * or in a client transaction).
 */
import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import {
  BatonError,
  SequenceConflictError,
  SessionBusyError,
  TERMINAL_SESSION_STATUSES,
  ValidationError,
} from '@baton/core';
import type {
  Checkpoint,
  CheckpointMeta,
  HistoryPage,
  HistoryQuery,
  HistoryWindow,
  SessionRecord,
  TurnTelemetryRecord,
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
import { openValue, sealValue, turnResultPlace } from './sealed';
import {
  batonErrorOr,
  checkKeep,
  checkTtl,
  checkpointNotFound,
  encodeAppend,
  finishAppend,
  historyQuery,
  jsonText,
  leaseLost,
  metricsDelta,
  parseJson,
  sessionFromRow,
  sessionNotFound,
  startedTurn,
  TELEMETRY_COLUMNS,
  TELEMETRY_MEASURE_TYPES,
  telemetryMeasures,
  turnDelta,
  checkNoNul,
  nulInColumn,
  windowFor,
} from './common';
import type { AggregateDelta, EncodedAppend, FinishedAppend, PreviousCheckpoint, Row } from './common';
import {
  COMPACT_SQL,
  CP_SELECT,
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
import { BATCH_APPEND_SQL, batchAppendValues, fixedShape } from './pg-batch';
import {
  AGGREGATE_COLUMNS,
  AGGREGATE_DELTA_TYPES,
  AGGREGATE_ON_CONFLICT,
  aggregateDeltaValues,
} from './pg-aggregate';
import type { BatchItem } from './pg-batch';
import { digestWaitTokens } from './wait-digests';
import { one, runAsync } from './sql/dialect';
import type { Dialect, Plan, Step } from './sql/dialect';
import { SqlStore } from './sql/store-base';
import { POSTGRES_SCHEMA_MIGRATIONS } from './schema/postgres';
import { migrate } from './sql/migrate';

export interface PostgresStoreOptions extends StoreOptions {
  /** Schema holding Baton's tables; created when missing and set as the connections' search_path. */
  schema?: string;
  /** Pool size. Default 10. */
  poolSize?: number;
  /** Fault injection for crash tests: called inside a write transaction just before it commits. */
  hooks?: { beforeCommit?: (op: string) => void | Promise<void> };
}

/** The data upgrades, each run right after its migration's DDL in the same locked transaction. */
const DATA_STEPS = { 'legacy checkpoints': upgradeLegacy, 'wait digests': digestWaitTokens };

const BATCH_APPEND_NAME = stmtName(BATCH_APPEND_SQL);
const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const DEFAULT_POOL_SIZE = 10;

/**
 * Upsert of a session aggregate from a delta; the `…Sql` arguments are SQL expressions (placeholders
 * or columns). Every aggregate write of this backend goes through it. Its JSON maps (tool mix,
 * metrics, signals) merge in SQL (`baton_merge_counts`, `baton_merge_metrics`, created by the
 * schema), not with `mergeCounts`/`mergeMetrics` as SQLite's `applyDelta` does: a checkpoint append
 * writes its turn's aggregate inside its one statement, where a read-modify-write in TypeScript would
 * cost a read before the statement and a row lock held across round trips. The two merges are the
 * same rule, and test/dialect.test.ts checks that both backends answer alike.
 */
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
  const delta = aggregateDeltaValues(d).map((v, i) => `${p(v)}::${AGGREGATE_DELTA_TYPES[i]}`);
  return `INSERT INTO session_aggregates AS a (${AGGREGATE_COLUMNS})
    SELECT ${sessionIdSql}, ${versionSql}, ${agentSql}, ${startedAtSql}, ${atP}::bigint, ${atP}::bigint,
      ${delta.join(', ')}, false
    ${from}
    ${AGGREGATE_ON_CONFLICT}`;
}

function telemetryInsert(
  p: (v: unknown) => string,
  t: Omit<TurnTelemetryRecord, 'seq'>,
  seqSql: string,
  from: string,
) {
  return `INSERT INTO turn_telemetry (${TELEMETRY_COLUMNS})
    SELECT ${p(t.sessionId)}, ${p(t.agent)}, ${p(t.version)}, ${p(t.turnId)}, ${seqSql}, ${p(t.at)}::bigint,
      ${telemetryMeasures(t)
        .map((v, i) => `${p(v)}::${TELEMETRY_MEASURE_TYPES[i]}`)
        .join(', ')}
    ${from}`;
}

/**
 * Where and how the store's connections connect: the URL, with the store's server settings (the
 * startup `options`) after any the URL gives (pg reads a URL's `options` over the config's): the schema
 * as `search_path`, and no JIT. The store's statements are short, and a group commit built append by
 * append is large enough (hundreds of CTEs) for the planner's cost estimate to cross
 * `jit_above_cost`: compiling such a statement took 17–30 s per batch of 17–50 appends, against
 * 0.2 s to run it (docs/benchmarks.md, "Concurrent appends").
 */
export function connectionConfig(
  url: string,
  schema: string | undefined,
): { connectionString: string; options?: string } {
  const own = [schema ? `-c search_path=${schema}` : '', '-c jit=off'].filter((o) => o !== '').join(' ');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { connectionString: url, options: own };
  }
  const given = parsed.searchParams.get('options');
  if (given === null || given.trim() === '') return { connectionString: url, options: own };
  parsed.searchParams.set('options', `${given} ${own}`);
  return { connectionString: parsed.toString() };
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

/** What PostgreSQL's SQL needs of the shared plans (`sql/dialect.ts`). */
const POSTGRES: Dialect = {
  kind: 'postgres',
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  isUniqueViolation: (e) => (e as { code?: string }).code === '23505',
};

/** One statement of a plan on `c` (the pool, or a transaction's connection). */
async function exec(c: Runner, s: Step): Promise<unknown> {
  checkNoNul(s.args);
  let res: pg.QueryResult<Row>;
  try {
    res = await c.query<Row>(
      s.prepare ? { name: stmtName(s.sql), text: s.sql, values: s.args } : { text: s.sql, values: s.args },
    );
  } catch (e) {
    throw storeError(e);
  }
  if (s.kind === 'run') return res.rowCount ?? 0;
  if (s.kind === 'script') return undefined;
  return s.kind === 'one' ? res.rows[0] : res.rows;
}

export class PostgresStore extends SqlStore implements Store {
  readonly kind = 'postgres' as const;
  readonly parallelWrites: number;
  readonly pool: pg.Pool;
  /** The latest checkpoint this process wrote or read, per recent session: an append's `prev`. */
  private readonly prevs = new PrevCache();
  private readonly hooks: PostgresStoreOptions['hooks'];
  private readonly schema: string | undefined;
  private closed = false;
  private graphStore: GraphCheckpointStore | undefined;

  private constructor(pool: pg.Pool, opts: PostgresStoreOptions) {
    super(POSTGRES, opts);
    this.pool = pool;
    this.schema = opts.schema;
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
    const pool = new pg.Pool(
      Object.assign(connectionConfig(url, schema), { max: opts.poolSize ?? DEFAULT_POOL_SIZE }),
    );
    // A client that loses its connection must not crash the process: idle ones are the pool's
    // (its 'error' event); one checked out by a transaction has no listener of the pool's then, and
    // a server restart or failover would throw its 'error' event. Its query fails instead, and the
    // pool drops it on release (it is no longer queryable).
    pool.on('error', () => {});
    pool.on('connect', (client) => {
      client.on('error', () => {});
    });
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
      await runAsync(migrate(POSTGRES_SCHEMA_MIGRATIONS, 'BIGINT', DATA_STEPS), (s) => exec(c, s));
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  /** LangGraph checkpoint tables on the same database and schema (their own migrations, applied on first use). */
  get graph(): GraphCheckpointStore {
    return (this.graphStore ??= openGraphStore({ kind: 'postgres', pool: this.pool, schema: this.schema }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** One statement on any pooled connection, prepared on that connection when `prepare` is set. */
  private async q<R extends QueryResultRow = Row>(
    sql: string,
    args: unknown[] = [],
    prepare = false,
  ): Promise<R[]> {
    return (await exec(this.pool, { kind: 'all', sql, args, prepare })) as R[];
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

  /** A plan's statements on the pool, one after the other (each may take another connection). */
  runPlan<T>(plan: Plan<T>): Promise<T> {
    return runAsync(plan, (s) => exec(this.pool, s));
  }

  /** A plan in one transaction on one connection. */
  runInTx<T>(op: string, plan: Plan<T>): Promise<T> {
    return this.tx(op, (c) => runAsync(plan, (s) => exec(c, s)));
  }

  /** One `beginTurn` on `c` (the pool, or a transaction's connection). */
  private async beginOne(
    c: Runner,
    sessionId: string,
    key: string,
    owner: string,
    ttlMs: number,
    choice: HistoryWindow | WindowChoice | undefined,
    tokenHash: string | undefined,
    attempt = 0,
  ): Promise<BeginTurnResult> {
    // one statement reads the session and the window, so a choice's guess is read (the router
    // reads the version's own window after it when that differs)
    const window = windowFor(choice, null);
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
      return startedTurn(lease, session, routeRevision, window, () => this.decodeStarted(row, window));
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
    return startedTurn(lease, s, routeRevision, window, () => this.decodeStarted(row, window));
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
    window?: HistoryWindow | WindowChoice,
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
    const fixed: Array<BatchItem & { i: number; prev: PreviousCheckpoint | null }> = [];
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
      if (fixedShape(input)) {
        fixed.push({ i, input, enc, fin, prevHash: known.hash, prev: known.prev });
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
    // the constant statement and the one built per append go on two connections at once
    const none = Promise.resolve(new Set<number>());
    const [fixedApplied, combinedApplied] = await Promise.all([
      fixed.length > 0
        ? this.appliedOf({
            name: BATCH_APPEND_NAME,
            text: BATCH_APPEND_SQL,
            values: batchAppendValues(fixed, now, this.keep, this.cipher),
          })
        : none,
      combined.length > 0
        ? this.appliedOf({
            text: `WITH ${ctes.join(',\n')} ${combined.map((_, k) => `SELECT ${k} AS k, seq FROM c_${k}`).join(' UNION ALL ')}`,
            values,
          })
        : none,
    ]);
    const settle = (i: number, fin: FinishedAppend, prev: PreviousCheckpoint | null, ok: boolean) => {
      if (!ok) {
        fallback.add(i);
        return;
      }
      const input = inputs[i]!;
      this.prevs.set(
        input.sessionId,
        fin.meta.seq,
        fin.meta.hash,
        appendedPrev(fin, encoded[i] as EncodedAppend, prev),
      );
      res[i] = { ok: true, meta: fin.meta };
    };
    // the constant statement answers 1-based positions, the other its CTE suffixes
    fixed.forEach(({ i, fin, prev }, n) => settle(i, fin, prev, fixedApplied?.has(n + 1) === true));
    combined.forEach(({ i, fin, prev }, k) => settle(i, fin, prev, combinedApplied?.has(k) === true));
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
   * The positions (`k`) a batch statement answers as applied; null when it was refused as a whole
   * (one statement: nothing was written), so that each of its appends is tried on its own.
   */
  private async appliedOf(q: pg.QueryConfig): Promise<Set<number> | null> {
    try {
      const rows = (await this.pool.query<{ k: number }>(q)).rows;
      return new Set(rows.map((r) => Number(r.k)));
    } catch (e) {
      const err = storeError(e);
      if (err instanceof BatonError && err.code === 'STORE_UNAVAILABLE') throw err;
      return null;
    }
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
    return this.runPlan(this.addMetrics(sessionId, version, m));
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

  /** One statement adding metrics and signal counts to the session's aggregate (`aggregateUpsert`). */
  protected *addMetrics(
    sessionId: string,
    version: string,
    m: { metrics?: Record<string, number>; signals?: Record<string, number> },
  ): Plan<void> {
    const { sql, values } = this.metricsSql(sessionId, version, m);
    const row = yield* one(sql, values);
    if (Number(row!.n) === 0) throw sessionNotFound(sessionId);
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
