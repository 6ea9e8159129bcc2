/**
 * Short session leases kept alive by heartbeat while a turn (or a migration) runs.
 *
 * A router takes a short lease (`limits.leaseMs`, default 3 s) and renews it every
 * `limits.leaseRenewMs` (default 1 s) while the worker runs, so a dead router's sessions are free
 * again within one lease time. The first renewal is only scheduled, never run, for a turn that
 * finishes before it is due: the hot path pays no extra store round trip. A renewal that fails
 * with LEASE_LOST, or a lease that reaches its expiry without a successful renewal (the store was
 * unreachable), marks the lease lost: the keeper's `signal` aborts and `check()` throws, so the
 * turn commits nothing. The lease epoch the turn capability names is unchanged by renewals.
 *
 * Also here: the owners of the leases this process holds (a restarted process with the same
 * instance id reclaims leases of its previous incarnation at once), and the Retry-After hint.
 */
import {
  BatonError,
  SessionBusyError,
  TERMINAL_SESSION_STATUSES,
  systemClock,
  type Clock,
  type SessionRecord,
  type SessionStatus,
} from '@baton/core';
import type { FastifyBaseLogger } from 'fastify';
import type { Lease, Store } from '@baton/store';

/** Lease owners of migrations start with this prefix; the session view shows them as `migrating`. */
export const MIGRATION_LEASE_PREFIX = 'migrate:';

type LeaseFields = Pick<SessionRecord, 'status' | 'leaseOwner' | 'leaseExpiresAt'>;

/** Who holds the session's lease at `now`: a turn, a migration (leased by a migration owner), or nobody. */
export function leaseHolder(s: Omit<LeaseFields, 'status'>, now: number): 'turn' | 'migration' | null {
  if (s.leaseOwner === null || s.leaseExpiresAt === null || !(s.leaseExpiresAt > now)) return null;
  return s.leaseOwner.startsWith(MIGRATION_LEASE_PREFIX) ? 'migration' : 'turn';
}

/**
 * THE session status as seen from the lease: an open session under a live lease is `running` (a
 * turn holds it) or `migrating` (a migration does); otherwise its stored status. The session view,
 * the drain's positions and the stragglers view all show it.
 */
export function statusSeen(s: LeaseFields, now: number): SessionStatus {
  if (TERMINAL_SESSION_STATUSES.includes(s.status)) return s.status;
  const holder = leaseHolder(s, now);
  if (holder === 'migration' || s.status === 'migrating') return 'migrating';
  if (holder === 'turn' || s.status === 'running') return 'running';
  return s.status;
}

/** A one-shot timer; the returned function cancels it. */
export type Timer = (ms: number, fn: () => void) => () => void;

/**
 * Timers on `clock`: real (unref'd) timers on the system clock, else the clock's own sleep, so a
 * test drives renewals by running a SimulatedClock forward instead of sleeping.
 */
export function timerOf(clock: Clock): Timer {
  if (clock === systemClock) {
    return (ms, fn) => {
      const t = setTimeout(fn, ms);
      t.unref();
      return () => clearTimeout(t);
    };
  }
  return (ms, fn) => {
    let live = true;
    void clock.sleep(ms).then(() => {
      if (live) fn();
    });
    return () => {
      live = false;
    };
  };
}

export interface LeaseSchedule {
  /** Time to live of each lease and of each renewal. */
  leaseMs: number;
  /** How often the lease is renewed while the turn runs (less than `leaseMs`). */
  renewMs: number;
}

function leaseLostError(lease: Lease, why: string): BatonError {
  return new BatonError('LEASE_LOST', `session ${lease.sessionId}: the turn's lease was lost (${why})`, {
    sessionId: lease.sessionId,
    owner: lease.owner,
    epoch: lease.epoch,
  });
}

/** Renews one lease on a schedule until stopped or lost. */
export class LeaseKeeper {
  private cancel: (() => void) | null = null;
  private stopped = false;
  private lostError: BatonError | null = null;
  /** Made when `signal` is first read (an AbortSignal costs about 2 µs in Node 20). */
  private abort: AbortController | null = null;
  /** Who `whenLost` promised to tell. */
  private readonly losers: Array<(e: BatonError) => void> = [];
  /** Renewals that reached the store (for tests and metrics). */
  renewals = 0;

  constructor(
    private lease: Lease,
    private readonly store: Pick<Store, 'renewLease'>,
    private readonly clock: Clock,
    private readonly schedule: LeaseSchedule,
    private readonly timer: Timer = timerOf(clock),
  ) {
    this.next();
  }

  /** Aborted when the lease is lost. */
  get signal(): AbortSignal {
    if (!this.abort) {
      this.abort = new AbortController();
      if (this.lostError) this.abort.abort(this.lostError);
    }
    return this.abort.signal;
  }

  get current(): Lease {
    return this.lease;
  }

  get lost(): boolean {
    return this.lostError !== null;
  }

  /** Throws LEASE_LOST once the lease is lost, or once its expiry passed without a renewal. */
  check(): void {
    if (!this.lostError && !this.stopped && this.clock.now() >= this.lease.expiresAt) {
      this.lose('it expired before it could be renewed');
    }
    if (this.lostError) throw this.lostError;
  }

