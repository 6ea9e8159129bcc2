/** The move rule and the status seen from the lease: one function each, agreeing with every caller. */
import { bucketOf, type MoveRule, type RouteRecord, type SessionRecord } from '@baton/core';
import { describe, expect, it } from 'vitest';
import { MIGRATION_LEASE_PREFIX, leaseHolder, statusSeen } from '../src/lease';
import { dueToMove as opsDueToMove } from '../src/rollout/ops';
import { stragglerReason } from '../src/rollout/stragglers';
import { dueToMove, moveDue } from '../src/routing';

function session(id: string, over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id,
    agent: 'a',
    tenant: null,
    version: 'v1',
    status: 'idle',
    seq: 3,
    tokenHash: 'x',
    leaseOwner: null,
    leaseExpiresAt: null,
    leaseEpoch: 0,
    reason: null,
    createdAt: 1_000,
    updatedAt: 1_000,
    metadata: {},
    ...over,
  };
}

const ids = Array.from({ length: 400 }, (_, i) => `ses_${i}`);
const policies: MoveRule[] = [
  { from: 'v1', to: 'v2', percent: 40, policy: 'at-boundary', maxAgeMs: null, deadlinePassed: false },
  { from: 'v1', to: 'v2', percent: 60, policy: 'finish-on-origin', maxAgeMs: null, deadlinePassed: false },
  { from: 'v1', to: 'v2', percent: 60, policy: 'finish-on-origin', maxAgeMs: null, deadlinePassed: true },
  { from: 'v1', to: 'v2', percent: 100, policy: 'max-age', maxAgeMs: 10_000, deadlinePassed: false },
];

function routeOf(move: MoveRule): RouteRecord {
  return { agent: 'a', stable: 'v1', candidate: 'v2', weight: 100, move, rolloutId: 'r', updatedAt: 0 };
}

describe('the move rule', () => {
  it('is one function: the router, the eager migrator and the stragglers view agree on every session', () => {
    const state = {
      spec: { migration: { eager: true } },
      drain: { stuck: [] as string[] },
    } as unknown as Parameters<typeof stragglerReason>[1];
    expect(opsDueToMove).toBe(dueToMove);
    for (const move of policies) {
      for (const [i, id] of ids.entries()) {
        const s = session(id, { createdAt: i % 2 === 0 ? 1_000 : 15_000 });
        const due = dueToMove(s, move, 20_000);
        expect(moveDue(routeOf(move), s, 20_000) !== null).toBe(due);
        const reason = stragglerReason(s, state, routeOf(move), new Map(), null, 20_000).reason;
        expect(reason === 'idle-not-due').toBe(!due);
      }
    }
    // the bucket alone does not make a session due: finish-on-origin waits for the drain deadline
    const below = ids.find((id) => bucketOf(id) < 60)!;
    expect(dueToMove(session(below), policies[1]!, 20_000)).toBe(false);
    expect(dueToMove(session(below), policies[2]!, 20_000)).toBe(true);
  });
});

describe('the status seen from the lease', () => {
  const now = 10_000;
  it('shows an open session under a live lease as running, or migrating under a migration lease', () => {
    const turn = { leaseOwner: 'rtr_1:turn_x', leaseExpiresAt: now + 1 };
    const migration = { leaseOwner: `${MIGRATION_LEASE_PREFIX}rtr_1:3`, leaseExpiresAt: now + 1 };
    const expired = { leaseOwner: 'rtr_1:turn_x', leaseExpiresAt: now };
    expect(statusSeen(session('s', { status: 'idle', ...turn }), now)).toBe('running');
    expect(statusSeen(session('s', { status: 'waiting', ...turn }), now)).toBe('running');
    expect(statusSeen(session('s', { status: 'idle', ...migration }), now)).toBe('migrating');
    expect(statusSeen(session('s', { status: 'waiting', ...expired }), now)).toBe('waiting');
    expect(statusSeen(session('s', { status: 'idle' }), now)).toBe('idle');
    expect(statusSeen(session('s', { status: 'completed', ...turn }), now)).toBe('completed');
    expect(statusSeen(session('s', { status: 'quarantined', ...migration }), now)).toBe('quarantined');
    expect(leaseHolder(turn, now)).toBe('turn');
    expect(leaseHolder(migration, now)).toBe('migration');
    expect(leaseHolder(expired, now)).toBeNull();
  });

  it('is what the stragglers view reports: a session mid-turn is a straggler mid-turn', () => {
    const state = { spec: { migration: { eager: true } }, drain: { stuck: [] } } as unknown as Parameters<
      typeof stragglerReason
    >[1];
    const s = session('s', { leaseOwner: 'rtr_1:turn_x', leaseExpiresAt: now + 1 });
    const r = stragglerReason(s, state, null, new Map(), null, now);
    expect(r).toMatchObject({ status: 'running', reason: 'mid-turn' });
  });
});
