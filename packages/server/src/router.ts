/**
 * The router: the traffic half of HTTP API v1. Creates sessions (version by the agent's routing table,
 * deterministic per session id), runs turns under the session lease (migrating first when the route
 * says the session is due to move), commits each turn with ONE compare-and-set appendCheckpoint,
 * resumes waiting sessions on callbacks and wait deadlines.
 *
 * Hot path store calls per turn: getSession (authentication), beginTurn (one write transaction:
 * stored result, lease, session, latest checkpoint and the version's history window; grouped like
 * the commits), appendCheckpoint (group commit: only the changed parts and the turn's history
 * entries are written). Workers get the window, never the whole history, and a turn capability
 * (bound to the lease epoch) to page the rest. Backends without `beginTurn` get getTurnResult, acquireLease, getTurnResult,
 * getSession and getLatestCheckpoint.
 */
import {
  BatonError,
  CheckpointCorruptError,
  SessionBusyError,
  TERMINAL_SESSION_STATUSES,
  bucketOf,
  canonicalJson,
  sha256Hex,
  waitDigest,
  type Checkpoint,
  type CheckpointBody,
  type FeedbackSignal,
  type HistoryWindow,
  type StoredHistoryEntry,
  DEFAULT_HISTORY_WINDOW,
  type MigrationRecord,
  type MoveRule,
  type RouteRecord,
  type SessionRecord,
  type SessionStatus,
  type TurnInput,
  type TurnRequest,
  type TurnRequestV1,
  type TurnResponse,
} from '@baton/core';
import type { AppendCheckpointInput, Lease } from '@baton/store';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { Ajv } from 'ajv';
import { BeginBatcher, CommitBatcher } from './commit';
import { digestWaits, publicWait, type PublicWait } from './waits';

export type { PublicWait };
import { isTransportError } from './http-worker';
import { MIGRATION_LEASE_PREFIX, migrateSession } from './migration';
import { LeaseKeeper, TurnEstimate, busyHint, dropOwner, holdOwner, isStaleOwnLease } from './lease';
import { historyWindowOf, retentionOf, type ServerContext } from './context';
import type { PoolEntry } from './pool';
import { SessionCreator, type CreateSessionOptions, type CreatedSession } from './session-create';
import { withTurnSpan, type TurnTrace } from './tracing/spans';
import { turnRequestFor, unchangedParts } from './wire';
import { checkTurnResponse } from './worker-response';

/** The response of a turn; stored with the checkpoint so a retried key returns it unchanged. */
export interface TurnResult {
  turnId: string;
  output: unknown;
  version: string;
  seq: number;
  status: SessionStatus;
  waits: PublicWait[];
  migrated?: { from: string; to: string; seq: number };
}

export type TurnEvent =
  | { event: 'started'; data: { sessionId: string; turnId: string; version: string } }
  | { event: 'migrated'; data: { from: string; to: string; seq: number } }
  | { event: 'output'; data: { output: unknown } }
  | { event: 'done'; data: TurnResult }
  | { event: 'error'; data: { error: { code: string; message: string; details?: Record<string, unknown> } } };

export interface TurnOptions {
  /** The session record when the caller just read it (saves a read). */
  session?: SessionRecord;
  /** Wait tokens this turn resolves (callbacks, timeouts). */
  resolvedWaits?: string[];
  onEvent?: (ev: TurnEvent) => void;
}

export interface SessionView {
  sessionId: string;
  agent: string;
  tenant: string | null;
  version: string;
  status: SessionStatus;
  seq: number;
  reason: string | null;
  waits: PublicWait[];
  migrations: MigrationRecord[];
  createdAt: number;
  updatedAt: number;
  metadata: Record<string, unknown>;
}

/** `turnId` is deterministic from (session, idempotency key): a retry finds its effects and steps. */
export function turnIdOf(sessionId: string, key: string): string {
  return `turn_${sha256Hex(`${sessionId}\0${key}`).slice(0, 32)}`;
}

