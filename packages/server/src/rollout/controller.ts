/**
 * The rollout controller: a reconcile loop that feeds the state machine (`machine.ts`) with
 * ticks and with the results of the actions it performs (`ops.ts`). Rollout state and the
 * append-only decision log live in the store and are updated with compare-and-set on `rev`
 * (state first, then actions), so a controller killed at any point resumes the same rollout
 * where it was: every action is idempotent and a tick re-emits whatever is still pending.
 *
 * One controller leads (a lock in the store, renewed every tick); the others stand by.
 * The leader also fires the deadlines of pending waits.
 */
import { BatonError, SessionBusyError, type GateEvaluator, type RolloutRecord } from '@baton/core';
import type { Store } from '@baton/store';
import { evaluateGate } from '../analysis';
import type { ServerContext } from '../context';
import { autoCompensate } from './auto-compensate';
import { CONTROLLER_LOCK_NAME, leadership, type Leadership, type LeadershipOptions } from './leadership';
import {
  fromPersisted,
  toPersisted,
  transition,
  type Action,
  type RolloutEvent,
  type RolloutState,
  type TransitionResult,
} from './machine';
import { rolloutMetrics, type RolloutMetrics } from './metrics';
import {
  applyRoute,
  buildAbortReport,
  eagerBatch,
  evaluateGates,
  mapLimit,
  observeDrain,
  positionsOf,
  runPreflight,
  type OpsContext,
} from './ops';
import { validateSpec } from './spec';
import { emptyShadow, runShadow, shadowEvidence } from '../shadow/run';
import { traceDecisions } from '../tracing/spans';

export const CONTROLLER_LOCK = CONTROLLER_LOCK_NAME;

/** Largest abort report kept inline in the decision log (the full report is served by the API). */
const REPORT_INLINE_EFFECTS = 500;

export interface ControllerOptions extends LeadershipOptions {
  /** Time between two reconcile passes (default 1 s). */
  intervalMs?: number;
  /** The gate evaluator (default: the statistical judge of `analysis`). */
  evaluate?: GateEvaluator;
  /** Migrations in flight at once during an eager batch (default 8). */
  eagerConcurrency?: number;
  /** Time one pass may spend on eager batches (default: intervalMs, at least 250 ms). */
  eagerBudgetMs?: number;
  /** A session whose eager migration failed is retried after this long (default 60 s). */
  failureBackoffMs?: number;
  /** Due waits fired per pass (default 200). */
  waitsPerPass?: number;
  /** How often the sessions of an active rollout's agent are counted by version and status, for its chart (default 5 s). */
  sampleIntervalMs?: number;
  onError?: (e: unknown, what: string) => void;
}

export interface LoadedRollout {
  rec: RolloutRecord;
  state: RolloutState;
}

export function loadState(rec: RolloutRecord): RolloutState {
  return fromPersisted(validateSpec(rec.spec, { stored: true }), rec.state);
}

export async function loadRollout(store: Store, id: string): Promise<LoadedRollout> {
  const rec = await store.getRollout(id);
  return { rec, state: loadState(rec) };
}

/** Persist a transition (CAS on rev). Returns the new record; unchanged when nothing changed. */
export async function commitTransition(
  store: Store,
  cur: LoadedRollout,
  r: TransitionResult,
): Promise<LoadedRollout> {
  const before = JSON.stringify(toPersisted(cur.state));
  const after = JSON.stringify(toPersisted(r.state));
  if (before === after && r.decisions.length === 0) return cur;
  const rec = await store.updateRollout(
    cur.rec.id,
    cur.rec.rev,
    { phase: r.state.phase, step: Math.max(0, r.state.step), state: toPersisted(r.state) },
    r.decisions,
  );
  traceDecisions({ id: rec.id, agent: rec.agent, phase: r.state.phase, step: r.state.step }, r.decisions);
  return { rec, state: r.state };
}

/**
 * Apply one event to a stored rollout, retrying on concurrent updates. Commands that the
 * current phase does not allow throw ROLLOUT_STATE and change nothing.
 */
