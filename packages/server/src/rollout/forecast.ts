/**
 * The drain forecast at the rollout API: forecast a spec before anything is created (timing the
 * pre-flight dry-run when no rollout has measured an eager rate yet), the forecast stored with a
 * created rollout (its `forecast` decision), and the re-forecast from what is left while a drain
 * runs, next to the actual progress.
 */
import { decisionIs, type Decision, type DecisionKind } from '@baton/core';
import { forecastDrain, type DrainForecast, type ForecastStart, type Quantiles } from '../analysis/forecast';
import type { ServerContext } from '../context';
import { gatherForecastInput, measuredEagerRate } from './forecast-input';
import type { RolloutState } from './machine';
import { runPreflight } from './ops';
import type { RolloutSpec } from './spec';

/** `1h 4m`, `12m 5s`, `3.2s`, `250ms`. */
export function humanMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  const parts: string[] = [];
  const d = Math.floor(ms / 86_400_000);
  const h = Math.floor((ms % 86_400_000) / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const sec = Math.round((ms % 60_000) / 1000);
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m && !d) parts.push(`${m}m`);
  if (sec && !d && !h) parts.push(`${sec}s`);
  return parts.join(' ') || '0s';
}

export const FORECAST_DECISION: DecisionKind = 'forecast';
/** Simulated runs of a forecast, and of a re-forecast (cheaper: the status is polled). */
export const FORECAST_RUNS = 200;
export const REFORECAST_RUNS = 100;

export interface ForecastContext {
  store: ServerContext['store'];
  clock: ServerContext['clock'];
}

/** Pre-flight timing: checkpoints dry-run per ms of the clock (at least 1 ms). */
export function preflightRate(checked: number, elapsedMs: number): number | null {
  return checked > 0 ? checked / Math.max(1, elapsedMs) : null;
}

/** Forecast a rollout of `spec` from `blue` (nothing is created). */
export async function forecastSpec(
  ctx: ForecastContext,
  spec: RolloutSpec,
  blue: string,
  opts: {
    preflightRatePerMs?: number | null;
    start?: ForecastStart;
    runs?: number;
    seed?: number;
    passMs?: number;
  } = {},
): Promise<DrainForecast> {
  const input = await gatherForecastInput(ctx, {
    agent: spec.agent,
    blue,
    spec,
    start: opts.start ?? { kind: 'before' },
    preflightRatePerMs: opts.preflightRatePerMs ?? null,
    ...(opts.passMs !== undefined ? { passMs: opts.passMs } : {}),
  });
  return forecastDrain(input, { runs: opts.runs ?? FORECAST_RUNS, seed: opts.seed ?? 1 });
}

/**
 * The eager rate for a forecast: measured by an earlier rollout of the agent or, before any has
 * recorded one, by timing the pre-flight dry-run over the live blue checkpoints.
 */
export async function eagerRateFor(
  ctx: Parameters<typeof runPreflight>[0],
  spec: RolloutSpec,
  blue: string,
  green: string,
): Promise<number | null> {
  if ((await measuredEagerRate(ctx.store, spec.agent)) !== null) return null; // the gatherer reads it
  const t0 = ctx.clock.now();
  const p = await runPreflight(ctx, {
    agent: spec.agent,
    from: blue,
    to: green,
    sample: spec.preflight.sample,
  });
  return preflightRate(p.checked, ctx.clock.now() - t0);
}

function fmtQ(q: Quantiles): string {
  if (q.unbounded?.p50) return q.unbounded.message;
  const p50 = q.p50 === null ? '?' : humanMs(q.p50);
  const p90 = q.unbounded?.p90
    ? `unbounded (${q.unbounded.sessions} session(s) never leave)`
    : q.p90 === null
      ? '?'
      : humanMs(q.p90);
  return `${p50} (p90 ${p90})`;
}

/** One line for the decision log. */
export function forecastMessage(f: DrainForecast): string {
  const s = f.sessions;
  const n = (q: Quantiles) => (q.p50 === null ? '?' : String(q.p50));
  return (
    `forecast${f.confidence === 'low' ? ' (low confidence)' : ''}: steps ${fmtQ(f.steps)}, drain ${fmtQ(f.drain)}; ` +
    `of ${f.openOnBlue} open on blue (+${n(s.newOnBlue)} new): ${n(s.finishOnBlue)} finish on blue, ` +
    `${n(s.migrateLazily)} migrate lazily, ${n(s.migrateEagerly)} eagerly, ${n(s.stragglers)} still on blue at the deadline`
  );
}

/** The forecast stored with a rollout (its `forecast` decision), or null. */
export async function storedForecast(ctx: ForecastContext, rolloutId: string): Promise<DrainForecast | null> {
  const ds: Decision[] = await ctx.store.listDecisions(rolloutId, { afterSeq: 0, limit: 10 });
  const d = ds.find((x) => decisionIs(x, FORECAST_DECISION));
  return d ? (d.evidence as DrainForecast) : null;
}

export interface ForecastView {
  /** The forecast made when the rollout was created. */
  initial: DrainForecast | null;
  /** A re-forecast from what is left, while the drain runs. */
  reforecast: DrainForecast | null;
  actual: {
    /** ms from creation to drain-started (null before). */
    stepsMs: number | null;
    /** ms since drain-started (to drain-complete once complete). */
    drainMs: number | null;
    drainComplete: boolean;
    total: number | null;
    remaining: number | null;
    migrated: number;
  };
}

/** The forecast part of the rollout status. */
export async function forecastView(
  ctx: ForecastContext,
  rec: { id: string; createdAt: number },
  s: RolloutState,
): Promise<ForecastView> {
  const initial = await storedForecast(ctx, rec.id);
  const d = s.drain;
  const now = ctx.clock.now();
  let reforecast: DrainForecast | null = null;
  if (d.startedAt !== null && d.completedAt === null && s.stage !== 'done' && s.phase !== 'aborted') {
    reforecast = await forecastSpec(ctx, s.spec, s.blue, {
      start: {
        kind: 'draining',
        startedAt: d.startedAt,
        migrate: s.migrate,
        promoted: s.phase === 'promoted',
      },
      runs: REFORECAST_RUNS,
    });
  }
  return {
    initial,
    reforecast,
    actual: {
      stepsMs: d.startedAt !== null ? d.startedAt - rec.createdAt : null,
      drainMs: d.startedAt !== null ? (d.completedAt ?? now) - d.startedAt : null,
      drainComplete: d.completedAt !== null,
      total: d.initial,
      remaining: d.snapshot?.remaining ?? null,
      migrated: s.migrations.done,
    },
  };
}