/** Whether `route.move` applies to this session now (pure). */
export function moveDue(route: RouteRecord | null, s: SessionRecord, now: number): MoveRule | null {
  const m = route?.move;
  if (!m || s.version !== m.from || m.to === m.from) return null;
  if (!(bucketOf(s.id) < m.percent)) return null;
  switch (m.policy) {
    case 'at-boundary':
      return m;
    case 'finish-on-origin':
      return m.deadlinePassed ? m : null;
    case 'max-age':
      return m.maxAgeMs === null || now - s.createdAt < m.maxAgeMs ? m : null;
    default:
      return null;
  }
}

/** The version a new session with this id is pinned to (pure). */
export function versionFor(route: RouteRecord, sessionId: string): string {
  return route.candidate !== null && bucketOf(sessionId) < route.weight ? route.candidate : route.stable;
}

function closedError(s: SessionRecord): BatonError {
  if (s.status === 'quarantined') {
    return new BatonError('SESSION_QUARANTINED', `session ${s.id} is quarantined`, {
      sessionId: s.id,
      reason: s.reason,
    });
  }
  return new BatonError('SESSION_CLOSED', `session ${s.id} is ${s.status}`, {
    sessionId: s.id,
    status: s.status,
  });
}

/** How long past the deadline the router waits before giving up on a worker that ignores it. */
const DEADLINE_GRACE_MS = 250;

export class Router {
  private readonly inflight = new Map<string, Promise<TurnResult>>();
  private readonly routes = new Map<string, { route: RouteRecord | null; at: number }>();
  private readonly ajv = new Ajv({ allErrors: true, strict: false });
  private readonly ajv2020 = new Ajv2020({ allErrors: true, strict: false });
  private readonly validators = new Map<string, ValidateFunction>();
  private seqNo = 0;
  private readonly commits: CommitBatcher;
  private readonly begins: BeginBatcher;
  /** How long turns take here: the typical-turn part of the Retry-After hint. */
  private readonly typicalTurn: TurnEstimate;

  private readonly sessions: SessionCreator;

  constructor(private readonly ctx: ServerContext) {
    this.typicalTurn = new TurnEstimate(ctx.limits.leaseRenewMs);
    this.sessions = new SessionCreator(ctx.store, ctx.clock, versionFor);
    this.commits = new CommitBatcher(ctx.store, 256, ctx.limits.groupCommit);
    this.begins = new BeginBatcher(ctx.store, 256, ctx.limits.groupCommit);
  }

  // ---- sessions ---------------------------------------------------------------------------------

  /** Creates a session; with an `Idempotency-Key`, a retry gets the same session and token (session-create.ts). */
  createSession(
    agent: string,
    opts: CreateSessionOptions = {},
    idempotencyKey?: string,
  ): Promise<CreatedSession> {
    return this.sessions.create(agent, opts, idempotencyKey);
  }

  async view(s: SessionRecord): Promise<SessionView> {
    const [waits, migrations] = await Promise.all([
      this.ctx.store.listWaits({ sessionId: s.id, status: 'pending' }),
      this.ctx.store.listMigrations({ sessionId: s.id }),
    ]);
    let status = s.status;
    if (s.leaseOwner !== null && s.leaseExpiresAt !== null && s.leaseExpiresAt > this.ctx.clock.now()) {
      if (!TERMINAL_SESSION_STATUSES.includes(status)) {
        status = s.leaseOwner.startsWith(MIGRATION_LEASE_PREFIX) ? 'migrating' : 'running';
      }
    }
    return {
      sessionId: s.id,
      agent: s.agent,
      tenant: s.tenant,
      version: s.version,
      status,
      seq: s.seq,
      reason: s.reason,
      waits: waits.map(publicWait),
      migrations,
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
      metadata: s.metadata,
    };
  }

