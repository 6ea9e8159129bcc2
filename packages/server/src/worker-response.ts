/**
 * The router's checks of a worker's answers (turn, migrate, compensate), against the protocol's schema in `@baton/core` (the
 * one the SDK's workers are written to and its conformance probes judge answers by). A malformed
 * answer is a WORKER_ERROR and nothing of it is committed.
 */
import {
  BatonError,
  compensateResponseSchema,
  migrateResponseSchema,
  turnResponseSchema,
  type CompensateResponse,
  type MigrateResponse,
  type TurnResponse,
} from '@baton/core';

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

/** Throws WORKER_ERROR unless `r` has the shape of a MigrateResponse (the session then stays where it is). */
export function checkMigrateResponse(r: unknown, workerId: string): asserts r is MigrateResponse {
  if (migrateResponseSchema.safeParse(r).success) return;
  throw new BatonError('WORKER_ERROR', `worker ${workerId} sent a malformed migrate response`, { workerId });
}

/** Throws WORKER_ERROR unless `r` has the shape of a CompensateResponse (the run then ends failed). */
export function checkCompensateResponse(r: unknown, workerId: string): asserts r is CompensateResponse {
  if (compensateResponseSchema.safeParse(r).success) return;
  throw new BatonError('WORKER_ERROR', `worker ${workerId} sent a malformed compensate response`, {
    workerId,
  });
}
