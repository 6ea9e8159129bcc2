/**
 * `GET /v1/controller` (admin): which process holds the controller lock, and this process's role.
 *
 *   {instanceId, role: leader|follower|disabled, lock: {ttlMs, renewMs},
 *    leader: {instanceId, since, leaseExpiresAt, url, pid, host, self} | null}
 *
 * The leader answers from its own lock state; a follower from the leader's advertisement in the
 * store (fleet.ts), shown only while its lease is live. `leader: null` means no process holds a live
 * lock right now (between a crash and the takeover).
 */
import os from 'node:os';
import type { FastifyInstance } from 'fastify';
import { READ_SCOPES } from '../auth';
import type { ServerContext } from '../context';
import { readLeader, type LeaderInfo } from '../fleet';
import type { RolloutController } from './controller';

export interface ControllerView {
  instanceId: string;
  role: 'leader' | 'follower' | 'disabled';
  lock: { ttlMs: number; renewMs: number } | null;
  leader: (LeaderInfo & { self: boolean }) | null;
}

export async function controllerView(
  ctx: ServerContext,
  controller: RolloutController | null,
): Promise<ControllerView> {
  const now = ctx.clock.now();
  const st = controller?.running ? controller.leadership.status() : null;
  const role = st === null ? 'disabled' : st.leader ? 'leader' : 'follower';
  let leader: ControllerView['leader'] = null;
  if (st?.leader && st.since !== null && st.leaseExpiresAt !== null) {
    leader = {
      instanceId: st.owner,
      since: st.since,
      leaseExpiresAt: st.leaseExpiresAt,
      renewedAt: st.leaseExpiresAt - st.lockTtlMs,
      url: controller!.leadership.url,
      pid: process.pid,
      host: os.hostname(),
      self: true,
    };
  } else {
    const ad = await readLeader(ctx.store, now);
    const self = st?.owner ?? ctx.instanceId;
    if (ad && ad.instanceId !== self) leader = { ...ad, self: false };
  }
  return {
    instanceId: st?.owner ?? ctx.instanceId,
    role,
    lock: st ? { ttlMs: st.lockTtlMs, renewMs: st.lockRenewMs } : null,
    leader,
  };
}

/** Registers `GET /v1/controller`; `get` returns the process's controller once it is started. */
export function controllerRoutes(get: () => RolloutController | null) {
  return (app: FastifyInstance, ctx: ServerContext): void => {
    app.get(
      '/v1/controller',
      {
        onRequest: async (req) => {
          ctx.auth.require(req.headers.authorization, ...READ_SCOPES);
        },
      },
      async () => controllerView(ctx, get()),
    );
  };
}
