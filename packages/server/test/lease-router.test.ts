/**
 * Short leases through the router and the ledger, on an injected clock: a turn longer than the
 * lease keeps it by renewal; a turn whose lease is taken over is aborted and commits nothing; every
 * ledger and journal call is refused once its capability's lease is gone; a previous incarnation's
 * lease is reclaimed at once; Retry-After is a hint, not the whole lease.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock, type EffectIntentInput } from '@baton/core';
import { defineAgent } from '@baton/sdk';
import { openStore, type Store } from '@baton/store';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Capabilities } from '../src/capability';
import { StoreLedgerClient } from '../src/ledger';
import { call, newSession, startServer, stopServer, type Running } from './fixtures/harness';

const clock = new SimulatedClock(Date.UTC(2026, 5, 1));
/** Turns asked to `hold` wait here until released, by session id. */
const gates = new Map<string, () => void>();

const slow = defineAgent({
  name: 'slow',
  version: 'v1',
  schemaVersion: 1,
  state: z.object({ n: z.number() }),
  initialState: () => ({ n: 0 }),
  modelId: 'none',
  turn: async (ctx, input) => {
    const msg = (input.kind === 'message' ? (input.message ?? {}) : {}) as { hold?: boolean };
    if (msg.hold) await new Promise<void>((resolve) => gates.set(ctx.session.id, resolve));
    await ctx.effect('send', { n: ctx.state.n }, () => ({ sent: true }));
    ctx.state.n += 1;
    return { n: ctx.state.n };
  },
});

let dir: string;
let store: Store;
let r: Running;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'baton-lease-'));
  store = await openStore(join(dir, 'baton.db'), { now: () => clock.now() });
  r = await startServer(store, [slow], { clock, limits: { healthIntervalMs: 0 } });
});

afterAll(async () => {
  await stopServer(r);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function held(sessionId: string): Promise<() => void> {
  for (let i = 0; i < 10_000 && !gates.has(sessionId); i++) await new Promise((x) => setImmediate(x));
  const release = gates.get(sessionId);
  if (!release) throw new Error('the turn never reached its hold');
  gates.delete(sessionId);
  return release;
}

/** Run the clock forward in small steps, letting renewals reach the store between them. */
async function runFor(ms: number, step = 250): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    await clock.advance(step);
    for (let i = 0; i < 5; i++) await new Promise((x) => setImmediate(x));
  }
}

describe('a turn under a short lease', () => {
  it('keeps its lease by renewal for longer than the lease, and others get a short Retry-After', async () => {
    const s = await newSession(r.http, 'slow');
    const turn = r.server.router.turn(s.id, { kind: 'message', message: { hold: true } }, 'k1');
    const release = await held(s.id);
    const before = await store.getSession(s.id);
    expect(before.leaseExpiresAt! - clock.now()).toBeLessThanOrEqual(3000);
    await runFor(8000);
    const during = await store.getSession(s.id);
    expect(during.leaseOwner).toBe(before.leaseOwner);
    expect(during.leaseEpoch).toBe(before.leaseEpoch);
    expect(during.leaseExpiresAt!).toBeGreaterThan(clock.now());
    const busy = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: { ...s.headers, 'idempotency-key': 'k2' },
      body: { input: { text: 'hi' } },
    });
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe('SESSION_BUSY');
    expect(busy.headers['retry-after']).toBe('1');
    release();
    await expect(turn).resolves.toMatchObject({ seq: 1, output: { n: 1 } });
    expect((await store.getSession(s.id)).leaseOwner).toBeNull();
  });

  it('is aborted when its lease is taken over, and commits nothing', async () => {
    const s = await newSession(r.http, 'slow');
    const turn = r.server.router.turn(s.id, { kind: 'message', message: { hold: true } }, 'k1');
    const outcome = turn.then(
      () => 'committed',
      (e: { code?: string }) => e.code,
    );
    const release = await held(s.id);
    const cur = await store.getSession(s.id);
    // another router's takeover (as after an expiry): release, then acquire under a new epoch
    await store.releaseLease({
      sessionId: s.id,
      owner: cur.leaseOwner!,
      expiresAt: cur.leaseExpiresAt!,
      epoch: cur.leaseEpoch,
    });
    const other = await store.acquireLease(s.id, 'rtr_other:turn_x', 60_000);
    await runFor(1500);
    expect(await outcome).toBe('LEASE_LOST');
    release(); // the worker's handler goes on: its effect intent is refused
    await runFor(500);
    expect((await store.listEffects({ sessionId: s.id })).items).toEqual([]);
    const after = await store.getSession(s.id);
    expect(after.seq).toBe(0);
    expect(after.leaseOwner).toBe('rtr_other:turn_x');
    await store.releaseLease(other);
  });

  it("reclaims at once a lease of this router's previous incarnation, not another router's", async () => {
    const ctx = r.server.ctx;
    const own = ctx.instanceId;
    ctx.instanceId = 'rtr_stable';
    try {
      const s = await newSession(r.http, 'slow');
      await store.acquireLease(s.id, 'rtr_stable:turn_from_before_the_crash', 3000);
      const t = await r.server.router.turn(s.id, { kind: 'message', message: {} }, 'k1');
      expect(t.seq).toBe(1);

      const s2 = await newSession(r.http, 'slow');
      await store.acquireLease(s2.id, 'rtr_someone_else:turn_y', 3000);
      await expect(r.server.router.turn(s2.id, { kind: 'message', message: {} }, 'k1')).rejects.toMatchObject(
        { code: 'SESSION_BUSY', retryAfterMs: 1000 },
      );
      await runFor(3000);
      await expect(
        r.server.router.turn(s2.id, { kind: 'message', message: {} }, 'k1'),
      ).resolves.toMatchObject({
        seq: 1,
      });
    } finally {
      ctx.instanceId = own;
    }
  });
});

