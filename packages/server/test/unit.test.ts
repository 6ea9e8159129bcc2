import {
  BatonError,
  SessionBusyError,
  bucketOf,
  type MoveRule,
  type RouteRecord,
  type SessionRecord,
} from '@baton/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { bearerOf, createAuth } from '../src/auth';
import { toWireError } from '../src/http-errors';
import { moveDue, turnIdOf, versionFor } from '../src/router';
import { MIGRATION_LEASE_PREFIX, leaseHolder, statusSeen } from '../src/lease';
import { dueToMove as opsDueToMove } from '../src/rollout/ops';
import { stragglerReason } from '../src/rollout/stragglers';
import { dueToMove } from '../src/routing';
import { sha256Hex } from '@baton/core';

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

function route(over: Partial<RouteRecord> = {}): RouteRecord {
  return {
    agent: 'a',
    stable: 'v1',
    candidate: null,
    weight: 0,
    move: null,
    rolloutId: null,
    updatedAt: 0,
    ...over,
  };
}

/** Ids whose bucket is below / at-or-above a threshold. */
function idsAround(threshold: number): { below: string; above: string } {
  let below: string | null = null;
  let above: string | null = null;
  for (let i = 0; below === null || above === null; i++) {
    const id = `ses_${i}`;
    if (bucketOf(id) < threshold) below ??= id;
    else above ??= id;
  }
  return { below, above };
}

describe('auth', () => {
  const auth = createAuth({ traffic: ['t1', 't2'], admin: ['adm'], worker: ['wrk'] });

  it('parses bearer headers', () => {
    expect(bearerOf('Bearer abc')).toBe('abc');
    expect(bearerOf('bearer abc')).toBe('abc');
    expect(bearerOf('Basic abc')).toBeNull();
    expect(bearerOf('Bearer ')).toBeNull();
    expect(bearerOf(undefined)).toBeNull();
  });

  it('grants the scope of a known token and rejects others with stable codes', () => {
    expect(auth.require('Bearer t2', 'traffic')).toBe('traffic');
    expect(auth.require('Bearer adm', 'traffic', 'admin')).toBe('admin');
    const codeOf = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return (e as BatonError).code;
      }
      return 'none';
    };
    expect(codeOf(() => auth.require(undefined, 'traffic'))).toBe('UNAUTHORIZED');
    expect(codeOf(() => auth.require('Bearer nope', 'traffic'))).toBe('UNAUTHORIZED');
    expect(codeOf(() => auth.require('Bearer t1', 'admin'))).toBe('FORBIDDEN');
    expect(codeOf(() => auth.require('Bearer wrk', 'traffic'))).toBe('FORBIDDEN');
  });

  it('checks session tokens against their hash', () => {
    const h = sha256Hex('secret');
    expect(() => auth.checkSessionToken(h, 'secret')).not.toThrow();
    expect(() => auth.checkSessionToken(h, 'other')).toThrow(/wrong session token/);
    expect(() => auth.checkSessionToken(h, undefined)).toThrow(/missing/);
    expect(() => auth.checkSessionToken(h, ['secret', 'x'])).not.toThrow();
  });

  it('refuses an empty configured token', () => {
    expect(() => createAuth({ traffic: [''], admin: [], worker: [] })).toThrow(BatonError);
  });
});

