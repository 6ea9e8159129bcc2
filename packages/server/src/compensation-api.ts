/**
 * Compensation endpoints (admin scope). Both check every effect named before anything changes
 * (a rejected request changes nothing), and both are resumable: each effect's state says where
 * a run cut short stands, and a new call continues from it.
 *
 *   POST /v1/rollouts/{id}/compensate   {dryRun = true, effects?: ids, note?, by?}
 *     the candidate's committed effects (or those named): a dry run lists what would run, on which
 *     version, and what cannot be compensated; a real run runs them one after another.
 *   POST /v1/effects/{id}/compensate    {dryRun = true} | {skip: {by, reason}}
 *     one effect: plan it, run it, or mark it not-compensable by hand (who and why).
 */
import type { FastifyInstance } from 'fastify';
import {
  BatonError,
  compensateEffectBodySchema,
  type EffectRecord,
  type RolloutDecisionInput,
} from '@baton/core';
import {
  compensateAll,
  planOne,
  runOne,
  runnerOf,
  startable,
  type CompensationOutcome,
  type CompensationTotals,
} from './compensation';
import type { ServerContext } from './context';
import { committedEffects } from './rollout/ops';
import { parse } from './validation';
import { traceDecisions } from './tracing/spans';

/** An effect that cannot be compensated as asked: not committed, or nobody declares its compensation. */
async function checkCompensable(ctx: ServerContext, e: EffectRecord): Promise<void> {
  if (e.status !== 'committed')
    throw new BatonError(
      'EFFECT_NOT_COMPENSABLE',
      `effect ${e.id} is ${e.status}, not committed: nothing to compensate`,
      {
        effectId: e.id,
        status: e.status,
      },
    );
  if (e.compensation === null) return;
  const who = await runnerOf(ctx, e);
  if (who.version === null && !who.declared)
    throw new BatonError('COMPENSATION_UNDECLARED', `effect ${e.id}: ${who.reason}`, {
      effectId: e.id,
      compensation: e.compensation,
    });
}

export interface RolloutCompensation {
  rolloutId: string;
  dryRun: boolean;
  totals: CompensationTotals;
  effects: CompensationOutcome[];
}

/** The compensations of a rollout's candidate's committed effects (all, or those named in `effects`). */
export async function compensateRollout(
  ctx: ServerContext,
  id: string,
  opts: {
    dryRun: boolean;
    effects?: string[];
    /** Only effects of these sessions (the automatic run after an abort). */
    sessions?: ReadonlySet<string>;
    /** Only effects of these names. */
    names?: ReadonlySet<string>;
    note?: string;
    by?: string;
    decide?: boolean;
  },
): Promise<RolloutCompensation> {
  const rec = await ctx.store.getRollout(id);
  let effects: EffectRecord[];
  if (opts.effects) {
    effects = [];
    for (const eid of [...new Set(opts.effects)]) {
      const e = await ctx.store.getEffectById(eid);
      if (e.agent !== rec.agent || e.version !== rec.to || e.compensates)
        throw new BatonError(
          'VALIDATION',
          `effects: ${eid} is not an effect of ${rec.agent}@${rec.to}'s turns`,
          {
            path: 'effects',
            effectId: eid,
          },
        );
      await checkCompensable(ctx, e);
      effects.push(e);
    }
  } else {
    effects = await committedEffects(ctx.store, rec.agent, rec.to);
  }
  if (opts.sessions) effects = effects.filter((e) => opts.sessions!.has(e.sessionId));
  if (opts.names) effects = effects.filter((e) => opts.names!.has(e.name));
  const out = await compensateAll(ctx, effects, { dryRun: opts.dryRun });
  if (!opts.dryRun && opts.decide !== false) {
    const t = out.totals;
    const decision: RolloutDecisionInput = {
      kind: 'compensations-ran',
      message:
        `${t.ran} compensation(s) of ${rec.to}'s effects ran: ${t.compensated} compensated, ${t.failed} failed; ` +
        `${t.pending} pending (no version can run them), ${t.notCompensable} not compensable`,
      evidence: { totals: t, note: opts.note ?? null, by: opts.by ?? null },
    };
    await ctx.store.appendDecision(id, decision);
    traceDecisions(rec, [decision]);
  }
  return { rolloutId: id, ...out };
}

export function registerCompensationRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const admin = async (req: { headers: { authorization?: string } }): Promise<void> => {
    ctx.auth.require(req.headers.authorization, 'admin');
  };
  app.post<{ Params: { id: string } }>('/v1/effects/:id/compensate', { onRequest: admin }, async (req) => {
    const b = parse(compensateEffectBodySchema, req.body ?? {});
    const e = await ctx.store.getEffectById(req.params.id);
    if (b.skip) {
      const effect = await ctx.store.skipCompensation(e.id, b.skip.by, b.skip.reason);
      ctx.log.info({ effectId: e.id, by: b.skip.by }, 'compensation skipped by an operator');
      return { effect };
    }
    await checkCompensable(ctx, e);
    if (!startable(e, ctx.clock.now()))
      throw new BatonError(
        e.compensationState === 'running' ? 'CONFLICT' : 'EFFECT_NOT_COMPENSABLE',
        `effect ${e.id}: its compensation is ${e.compensationState}${e.compensationReason ? ` (${e.compensationReason})` : ''}`,
        { effectId: e.id, compensationState: e.compensationState },
      );
    const outcome = b.dryRun ? await planOne(ctx, e) : await runOne(ctx, e);
    return { dryRun: b.dryRun, outcome, effect: await ctx.store.getEffectById(e.id) };
  });
}
