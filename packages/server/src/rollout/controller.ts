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
import { evaluateGate } from '../analysis';
import type { ServerContext } from '../context';
import { RolloutInterpreter } from './interpret';
import { CONTROLLER_LOCK_NAME, leadership, type Leadership, type LeadershipOptions } from './leadership';
import { transition, type Action, type RolloutEvent } from './machine';
import { rolloutMetrics, type RolloutMetrics } from './metrics';
import { mapLimit } from './ops';
import { commitTransition, loadRollout, type LoadedRollout } from './persist';

export { applyEvent, commitTransition, loadRollout, loadState, type LoadedRollout } from './persist';

export const CONTROLLER_LOCK = CONTROLLER_LOCK_NAME;

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

export class RolloutController {
  /** The controller lock: who holds it, since when, renewals (see leadership.ts). */
  readonly leadership: Leadership;
  private readonly intervalMs: number;
  /** Performs the machine's actions (interpret.ts). */
  private readonly interpreter: RolloutInterpreter;
  private readonly waitsPerPass: number;
  private readonly sampleIntervalMs: number;
  /** Rollout id → when this controller last sampled its sessions. */
  private readonly sampled = new Map<string, number>();
  private readonly metrics: RolloutMetrics;
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
    this.interpreter = new RolloutInterpreter(
      ctx,
      {
        evaluate: opts.evaluate ?? evaluateGate,
        eagerConcurrency: opts.eagerConcurrency ?? 8,
        eagerBudgetMs: opts.eagerBudgetMs ?? Math.max(250, this.intervalMs),
        failureBackoffMs: opts.failureBackoffMs ?? 60_000,
      },
      { renew: () => this.renew(), stopping: () => this.stopping },
    );
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

  private perform(cur: LoadedRollout, a: Action): Promise<RolloutEvent[]> {
    return this.interpreter.perform(cur, a);
  }

  private error(e: unknown, what: string): void {
    if (this.opts.onError) this.opts.onError(e, what);
    else this.ctx.log.error({ err: e }, `rollout controller: ${what}`);
  }
}