describe('error mapping', () => {
  it('maps BatonError to its code and status', () => {
    const w = toWireError(new BatonError('SESSION_NOT_FOUND', 'no such session', { sessionId: 's' }));
    expect(w.status).toBe(404);
    expect(w.body).toEqual({
      error: { code: 'SESSION_NOT_FOUND', message: 'no such session', details: { sessionId: 's' } },
    });
    expect(w.internal).toBe(false);
  });

  it('adds Retry-After seconds for SESSION_BUSY', () => {
    const w = toWireError(new SessionBusyError('s', 2_500));
    expect(w.status).toBe(409);
    expect(w.body.error.code).toBe('SESSION_BUSY');
    expect(w.retryAfterSeconds).toBe(3);
  });

  it('maps zod errors to VALIDATION', () => {
    const r = z.object({ a: z.number() }).safeParse({ a: 'x' });
    const w = toWireError(r.success ? null : r.error);
    expect(w.status).toBe(400);
    expect(w.body.error.code).toBe('VALIDATION');
    expect(w.body.error.details).toEqual({ issues: [{ path: 'a', message: expect.any(String) }] });
  });

  it('maps fastify body errors', () => {
    expect(toWireError({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }).body.error.code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
    expect(toWireError({ code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 }).body.error.code).toBe(
      'VALIDATION',
    );
  });

  it('hides unexpected errors behind INTERNAL', () => {
    const w = toWireError(new TypeError('secret detail'));
    expect(w.status).toBe(500);
    expect(w.body).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
    expect(w.internal).toBe(true);
  });
});

describe('routing', () => {
  it('derives turn ids deterministically from session and key', () => {
    expect(turnIdOf('s1', 'k')).toBe(turnIdOf('s1', 'k'));
    expect(turnIdOf('s1', 'k')).not.toBe(turnIdOf('s1', 'k2'));
    expect(turnIdOf('s1', 'k')).not.toBe(turnIdOf('s2', 'k'));
    expect(turnIdOf('s1', 'k')).toMatch(/^turn_[0-9a-f]{32}$/);
  });

  it('pins new sessions by bucket and weight', () => {
    const { below, above } = idsAround(30);
    const r = route({ candidate: 'v2', weight: 30 });
    expect(versionFor(r, below)).toBe('v2');
    expect(versionFor(r, above)).toBe('v1');
    expect(versionFor(route({ candidate: 'v2', weight: 0 }), below)).toBe('v1');
    expect(versionFor(route({ candidate: 'v2', weight: 100 }), above)).toBe('v2');
    expect(versionFor(route({ candidate: null, weight: 100 }), below)).toBe('v1');
  });

  it('applies move rules by bucket, origin and policy', () => {
    const { below, above } = idsAround(50);
    const move = {
      from: 'v1',
      to: 'v2',
      percent: 50,
      policy: 'at-boundary' as const,
      maxAgeMs: null,
      deadlinePassed: false,
    };
    const r = route({ candidate: 'v2', weight: 100, move });
    expect(moveDue(r, session(below), 5_000)).toBe(move);
    expect(moveDue(r, session(above), 5_000)).toBeNull();
    expect(moveDue(r, session(below, { version: 'v2' }), 5_000)).toBeNull();
    expect(moveDue(route(), session(below), 5_000)).toBeNull();
    expect(moveDue(null, session(below), 5_000)).toBeNull();

    const foo = route({ move: { ...move, policy: 'finish-on-origin' } });
    expect(moveDue(foo, session(below), 5_000)).toBeNull();
    const fooLate = route({ move: { ...move, policy: 'finish-on-origin', deadlinePassed: true } });
    expect(moveDue(fooLate, session(below), 5_000)).not.toBeNull();

    const age = route({ move: { ...move, policy: 'max-age', maxAgeMs: 10_000 } });
    expect(moveDue(age, session(below, { createdAt: 1_000 }), 5_000)).not.toBeNull(); // 4 s old
    expect(moveDue(age, session(below, { createdAt: 1_000 }), 20_000)).toBeNull(); // 19 s old: finishes on v1
  });
});

// ---- the move rule and the status seen from the lease: one function each ----

const ids = Array.from({ length: 400 }, (_, i) => `ses_${i}`);
const policies: MoveRule[] = [
  { from: 'v1', to: 'v2', percent: 40, policy: 'at-boundary', maxAgeMs: null, deadlinePassed: false },
  { from: 'v1', to: 'v2', percent: 60, policy: 'finish-on-origin', maxAgeMs: null, deadlinePassed: false },
  { from: 'v1', to: 'v2', percent: 60, policy: 'finish-on-origin', maxAgeMs: null, deadlinePassed: true },
  { from: 'v1', to: 'v2', percent: 100, policy: 'max-age', maxAgeMs: 10_000, deadlinePassed: false },
];

function routeOf(move: MoveRule): RouteRecord {
  return route({ candidate: 'v2', weight: 100, move, rolloutId: 'r' });
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