  /** Feedback on an open session (SESSION_CLOSED / SESSION_QUARANTINED once it ended). */
  async feedback(s: SessionRecord, signal: FeedbackSignal, value?: unknown): Promise<void> {
    if (TERMINAL_SESSION_STATUSES.includes(s.status)) throw closedError(s);
    const metrics =
      typeof value === 'number' && Number.isFinite(value) ? { [`feedback.${signal}`]: value } : undefined;
    await this.ctx.store.recordSessionMetrics(s.id, s.version, {
      signals: { [signal]: 1 },
      ...(metrics ? { metrics } : {}),
    });
  }

  /** End a session: status `completed` under the lease; idempotent for an already completed session. */
  async end(s: SessionRecord): Promise<SessionView> {
    const { store } = this.ctx;
    if (s.status === 'completed') return this.view(s);
    if (TERMINAL_SESSION_STATUSES.includes(s.status)) throw closedError(s);
    const owner = `${this.ctx.instanceId}:end:${++this.seqNo}`;
    holdOwner(owner);
    let lease: Lease;
    try {
      lease = await this.acquire(s.id, () => store.acquireLease(s.id, owner, this.ctx.limits.leaseMs));
    } catch (e) {
      dropOwner(owner);
      throw e;
    }
    let cur: SessionRecord;
    try {
      cur = await store.getSession(s.id);
      if (cur.status !== 'completed') {
        if (TERMINAL_SESSION_STATUSES.includes(cur.status)) throw closedError(cur);
        cur = await store.updateSession(s.id, { seq: cur.seq, status: cur.status }, { status: 'completed' });
      }
    } finally {
      await store.releaseLease(lease).catch(() => undefined);
      dropOwner(owner);
    }
    await store.markSessionCompleted(s.id);
    return this.view(await store.getSession(s.id));
  }

  // ---- turns ------------------------------------------------------------------------------------

  /**
   * Run one turn. A key already committed returns the stored result; a concurrent duplicate on this
   * router instance shares the running turn; a concurrent turn elsewhere gets SESSION_BUSY.
   */
  turn(sessionId: string, input: TurnInput, key: string, opts: TurnOptions = {}): Promise<TurnResult> {
    const fk = `${sessionId}\0${key}`;
    const running = this.inflight.get(fk);
    if (running) {
      if (!opts.onEvent) return running;
      const emit = opts.onEvent;
      return running.then((r) => {
        emit({ event: 'done', data: r });
        return r;
      });
    }
    const p = withTurnSpan(sessionId, turnIdOf(sessionId, key), (t) =>
      this.runTurn(sessionId, input, key, opts, t),
    ).finally(() => this.inflight.delete(fk));
    this.inflight.set(fk, p);
    return p;
  }

