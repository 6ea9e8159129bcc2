/**
 * The ledger API a remote worker calls on the server (bearer `worker` token, under the turn
 * capability in `baton-capability`): effect intents, commits and failures, the step journal and
 * the history of the turn in progress.
 */
import { z } from 'zod';
import { limitParam, positionParam } from './params';

const str = z.string().min(1).max(500);
const attemptId = z.string().min(1).max(200).optional();

export const effectIntentBodySchema = z.object({
  idempotencyKey: str,
  sessionId: str,
  agent: str,
  version: str,
  turnId: str,
  name: str,
  args: z.unknown(),
  compensation: z.string().max(500).nullable().default(null),
  attemptId,
  /** Sent by a compensation's own effects; the capability decides what is recorded. */
  compensates: z.string().min(1).max(500).optional(),
});
export const effectCommitBodySchema = z.object({ idempotencyKey: str, result: z.unknown(), attemptId });
export const effectFailBodySchema = z.object({
  idempotencyKey: str,
  error: z.string().max(100_000),
  attemptId,
});
export const stepsQuerySchema = z.object({ sessionId: str, turnId: str });
export const workerHistoryQuerySchema = z.object({
  sessionId: str,
  before: positionParam(0).optional(),
  limit: limitParam(),
});
export const putStepBodySchema = z.object({
  sessionId: str,
  turnId: str,
  index: z.number().int().min(0),
  name: z.string().max(500),
  result: z.unknown(),
});
export const stepsSchema = z.object({
  steps: z.array(z.object({ index: z.number().int(), name: z.string(), result: z.unknown() })),
});