export async function applyEvent(
  store: Store,
  id: string,
  event: RolloutEvent,
  now: () => number,
): Promise<{ loaded: LoadedRollout; result: TransitionResult }> {
  for (let attempt = 0; ; attempt++) {
    const cur = await loadRollout(store, id);
    const result = transition(cur.state, event, now());
    if (result.rejected)
      throw new BatonError('ROLLOUT_STATE', result.rejected.message, {
        rolloutId: id,
        phase: cur.state.phase,
      });
    try {
      const loaded = await commitTransition(store, cur, result);
      return { loaded, result };
    } catch (e) {
      if (e instanceof BatonError && e.code === 'CONFLICT' && attempt < 10) continue;
      throw e;
    }
  }
}

export class RolloutController {
  /** The controller lock: who holds it, since when, renewals (see leadership.ts). */
  readonly leadership: Leadership;
  private readonly intervalMs: number;
  private readonly evaluate: GateEvaluator;
  private readonly eagerConcurrency: number;
  private readonly eagerBudgetMs: number;
  private readonly failureBackoffMs: number;
  private readonly waitsPerPass: number;
  private readonly sampleIntervalMs: number;
  /** Rollout id → when this controller last sampled its sessions. */
  private readonly sampled = new Map<string, number>();
  private readonly metrics: RolloutMetrics;
  /** Sessions whose eager migration failed, per rollout: retried after a backoff. */
  private readonly failed = new Map<string, Map<string, { reason: string; until: number }>>();
  /** Where the previous eager scan stopped, per rollout (scans resume after it, then wrap around). */
  private readonly cursors = new Map<string, string | null>();
  private stopped = true;
  /** Set by `stop()`: passes in flight wind down early. */
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private passing: Promise<void> | null = null;

  constructor(
    private readonly ctx: ServerContext,
    private readonly opts: ControllerOptions = {},
  ) {
    this.leadership = leadership(ctx, opts);
    this.intervalMs = opts.intervalMs ?? 1000;
    this.sampleIntervalMs = opts.sampleIntervalMs ?? 5000;
    this.evaluate = opts.evaluate ?? evaluateGate;
    this.eagerConcurrency = opts.eagerConcurrency ?? 8;
    this.eagerBudgetMs = opts.eagerBudgetMs ?? Math.max(250, this.intervalMs);
    this.failureBackoffMs = opts.failureBackoffMs ?? 60_000;
    this.waitsPerPass = opts.waitsPerPass ?? 200;
    this.metrics = rolloutMetrics(ctx.metrics.registry, ctx.store);
  }

  get owner(): string {
    return this.leadership.owner;
  }

  get isLeader(): boolean {
    return this.leadership.isLeader;
  }

  private get leader(): boolean {
    return this.leadership.isLeader;
  }

  get running(): boolean {
    return !this.stopped;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopping = false;
    this.leadership.startHeartbeat();
    this.loop = this.run();
  }