  private async runTurn(
    sessionId: string,
    input: TurnInput,
    key: string,
    opts: TurnOptions,
    trace: TurnTrace,
  ): Promise<TurnResult> {
    const { store, clock, limits, metrics } = this.ctx;
    const emit = opts.onEvent;
    const t0 = performance.now();
    const turnId = turnIdOf(sessionId, key);
    const owner = `${this.ctx.instanceId}:${turnId}`;
    const ttl = limits.leaseMs;
    let session!: SessionRecord;
    let lease: Lease;
    /** The latest checkpoint read under the lease by `beginTurn` (undefined: read it below). */
    let read: Checkpoint | null | CheckpointCorruptError | undefined;
    /** The history entries read with it, and the window they were read for. */
    let window: { entries: StoredHistoryEntry[]; for: HistoryWindow } | undefined;
    // the window of the version the caller's session record names (a guess for callbacks)
    const guess = opts.session
      ? await this.windowFor(opts.session.agent, opts.session.version)
      : DEFAULT_HISTORY_WINDOW;
    holdOwner(owner);
    let keeper: LeaseKeeper | undefined;
    let held = false;
    try {
      if (store.beginTurn) {
        // one store call: stored result, lease, session, latest checkpoint and history window
        const b = await this.acquire(sessionId, () =>
          this.begins.begin({ sessionId, key, owner, ttlMs: ttl, window: guess }),
        );
        if (b.kind === 'replayed') {
          const s = opts.session ?? (await store.getSession(sessionId));
          return this.replayed(s, b.result as TurnResult, emit);
        }
        if (b.kind === 'closed') throw closedError(b.session);
        session = b.session;
        lease = b.lease;
        read = b.checkpointError ?? b.checkpoint;
        window = { entries: b.history, for: guess };
      } else {
        session = opts.session ?? (await store.getSession(sessionId));
        const prior = (await store.getTurnResult(sessionId, key)) as TurnResult | undefined;
        if (prior !== undefined) return this.replayed(session, prior, emit);
        if (TERMINAL_SESSION_STATUSES.includes(session.status)) throw closedError(session);
        lease = await this.acquire(sessionId, () => store.acquireLease(sessionId, owner, ttl));
      }
      // renewed every leaseRenewMs while the turn runs; nothing is renewed before the first is due
      keeper = new LeaseKeeper(lease, store, clock, { leaseMs: ttl, renewMs: limits.leaseRenewMs });
      held = true;
      if (read === undefined) {
        const again = (await store.getTurnResult(sessionId, key)) as TurnResult | undefined;
        if (again !== undefined) return this.replayed(session, again, emit);
        session = await store.getSession(sessionId);
        if (TERMINAL_SESSION_STATUSES.includes(session.status)) throw closedError(session);
      }
      emit?.({ event: 'started', data: { sessionId, turnId, version: session.version } });
      trace.on(session.agent, session.version);

      let migrated: TurnResult['migrated'];
      /** A session without state moves with its first turn: the migration is recorded in its commit. */
      let pinMove: AppendCheckpointInput['migration'];
      const route = await this.route(session.agent);
      const move = moveDue(route, session, clock.now());
      if (move && session.seq === 0 && this.ctx.pool.has(session.agent, move.to)) {
        const [origin, target] = await Promise.all([
          this.ctx.versions.get(session.agent, session.version),
          this.ctx.versions.get(session.agent, move.to),
        ]);
        pinMove = {
          fromVersion: session.version,
          toVersion: move.to,
          fromSchema: origin.schemaVersion,
          toSchema: target.schemaVersion,
          contextPolicy: 'carry',
          rolloutId: route?.rolloutId ?? null,
          at: clock.now(),
        };
        migrated = { from: session.version, to: move.to, seq: 1 };
        session = { ...session, version: move.to };
        emit?.({ event: 'migrated', data: migrated });
      } else if (move) {
        const r = await migrateSession(this.ctx, {
          sessionId,
          to: move.to,
          rolloutId: route?.rolloutId ?? null,
          leaseOwner: owner,
          leaseEpoch: lease.epoch,
          session,
        });
        if (r.ok) {
          migrated = { from: r.from, to: r.to, seq: r.seq };
          session = { ...session, version: r.to, seq: r.seq };
          emit?.({ event: 'migrated', data: migrated });
          read = undefined; // a new checkpoint was written: read it
        }
      }

      let cp: Checkpoint | null;
      let history: StoredHistoryEntry[];
      try {
        if (read instanceof CheckpointCorruptError) throw read;
        cp = read !== undefined ? read : await store.getLatestCheckpoint(sessionId);
        // a migration appends no history, so the window read before it is still the session's
        history = await this.window(
          sessionId,
          cp,
          window,
          await this.windowFor(session.agent, session.version),
        );
      } catch (e) {
        if (e instanceof CheckpointCorruptError) {
          const reason = `corrupt checkpoint: ${e.message}`;
          await store.quarantineSession(sessionId, reason);
          throw new BatonError('SESSION_QUARANTINED', `session ${sessionId} is quarantined`, {
            sessionId,
            reason,
          });
        }
        throw e;
      }
      // a callback or timeout that waited for the lease may find its wait resolved meanwhile (the
      // deadline's timeout turn, or the callback, committed first): answered here, not by the worker
      const gone = opts.resolvedWaits?.find((t) => !(cp?.body.waits ?? []).some((w) => w.token === t));
      if (gone !== undefined) {
        const w = await store.getWait(gone);
        throw new BatonError('WAIT_RESOLVED', `wait ${w.name} is already ${w.status}`, { status: w.status });
      }

      trace.on(session.agent, session.version);
      const worker = this.ctx.pool.pick(session.agent, session.version);
      const req = turnRequestFor(await this.ctx.pool.protocolOf(worker), {
        session: { id: sessionId, agent: session.agent, version: session.version, tenant: session.tenant },
        checkpoint: cp,
        window: history,
        input,
        turnId,
        deadline: clock.now() + limits.turnTimeoutMs,
        capability: await this.ctx.capabilities.issue(
          sessionId,
          turnId,
          lease.epoch,
          limits.turnTimeoutMs + limits.leaseMarginMs,
        ),
        trace: trace.carrier(),
      });
      const resp = await this.dispatch(worker, req, keeper);
      checkTurnResponse(resp, worker.id);
      const unchanged = unchangedParts(resp.unchanged, cp, worker.id);

      const expectedSeq = cp ? cp.seq : session.seq;
      const status: SessionStatus = resp.status;
      const waits = digestWaits(resp.waits, cp?.body.waits ?? []);
      const result: TurnResult = {
        turnId,
        output: resp.output,
        version: session.version,
        seq: expectedSeq + 1,
        status,
        waits: waits.shown,
      };
      if (migrated) result.migrated = migrated;
      const body: CheckpointBody = { state: resp.state, context: resp.context, waits: waits.stored };
      if (resp.memory !== undefined) body.memory = resp.memory;
      const now = clock.now();
      const retention = retentionOf(await this.ctx.versions.get(session.agent, session.version), limits);
      // a lost lease commits nothing (the commit is also fenced by the lease owner in the store)
      keeper.check();
      await this.commits.commit({
        sessionId,
        expectedSeq,
        schemaVersion: resp.schemaVersion,
        writtenBy: session.version,
        body,
        ...(unchanged ? { unchanged } : {}),
        history: resp.history,
        ...(retention ? { retention } : {}),
        session: pinMove ? { status, version: session.version } : { status },
        ...(pinMove ? { migration: pinMove } : {}),
        waits: waits.stored,
        // kept for retries of the key without the new waits' tokens (the store holds no wait token)
        turnResult: { key, result: { ...result, waits: waits.stored.map(publicWait) } },
        leaseOwner: owner,
        telemetry: {
          ...resp.telemetry,
          latencyMs:
            typeof resp.telemetry.latencyMs === 'number' ? resp.telemetry.latencyMs : performance.now() - t0,
          sessionId,
          agent: session.agent,
          version: session.version,
          turnId,
          at: now,
        },
        ...(opts.resolvedWaits && opts.resolvedWaits.length > 0 ? { resolvedWaits: opts.resolvedWaits } : {}),
      });
      held = false;
      keeper.stop();
      trace.committed(result, resp.telemetry);
      this.typicalTurn.observe(performance.now() - t0);
      this.evaluate(session, turnId, input, resp.output);
      if (status === 'completed' || status === 'failed') {
        await store.markSessionCompleted(sessionId).catch((e: unknown) => this.ctx.log.error(e));
      }
      metrics.observeTurn(session.agent, session.version, status, (performance.now() - t0) / 1000);
      if (emit) {
        emit({ event: 'output', data: { output: resp.output } });
        emit({ event: 'done', data: result });
      }
      return result;
    } catch (e) {
      if (held) metrics.observeTurn(session.agent, session.version, 'error', null);
      throw e;
    } finally {
      keeper?.stop();
      if (held && keeper) await store.releaseLease(keeper.current).catch(() => undefined);
      dropOwner(owner);
    }
  }

