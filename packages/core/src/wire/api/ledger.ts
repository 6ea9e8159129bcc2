/**
 * The ledger API a remote worker calls on the server (bearer `worker` token, under the turn
 * capability in `baton-capability`). The bodies of effect intents, commits and failures and of the
 * step journal are the worker protocol's (`../ledger.ts`); here: the history query of the turn in
 * progress and the steps answer.
 */
import { z } from 'zod';
import { limitParam, positionParam } from './params';

export const workerHistoryQuerySchema = z.object({
  sessionId: z.string().min(1).max(500),
  before: positionParam(0).optional(),
  limit: limitParam(),
});
export const stepsSchema = z.object({
  steps: z.array(z.object({ index: z.number().int(), name: z.string(), result: z.unknown() })),
});
