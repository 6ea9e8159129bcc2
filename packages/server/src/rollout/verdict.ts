/**
 * The verdict of a rollout (or of one of its steps) as a small document an external progressive
 * delivery tool can judge: Argo Rollouts' `web` metric provider reads it with a JSONPath and a
 * `successCondition` / `failureCondition` (docs/argo-rollouts.md).
 *
 *   GET /v1/rollouts/{id}/verdict?step=N
 *   GET /v1/agents/{agent}/verdict?to=LABEL&step=N     the newest rollout of agent to LABEL
 *
 * `verdict` is `pass` (the step's gates passed and Baton moved on, or the rollout is promoted),
 * `fail` (the rollout aborted or failed) or `inconclusive` (not decided yet: Baton has not reached
 * the step, its gates are still collecting, or it is paused for a human). `step` is the index of
 * the spec's step (0 is the first), the same index as `step` in `GET /v1/rollouts/{id}`; without
 * it the verdict is the rollout's: pass only once promoted.
 */
import type { FastifyInstance } from 'fastify';
import {
  BatonError,
  agentVerdictQuerySchema,
  decisionIs,
  verdictQuerySchema,
  type Decision,
  type GateResult,
  type RolloutRecord,
} from '@baton/core';
import { READ_SCOPES } from '../auth';
import type { ServerContext } from '../context';
import { parse } from '../validation';
import { loadState } from './controller';
import type { RolloutState } from './machine';

export type ExternalVerdict = 'pass' | 'fail' | 'inconclusive';

/** Why the verdict is what it is (a stable code, beside the human `reason`). */
export type VerdictCode =
  'promoted' | 'step-passed' | 'aborted' | 'failed' | 'paused' | 'not-reached' | 'collecting' | 'preflight';

export interface VerdictView {
  rolloutId: string;
  agent: string;
  from: string;
  to: string;
  phase: RolloutState['phase'];
  /** The step asked about (null: the whole rollout). */
  step: number | null;
  /** The step Baton is at (0-based, -1 before the first), and how many the spec has. */
  currentStep: number;
  steps: number;
  verdict: ExternalVerdict;
  code: VerdictCode;
  reason: string;
  /** The gate evidence behind the verdict: the step's deciding evaluation, or the latest one. */
  gates: GateResult[];
  samples: { green: number; blue: number } | null;
  /** When the evidence was taken (epoch ms), null without an evaluation. */
  evaluatedAt: number | null;
  updatedAt: number;
}

interface Evidence {
  gates: GateResult[];
  samples: { green: number; blue: number } | null;
  at: number | null;
}

/** The evidence of the decision that passed `step`, found among the rollout's decisions. */
async function passedEvidence(ctx: ServerContext, id: string, step: number): Promise<Evidence | null> {
  let after = 0;
  let found: Decision | null = null;
  for (;;) {
    const page = await ctx.store.listDecisions(id, { afterSeq: after, limit: 1000 });
    for (const d of page) {
      const ev = d.evidence as { step?: unknown } | null;
      if (decisionIs(d, 'gates-passed') && ev?.step === step) found = d;
    }
    if (page.length < 1000) break;
    after = page[page.length - 1]!.seq;
  }
  if (!found) return null;
  const ev = found.evidence as { gates?: GateResult[]; nGreen?: number; nBlue?: number };
  return {
    gates: ev.gates ?? [],
    samples: { green: ev.nGreen ?? 0, blue: ev.nBlue ?? 0 },
    at: found.at,
  };
}

function latestEvidence(s: RolloutState, step: number | null): Evidence {
  const v = s.lastVerdicts;
  if (!v || (step !== null && v.step !== step)) return { gates: [], samples: null, at: null };
  return { gates: v.results, samples: { green: v.nGreen, blue: v.nBlue }, at: v.at };
}

