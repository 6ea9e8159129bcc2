/**
 * The turn pipeline, in named steps under the session lease:
 *   begin    stored result of the key (a retry answers it), lease, session, latest checkpoint and
 *            history window, in one `beginTurn` (grouped like the commits);
 *   migrate  when the route says the session is due to move (a session without state moves with
 *            its first commit);
 *   load     the checkpoint and the history window the worker gets (a corrupt one quarantines);
 *   dispatch to a healthy worker of the pinned version, bounded by the turn deadline;
 *   commit   ONE compare-and-set appendCheckpoint (group commit: only the changed parts and the
 *            turn's history entries are written).
 */
import {
  BatonError,
  CheckpointCorruptError,
  sha256Hex,
  type Checkpoint,
  type CheckpointBody,
  type HistoryWindow,
  type SessionRecord,
  type StoredHistoryEntry,
  type TurnInput,
  type TurnResponse,
} from '@baton/core';
import type { AppendCheckpointInput, Lease, WindowChoice } from '@baton/store';
import { BeginBatcher, CommitBatcher } from './commit';
import { retentionOf, type ServerContext } from './context';
import type { TurnEstimate } from './lease';
import { LeaseKeeper, dropOwner, holdOwner, takeLease } from './lease';
import { migrateSession } from './migration';
import { RouteCache } from './route-cache';
import { moveDue } from './routing';
import { closedError } from './sessions';
import { withTurnSpan, type TurnTrace } from './tracing/spans';
import { dispatchTurn } from './turn-dispatch';
import { checkTurnResponse } from './worker-response';
import { turnIdOf, type TurnOptions, type TurnResult } from './turn-types';
import { digestWaits, publicWait } from './waits';
import { turnRequestFor, unchangedParts } from './wire';
import { TurnWindows, type ReadWindow } from './turn-window';

/** One turn as it passes through the steps. */
interface TurnRun {
  sessionId: string;
  input: TurnInput;
  key: string;
  turnId: string;
  owner: string;
  opts: TurnOptions;
  trace: TurnTrace;
  t0: number;
  session: SessionRecord;
  lease: Lease;
  keeper: LeaseKeeper;
  /** The latest checkpoint read under the lease by `beginTurn` (undefined: read it in `load`). */
  read: Checkpoint | null | CheckpointCorruptError | undefined;
  /** The history entries read with it, and the window they were read for. */
  window: ReadWindow | undefined;
  migrated?: TurnResult['migrated'];
  /** A session without state moves with its first turn: the migration is recorded in its commit. */
  pinMove?: AppendCheckpointInput['migration'];
  /** The agent's route revision as `beginTurn` read it (undefined: the backend did not say). */
  routeRevision: string | null | undefined;
  /** Set once the commit went through (it released the lease). */
  committed?: boolean;
}

type Started = Omit<TurnRun, 'keeper' | 'committed'>;

export class Turns {
  private readonly inflight = new Map<string, Promise<TurnResult>>();
  private readonly commits: CommitBatcher;
  private readonly begins: BeginBatcher;
  private readonly routes: RouteCache;
  private readonly windows: TurnWindows;

