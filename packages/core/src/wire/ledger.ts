/**
 * The worker's calls back to the router (`/v1/worker/*`, docs/worker-protocol.md §5–§7, §13.3):
 * the effects ledger, the step journal and the capability every call presents, defined once.
 * The router checks the bodies against these schemas; `EffectIntentInput` is derived from them.
 */
import { z } from 'zod';

const key = z.string().min(1).max(500);
/** The turn attempt recording an intent (random per attempt). */
const attemptId = z.string().min(1).max(200).optional();

/** `POST /v1/worker/effects/intent`, before the effect runs. */
export const effectIntentSchema = z.object({
  idempotencyKey: key,
  sessionId: key,
  agent: key,
  version: key,
  turnId: key,
  name: key,
  args: z.unknown(),
  compensation: z.string().max(500).nullable().default(null),
  /**
   * The turn attempt recording the intent (random per attempt). A retried intent call with the
   * same attempt id that finds the record still at `intent` gets `existing: false`: the intent is
   * the caller's own, and whether the effect ran is the caller's knowledge. Another attempt id (or
   * none) finds it `existing: true`, in doubt.
   */
  attemptId,
  /**
   * Recorded by a compensation's own `ctx.effect`: the id of the effect being compensated (the
   * capability decides what is recorded).
   */
  compensates: key.optional(),
});

/** `POST /v1/worker/effects/commit`, after the effect ran. */
export const effectCommitSchema = z.object({ idempotencyKey: key, result: z.unknown(), attemptId });

/** `POST /v1/worker/effects/fail`, after the effect threw. */
export const effectFailSchema = z.object({ idempotencyKey: key, error: z.string().max(100_000), attemptId });

/** `GET /v1/worker/steps?sessionId&turnId`: the completed steps of an in-flight turn. */
export const stepsQuerySchema = z.object({ sessionId: key, turnId: key });

/** `POST /v1/worker/steps`: one completed step. */
export const putStepSchema = z.object({
  sessionId: key,
  turnId: key,
  index: z.number().int().min(0),
  name: z.string().max(500),
  result: z.unknown(),
});

/**
 * What a turn capability names (`core/src/capability.ts` signs and opens it): the session, the
 * call and the lease epoch it runs under, with an expiry; a compensation run's capability names the
 * effect and the run's owner instead of relying on a lease.
 */
export const turnCapabilitySchema = z.object({
  sessionId: z.string(),
  /** The turn id, or the id of the migrate call. */
  turnId: z.string(),
  /** The lease epoch the call runs under; null for calls that hold no lease (read-only). */
  epoch: z.number().nullable(),
  expiresAt: z.number(),
  /**
   * A compensation run's capability: the effect it compensates and the run's owner. Its calls are
   * fenced by the effect's compensation state (still `running`, held by this owner), not a lease.
   */
  compensation: z.object({ effectId: z.string(), owner: z.string() }).optional(),
});
