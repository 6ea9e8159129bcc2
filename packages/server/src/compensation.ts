/**
 * Running compensations (invariant 9: recorded as done only after one ran and returned, at most
 * once per effect across retries and crashes). For each committed effect that declares one:
 *
 * - who runs it: the version that recorded the effect while it has a healthy protocol-2 worker
 *   and declares the compensation; otherwise any registered version of the agent declaring the
 *   same name with such a worker (sessions migrated off a retired version keep their effects
 *   compensable); otherwise it stays `pending` with the reason;
 * - the run: claim the effect (`running`, held by a fresh owner until the compensation timeout
 *   plus the lease margin), give the worker a compensation capability naming the effect, the owner
 *   and the expiry, then record `compensated` with what it returned or `failed` with the error.
 *   A router that dies mid-run leaves `running` with an expiry: the next run after it takes over.
 */
import { BatonError, newId } from '@baton/core';
import type { CompensateResponse, CompensationState, EffectRecord } from '@baton/core';
import { compensationsOf, type ServerContext } from './context';
import { isTransportError } from './http-worker';
import { checkCompensateResponse } from './worker-response';

/** Who would run an effect's compensation, or why nobody can now. */
export type CompensationRunner =
  | { version: string; origin: boolean; reason: null }
  | { version: null; origin: false; reason: string; declared: boolean };

export interface CompensationOutcome {
  id: string;
  sessionId: string;
  name: string;
  compensation: string | null;
  /** The state after this call (for a dry run: the state now). */
  state: CompensationState;
  /** The version that ran it (or would run it, in a dry run). */
  version: string | null;
  /** What happens (dry run) or happened: `run`, `skip` (done, running elsewhere or not compensable), `hold` (nobody can run it). */
  action: 'run' | 'skip' | 'hold';
  reason: string | null;
  error: string | null;
  result: unknown;
}

export interface CompensationTotals {
  effects: number;
  /** Runs started by this call (or that a dry run would start). */
  ran: number;
  compensated: number;
  failed: number;
  /** Left pending: no version can run it now. */
  pending: number;
  notCompensable: number;
  /** Compensated, recorded by an operator, or running elsewhere already (nothing done). */
  skipped: number;
}

/** The compensation states a run may start from. */
export function startable(e: EffectRecord, now: number): boolean {
  if (e.status !== 'committed' || e.compensation === null) return false;
  if (e.compensationState === 'pending' || e.compensationState === 'failed') return true;
  return e.compensationState === 'running' && (e.compensationExpiresAt ?? 0) <= now;
}

function canRunCompensations(ctx: ServerContext, agent: string, version: string): boolean {
  return ctx.pool
    .entries()
    .some(
      (w) =>
        w.agent === agent &&
        w.version === version &&
        w.healthy &&
        w.protocol !== 1 &&
        typeof w.client.compensate === 'function',
    );
}

/** Who runs `e`'s compensation now: its own version, else another declaring the same name. */
export async function runnerOf(ctx: ServerContext, e: EffectRecord): Promise<CompensationRunner> {
  const name = e.compensation;
  if (name === null)
    return { version: null, origin: false, reason: 'no compensation declared', declared: false };
  const declaring = (await ctx.store.listVersions(e.agent)).filter((v) => compensationsOf(v).includes(name));
  const origin = declaring.find((v) => v.label === e.version);
  if (origin && canRunCompensations(ctx, e.agent, origin.label))
    return { version: origin.label, origin: true, reason: null };
  const other = declaring
    .filter((v) => v.label !== e.version)
    .sort((a, b) => b.createdAt - a.createdAt)
    .find((v) => canRunCompensations(ctx, e.agent, v.label));
  if (other) return { version: other.label, origin: false, reason: null };
  if (declaring.length === 0)
    return {
      version: null,
      origin: false,
      reason: `no registered version of ${e.agent} declares compensation ${name}`,
      declared: false,
    };
  return {
    version: null,
    origin: false,
    reason: `no healthy protocol-2 worker of ${declaring.map((v) => v.label).join(', ')} (the versions declaring ${name})`,
    declared: true,
  };
}

function outcome(
  e: EffectRecord,
  action: CompensationOutcome['action'],
  version: string | null,
  reason: string | null,
): CompensationOutcome {
  return {
    id: e.id,
    sessionId: e.sessionId,
    name: e.name,
    compensation: e.compensation,
    state: e.compensationState,
    version,
    action,
    reason,
    error: e.compensationError,
    result: e.compensationResult,
  };
}

/** Why an effect's compensation is not started (it is done, running elsewhere, or not compensable). */
function skipReason(e: EffectRecord): string {
  if (e.status !== 'committed') return `the effect is ${e.status}, not committed`;
  if (e.compensationState === 'running') return `running (${e.compensationOwner ?? 'another run'})`;
  return e.compensationReason ?? e.compensationState;
}

/** What a run of `e` would do now, without changing anything. */
export async function planOne(ctx: ServerContext, e: EffectRecord): Promise<CompensationOutcome> {
  if (!startable(e, ctx.clock.now())) return outcome(e, 'skip', e.compensationVersion, skipReason(e));
  const who = await runnerOf(ctx, e);
  return who.version === null ? outcome(e, 'hold', null, who.reason) : outcome(e, 'run', who.version, null);
}

