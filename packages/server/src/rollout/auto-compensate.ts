/**
 * `onAbort: {compensate: auto}`: once the abort report is out (and, with `reverse`, every green
 * session moved back), compensate the candidate's committed effects of sessions that ended or
 * moved back to blue — never those of conversations green still serves — limited to the effect
 * names of `onAbort.effects` when given. A dry-run decision first (what will run, where, what
 * cannot), then the run; its outcome counts become the `compensations-ran` decision. Resumable: a
 * controller that dies mid-run leaves each effect in a state the next leader's run continues from.
 */
import type { RolloutDecisionInput } from '@baton/core';
import type { ServerContext } from '../context';
import { compensateRollout } from '../compensation-api';
import type { RolloutEvent, RolloutState } from './machine';
import { committedEffects } from './ops';
import { traceDecisions } from '../tracing/spans';

/** Sessions whose effects may be compensated: ended, or no longer on `green`. */
async function settledSessions(ctx: ServerContext, agent: string, green: string): Promise<Set<string>> {
  const out = new Set<string>();
  const seen = new Set<string>();
  for (const e of await committedEffects(ctx.store, agent, green)) {
    if (seen.has(e.sessionId)) continue;
    seen.add(e.sessionId);
    const s = await ctx.store.getSession(e.sessionId).catch(() => null);
    if (s && (s.status === 'completed' || s.status === 'failed' || s.version !== green)) out.add(s.id);
  }
  return out;
}

export async function autoCompensate(
  ctx: ServerContext,
  rolloutId: string,
  s: RolloutState,
): Promise<RolloutEvent[]> {
  const sessions = await settledSessions(ctx, s.agent, s.green);
  const names = s.spec.onAbort.effects ? new Set(s.spec.onAbort.effects) : undefined;
  const scope = { sessions, ...(names ? { names } : {}), decide: false };
  const all = (await committedEffects(ctx.store, s.agent, s.green)).length;
  const plan = await compensateRollout(ctx, rolloutId, { dryRun: true, ...scope });
  const p = plan.totals;
  const decision: RolloutDecisionInput = {
    kind: 'compensation-plan',
    message:
      `onAbort.compensate auto: ${p.ran} compensation(s) of ${s.green}'s effects will run, ${p.pending} cannot run now, ` +
      `${p.notCompensable} not compensable; ${all - plan.effects.length} effect(s) of sessions ${s.green} still serves are left`,
    evidence: { totals: p, left: all - plan.effects.length, effects: plan.effects.slice(0, 100) },
  };
  await ctx.store.appendDecision(rolloutId, decision);
  traceDecisions({ id: rolloutId, agent: s.agent, phase: s.phase, step: s.step }, [decision]);
  const run = await compensateRollout(ctx, rolloutId, { dryRun: false, ...scope });
  const t = run.totals;
  ctx.log.info({ rolloutId, totals: t }, 'automatic compensations after the abort ran');
  return [
    {
      type: 'compensations-ran',
      message: `${t.ran} compensation(s) of ${s.green}'s effects ran: ${t.compensated} compensated, ${t.failed} failed, ${t.pending} pending, ${t.notCompensable} not compensable`,
      evidence: { totals: t, left: all - run.effects.length },
    },
  ];
}