/** The verdict document of a rollout, for one step or for the whole rollout. */
export async function rolloutVerdict(
  ctx: ServerContext,
  rec: RolloutRecord,
  step: number | null,
): Promise<VerdictView> {
  const s = loadState(rec);
  const steps = s.spec.steps.length;
  if (step !== null && step >= steps)
    throw new BatonError('VALIDATION', `step: rollout ${rec.id} has ${steps} step(s) (0 to ${steps - 1})`, {
      path: 'step',
      steps,
    });
  const label = step === null ? 'the rollout' : `step ${step}`;
  let verdict: ExternalVerdict = 'inconclusive';
  let code: VerdictCode;
  let reason: string;
  let evidence = latestEvidence(s, step);
  if (s.phase === 'aborted') {
    verdict = 'fail';
    code = 'aborted';
    reason = `aborted: ${s.abort?.reason ?? 'no reason recorded'}`;
  } else if (s.phase === 'failed') {
    verdict = 'fail';
    code = 'failed';
    reason = 'the rollout failed (pre-flight or drain)';
  } else if (s.phase === 'promoted') {
    verdict = 'pass';
    code = 'promoted';
    reason = `${s.green} is promoted`;
    if (step !== null) evidence = (await passedEvidence(ctx, rec.id, step)) ?? evidence;
  } else if (step !== null && s.step > step) {
    verdict = 'pass';
    code = 'step-passed';
    reason = `step ${step} passed; Baton is at step ${s.step}`;
    evidence = (await passedEvidence(ctx, rec.id, step)) ?? { gates: [], samples: null, at: null };
  } else if (s.phase === 'pending' || s.phase === 'preflight') {
    code = 'preflight';
    reason = `${label}: the rollout has not started its steps yet (${s.phase})`;
  } else if (s.phase === 'paused') {
    code = 'paused';
    reason = `${label}: paused for a human: ${s.pauseReason ?? 'no reason recorded'}`;
  } else if (step !== null && s.step < step) {
    code = 'not-reached';
    reason = `step ${step} not reached: Baton is at step ${s.step}`;
  } else {
    code = 'collecting';
    const verify = s.spec.steps[Math.max(0, s.step)]?.verify;
    const n = evidence.samples?.green ?? 0;
    reason = verify
      ? `step ${s.step}: gates not decided yet (${n} of ${verify.minSessions} green sessions)`
      : `step ${s.step}: in progress`;
  }
  return {
    rolloutId: rec.id,
    agent: rec.agent,
    from: rec.from,
    to: rec.to,
    phase: s.phase,
    step,
    currentStep: s.step,
    steps,
    verdict,
    code,
    reason,
    gates: evidence.gates,
    samples: evidence.samples,
    evaluatedAt: evidence.at,
    updatedAt: rec.updatedAt,
  };
}

/** The route registrar: both verdict routes, readable with the read-only scope. */
export function verdictRoutes(): (app: FastifyInstance, ctx: ServerContext) => void {
  return (app, ctx) => {
    const reader = async (req: { headers: { authorization?: string } }): Promise<void> => {
      ctx.auth.require(req.headers.authorization, ...READ_SCOPES);
    };
    app.get<{ Params: { id: string } }>('/v1/rollouts/:id/verdict', { onRequest: reader }, async (req) => {
      const q = parse(verdictQuerySchema, req.query, 'query');
      return rolloutVerdict(ctx, await ctx.store.getRollout(req.params.id), q.step ?? null);
    });
    app.get<{ Params: { agent: string } }>(
      '/v1/agents/:agent/verdict',
      { onRequest: reader },
      async (req) => {
        const q = parse(agentVerdictQuerySchema, req.query, 'query');
        const all = await ctx.store.listRollouts({ agent: req.params.agent });
        const mine = all.filter((r) => q.to === undefined || r.to === q.to);
        const newest = mine.reduce<RolloutRecord | null>(
          (a, r) => (a === null || r.createdAt > a.createdAt ? r : a),
          null,
        );
        if (!newest)
          throw new BatonError(
            'ROLLOUT_NOT_FOUND',
            `no rollout of ${req.params.agent}${q.to !== undefined ? ` to ${q.to}` : ''}`,
            { agent: req.params.agent, ...(q.to !== undefined ? { to: q.to } : {}) },
          );
        return rolloutVerdict(ctx, newest, q.step ?? null);
      },
    );
  };
}