function describe(err: unknown): string {
  if (err instanceof BatonError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Run `e`'s compensation once (or record why nobody can). Never throws for the run's own failure:
 * that is the `failed` state, with its error.
 */
export async function runOne(ctx: ServerContext, e: EffectRecord): Promise<CompensationOutcome> {
  if (!startable(e, ctx.clock.now())) return outcome(e, 'skip', e.compensationVersion, skipReason(e));
  const who = await runnerOf(ctx, e);
  if (who.version === null) {
    const held = await ctx.store.holdCompensation(e.id, who.reason);
    return outcome(held, 'hold', null, who.reason);
  }
  const owner = `${ctx.instanceId}/${newId('crun', ctx.clock.now())}`;
  const holdMs = ctx.limits.compensateTimeoutMs + ctx.limits.leaseMarginMs;
  let claimed: EffectRecord;
  try {
    claimed = await ctx.store.claimCompensation(e.id, { owner, version: who.version, ttlMs: holdMs });
  } catch (err) {
    // another run took it (or finished it) since we read it
    if (err instanceof BatonError && (err.code === 'CONFLICT' || err.code === 'EFFECT_NOT_COMPENSABLE')) {
      const now = await ctx.store.getEffectById(e.id);
      return outcome(now, 'skip', now.compensationVersion, skipReason(now));
    }
    throw err;
  }
  const res = await callWorker(ctx, claimed, who.version, owner, holdMs);
  const done = await ctx.store
    .finishCompensation(
      e.id,
      owner,
      res.ok
        ? { ok: true, result: res.result }
        : { ok: false, error: `${res.error.code}: ${res.error.message}` },
    )
    .catch(async (err: unknown) => {
      // the hold expired and another run took it over: that run's outcome stands
      if (err instanceof BatonError && err.code === 'CONFLICT') return null;
      throw err;
    });
  if (done === null) {
    const now = await ctx.store.getEffectById(e.id);
    return outcome(now, 'run', who.version, 'the run outlived its hold; another run took it over');
  }
  ctx.log.info(
    { effectId: e.id, compensation: e.compensation, version: who.version, state: done.compensationState },
    'compensation ran',
  );
  return outcome(done, 'run', who.version, null);
}

async function callWorker(
  ctx: ServerContext,
  e: EffectRecord,
  version: string,
  owner: string,
  holdMs: number,
): Promise<CompensateResponse> {
  let entry;
  try {
    entry = ctx.pool.pick(e.agent, version);
  } catch (err) {
    return { ok: false, error: { code: 'NO_WORKER', message: describe(err) } };
  }
  if (typeof entry.client.compensate !== 'function')
    return {
      ok: false,
      error: { code: 'WORKER_ERROR', message: `worker ${entry.id} runs no compensations` },
    };
  entry.outstanding++;
  try {
    const capability = await ctx.capabilities.issueCompensation(e, owner, holdMs);
    const answer = await entry.client.compensate({
      protocol: 2,
      session: { id: e.sessionId, agent: e.agent, version },
      effect: {
        id: e.id,
        idempotencyKey: e.idempotencyKey,
        name: e.name,
        version: e.version,
        turnId: e.turnId,
        args: e.args,
        result: e.result,
      },
      compensation: e.compensation!,
      deadline: ctx.clock.now() + ctx.limits.compensateTimeoutMs,
      capability,
    });
    checkCompensateResponse(answer, entry.id);
    return answer;
  } catch (err) {
    if (isTransportError(err)) ctx.pool.markUnhealthy(entry);
    const code = err instanceof BatonError ? err.code : 'WORKER_ERROR';
    return { ok: false, error: { code, message: err instanceof Error ? err.message : String(err) } };
  } finally {
    entry.outstanding--;
  }
}

/** Totals over outcomes. */
export function totalsOf(items: CompensationOutcome[], dryRun: boolean): CompensationTotals {
  const t: CompensationTotals = {
    effects: items.length,
    ran: 0,
    compensated: 0,
    failed: 0,
    pending: 0,
    notCompensable: 0,
    skipped: 0,
  };
  for (const o of items) {
    if (o.action === 'run') t.ran++;
    if (o.action === 'hold') t.pending++;
    if (o.state === 'not-compensable') t.notCompensable++;
    else if (o.action === 'skip') t.skipped++;
    if (!dryRun && o.action === 'run') {
      if (o.state === 'compensated') t.compensated++;
      if (o.state === 'failed') t.failed++;
    }
  }
  return t;
}

/** Plan (dry run) or run the compensations of `effects`, one after another, reporting each as it ends. */
export async function compensateAll(
  ctx: ServerContext,
  effects: EffectRecord[],
  opts: { dryRun: boolean; onOutcome?: (o: CompensationOutcome) => void },
): Promise<{ dryRun: boolean; totals: CompensationTotals; effects: CompensationOutcome[] }> {
  const items: CompensationOutcome[] = [];
  for (const e of effects) {
    const o = opts.dryRun ? await planOne(ctx, e) : await runOne(ctx, e);
    items.push(o);
    opts.onOutcome?.(o);
  }
  return { dryRun: opts.dryRun, totals: totalsOf(items, opts.dryRun), effects: items };
}
