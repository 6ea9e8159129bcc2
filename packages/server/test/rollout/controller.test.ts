/**
 * The controller's own duties: leader election with standby, wait deadlines, migration policies of
 * the eager migrator, drain observation, idempotent actions, metrics.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock, bucketOf, waitDigest, type SessionRecord } from '@baton/core';
import { RolloutController, CONTROLLER_LOCK } from '../../src/rollout/controller';
import { applyRoute, dueToMove, eagerBatch, observeDrain } from '../../src/rollout/ops';
import { bigRefundOrders, startTestBaton, until, type TestBaton } from './harness';

const open: TestBaton[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

async function baton(opts: Parameters<typeof startTestBaton>[0]): Promise<TestBaton> {
  const t = await startTestBaton(opts);
  open.push(t);
  return t;
}

function session(id: string, createdAt: number): SessionRecord {
  return {
    id,
    agent: 'a',
    tenant: null,
    version: 'v1',
    status: 'idle',
    seq: 1,
    tokenHash: '',
    leaseOwner: null,
    leaseExpiresAt: null,
    leaseEpoch: 0,
    reason: null,
    createdAt,
    updatedAt: createdAt,
    metadata: {},
  };
}

describe('migration policies', () => {
  const now = 1_000_000;
  const ids = Array.from({ length: 400 }, (_, i) => `ses_${i}`);
  it('at-boundary moves exactly the sessions below the percentage', () => {
    for (const s of ids.map((id) => session(id, now))) {
      const m = { percent: 30, policy: 'at-boundary' as const, maxAgeMs: null, deadlinePassed: false };
      expect(dueToMove(s, m, now)).toBe(bucketOf(s.id) < 30);
    }
  });
  it('finish-on-origin moves nobody before the drain deadline, then the bucket decides', () => {
    const s = ids.map((id) => session(id, now));
    const m = { percent: 100, policy: 'finish-on-origin' as const, maxAgeMs: null };
    expect(s.filter((x) => dueToMove(x, { ...m, deadlinePassed: false }, now))).toEqual([]);
    expect(s.filter((x) => dueToMove(x, { ...m, deadlinePassed: true }, now))).toHaveLength(400);
  });
  it('max-age moves only sessions younger than the limit', () => {
    const young = session('young', now - 1000);
    const old = session('old', now - 10_000);
    const m = { percent: 100, policy: 'max-age' as const, maxAgeMs: 5000, deadlinePassed: false };
    expect(dueToMove(young, m, now)).toBe(true);
    expect(dueToMove(old, m, now)).toBe(false);
  });
});

describe('rollout controller', () => {
  it('one controller leads; the other stands by and takes over when the lock is free', async () => {
    const a = await baton({
      versions: ['v1', 'v2'],
      controller: { owner: 'ctl-a', intervalMs: 20, lockTtlMs: 400 },
    });
    // a second Baton on the same file, its controller with another owner
    const b = await baton({
      versions: ['v1', 'v2'],
      dir: a.dir,
      controller: { owner: 'ctl-b', intervalMs: 20, lockTtlMs: 400 },
    });
    const ca = a.baton.controller!;
    const cb = b.baton.controller!;
    await until('a leader', async () => ca.isLeader || cb.isLeader);
    await new Promise((r) => setTimeout(r, 100));
    expect([ca.isLeader, cb.isLeader].filter(Boolean)).toHaveLength(1);
    const [leader, follower] = ca.isLeader ? [ca, cb] : [cb, ca];
    // the leader steps down (releases the lock): the follower takes over
    await leader.stop();
    await until('takeover', async () => follower.isLeader, 5000);

    // a lock held by a dead controller blocks everyone until it expires
    await follower.stop();
    await a.store.acquireLock(CONTROLLER_LOCK, 'ctl-dead', 300);
    const c = new RolloutController(a.baton.ctx, { owner: 'ctl-c', intervalMs: 20, lockTtlMs: 400 });
    await c.pass();
    expect(c.isLeader).toBe(false);
    await new Promise((r) => setTimeout(r, 350));
    await c.pass();
    expect(c.isLeader).toBe(true);
    await c.stop();
  });

  it('fires the deadline of a pending wait with the timeout turn (injected clock)', async () => {
    const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
    const t = await baton({ versions: ['v1'], controller: false, clock });
    const s = await t.api.createSession();
    const [order] = bigRefundOrders(1);
    const r = await t.api.turn(s, 'k0', `I want a refund for order ${order}`);
    expect(r.body.status).toBe('waiting');
    const token = waitDigest(r.body.waits[0].token as string);
    const ctl = new RolloutController(t.baton.ctx, { owner: 'ctl', intervalMs: 1000 });
    await ctl.pass();
    expect((await t.store.getWait(token)).status).toBe('pending');
    await clock.advance(24 * 3600_000 + 1);
    await ctl.pass();
    expect((await t.store.getWait(token)).status).not.toBe('pending');
    const sess = await t.store.getSession(s.id);
    expect(sess.status).toBe('idle');
    const cp = await t.store.getLatestCheckpoint(s.id);
    expect((cp!.body.state as { refund: { status: string } }).refund.status).toBe('expired');
    expect((await t.store.readHistory(s.id)).entries.some((h) => h.role === 'system')).toBe(true);
    // firing again is harmless
    await ctl.pass();
    expect((await t.store.getSession(s.id)).seq).toBe(sess.seq);
    await ctl.stop();
  });

  it('eager batches skip sessions mid-turn and are harmless to re-run; drain positions are reported', async () => {
    const t = await baton({ versions: ['v1', 'v2'], controller: false });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const s = await t.api.createSession();
      await t.api.turn(
        s,
        'k0',
        i < 9 ? `Where is my order E-${1000 + i}?` : `I want a refund for order ${bigRefundOrders(3)[i - 9]}`,
      );
      ids.push(s.id);
    }
    // one session mid-turn: its lease is live
    await t.store.acquireLease(ids[0]!, 'some-router', 60_000);
    const before = await observeDrain(t.baton.ctx, 'support', 'v1');
    expect(before).toMatchObject({ remaining: 12, byStatus: { idle: 8, running: 1, waiting: 3 } });
    expect(before.running).toEqual([ids[0]]);
    expect(before.waiting.nextDeadline).toBeGreaterThan(Date.now());
    const input = {
      agent: 'support',
      rolloutId: 'ro_test',
      from: 'v1',
      to: 'v2',
      percent: 100,
      policy: 'at-boundary' as const,
      maxAgeMs: null,
      deadlinePassed: false,
      batch: 5,
    };
    const r1 = await eagerBatch(t.baton.ctx, input);
    expect(r1).toMatchObject({ migrated: 5, failed: 0, more: true });
    const r2 = await eagerBatch(t.baton.ctx, { ...input, after: r1.next });
    const r3 = await eagerBatch(t.baton.ctx, { ...input, after: r2.next });
    expect(r1.migrated + r2.migrated + r3.migrated).toBe(11);
    // re-running moves nothing and breaks nothing
    const again = await eagerBatch(t.baton.ctx, input);
    expect(again).toMatchObject({ migrated: 0, failed: 0, more: false });
    expect((await t.store.getSession(ids[0]!)).version).toBe('v1');
    for (const id of ids.slice(1)) {
      expect((await t.store.getSession(id)).version).toBe('v2');
      expect((await t.store.listMigrations({ sessionId: id })).filter((m) => m.status === 'ok')).toHaveLength(
        1,
      );
    }
    // waits migrated with their sessions: same token, still pending
    for (const id of ids.slice(9)) {
      const ws = await t.store.listWaits({ sessionId: id, status: 'pending' });
      expect(ws).toHaveLength(1);
      expect((await t.store.getSession(id)).status).toBe('waiting');
    }
    const after = await observeDrain(t.baton.ctx, 'support', 'v1');
    expect(after.remaining).toBe(1);
  });

  it('the batched store path applies or refuses each append on its own, in one transaction', async () => {
    const t = await baton({ versions: ['v1', 'v2'], controller: false });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await t.api.createSession();
      await t.api.turn(s, 'k0', `Where is my order F-${1000 + i}?`);
      ids.push(s.id);
    }
    await t.store.acquireLease(ids[1]!, 'a-router', 60_000);
    const cps = await Promise.all(ids.map((id) => t.store.getLatestCheckpoint(id)));
    const item = (i: number, expectedSeq: number) => ({
      sessionId: ids[i]!,
      expectedSeq,
      schemaVersion: 1,
      writtenBy: 'v1',
      body: cps[i]!.body,
      requireNoLease: true,
    });
    const results = await t.store.appendCheckpoints([
      item(0, cps[0]!.seq),
      item(1, cps[1]!.seq),
      item(2, 99),
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'ok',
      'SESSION_BUSY',
      'SEQUENCE_CONFLICT',
    ]);
    expect((await t.store.getSession(ids[0]!)).seq).toBe(cps[0]!.seq + 1);
    expect((await t.store.getSession(ids[1]!)).seq).toBe(cps[1]!.seq);
    expect((await t.store.getSession(ids[2]!)).seq).toBe(cps[2]!.seq);
  });

  it('after an abort the list and the status view both show no fill to green', async () => {
    const t = await baton({ versions: ['v1', 'v2'], controller: false });
    const r = await t.api.admin('POST', '/v1/rollouts', {
      agent: 'support',
      to: 'v2',
      steps: [{ fill: 50, migrate: 0 }],
    });
    expect(r.status).toBe(201);
    const id = r.body.id as string;
    const listed = async () =>
      (
        (await t.api.admin('GET', '/v1/rollouts?agent=support')).body.items as Array<{
          id: string;
          weights: unknown;
        }>
      ).find((x) => x.id === id)!.weights;
    expect(await listed()).toEqual({ fill: 50, migrate: 0 });
    expect((await t.api.admin('POST', `/v1/rollouts/${id}/abort`, { reason: 'test' })).status).toBe(200);
    const st = (await t.api.admin('GET', `/v1/rollouts/${id}`)).body;
    expect(st.phase).toBe('aborted');
    expect(st.weights).toEqual({ fill: 0, migrate: 0 });
    expect(await listed()).toEqual(st.weights);
  });

  it('drain deadline: mark-stuck names the sessions still mid-turn and never touches their turn', async () => {
    const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
    const t = await baton({ versions: ['v1', 'v2'], controller: false, clock });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const s = await t.api.createSession();
      await t.api.turn(s, 'k0', `Where is my order J-${1000 + i}?`);
      ids.push(s.id);
    }
    // two sessions are mid-turn for a long time (a router holds their leases)
    await t.store.acquireLease(ids[0]!, 'router-x', 3_600_000);
    await t.store.acquireLease(ids[1]!, 'router-x', 3_600_000);
    const r = await t.api.admin('POST', '/v1/rollouts', {
      agent: 'support',
      to: 'v2',
      drain: { deadline: '1m', onDeadline: 'mark-stuck' },
      steps: [{ fill: 100, migrate: 100 }],
    });
    expect(r.status).toBe(201);
    const id = r.body.id as string;
    const ctl = new RolloutController(t.baton.ctx, {
      owner: 'ctl',
      intervalMs: 1000,
      onError: (e, what) => console.error(what, e),
    });
    for (let i = 0; i < 4; i++) await ctl.pass();
    let st = (await t.api.admin('GET', `/v1/rollouts/${id}`)).body;
    expect(st.phase).toBe('promoted');
    expect(st.stage).toBe('draining');
    expect(st.drain).toMatchObject({ remaining: 2, running: 2 });
    expect([...st.drain.runningSessions].sort()).toEqual([ids[0], ids[1]].sort());
    await clock.advance(61_000);
    await ctl.pass();
    st = (await t.api.admin('GET', `/v1/rollouts/${id}`)).body;
    expect(st.stage).toBe('done');
    const ds = (await t.api.admin('GET', `/v1/rollouts/${id}/decisions`)).body.items as Array<{
      kind: string;
      evidence: any;
    }>;
    const stuck = ds.find((d) => d.kind === 'sessions-stuck')!;
    expect([...stuck.evidence.sessions].sort()).toEqual([ids[0], ids[1]].sort());
    // their turns were never touched: still on v1, lease intact; the route still moves them later
    for (const sid of ids.slice(0, 2)) {
      const s = await t.store.getSession(sid);
      expect(s.version).toBe('v1');
      expect(s.leaseOwner).toBe('router-x');
    }
    expect((await t.store.getRoute('support'))!.move).toMatchObject({ from: 'v1', to: 'v2', percent: 100 });
    await ctl.stop();
  });

  it('drain deadline: wait records the deadline and keeps draining', async () => {
    const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
    const t = await baton({ versions: ['v1', 'v2'], controller: false, clock });
    const s = await t.api.createSession();
    await t.api.turn(s, 'k0', 'Where is my order J-2000?');
    const lease = await t.store.acquireLease(s.id, 'router-x', 3_600_000);
    const r = await t.api.admin('POST', '/v1/rollouts', {
      agent: 'support',
      to: 'v2',
      drain: { deadline: '1m', onDeadline: 'wait' },
      steps: [{ fill: 100, migrate: 100 }],
    });
    const id = r.body.id as string;
    const ctl = new RolloutController(t.baton.ctx, { owner: 'ctl', intervalMs: 1000 });
    for (let i = 0; i < 3; i++) await ctl.pass();
    await clock.advance(61_000);
    await ctl.pass();
    let st = (await t.api.admin('GET', `/v1/rollouts/${id}`)).body;
    expect(st.stage).toBe('draining');
    expect(st.drain.deadlinePassed).toBe(true);
    // the turn ends: the session is moved and the drain completes
    await t.store.releaseLease(lease);
    await ctl.pass();
    await ctl.pass();
    st = (await t.api.admin('GET', `/v1/rollouts/${id}`)).body;
    expect(st.stage).toBe('done');
    expect((await t.store.getSession(s.id)).version).toBe('v2');
    const kinds = (await t.api.admin('GET', `/v1/rollouts/${id}/decisions`)).body.items.map(
      (d: any) => d.kind,
    );
    expect(kinds).toEqual([
      'created',
      'forecast',
      'preflight-passed',
      'step-started',
      'drain-started',
      'promoted',
      'drain-deadline',
      'drain-waiting',
      'drain-complete',
    ]);
    await ctl.stop();
  });

  it('setting a route is idempotent', async () => {
    const t = await baton({ versions: ['v1', 'v2'], controller: false });
    const route = { agent: 'support', stable: 'v1', candidate: 'v2', weight: 10, move: null };
    expect(await applyRoute(t.store, 'ro_x', route)).toBe(true);
    expect(await applyRoute(t.store, 'ro_x', route)).toBe(false);
    expect(await applyRoute(t.store, 'ro_x', { ...route, weight: 20 })).toBe(true);
  });

  it('exposes rollout metrics on the server registry', async () => {
    const t = await baton({ versions: ['v1', 'v2'], controller: { intervalMs: 20 } });
    const s = await t.api.createSession();
    await t.api.turn(s, 'k0', 'Where is my order E-1000?');
    const r = await t.api.admin('POST', '/v1/rollouts', {
      agent: 'support',
      to: 'v2',
      steps: [{ fill: 50, migrate: 50, verify: { minSessions: 1000 } }],
    });
    expect(r.status).toBe(201);
    await until(
      'drain observed',
      async () => (await t.api.admin('GET', `/v1/rollouts/${r.body.id}`)).body.drain.observedAt,
    );
    const m = await fetch(`${t.baton.url}/metrics`, { headers: { authorization: 'Bearer admin-token' } });
    const text = await m.text();
    expect(text).toMatch(
      new RegExp(`baton_rollout_phase\\{rollout="${r.body.id}",agent="support",phase="progressing"\\} 1`),
    );
    expect(text).toMatch(/baton_rollout_weight_ratio\{[^}]*kind="fill"\} 0.5/);
    expect(text).toMatch(/baton_drain_remaining_sessions\{/);
    expect(text).toMatch(/baton_sessions\{agent="support",version="v[12]",status="idle"\} 1/);
  });
});