  constructor(
    private readonly ctx: ServerContext,
    /** How long turns take here: the typical-turn part of the Retry-After hint. */
    private readonly typicalTurn: TurnEstimate,
  ) {
    this.commits = new CommitBatcher(ctx.store, 256, ctx.limits.groupCommit);
    this.begins = new BeginBatcher(ctx.store, 256, ctx.limits.groupCommit);
    this.routes = new RouteCache(ctx.store, ctx.clock, ctx.limits.routeCacheMs);
    this.windows = new TurnWindows(ctx);
  }

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
    const turnId = turnIdOf(sessionId, key);
    const p = withTurnSpan(sessionId, turnId, (t) =>
      this.runTurn(sessionId, input, key, turnId, opts, t),
    ).finally(() => this.inflight.delete(fk));
    this.inflight.set(fk, p);
    return p;
  }

  private async runTurn(
    sessionId: string,
    input: TurnInput,
    key: string,
    turnId: string,
    opts: TurnOptions,
    trace: TurnTrace,
  ): Promise<TurnResult> {
    const { store, clock, limits, metrics } = this.ctx;
    const owner = `${this.ctx.instanceId}:${turnId}`;
    const t0 = performance.now();
    // the window of the version the caller's session record names (a guess for callbacks)
    const guess = await this.windows.guess(sessionId, opts.session);
    holdOwner(owner);
    let run: TurnRun | undefined;
    try {
      const begun = await this.begin({ sessionId, input, key, turnId, owner, opts, trace, t0 }, guess);
      if (!('lease' in begun)) return begun;
      // renewed every leaseRenewMs while the turn runs; nothing is renewed before the first is due
      const keeper = new LeaseKeeper(begun.lease, store, clock, {
        leaseMs: limits.leaseMs,
        renewMs: limits.leaseRenewMs,
      });
      // set on the object `begin` built (a spread copy would be slow to extend: see `begin`)
      run = begun as TurnRun;
      run.keeper = keeper;
      opts.onEvent?.({ event: 'started', data: { sessionId, turnId, version: run.session.version } });
      trace.on(run.session.agent, run.session.version);
      await this.migrate(run);
      const { cp, history } = await this.load(run);
      trace.on(run.session.agent, run.session.version);
      const { resp, workerId } = await this.dispatch(run, cp, history);
      return await this.commit(run, cp, resp, workerId);
    } catch (e) {
      if (run && !run.committed) metrics.observeTurn(run.session.agent, run.session.version, 'error', null);
      throw e;
    } finally {
      if (run && !run.committed) {
        run.keeper.stop();
        await store.releaseLease(run.keeper.current).catch(() => undefined);
      }
      dropOwner(owner);
    }
  }

  /**
   * Step 1, one `beginTurn`: the session token checked (a wrong one is refused before any lease), the
   * stored result of the key, or the lease with the session, its latest checkpoint, history window
   * and the revision of the agent's route.
   */
  private async begin(
    t: Omit<Started, 'session' | 'lease' | 'read' | 'window' | 'routeRevision'>,
    guess: HistoryWindow | WindowChoice,
  ): Promise<Started | TurnResult> {
    const { store, auth } = this.ctx;
    const { sessionId, key, owner, opts } = t;
    const ttlMs = this.ctx.limits.leaseMs;
    const tokenHash = opts.sessionToken
      ? await this.tokenHashOf(sessionId, opts.sessionToken.presented)
      : undefined;
    const b = await this.acquire(sessionId, () =>
      this.begins.begin({ sessionId, key, owner, ttlMs, window: guess, ...(tokenHash ? { tokenHash } : {}) }),
    );
    if (b.kind === 'forbidden') {
      auth.checkSessionToken(b.session.tokenHash, opts.sessionToken?.presented);
      throw new BatonError('FORBIDDEN', 'wrong session token');
    }
    if (b.kind === 'replayed') {
      const s = opts.session ?? (await store.getSession(sessionId));
      return this.replayed(s, b.result as TurnResult, opts);
    }
    if (b.kind === 'closed') throw closedError(b.session);
    // One literal with every field, no spread: in Node 20 an object made by a spread (`{ ...t, … }`)
    // is slow to add properties to (about 1 µs each turn and object here).
    return {
      sessionId,
      input: t.input,
      key,
      turnId: t.turnId,
      owner,
      opts,
      trace: t.trace,
      t0: t.t0,
      session: b.session,
      lease: b.lease,
      read: b.checkpointError ?? b.checkpoint,
      window: b.historyWindow ? { entries: b.history, for: b.historyWindow } : undefined,
      migrated: undefined,
      pinMove: undefined,
      routeRevision: b.routeRevision,
    };
  }

  /**
   * The hash `beginTurn` checks the presented session token against. A missing token is answered
   * as the separate check answers it (SESSION_NOT_FOUND first for an unknown session), with a read.
   */
  private async tokenHashOf(sessionId: string, presented: string | string[] | undefined): Promise<string> {
    const t = Array.isArray(presented) ? presented[0] : presented;
    if (typeof t === 'string' && t.length > 0) return sha256Hex(t);
    const s = await this.ctx.store.getSession(sessionId);
    this.ctx.auth.checkSessionToken(s.tokenHash, presented);
    throw new BatonError('FORBIDDEN', 'missing X-Session-Token');
  }

  /** Step 2: migrate first when the route says the session is due to move. */
  private async migrate(run: TurnRun): Promise<void> {
    const { clock } = this.ctx;
    const emit = run.opts.onEvent;
    const session = run.session;
    // the cached route, unless the store's revision (read by beginTurn, before this migration) is
    // newer: a stale cache never makes a move the controller revoked
    const route = await this.routes.get(session.agent, run.routeRevision);
    const move = moveDue(route, session, clock.now());
    if (!move) return;
    if (session.seq === 0 && this.ctx.pool.has(session.agent, move.to)) {
      const [origin, target] = await Promise.all([
        this.ctx.versions.get(session.agent, session.version),
        this.ctx.versions.get(session.agent, move.to),
      ]);
      run.pinMove = {
        fromVersion: session.version,
        toVersion: move.to,
        fromSchema: origin.schemaVersion,
        toSchema: target.schemaVersion,
        contextPolicy: 'carry',
        rolloutId: route?.rolloutId ?? null,
        at: clock.now(),
      };
      run.migrated = { from: session.version, to: move.to, seq: 1 };
      run.session = Object.assign({}, session, { version: move.to });
      emit?.({ event: 'migrated', data: run.migrated });
      return;
    }
    const r = await migrateSession(this.ctx, {
      sessionId: run.sessionId,
      to: move.to,
      rolloutId: route?.rolloutId ?? null,
      leaseOwner: run.owner,
      leaseEpoch: run.lease.epoch,
      session,
    });
    if (r.ok) {
      run.migrated = { from: r.from, to: r.to, seq: r.seq };
      run.session = Object.assign({}, session, { version: r.to, seq: r.seq });
      emit?.({ event: 'migrated', data: run.migrated });
      run.read = undefined; // a new checkpoint was written: read it
    }
  }

  /** Step 3: the checkpoint and history window the worker gets; a corrupt checkpoint quarantines. */
  private async load(run: TurnRun): Promise<{ cp: Checkpoint | null; history: StoredHistoryEntry[] }> {
    const { store } = this.ctx;
    const { sessionId, read, session } = run;
    let cp: Checkpoint | null;
    let history: StoredHistoryEntry[];
    try {
      if (read instanceof CheckpointCorruptError) throw read;
      cp = read !== undefined ? read : await store.getLatestCheckpoint(sessionId);
      // a migration appends no history, so the window read before it is still the session's
      history = await this.windows.entries(session, cp, run.window);
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
    const gone = run.opts.resolvedWaits?.find((t) => !(cp?.body.waits ?? []).some((w) => w.token === t));
    if (gone !== undefined) {
      const w = await store.getWait(gone);
      throw new BatonError('WAIT_RESOLVED', `wait ${w.name} is already ${w.status}`, { status: w.status });
    }
    return { cp, history };
  }

  /** Step 4: the worker's turn, checked. */
  private async dispatch(
    run: TurnRun,
    cp: Checkpoint | null,
    history: StoredHistoryEntry[],
  ): Promise<{ resp: TurnResponse; workerId: string }> {
    const { clock, limits, pool } = this.ctx;
    const { session, sessionId, turnId } = run;
    const worker = pool.pick(session.agent, session.version);
    const req = turnRequestFor(await pool.protocolOf(worker), {
      session: { id: sessionId, agent: session.agent, version: session.version, tenant: session.tenant },
      checkpoint: cp,
      window: history,
      input: run.input,
      turnId,
      deadline: clock.now() + limits.turnTimeoutMs,
      capability: await this.ctx.capabilities.issue(
        sessionId,
        turnId,
        run.lease.epoch,
        limits.turnTimeoutMs + limits.leaseMarginMs,
      ),
      trace: run.trace.carrier(),
    });
    const resp = await dispatchTurn(this.ctx, worker, req, run.keeper);
    checkTurnResponse(resp, worker.id);
    return { resp, workerId: worker.id };
  }

  /** Step 5: one compare-and-set commit of the new checkpoint, then the turn's bookkeeping. */
  private async commit(
    run: TurnRun,
    cp: Checkpoint | null,
    resp: TurnResponse,
    workerId: string,
  ): Promise<TurnResult> {
    const { store, clock, limits, metrics } = this.ctx;
    const { session, sessionId, turnId, key, opts, keeper, pinMove, t0 } = run;
    const unchanged = unchangedParts(resp.unchanged, cp, workerId);
    const expectedSeq = cp ? cp.seq : session.seq;
    const status = resp.status;
    const waits = digestWaits(resp.waits, cp?.body.waits ?? []);
    const result: TurnResult = {
      turnId,
      output: resp.output,
      version: session.version,
      seq: expectedSeq + 1,
      status,
      waits: waits.shown,
    };
    if (run.migrated) result.migrated = run.migrated;
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
      turnResult: { key, result: storedResult(result, waits.stored.map(publicWait)) },
      leaseOwner: run.owner,
      telemetry: Object.assign({}, resp.telemetry, {
        latencyMs:
          typeof resp.telemetry.latencyMs === 'number' ? resp.telemetry.latencyMs : performance.now() - t0,
        sessionId,
        agent: session.agent,
        version: session.version,
        turnId,
        at: now,
      }),
      ...(opts.resolvedWaits && opts.resolvedWaits.length > 0 ? { resolvedWaits: opts.resolvedWaits } : {}),
    });
    run.committed = true;
    keeper.stop();
    run.trace.committed(result, resp.telemetry);
    this.typicalTurn.observe(performance.now() - t0);
    this.evaluate(session, turnId, run.input, resp.output);
    if (status === 'completed' || status === 'failed') {
      await store.markSessionCompleted(sessionId).catch((e: unknown) => this.ctx.log.error(e));
    }
    metrics.observeTurn(session.agent, session.version, status, (performance.now() - t0) / 1000);
    if (opts.onEvent) {
      opts.onEvent({ event: 'output', data: { output: resp.output } });
      opts.onEvent({ event: 'done', data: result });
    }
    return result;
  }

  private acquire<T>(sessionId: string, take: () => Promise<T>): Promise<T> {
    return takeLease(this.ctx, this.typicalTurn, sessionId, take);
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

  private replayed(s: SessionRecord, r: TurnResult, opts: TurnOptions): TurnResult {
    this.ctx.metrics.observeTurn(s.agent, r.version, 'replayed', null);
    opts.onEvent?.({ event: 'done', data: r });
    return r;
  }
}

/** The result kept for retries of the key: the turn's result with the waits as the store holds them. */
function storedResult(r: TurnResult, waits: TurnResult['waits']): TurnResult {
  const out: TurnResult = {
    turnId: r.turnId,
    output: r.output,
    version: r.version,
    seq: r.seq,
    status: r.status,
    waits,
  };
  if (r.migrated) out.migrated = r.migrated;
  return out;
}
