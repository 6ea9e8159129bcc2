/**
 * The router's check of a worker's turn answer, against the protocol's schema in `@baton/core` (the
 * one the SDK's workers are written to and its conformance probes judge answers by). A malformed
 * answer is a WORKER_ERROR and nothing of it is committed.
 */
import { BatonError, turnResponseSchema, type TurnResponse } from '@baton/core';

/**
 * Throws WORKER_ERROR unless `r` has the shape of a TurnResponse. The `unchanged` markers are left
 * to `unchangedParts`, which checks them against the checkpoint that was sent and says which part is
 * wrong: an answer whose only faults are in its markers passes here.
 */
export function checkTurnResponse(r: unknown, workerId: string): asserts r is TurnResponse {
  const got = turnResponseSchema.safeParse(r);
  if (got.success || got.error.issues.every((i) => i.path[0] === 'unchanged')) return;
  throw new BatonError('WORKER_ERROR', `worker ${workerId} sent a malformed turn response`, { workerId });
}