describe('the ledger under the turn capability', () => {
  it('refuses every write and journal call without a live capability of that turn', async () => {
    const caps = new Capabilities(store, clock);
    const base = new StoreLedgerClient(store, caps);
    const s = await newSession(r.http, 'slow');
    const lease = await store.acquireLease(s.id, 'rtr_t:turn_1', 3000);
    const cap = await caps.issue(s.id, 'turn_1', lease.epoch, 30_000);
    const live = base.withCapability(cap);
    const intent = (n: number, turnId = 'turn_1'): EffectIntentInput => ({
      idempotencyKey: `${s.id}:${turnId}:${n}`,
      sessionId: s.id,
      agent: 'slow',
      version: 'v1',
      turnId,
      name: 'send',
      args: { n },
      compensation: null,
    });
    const refused = { code: 'CAPABILITY_INVALID' };

    await expect(base.intent(intent(0))).rejects.toMatchObject(refused); // none presented
    await expect(live.intent(intent(0, 'turn_2'))).rejects.toMatchObject(refused); // another turn
    const ro = base.withCapability(await caps.issue(s.id, 'turn_1', null, 30_000));
    await expect(ro.intent(intent(0))).rejects.toMatchObject(refused); // read-only
    await expect(live.intent(intent(0))).resolves.toMatchObject({ existing: false });
    await expect(live.intent(intent(1))).resolves.toMatchObject({ existing: false });
    await expect(live.commit(intent(0).idempotencyKey, { ok: 1 })).resolves.toMatchObject({
      status: 'committed',
    });
    await expect(live.putStep(s.id, 'turn_1', 0, 'think', { v: 1 })).resolves.toBeUndefined();
    await expect(live.steps(s.id, 'turn_1')).resolves.toHaveLength(1);
    await expect(base.commit(intent(1).idempotencyKey, {})).rejects.toMatchObject(refused);

    // the lease expires and another router takes the session over: the old capability is dead
    clock.set(clock.now() + 3000);
    await store.acquireLease(s.id, 'rtr_u:turn_1', 3000);
    await expect(live.commit(intent(1).idempotencyKey, { late: true })).rejects.toMatchObject(refused);
    await expect(live.fail(intent(1).idempotencyKey, 'late')).rejects.toMatchObject(refused);
    await expect(live.putStep(s.id, 'turn_1', 1, 'think', { v: 2 })).rejects.toMatchObject(refused);
    await expect(live.steps(s.id, 'turn_1')).rejects.toMatchObject(refused);
    await expect(live.intent(intent(2))).rejects.toMatchObject(refused);
    expect((await store.getEffect(intent(1).idempotencyKey)).status).toBe('intent');
    await expect(live.commit('no-such-key', {})).rejects.toMatchObject({ code: 'EFFECT_NOT_FOUND' });
  });

  it('lets the attempt that recorded an intent settle it after its lease was lost, and nothing else', async () => {
    // found by the chaos suite: a PostgreSQL restart (or a lone router's restart) outlasting the
    // lease left every effect whose commit it cut in doubt, although the effect had run
    const caps = new Capabilities(store, clock);
    const base = new StoreLedgerClient(store, caps);
    const s = await newSession(r.http, 'slow');
    const lease = await store.acquireLease(s.id, 'rtr_t:turn_1', 3000);
    const capTtl = 10_000;
    const live = base.withCapability(await caps.issue(s.id, 'turn_1', lease.epoch, capTtl));
    const issuedAt = clock.now();
    const intent = (n: number, attemptId: string): EffectIntentInput => ({
      idempotencyKey: `${s.id}:turn_1:${n}`,
      sessionId: s.id,
      agent: 'slow',
      version: 'v1',
      turnId: 'turn_1',
      name: 'send',
      args: { n },
      compensation: null,
      attemptId,
    });
    for (let n = 0; n < 4; n++) await live.intent(intent(n, 'att_old'));
    const key = (n: number) => intent(n, 'att_old').idempotencyKey;
    const refused = { code: 'CAPABILITY_INVALID' };

    // the lease expires and another router takes the session over
    clock.set(clock.now() + 3000);
    const next = await store.acquireLease(s.id, 'rtr_u:turn_1', 3000);
    await expect(live.commit(key(0), { late: 1 })).rejects.toMatchObject(refused); // no attempt id
    await expect(live.commit(key(0), { late: 1 }, { attemptId: 'att_new' })).rejects.toMatchObject(refused);
    const other = base.withCapability(await caps.issue(s.id, 'turn_2', lease.epoch, capTtl));
    await expect(other.commit(key(0), {}, { attemptId: 'att_old' })).rejects.toMatchObject(refused);
    await expect(base.commit(key(0), {}, { attemptId: 'att_old' })).rejects.toMatchObject(refused);
    expect((await store.getEffect(key(0))).status).toBe('intent');

    // its own attempt: the effect ran (or failed) once, and that is what gets recorded
    await expect(live.commit(key(0), { sent: true }, { attemptId: 'att_old' })).resolves.toMatchObject({
      status: 'committed',
      result: { sent: true },
    });
    await expect(live.fail(key(1), 'smtp down', { attemptId: 'att_old' })).resolves.toMatchObject({
      status: 'failed',
    });
    // still fenced: the session's journal, new intents
    await expect(live.putStep(s.id, 'turn_1', 0, 'think', {})).rejects.toMatchObject(refused);
    await expect(live.intent(intent(9, 'att_old'))).rejects.toMatchObject(refused);

    // an operator's resolution wins over a late settle
    const e2 = await store.getEffect(key(2));
    await store.resolveEffect(e2.id, { status: 'failed', error: 'never sent', by: 'op', reason: 'checked' });
    await expect(live.commit(key(2), { sent: true }, { attemptId: 'att_old' })).rejects.toMatchObject({
      code: 'CAPABILITY_INVALID',
    });
    expect((await store.getEffect(key(2))).status).toBe('failed');

    // and the capability itself expires
    clock.set(issuedAt + capTtl + 1);
    await expect(live.commit(key(3), { sent: true }, { attemptId: 'att_old' })).rejects.toMatchObject(
      refused,
    );
    expect((await store.getEffect(key(3))).status).toBe('intent');
    await store.releaseLease(next);
  });

  it('accepts calls without a capability only for versions served by protocol-1 workers', async () => {
    const caps = new Capabilities(store, clock);
    const s = await newSession(r.http, 'slow');
    const legacy = new StoreLedgerClient(
      store,
      caps,
      (agent, version) => agent === 'slow' && version === 'v1',
    );
    await expect(
      legacy.intent({
        idempotencyKey: `${s.id}:t:0`,
        sessionId: s.id,
        agent: 'slow',
        version: 'v1',
        turnId: 't',
        name: 'send',
        args: {},
        compensation: null,
      }),
    ).resolves.toMatchObject({ existing: false });
    await expect(legacy.putStep(s.id, 't', 0, 'x', {})).resolves.toBeUndefined();
    const strict = new StoreLedgerClient(store, caps, () => false);
    await expect(strict.putStep(s.id, 't', 1, 'x', {})).rejects.toMatchObject({ code: 'CAPABILITY_INVALID' });
  });

  it('the worker API maps a refused call to 403 CAPABILITY_INVALID', async () => {
    const s = await newSession(r.http, 'slow');
    const res = await call(r.http, 'POST', '/v1/worker/steps', {
      headers: { authorization: 'Bearer worker-token', 'baton-capability': 'forged.token' },
      body: { sessionId: s.id, turnId: 't', index: 0, name: 'x', result: {} },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('CAPABILITY_INVALID');
    const none = await call(r.http, 'POST', '/v1/worker/effects/commit', {
      headers: { authorization: 'Bearer worker-token' },
      body: { idempotencyKey: `${s.id}:t:0`, result: {} },
    });
    expect(none.status).toBe(404); // an unknown key is still EFFECT_NOT_FOUND
  });
});
