/**
 * A process's place in a fleet of routers sharing one store: its identity, the presence lease that
 * keeps two live processes from running under the same identity, and the leader advertisement
 * through which every process can show which one holds the controller lock.
 *
 * Presence: a process with identity `id` holds the store lock `presence:<id>` (owner `<id>#<nonce>`,
 * a fresh nonce per incarnation), renewed every `renewMs`. At start it waits at most one lease time
 * for the lock: a SIGKILLed predecessor's lease expires within that time, a live process keeps
 * renewing it, so the newcomer refuses to start (INSTANCE_ID_IN_USE). Only then may it use the
 * identity as the owner of its locks and leases (a restarted controller takes its lock back at once).
 *
 * Leader advertisement: the store's lock API says whether a lock is held, not by whom, so the leader
 * also writes `{instanceId, since, leaseExpiresAt, url, …}` under a reserved key of the store's step
 * journal at every renewal. It is information only: the lock decides who leads; a reader shows an
 * advertisement whose lease expired as "no leader".
 */
import { BatonError, checkInstanceId, randomToken, type Clock } from '@baton/core';
import type { Store } from '@baton/store';

export const PRESENCE_TTL_MS = 2_000;
export const PRESENCE_RENEW_MS = 500;

export function presenceLockName(instanceId: string): string {
  return `presence:${instanceId}`;
}

export interface PresenceOptions {
  clock: Clock;
  /** Lease time to live (default 3 s). */
  ttlMs?: number;
  /** Renewal period (default 1 s). */
  renewMs?: number;
  /** How long to wait at start for a predecessor's lease to expire (default: one ttl plus 500 ms). */
  waitMs?: number;
  /** Another process took the lease (this one could not renew it for a whole ttl): stop serving. */
  onLost?: () => void;
  onError?: (e: unknown) => void;
}

/** The presence lease of one identity, held by this process until `release()`. */
export class Presence {
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;
  private lost = false;

  private constructor(
    private readonly store: Store,
    readonly instanceId: string,
    readonly owner: string,
    private readonly opts: PresenceOptions,
  ) {}

  /** Take the identity's presence lease, waiting for an expiring one; INSTANCE_ID_IN_USE if it stays held. */
  static async acquire(store: Store, instanceId: string, opts: PresenceOptions): Promise<Presence> {
    checkInstanceId(instanceId);
    const ttl = opts.ttlMs ?? PRESENCE_TTL_MS;
    const owner = `${instanceId}#${randomToken().slice(0, 12)}`;
    const name = presenceLockName(instanceId);
    const deadline = opts.clock.now() + (opts.waitMs ?? ttl + 500);
    while (!(await store.acquireLock(name, owner, ttl))) {
      if (opts.clock.now() >= deadline)
        throw new BatonError(
          'INSTANCE_ID_IN_USE',
          `instance id ${instanceId} is in use by another live process (its presence lease is renewed); ` +
            'stop it first, or give this process another --instance-id',
          { instanceId, lock: name },
        );
      await opts.clock.sleep(Math.min(250, ttl / 4));
    }
    const p = new Presence(store, instanceId, owner, opts);
    p.start(ttl);
    return p;
  }

  private start(ttl: number): void {
    this.timer = setInterval(() => {
      this.renewing ??= this.store
        .acquireLock(presenceLockName(this.instanceId), this.owner, ttl)
        .then((ok) => {
          if (!ok && !this.lost) {
            this.lost = true;
            this.opts.onLost?.();
          }
        })
        .catch((e: unknown) => this.opts.onError?.(e))
        .finally(() => {
          this.renewing = null;
        });
    }, this.opts.renewMs ?? PRESENCE_RENEW_MS);
    this.timer.unref();
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.renewing;
    if (!this.lost) await this.store.releaseLock(presenceLockName(this.instanceId), this.owner);
  }
}

/** What the controller leader says about itself. */
export interface LeaderInfo {
  instanceId: string;
  /** When it acquired the lock (ms since the epoch). */
  since: number;
  /** When its lock expires unless renewed. */
  leaseExpiresAt: number;
  renewedAt: number;
  /** Its base URL, when it listens on one. */
  url: string | null;
  pid: number;
  host: string;
}

/** The reserved step-journal key of the advertisement (no session has this id: ids never hold `~`). */
const AD_SESSION = '~baton/fleet';
const AD_TURN = 'controller-leader';

export async function advertiseLeader(store: Store, info: LeaderInfo): Promise<void> {
  await store.putStep(AD_SESSION, AD_TURN, 0, 'leader', info);
}

/** The latest advertisement, or null when there is none or its lease expired at `now`. */
export async function readLeader(store: Store, now: number): Promise<LeaderInfo | null> {
  const steps = await store.listSteps(AD_SESSION, AD_TURN);
  const info = steps[0]?.result as LeaderInfo | undefined;
  if (!info || typeof info.instanceId !== 'string' || !(info.leaseExpiresAt > now)) return null;
  return info;
}
