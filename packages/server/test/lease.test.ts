/**
 * The lease schedule, on an injected clock (nothing sleeps): a short lease renewed every
 * `renewMs` while a turn runs, no store call for a turn that ends before the first renewal is due,
 * a lost lease aborts, and the Retry-After hint.
 */
import { BatonError, SessionBusyError, SimulatedClock } from '@baton/core';
import type { Lease } from '@baton/store';
import { describe, expect, it } from 'vitest';
import { LeaseKeeper, TurnEstimate, busyHint, dropOwner, holdOwner, isStaleOwnLease } from '../src/lease';

const schedule = { leaseMs: 3000, renewMs: 1000 };

/** A store whose renewLease answers as told, recording when it was called. */
function fakeStore(clock: SimulatedClock) {
  const calls: number[] = [];
  let answer: 'ok' | 'lost' | 'down' = 'ok';
  return {
    calls,
    set(a: typeof answer) {
      answer = a;
    },
    renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
      calls.push(clock.now());
      if (answer === 'lost')
        return Promise.reject(new BatonError('LEASE_LOST', 'taken over', { sessionId: lease.sessionId }));
      if (answer === 'down') return Promise.reject(new BatonError('STORE_UNAVAILABLE', 'down'));
      return Promise.resolve({ ...lease, expiresAt: clock.now() + ttlMs });
    },
  };
}

function leaseAt(clock: SimulatedClock): Lease {
  return { sessionId: 'ses_1', owner: 'rtr_a:turn_1', expiresAt: clock.now() + schedule.leaseMs, epoch: 7 };
}

describe('LeaseKeeper', () => {
  it('makes no store call for a turn that ends before the first renewal is due', async () => {
    const clock = new SimulatedClock();
    const store = fakeStore(clock);
    const k = new LeaseKeeper(leaseAt(clock), store, clock, schedule);
    await clock.advance(999);
    k.stop();
    await clock.advance(10_000);
    expect(store.calls).toEqual([]);
    expect(k.renewals).toBe(0);
    expect(() => k.check()).not.toThrow();
  });

  it('renews every renewMs while the turn runs, keeping the epoch', async () => {
    const clock = new SimulatedClock();
    const t0 = clock.now();
    const store = fakeStore(clock);
    const k = new LeaseKeeper(leaseAt(clock), store, clock, schedule);
    await clock.advance(10_500);
    expect(store.calls.map((t) => t - t0)).toEqual([
      1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000,
    ]);
    expect(k.current.expiresAt).toBe(t0 + 10_000 + schedule.leaseMs);
    expect(k.current.epoch).toBe(7);
    expect(k.lost).toBe(false);
    k.stop();
    await clock.advance(5000);
    expect(store.calls).toHaveLength(10);
  });

  it('a renewal answered LEASE_LOST aborts the turn', async () => {
    const clock = new SimulatedClock();
    const store = fakeStore(clock);
    const k = new LeaseKeeper(leaseAt(clock), store, clock, schedule);
    const lost = k.whenLost();
    const other = fakeStore(clock);
    const held = new LeaseKeeper(leaseAt(clock), other, clock, schedule);
    const early = held.signal; // a signal taken before the loss (a worker call's)
    await clock.advance(1000);
    store.set('lost');
    other.set('lost');
    await clock.advance(1000);
    await expect(lost).rejects.toMatchObject({ code: 'LEASE_LOST' });
    // a signal first read after the loss is aborted with it, as is one read before
    expect(k.signal.aborted).toBe(true);
    expect(k.signal.reason).toMatchObject({ code: 'LEASE_LOST' });
    expect(early.aborted).toBe(true);
    expect(held.signal).toBe(early);
    await expect(held.whenLost()).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(() => k.check()).toThrow(expect.objectContaining({ code: 'LEASE_LOST' }));
    await clock.advance(5000);
    expect(store.calls).toHaveLength(2); // no renewal after the loss
  });

  it('an unreachable store is retried until the lease would expire, then the lease is lost', async () => {
    const clock = new SimulatedClock();
    const t0 = clock.now();
    const store = fakeStore(clock);
    const k = new LeaseKeeper(leaseAt(clock), store, clock, schedule);
    store.set('down');
    await clock.advance(2500);
    expect(k.lost).toBe(false);
    store.set('ok');
    await clock.advance(600); // the renewal at 3000 - 1 succeeds before the expiry
    expect(k.lost).toBe(false);
    expect(k.current.expiresAt).toBe(t0 + 2999 + schedule.leaseMs);
    store.set('down');
    await clock.advance(4000);
    expect(k.lost).toBe(true);
    expect(() => k.check()).toThrow(expect.objectContaining({ code: 'LEASE_LOST' }));
  });

  it('check() notices an expiry that no timer reported', () => {
    const clock = new SimulatedClock();
    const k = new LeaseKeeper(leaseAt(clock), fakeStore(clock), clock, schedule, () => () => undefined);
    clock.set(clock.now() + schedule.leaseMs);
    expect(() => k.check()).toThrow(expect.objectContaining({ code: 'LEASE_LOST' }));
  });
});

describe('Retry-After hint', () => {
  it('is the smaller of the remaining lease and a typical turn, at least 1 s', () => {
    expect(busyHint(new SessionBusyError('s', 2600), 's', 20).retryAfterMs).toBe(1000);
    expect(busyHint(new SessionBusyError('s', 2600), 's', 1800).retryAfterMs).toBe(1800);
    expect(busyHint(new SessionBusyError('s', 2600), 's', 60_000).retryAfterMs).toBe(2600);
    expect(busyHint(new SessionBusyError('s', 0), 's', 0).retryAfterMs).toBe(1000);
  });

  it('a typical turn is a moving average of observed turns', () => {
    const e = new TurnEstimate(1000);
    expect(e.ms).toBe(1000);
    e.observe(20);
    expect(e.ms).toBe(20);
    for (let i = 0; i < 50; i++) e.observe(500);
    expect(e.ms).toBeGreaterThan(490);
    e.observe(Number.NaN);
    expect(e.ms).toBeGreaterThan(490);
  });
});

describe('leases of a previous incarnation', () => {
  it('an owner with this instance id that this process does not hold is stale', () => {
    expect(isStaleOwnLease('rtr_x:turn_1', 'rtr_x', 'migrate:')).toBe(true);
    expect(isStaleOwnLease('migrate:rtr_x:3', 'rtr_x', 'migrate:')).toBe(true);
    expect(isStaleOwnLease('rtr_xy:turn_1', 'rtr_x', 'migrate:')).toBe(false);
    expect(isStaleOwnLease('rtr_y:turn_1', 'rtr_x', 'migrate:')).toBe(false);
    expect(isStaleOwnLease(null, 'rtr_x', 'migrate:')).toBe(false);
    holdOwner('rtr_x:turn_2');
    expect(isStaleOwnLease('rtr_x:turn_2', 'rtr_x', 'migrate:')).toBe(false);
    holdOwner('rtr_x:turn_2');
    dropOwner('rtr_x:turn_2');
    expect(isStaleOwnLease('rtr_x:turn_2', 'rtr_x', 'migrate:')).toBe(false);
    dropOwner('rtr_x:turn_2');
    expect(isStaleOwnLease('rtr_x:turn_2', 'rtr_x', 'migrate:')).toBe(true);
  });
});
