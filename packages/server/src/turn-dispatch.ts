/** The dispatch step of a turn: the request to the pinned version's worker, bounded by the turn deadline. */
import { BatonError, type TurnRequest, type TurnRequestV1, type TurnResponse } from '@baton/core';
import type { Clock } from '@baton/core';
import { isTransportError } from './http-worker';
import type { LeaseKeeper } from './lease';
import type { PoolEntry, WorkerPool } from './pool';

/** How long past the deadline the router waits before giving up on a worker that ignores it. */
const DEADLINE_GRACE_MS = 250;

/**
 * Send the turn to the worker, bounded by the turn deadline. Workers enforce the deadline themselves
 * (the SDK aborts the handler; the HTTP client times out); the timer here is the router's backstop.
 */
export async function dispatchTurn(
  ctx: { clock: Clock; pool: Pick<WorkerPool, 'markUnhealthy'> },
  entry: PoolEntry,
  req: TurnRequest | TurnRequestV1,
  keeper: LeaseKeeper,
): Promise<TurnResponse> {
  const ms = Math.max(1, req.deadline - ctx.clock.now()) + DEADLINE_GRACE_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new BatonError('TURN_TIMEOUT', `worker ${entry.id} did not finish the turn within ${ms} ms`, {
          workerId: entry.id,
        }),
      );
    }, ms);
  });
  entry.outstanding++;
  try {
    // a lost lease ends the wait at once (and aborts the worker's call)
    return await Promise.race([entry.client.turn(req, keeper.signal), timeout, keeper.whenLost()]);
  } catch (e) {
    if (isTransportError(e)) ctx.pool.markUnhealthy(entry);
    throw e;
  } finally {
    clearTimeout(timer);
    entry.outstanding--;
  }
}
