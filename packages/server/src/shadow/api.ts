/**
 * `POST /v1/rollouts/{id}/shadow`: one shadow run on demand against an existing rollout's
 * candidate (any phase), with the rollout's shadow stage or the one in the body (its fields over
 * the rollout's). The run changes no session; its verdicts and evidence are appended to the
 * rollout's decision log (`shadow-run`), and it never moves the rollout itself.
 */
import type { FastifyInstance } from 'fastify';
import type { RolloutDecisionInput } from '@baton/core';
import type { ServerContext } from '../context';
import { loadState } from '../rollout/controller';
import { parseShadowStage } from '../rollout/spec';
import { runShadow, shadowEvidence } from './run';

export function shadowRoutes(): (app: FastifyInstance, ctx: ServerContext) => void {
  return (app, ctx) => {
    app.post<{ Params: { id: string } }>(
      '/v1/rollouts/:id/shadow',
      {
        onRequest: async (req) => {
          ctx.auth.require(req.headers.authorization, 'admin');
        },
      },
      async (req) => {
        // the body's shape first: a malformed one is refused whatever the rollout
        parseShadowStage(req.body, null);
        const rec = await ctx.store.getRollout(req.params.id);
        const state = loadState(rec);
        const stage = parseShadowStage(req.body, state.spec.shadow);
        const runId = `${rec.id}.ondemand.${ctx.clock.now().toString(36)}`;
        const r = await runShadow(ctx, {
          agent: state.agent,
          blue: state.blue,
          green: state.green,
          spec: stage,
          runId,
          beforeStep: Math.max(0, state.step),
        });
        const evidence = shadowEvidence(runId, r);
        const decision: RolloutDecisionInput = {
          kind: 'shadow-run',
          message: `shadow run on demand: ${r.summary.turns} turn(s) of ${r.summary.sessions} ${state.blue} session(s) replayed on ${state.green}, ${r.summary.divergent} diverging, verdict ${r.summary.verdict}`,
          evidence,
        };
        await ctx.store.appendDecision(rec.id, decision);
        return { rolloutId: rec.id, from: state.blue, to: state.green, ...evidence };
      },
    );
  };
}
