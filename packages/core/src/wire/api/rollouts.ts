/**
 * The rollout API's shapes besides the spec itself (bearer `admin`; the reads also take `read`):
 * commands, compensation runs, list filters and paging of the live views.
 */
import { z } from 'zod';
import type { RolloutPhase } from '../../types';
import { limitParam, nameSchema, positionParam, queryInt, commaList } from './params';

export const ROLLOUT_PHASES = [
  'pending',
  'preflight',
  'progressing',
  'paused',
  'promoted',
  'aborted',
  'failed',
] as const satisfies readonly RolloutPhase[];

/** `POST /v1/rollouts/{id}/promote|pause|resume|abort` (the body is optional). */
export const rolloutCommandBodySchema = z
  .object({ reason: z.string().max(2000).optional(), by: z.string().max(200).optional() })
  .strict()
  .nullish();
export type RolloutCommandBody = z.input<typeof rolloutCommandBodySchema>;

/** `POST /v1/rollouts/{id}/compensate`: plan (the default) or run the candidate's compensations. */
export const compensateRolloutBodySchema = z
  .object({
    dryRun: z.boolean().default(true),
    effects: z.array(z.string().min(1).max(500)).max(10_000).optional(),
    note: z.string().max(2000).optional(),
    by: z.string().max(200).optional(),
  })
  .strict();
export type CompensateRolloutBody = z.input<typeof compensateRolloutBodySchema>;

export const rolloutsQuerySchema = z.object({
  agent: nameSchema.optional(),
  phase: commaList(ROLLOUT_PHASES).optional(),
});
export const rolloutStatusQuerySchema = z.object({ stragglers: limitParam(200) });
export const decisionsQuerySchema = z.object({
  afterSeq: positionParam(0).optional(),
  limit: limitParam(),
});
export const dryRunQuerySchema = z.object({
  dryRun: z
    .enum(['true', 'false', '1', '0'])
    .transform((v) => v === 'true' || v === '1')
    .optional(),
});
export const stragglersQuerySchema = z.object({ cursor: z.string().optional(), limit: limitParam(200) });
export const samplesQuerySchema = z.object({ after: positionParam(0).optional(), limit: limitParam() });
export const verdictQuerySchema = z.object({ step: queryInt.pipe(z.number().min(0).max(1000)).optional() });
export const agentVerdictQuerySchema = verdictQuerySchema.extend({
  to: z.string().min(1).max(200).optional(),
});

/**
 * What `GET /v1/rollouts/{id}` answers (and the commands and `POST /v1/rollouts`): the fields
 * every release has; the view carries more (drain, gates, decisions, forecast, spec, …).
 */
export const rolloutStatusSchema = z
  .object({
    id: z.string(),
    agent: z.string(),
    from: z.string(),
    to: z.string(),
    phase: z.enum(ROLLOUT_PHASES),
    step: z.number().int(),
    steps: z.number().int(),
    weights: z.object({ fill: z.number(), migrate: z.number() }),
    rev: z.number().int(),
    createdAt: z.number(),
    updatedAt: z.number(),
  })
  .loose();
export type RolloutStatusBody = z.output<typeof rolloutStatusSchema>;

/** `GET /v1/controller`: which process holds the controller lock, as this process sees it. */
export const controllerStatusSchema = z.object({
  instanceId: z.string(),
  role: z.enum(['leader', 'follower', 'disabled']),
  lock: z.object({ ttlMs: z.number(), renewMs: z.number() }).nullable(),
  leader: z
    .object({
      instanceId: z.string(),
      since: z.number(),
      leaseExpiresAt: z.number(),
      renewedAt: z.number(),
      url: z.string().nullable(),
      pid: z.number(),
      host: z.string(),
      self: z.boolean(),
    })
    .nullable(),
});
export type ControllerStatus = z.output<typeof controllerStatusSchema>;