  /** Stop after the pass in flight, and give up leadership. */
  async stop(): Promise<void> {
    if (this.stopped) {
      // passes driven by hand (without start) still release the lock
      await this.passing?.catch(() => undefined);
      await this.leadership.release();
      return;
    }
    this.stopped = true;
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = null;
    await this.leadership.release();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await this.pass().catch((e: unknown) => this.error(e, 'reconcile pass'));
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.ctx.clock.sleep(this.intervalMs).then(resolve, resolve);
      });
      this.wake = null;
    }
  }

  /** One reconcile pass: take (or renew) the leader lock, fire due waits, reconcile active rollouts. */
  pass(): Promise<void> {
    if (this.passing) return this.passing;
    this.passing = this.doPass().finally(() => {
      this.passing = null;
    });
    return this.passing;
  }

  private renew(): Promise<boolean> {
    return this.leadership.renew();
  }

  private async doPass(): Promise<void> {
    if (!(await this.renew())) return;
    await this.fireWaits().catch((e: unknown) => this.error(e, 'firing wait deadlines'));
    const all = await this.ctx.store.listRollouts();
    for (const rec of all) {
      if (this.stopping || !this.leader) return;
      const stage = (rec.state as { stage?: string } | null)?.stage;
      if (stage === 'done') continue;
      await this.reconcile(rec.id).catch((e: unknown) => {
        if (e instanceof BatonError && e.code === 'CONFLICT') return; // someone else moved it; next pass
        this.error(e, `rollout ${rec.id}`);
      });
      await this.sample(rec).catch((e: unknown) => this.error(e, `sampling rollout ${rec.id}`));
    }
  }

  /** Record the agent's sessions by version and status, at most once per sample interval. */
  private async sample(rec: RolloutRecord): Promise<void> {
    const now = this.ctx.clock.now();
    const last = this.sampled.get(rec.id);
    if (last !== undefined && now - last < this.sampleIntervalMs) return;
    this.sampled.set(rec.id, now);
    const counts = await this.ctx.store.countSessions({ agent: rec.agent });
    await this.ctx.store.appendSessionSample({ rolloutId: rec.id, at: now, counts });
  }

  /** Fire the `timeout` turn of every pending wait whose deadline passed. */
  private async fireWaits(): Promise<number> {
    const due = await this.ctx.store.listWaits({
      status: 'pending',
      dueBefore: this.ctx.clock.now(),
      limit: this.waitsPerPass,
    });
    let fired = 0;
    await mapLimit(due, 4, async (w) => {
      try {
        if (await this.ctx.waitExpiry.expireWait(w.token)) fired++;
      } catch (e) {
        if (e instanceof SessionBusyError) return; // a turn is in flight; next pass
        if (e instanceof BatonError && (e.code === 'WAIT_RESOLVED' || e.code === 'SESSION_CLOSED')) return;
        this.error(e, `wait ${w.token}`);
      }
    });
    return fired;
  }

  /** Reconcile one rollout: tick, perform the actions, feed their results back, until quiet. */
  async reconcile(id: string): Promise<void> {
    let cur = await loadRollout(this.ctx.store, id);
    const queue: RolloutEvent[] = [{ type: 'tick' }];
    for (let n = 0; queue.length > 0 && n < 64; n++) {
      if (this.stopping && n > 0) return;
      const ev = queue.shift()!;
      const r = transition(cur.state, ev, this.ctx.clock.now());
      if (r.rejected) continue;
      const lookedAt = cur.state.lastEvalAt;
      cur = await commitTransition(this.ctx.store, cur, r);
      // every look at the gates counts its verdicts (not only the looks that record a decision)
      if (ev.type === 'gates-evaluated' && cur.state.lastEvalAt !== lookedAt)
        this.metrics.countVerdicts(id, cur.state.lastVerdicts?.results ?? []);
      for (const a of r.actions) {
        if (!this.leader) return;
        const evs = await this.perform(cur, a);
        queue.push(...evs);
      }
    }
  }

  private ops(): OpsContext {
    return this.ctx;
  }

  private failedFor(id: string): Map<string, { reason: string; until: number }> {
    let m = this.failed.get(id);
    if (!m) this.failed.set(id, (m = new Map()));
    return m;
  }

  private async perform(cur: LoadedRollout, a: Action): Promise<RolloutEvent[]> {
    const { rec, state } = cur;
    const ctx = this.ops();
    switch (a.type) {
      case 'set-route':
        await applyRoute(ctx.store, rec.id, a.route);
        return [];
      case 'run-preflight': {
        const result = await runPreflight(ctx, {
          agent: state.agent,
          from: state.blue,
          to: state.green,
          sample: a.sample,
          rolloutId: rec.id,
        });
        return [{ type: 'preflight-result', result }];
      }
      case 'run-shadow': {
        const spec = state.spec.shadow;
        if (!spec) return [];
        const runId = `${rec.id}.${a.beforeStep}`;
        let r;
        try {
          r = await runShadow(this.ctx, {
            agent: state.agent,
            blue: state.blue,
            green: state.green,
            spec,
            runId,
            beforeStep: a.beforeStep,
          });
        } catch (e) {
          // green's workers cannot run shadow turns: no verdict (onNoData decides), never a trusted run
          if (!(e instanceof BatonError && e.code === 'SHADOW_UNSUPPORTED')) throw e;
          const summary = { ...emptyShadow(a.beforeStep), verdict: 'nodata' as const };
          return [
            {
              type: 'shadow-result',
              beforeStep: a.beforeStep,
              summary,
              evidence: { runId, error: e.message, code: e.code },
            },
          ];
        }
        return [
          {
            type: 'shadow-result',
            beforeStep: a.beforeStep,
            summary: r.summary,
            evidence: shadowEvidence(runId, r),
          },
        ];
      }
      case 'eager-migrate': {
        const failed = this.failedFor(rec.id);
        const started = Date.now();
        let migrated = 0;
        let nFailed = 0;
        const failures: Array<{ sessionId: string; reason: string }> = [];
        let after = this.cursors.get(rec.id) ?? null;
        let wrapped = after === null;
        for (;;) {
          const now = ctx.clock.now();
          const res = await eagerBatch(ctx, {
            agent: state.agent,
            rolloutId: rec.id,
            from: a.from,
            to: a.to,
            percent: a.percent,
            policy: a.policy,
            maxAgeMs: a.maxAgeMs,
            deadlinePassed: a.deadlinePassed,
            batch: a.batch,
            concurrency: this.eagerConcurrency,
            skip: (sid) => (failed.get(sid)?.until ?? 0) > now,
            after,
          });
          after = res.next;
          this.cursors.set(rec.id, after);
          migrated += res.migrated;
          nFailed += res.failed;
          for (const f of res.failures) {
            failed.set(f.sessionId, { reason: f.reason, until: now + this.failureBackoffMs });
            failures.push(f);
          }
          this.metrics.eager.labels(state.agent, a.from, a.to, 'ok').inc(res.migrated);
          this.metrics.eager.labels(state.agent, a.from, a.to, 'failed').inc(res.failed);
          if (!res.more) {
            if (wrapped) break;
            wrapped = true; // the scan started mid-way: go round once more from the start
            continue;
          }
          if (this.stopping || Date.now() - started >= this.eagerBudgetMs) break;
          if (!(await this.renew())) break;
        }
        return migrated + nFailed > 0 ? [{ type: 'eager-result', migrated, failed: nFailed, failures }] : [];
      }
      case 'evaluate-gates': {
        const run = await evaluateGates(ctx, {
          agent: state.agent,
          blue: state.blue,
          green: state.green,
          windowStart: a.windowStart,
          windowEnd: a.windowEnd,
          gates: state.spec.gates,
          evaluate: this.evaluate,
        });
        return [{ type: 'gates-evaluated', step: a.step, ...run }];
      }
      case 'observe-drain': {
        const failedMap = this.failedFor(rec.id);
        const failedList = [...failedMap.entries()].map(([sessionId, f]) => ({
          sessionId,
          reason: f.reason,
        }));
        const snapshot = await observeDrain(ctx, state.agent, a.origin, failedList);
        // forget failures of sessions that left the origin since
        if (failedMap.size > 0) {
          for (const sid of [...failedMap.keys()]) {
            const s = await ctx.store.getSession(sid).catch(() => null);
            if (!s || s.version !== a.origin) failedMap.delete(sid);
          }
        }
        return [{ type: 'drain-progress', snapshot }];
      }
      case 'mark-stuck':
        this.ctx.log.warn(
          { rolloutId: rec.id, sessions: a.sessionIds },
          'drain deadline: sessions stuck on the origin version',
        );
        return [];
      case 'auto-compensate':
        return autoCompensate(this.ctx, rec.id, state);
      case 'compensation-report': {
        // turns in flight on green when the abort came may still commit effects: wait for them
        // (at most one turn timeout), so the report lists every effect green committed
        const busy = await positionsOf(ctx, state.agent, state.green);
        const inFlight = busy.running + busy.migrating;
        const waited = ctx.clock.now() - (state.abort?.at ?? 0);
        if (inFlight > 0 && waited < ctx.limits.turnTimeoutMs + ctx.limits.leaseMarginMs) return [];
        const full = await buildAbortReport(ctx, {
          agent: state.agent,
          version: state.green,
          rolloutId: rec.id,
        });
        const report = { ...full, inFlightAtReport: inFlight };
        const inline =
          report.effects.length > REPORT_INLINE_EFFECTS
            ? { ...report, effects: report.effects.slice(0, REPORT_INLINE_EFFECTS), truncated: true }
            : report;
        return [{ type: 'compensation-report', report: inline }];
      }
    }
  }

  private error(e: unknown, what: string): void {
    if (this.opts.onError) this.opts.onError(e, what);
    else this.ctx.log.error({ err: e }, `rollout controller: ${what}`);
  }
}
