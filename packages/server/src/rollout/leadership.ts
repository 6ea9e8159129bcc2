/**
 * The controller lock: one controller of a fleet leads. The lock (`controller` in the store, owner =
 * this process's instance id) has a short time to live (default 3 s) and is renewed by a heartbeat
 * every `renewMs` (default 1 s) while this process leads, independently of how long a reconcile pass
 * takes; followers try to take it at every pass (default every 1 s). A crashed leader's lock is
 * therefore taken over within `lockTtlMs + intervalMs` (≤ 4 s at defaults), and a restarted process
 * with the same instance id takes its lock back at its first pass (the owner matches).
 *
 * Every change of leadership is logged, counted in `baton_controller_leader{instance}` (1 while this
 * process leads), and the leader advertises itself in the store (fleet.ts) so every process can show it.
 */
import os from 'node:os';
import { Gauge } from 'prom-client';
import type { ServerContext } from '../context';
import { advertiseLeader, type LeaderInfo } from '../fleet';

export const CONTROLLER_LOCK_NAME = 'controller';
export const DEFAULT_LOCK_TTL_MS = 3_000;
export const DEFAULT_LOCK_RENEW_MS = 1_000;

export interface LeadershipOptions {
  /** Leader-lock owner (default: the server's instance id); the same owner takes its lock back at once. */
  owner?: string;
  /** Leader lock time to live (default 3 s). */
  lockTtlMs?: number;
  /** Heartbeat renewing the lock while leading (default 1 s; less than `lockTtlMs`). */
  lockRenewMs?: number;
  /** This process's base URL, shown in the leader advertisement. */
  url?: string | null;
  /** Called on every change of leadership (after the log line). */
  onLeadership?: (e: LeadershipEvent) => void;
}

export interface LeadershipEvent {
  kind: 'acquired' | 'lost' | 'released';
  instanceId: string;
  at: number;
}

export interface LeadershipStatus {
  owner: string;
  leader: boolean;
  /** When this process acquired the lock, while it leads. */
  since: number | null;
  /** When the lock expires unless renewed, while this process leads. */
  leaseExpiresAt: number | null;
  lockTtlMs: number;
  lockRenewMs: number;
}

export interface Leadership {
  readonly owner: string;
  readonly isLeader: boolean;
  /** Take or renew the lock; true while this process leads. */
  renew(): Promise<boolean>;
  startHeartbeat(): void;
  /** Stop the heartbeat and release the lock if held. */
  release(): Promise<void>;
  status(): LeadershipStatus;
  /** Set once the server listens. */
  url: string | null;
}

function leaderGauge(ctx: ServerContext): Gauge<'instance'> {
  const name = 'baton_controller_leader';
  const existing = ctx.metrics.registry.getSingleMetric(name);
  if (existing) return existing as Gauge<'instance'>;
  return new Gauge({
    name,
    help: 'Whether this process holds the controller lock (1) or not (0), by instance id',
    labelNames: ['instance'] as const,
    registers: [ctx.metrics.registry],
  });
}

export function leadership(ctx: ServerContext, opts: LeadershipOptions = {}): Leadership {
  const owner = opts.owner ?? ctx.instanceId;
  const ttl = opts.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
  const renewMs = Math.min(opts.lockRenewMs ?? DEFAULT_LOCK_RENEW_MS, Math.max(1, Math.floor(ttl / 2)));
  const gauge = leaderGauge(ctx);
  gauge.set({ instance: owner }, 0);
  let leader = false;
  let since: number | null = null;
  let expiresAt: number | null = null;
  let timer: NodeJS.Timeout | null = null;
  let renewing: Promise<boolean> | null = null;
  let advertisedAt = -Infinity;

  const changed = (kind: LeadershipEvent['kind'], at: number): void => {
    gauge.set({ instance: owner }, kind === 'acquired' ? 1 : 0);
    const msg =
      kind === 'acquired'
        ? `controller: ${owner} acquired the controller lock (leader)`
        : kind === 'lost'
          ? `controller: ${owner} lost the controller lock (follower)`
          : `controller: ${owner} released the controller lock`;
    ctx.log.info({ instanceId: owner, leadership: kind }, msg);
    opts.onLeadership?.({ kind, instanceId: owner, at });
  };

  const self: Leadership = {
    owner,
    url: opts.url ?? null,
    get isLeader() {
      return leader;
    },
    renew() {
      renewing ??= (async () => {
        const now = ctx.clock.now();
        let ok: boolean;
        try {
          ok = await ctx.store.acquireLock(CONTROLLER_LOCK_NAME, owner, ttl);
        } catch (e) {
          // store unreachable: this process leads only until its lock would have expired
          if (leader && expiresAt !== null && ctx.clock.now() >= expiresAt) {
            leader = false;
            since = null;
            expiresAt = null;
            changed('lost', ctx.clock.now());
          }
          throw e;
        }
        if (ok) {
          expiresAt = now + ttl;
          if (!leader) {
            leader = true;
            since = now;
            advertisedAt = -Infinity;
            changed('acquired', now);
          }
          // the advertisement is refreshed once per renewal period, not at every pass
          if (now - advertisedAt < renewMs) return leader;
          advertisedAt = now;
          const info: LeaderInfo = {
            instanceId: owner,
            since: since ?? now,
            leaseExpiresAt: expiresAt,
            renewedAt: now,
            url: self.url,
            pid: process.pid,
            host: os.hostname(),
          };
          await advertiseLeader(ctx.store, info).catch((e: unknown) =>
            ctx.log.warn({ err: e }, 'controller: advertising the leader failed'),
          );
        } else if (leader) {
          leader = false;
          since = null;
          expiresAt = null;
          changed('lost', ctx.clock.now());
        }
        return leader;
      })().finally(() => {
        renewing = null;
      });
      return renewing;
    },
    startHeartbeat() {
      if (timer) return;
      timer = setInterval(() => {
        if (leader)
          self.renew().catch((e: unknown) => ctx.log.warn({ err: e }, 'controller: renewing failed'));
      }, renewMs);
      timer.unref();
    },
    async release() {
      if (timer) clearInterval(timer);
      timer = null;
      await renewing?.catch(() => undefined);
      if (!leader) return;
      leader = false;
      since = null;
      expiresAt = null;
      await ctx.store.releaseLock(CONTROLLER_LOCK_NAME, owner).catch(() => undefined);
      changed('released', ctx.clock.now());
    },
    status() {
      return { owner, leader, since, leaseExpiresAt: expiresAt, lockTtlMs: ttl, lockRenewMs: renewMs };
    },
  };
  return self;
}