  /**
   * Take a session's lease with `take`. A session busy under a lease of a previous incarnation of
   * this router's identity (its owner carries this instance id, but this process did not start
   * it) is reclaimed at once: that lease is released and `take` runs again. Otherwise SESSION_BUSY,
   * with a Retry-After hint (see `busyHint`).
   */
  private async acquire<T>(sessionId: string, take: () => Promise<T>): Promise<T> {
    try {
      return await take();
    } catch (e) {
      if (!(e instanceof SessionBusyError)) throw e;
      const s = await this.ctx.store.getSession(sessionId).catch(() => null);
      if (s && isStaleOwnLease(s.leaseOwner, this.ctx.instanceId, MIGRATION_LEASE_PREFIX)) {
        this.ctx.log.info(
          { sessionId, owner: s.leaseOwner },
          'reclaiming a lease of a previous incarnation of this router',
        );
        await this.ctx.store.releaseLease({
          sessionId,
          owner: s.leaseOwner!,
          expiresAt: s.leaseExpiresAt ?? 0,
          epoch: s.leaseEpoch,
        });
        try {
          return await take();
        } catch (again) {
          if (again instanceof SessionBusyError) throw busyHint(again, sessionId, this.typicalTurn.ms);
          throw again;
        }
      }
      throw busyHint(e, sessionId, this.typicalTurn.ms);
    }
  }