  /** A promise that rejects with LEASE_LOST when the lease is lost (never resolves). */
  whenLost(): Promise<never> {
    const p = new Promise<never>((_, reject) => {
      if (this.lostError) return reject(this.lostError);
      this.losers.push(reject);
    });
    p.catch(() => undefined); // a loss after the turn settled is nobody's error
    return p;
  }

  /** Stop renewing (the turn committed, failed or gave the lease back). */
  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = null;
  }

  private next(): void {
    if (this.stopped || this.lostError) return;
    // renew on schedule, and never later than shortly before the lease expires
    // (the last try is 1 ms before the expiry; after it, the expiry itself ends the lease)
    const left = this.lease.expiresAt - this.clock.now();
    let due = Math.min(this.schedule.renewMs, left - 1);
    if (due < 1) due = Math.max(0, left);
    this.cancel = this.timer(due, () => void this.renew());
  }

  private async renew(): Promise<void> {
    this.cancel = null;
    if (this.stopped || this.lostError) return;
    if (this.clock.now() >= this.lease.expiresAt) {
      this.lose('it expired before it could be renewed');
      return;
    }
    try {
      this.renewals++;
      const renewed = await this.store.renewLease(this.lease, this.schedule.leaseMs);
      if (this.stopped) return;
      this.lease = renewed;
    } catch (e) {
      if (this.stopped) return;
      if (e instanceof BatonError && (e.code === 'LEASE_LOST' || e.code === 'SESSION_NOT_FOUND')) {
        this.lose('another holder took it over or it was released');
        return;
      }
      // a store error: try again on the next tick; the expiry check above ends it in time
    }
    this.next();
  }

  private lose(why: string): void {
    if (this.lostError) return;
    this.lostError = leaseLostError(this.lease, why);
    this.cancel?.();
    this.cancel = null;
    this.abort?.abort(this.lostError);
    for (const reject of this.losers.splice(0)) reject(this.lostError);
  }
}

// ---- the leases this process holds --------------------------------------------------------------

/**
 * Owners of the leases this process took and still holds (process-wide: "this process started
 * that turn"). A lease whose owner carries this router's instance id but is not in here was taken
 * by a previous incarnation of the same identity, and is treated as expired.
 */
const held = new Map<string, number>();

export function holdOwner(owner: string): void {
  held.set(owner, (held.get(owner) ?? 0) + 1);
}

export function dropOwner(owner: string): void {
  const n = (held.get(owner) ?? 0) - 1;
  if (n <= 0) held.delete(owner);
  else held.set(owner, n);
}

/** Whether `owner` names a lease of a previous incarnation of the identity `instanceId`. */
export function isStaleOwnLease(owner: string | null, instanceId: string, migrationPrefix: string): boolean {
  if (owner === null || held.has(owner)) return false;
  return owner.startsWith(`${instanceId}:`) || owner.startsWith(`${migrationPrefix}${instanceId}:`);
}

// ---- Retry-After --------------------------------------------------------------------------------

/** A moving average of how long turns take on this router: the "typical turn" of Retry-After. */
export class TurnEstimate {
  private avg: number | null = null;
  constructor(private readonly initialMs: number) {}
  observe(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.avg = this.avg === null ? ms : this.avg * 0.8 + ms * 0.2;
  }
  get ms(): number {
    return this.avg ?? this.initialMs;
  }
}

/**
 * The SESSION_BUSY a client sees: its `retryAfterMs` is a hint of when to try again, the smaller of
 * the lease's remaining time (a dead holder's lease frees then) and a typical turn (a live holder
 * usually finishes sooner), at least 1 s (Retry-After is in whole seconds).
 */
export function busyHint(e: SessionBusyError, sessionId: string, typicalMs: number): SessionBusyError {
  const ms = Math.max(1000, Math.min(e.retryAfterMs, Math.ceil(typicalMs)));
  return new SessionBusyError(sessionId, ms);
}

// ---- taking a session's lease -------------------------------------------------------------------

/**
 * Take a session's lease with `take`. A session busy under a lease of a previous incarnation of
 * this router's identity (its owner carries this instance id, but this process did not start
 * it) is reclaimed at once: that lease is released and `take` runs again. Otherwise SESSION_BUSY,
 * with a Retry-After hint (see `busyHint`).
 */
export async function takeLease<T>(
  ctx: { store: Pick<Store, 'getSession' | 'releaseLease'>; instanceId: string; log: FastifyBaseLogger },
  typical: TurnEstimate,
  sessionId: string,
  take: () => Promise<T>,
): Promise<T> {
  try {
    return await take();
  } catch (e) {
    if (!(e instanceof SessionBusyError)) throw e;
    const s = await ctx.store.getSession(sessionId).catch(() => null);
    if (s && isStaleOwnLease(s.leaseOwner, ctx.instanceId, MIGRATION_LEASE_PREFIX)) {
      ctx.log.info(
        { sessionId, owner: s.leaseOwner },
        'reclaiming a lease of a previous incarnation of this router',
      );
      await ctx.store.releaseLease({
        sessionId,
        owner: s.leaseOwner!,
        expiresAt: s.leaseExpiresAt ?? 0,
        epoch: s.leaseEpoch,
      });
      try {
        return await take();
      } catch (again) {
        if (again instanceof SessionBusyError) throw busyHint(again, sessionId, typical.ms);
        throw again;
      }
    }
    throw busyHint(e, sessionId, typical.ms);
  }
}
