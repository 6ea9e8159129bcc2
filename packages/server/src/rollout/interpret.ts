/**
 * The one interpreter of the rollout machine's actions (`machine.ts` returns them as data): each
 * action is performed against the store and the workers, idempotently (`ops.ts`), and answered
 * with the events that feed its result back into the machine. The controller's reconcile loop
 * runs every action through it; a server that commits a transition itself (the rollout API, on
 * any server of the fleet, leader or not) runs the actions it must take at once through it too.
 */
import { BatonError, type GateEvaluator } from '@baton/core';
import { evaluateGate } from '../analysis';
import type { ServerContext } from '../context';
import { emptyShadow, runShadow, shadowEvidence } from '../shadow/run';
import { autoCompensate } from './auto-compensate';
import type { LoadedRollout } from './persist';
import type { Action, RolloutEvent } from './machine';
import { rolloutMetrics, type RolloutMetrics } from './metrics';
import {
  applyRoute,
  buildAbortReport,
  eagerBatch,
  evaluateGates,
  observeDrain,
  positionsOf,
  runPreflight,
} from './ops';

/** Largest abort report kept inline in the decision log (the full report is served by the API). */
const REPORT_INLINE_EFFECTS = 500;

/**
 * Actions a server performs as soon as it commits a transition, whether it leads or not: cheap and
 * idempotent. The others (pre-flight, shadow runs, eager batches, gates, drain observation,
 * reports, compensations) are the leader's work: its next tick emits them again from the state.
 */
export const AT_ONCE_ACTIONS: ReadonlySet<Action['type']> = new Set<Action['type']>([
  'set-route',
  'mark-stuck',
]);

export interface InterpreterOptions {
  /** The gate evaluator (default: the statistical judge of `analysis`). */
  evaluate?: GateEvaluator;
  /** Migrations in flight at once during an eager batch (default 8). */
  eagerConcurrency?: number;
  /** Time one pass may spend on eager batches (default 1 s). */
  eagerBudgetMs?: number;
  /** A session whose eager migration failed is retried after this long (default 60 s). */
  failureBackoffMs?: number;
}

/** What the running loop lends the interpreter: leadership renewal and whether it is stopping. */
export interface InterpreterHooks {
  renew(): Promise<boolean>;
  stopping(): boolean;
}

const ALONE: InterpreterHooks = { renew: () => Promise.resolve(true), stopping: () => false };

export class RolloutInterpreter {
  private readonly opts: Required<InterpreterOptions>;
  private readonly metrics: RolloutMetrics;
  /** Sessions whose eager migration failed, per rollout: retried after a backoff. */
  private readonly failed = new Map<string, Map<string, { reason: string; until: number }>>();
  /** Where the previous eager scan stopped, per rollout (scans resume after it, then wrap around). */
  private readonly cursors = new Map<string, string | null>();

  constructor(
    private readonly ctx: ServerContext,
    opts: InterpreterOptions = {},
    private readonly hooks: InterpreterHooks = ALONE,
  ) {
    this.opts = {
      evaluate: opts.evaluate ?? evaluateGate,
      eagerConcurrency: opts.eagerConcurrency ?? 8,
      eagerBudgetMs: opts.eagerBudgetMs ?? 1000,
      failureBackoffMs: opts.failureBackoffMs ?? 60_000,
    };
    this.metrics = rolloutMetrics(ctx.metrics.registry, ctx.store);
  }

  /** Perform the actions of a committed transition that are due at once (`AT_ONCE_ACTIONS`), in order. */
  async performAtOnce(cur: LoadedRollout, actions: readonly Action[]): Promise<void> {
    for (const a of actions) if (AT_ONCE_ACTIONS.has(a.type)) await this.perform(cur, a);
  }

  private failedFor(id: string): Map<string, { reason: string; until: number }> {
    let m = this.failed.get(id);
    if (!m) this.failed.set(id, (m = new Map()));
    return m;
  }

  async perform(cur: LoadedRollout, a: Action): Promise<RolloutEvent[]> {
    const { rec, state } = cur;
    const ctx = this.ctx;
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
            concurrency: this.opts.eagerConcurrency,
            skip: (sid) => (failed.get(sid)?.until ?? 0) > now,
            after,
          });
          after = res.next;
          this.cursors.set(rec.id, after);
          migrated += res.migrated;
          nFailed += res.failed;
          for (const f of res.failures) {
            failed.set(f.sessionId, { reason: f.reason, until: now + this.opts.failureBackoffMs });
            failures.push(f);
          }
          this.metrics.eager.labels(state.agent, a.from, a.to, 'ok').inc(res.migrated);
          this.metrics.eager.labels(state.agent, a.from, a.to, 'failed').inc(res.failed);
          if (!res.more) {
            if (wrapped) break;
            wrapped = true; // the scan started mid-way: go round once more from the start
            continue;
          }
          if (this.hooks.stopping() || Date.now() - started >= this.opts.eagerBudgetMs) break;
          if (!(await this.hooks.renew())) break;
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
          evaluate: this.opts.evaluate,
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
}

const shared = new WeakMap<ServerContext, RolloutInterpreter>();

/** The interpreter a server uses outside the controller's loop (the rollout API), one per server. */
export function interpreterFor(ctx: ServerContext): RolloutInterpreter {
  let i = shared.get(ctx);
  if (!i) shared.set(ctx, (i = new RolloutInterpreter(ctx)));
  return i;
}