  /**
   * Hand a committed turn to the evaluators (sampled, queued, run in the background; a full queue
   * drops it and counts the drop). Runs after the commit released the lease; never throws.
   */
  private evaluate(session: SessionRecord, turnId: string, input: TurnInput, output: unknown): void {
    const runner = this.ctx.evaluations;
    if (!runner) return;
    try {
      runner.submit({
        sessionId: session.id,
        version: session.version,
        turnId,
        input,
        output,
        metadata: { agent: session.agent },
      });
    } catch (e) {
      this.ctx.log.warn({ err: e }, 'evaluations: submitting a turn failed');
    }
  }

  private replayed(s: SessionRecord, r: TurnResult, emit: TurnOptions['onEvent']): TurnResult {
    this.ctx.metrics.observeTurn(s.agent, r.version, 'replayed', null);
    emit?.({ event: 'done', data: r });
    return r;
  }

  /**
   * Send the turn to the worker, bounded by the turn deadline. Workers enforce the deadline themselves
   * (the SDK aborts the handler; the HTTP client times out); the timer here is the router's backstop.
   */
  private async dispatch(
    entry: PoolEntry,
    req: TurnRequest | TurnRequestV1,
    keeper: LeaseKeeper,
  ): Promise<TurnResponse> {
    const ms = Math.max(1, req.deadline - this.ctx.clock.now()) + DEADLINE_GRACE_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new BatonError('TURN_TIMEOUT', `worker ${entry.id} did not finish the turn within ${ms} ms`, {
            workerId: entry.id,
          }),
        );
      }, ms);
    });
    entry.outstanding++;
    try {
      // a lost lease ends the wait at once (and aborts the worker's call)
      return await Promise.race([entry.client.turn(req, keeper.signal), timeout, keeper.whenLost()]);
    } catch (e) {
      if (isTransportError(e)) this.ctx.pool.markUnhealthy(entry);
      throw e;
    } finally {
      clearTimeout(timer);
      entry.outstanding--;
    }
  }

  /** The history window a version's workers receive (the default for a version not registered here). */
  private async windowFor(agent: string, version: string): Promise<HistoryWindow> {
    try {
      return historyWindowOf(await this.ctx.versions.get(agent, version));
    } catch (e) {
      if (e instanceof BatonError && e.code === 'VERSION_NOT_FOUND') return DEFAULT_HISTORY_WINDOW;
      throw e;
    }
  }

  /**
   * The newest history entries within window `w`: those read with the checkpoint when they were
   * read for that window, else read now (a callback's session on a version with its own window).
   */
  private async window(
    sessionId: string,
    cp: Checkpoint | null,
    have: { entries: StoredHistoryEntry[]; for: HistoryWindow } | undefined,
    w: HistoryWindow,
  ): Promise<StoredHistoryEntry[]> {
    if (!cp || cp.historyLength === 0 || w.entries === 0) return [];
    if (have && have.for.entries === w.entries && have.for.bytes === w.bytes) return have.entries;
    const page = await this.ctx.store.readHistory(sessionId, { limit: w.entries, maxBytes: w.bytes });
    return page.entries;
  }

  private async route(agent: string): Promise<RouteRecord | null> {
    const ttl = this.ctx.limits.routeCacheMs;
    if (ttl <= 0) return this.ctx.store.getRoute(agent);
    const now = this.ctx.clock.now();
    const hit = this.routes.get(agent);
    if (hit && now - hit.at < ttl) return hit.route;
    const route = await this.ctx.store.getRoute(agent);
    this.routes.set(agent, { route, at: now });
    return route;
  }

  // ---- callbacks and wait deadlines ---------------------------------------------------------------

  /** Validate a callback payload against the wait's JSON schema (compiled once per schema). */
  validatePayload(schema: Record<string, unknown> | null, payload: unknown): void {
    if (schema === null) return;
    const k = canonicalJson(schema);
    let v = this.validators.get(k);
    if (!v) {
      try {
        const draft = typeof schema.$schema === 'string' ? schema.$schema : '';
        v = (draft.includes('2020-12') || draft.includes('2019-09') ? this.ajv2020 : this.ajv).compile(
          schema,
        );
      } catch (e) {
        throw new BatonError('INTERNAL', `the wait's schema does not compile: ${(e as Error).message}`);
      }
      this.validators.set(k, v);
    }
    if (!v(payload)) {
      throw new BatonError('VALIDATION', 'callback payload does not match the wait schema', {
        issues: (v.errors ?? []).map((e) => ({ path: e.instancePath, message: e.message ?? 'invalid' })),
      });
    }
  }

  /**
   * Resume the session waiting on `token` with `payload`, on whatever version owns it now. A busy
   * session (a turn or migration in flight) is retried for `callbackBusyWaitMs`, then SESSION_BUSY.
   */
  async callback(presented: string, payload: unknown, onEvent?: TurnOptions['onEvent']): Promise<TurnResult> {
    const { store, limits } = this.ctx;
    // the store knows the wait by its digest; the worker is given the digest too
    const token = waitDigest(presented);
    const w = await store.getWait(token);
    if (w.status !== 'pending') {
      throw new BatonError('WAIT_RESOLVED', `wait ${w.name} is already ${w.status}`, { status: w.status });
    }
    this.validatePayload(w.schema, payload);
    const input: TurnInput = { kind: 'callback', token, name: w.name, payload };
    return this.retryBusy(limits.callbackBusyWaitMs, () =>
      this.turn(w.sessionId, input, `callback:${token}`, {
        resolvedWaits: [token],
        ...(onEvent ? { onEvent } : {}),
      }),
    );
  }

  /**
   * Run the `timeout` turn of a pending wait whose deadline passed; `token` is the wait's stored
   * digest (as `listWaits` gives it). Returns null when the wait is not
   * pending or not yet due. Throws SESSION_BUSY when a turn is in flight (call again later).
   */
  async expireWait(token: string): Promise<TurnResult | null> {
    const w = await this.ctx.store.getWait(token);
    if (w.status !== 'pending' || w.deadline > this.ctx.clock.now()) return null;
    return this.turn(w.sessionId, { kind: 'timeout', token, name: w.name }, `timeout:${token}`, {
      resolvedWaits: [token],
    });
  }

  /**
   * Retry `fn` while the session is busy, for up to `waitMs` of real time. Real time, not the injected
   * clock: this waits for another request that is actually running to finish.
   */
  private async retryBusy<T>(waitMs: number, fn: () => Promise<T>): Promise<T> {
    const until = performance.now() + waitMs;
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof SessionBusyError)) throw e;
        const left = until - performance.now();
        if (left <= 0) throw e;
        await sleep(Math.min(Math.max(10, e.retryAfterMs), 100, left));
      }
    }
  }
}
