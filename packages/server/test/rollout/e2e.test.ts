/**
 * End to end: 300 sessions in flight on v1 (idle, mid-turn and waiting on callbacks), a rollout
 * to v2 in three steps over real HTTP and a real SQLite file while traffic continues. Afterwards
 * every session exists once, on v2, with a gap-free checkpoint sequence and its history intact;
 * callbacks sent during the rollout resumed their sessions; no effect ran twice.
 */
import { waitDigest } from '@baton/core';
import { afterAll, describe, expect, it } from 'vitest';
import { allSessions, bigRefundOrders, startTestBaton, until, type TestBaton } from './harness';

const IDLE = 200;
const WAITING = 100;

interface Tracked {
  id: string;
  token: string;
  /** User messages sent and committed, in order. */
  sent: string[];
  wait: string | null;
  order: string;
  busy: boolean;
}

let t: TestBaton | null = null;
let stop = false;
afterAll(async () => {
  stop = true;
  await new Promise((r) => setTimeout(r, 200));
  await t?.close();
});

describe('rollout end to end', () => {
  it('300 in-flight sessions move from v1 to v2 in three steps with traffic throughout', async () => {
    t = await startTestBaton({
      versions: ['v1', 'v2'],
      controller: { intervalMs: 40, eagerConcurrency: 4 },
      // turns take 2-27 ms; a turn whose message says "[slow]" takes 4 s (mid-turn through a step)
      turnDelayMs: (req) =>
        req.input.kind === 'message' && String(req.input.message).includes('[slow]')
          ? 1500
          : 2 + Math.random() * 25,
    });
    const { api, store, effects } = t;
    const tracked: Tracked[] = [];
    const big = bigRefundOrders(WAITING);

    // --- 300 sessions on v1: 200 idle after a status question, 100 waiting for a refund approval
    const mk = async (i: number): Promise<void> => {
      const s = await api.createSession();
      expect(s.version).toBe('v1');
      const waiting = i >= IDLE;
      const order = waiting ? big[i - IDLE]! : `B-${1000 + i}`;
      const msg = waiting ? `I want a refund for order ${order}` : `Where is my order ${order}?`;
      const r = await api.turn(s, `${s.id}:0`, msg);
      expect(r.status).toBe(200);
      expect(r.body.status).toBe(waiting ? 'waiting' : 'idle');
      tracked.push({
        id: s.id,
        token: s.token,
        sent: [msg],
        wait: waiting ? (r.body.waits[0].token as string) : null,
        order,
        busy: false,
      });
    };
    for (let i = 0; i < IDLE + WAITING; i += 25)
      await Promise.all(Array.from({ length: Math.min(25, IDLE + WAITING - i) }, (_, k) => mk(i + k)));
    const before = new Set(tracked.map((s) => s.id));

    // --- traffic that keeps running during the rollout
    let turnsDuring = 0;
    const newSessions: Tracked[] = [];
    const callbackResults: Array<{ id: string; status: number; version: string; during: boolean }> = [];
    const turnLoop = async (): Promise<void> => {
      while (!stop) {
        const idle = tracked.filter((s) => !s.busy && s.wait === null);
        const s = idle[Math.floor(Math.random() * idle.length)];
        if (!s) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        s.busy = true;
        const msg = `Any news on my order ${s.order}? (${s.sent.length})`;
        const r = await api.turn(s, `${s.id}:${s.sent.length}`, msg);
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        s.sent.push(msg);
        s.busy = false;
        turnsDuring++;
      }
    };
    const newSessionLoop = async (): Promise<void> => {
      let i = 0;
      while (!stop) {
        const s = await api.createSession();
        const order = `C-${1000 + (i++ % 8000)}`;
        const msg = `Where is my order ${order}?`;
        const r = await api.turn(s, `${s.id}:0`, msg);
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        const tr = { id: s.id, token: s.token, sent: [msg], wait: null, order, busy: false };
        newSessions.push(tr);
        tracked.push(tr);
        await new Promise((res) => setTimeout(res, 10));
      }
    };
    const waiters = tracked.filter((s) => s.wait !== null);
    const callbackDuring = waiters.slice(0, WAITING / 2);
    const sendCallback = async (s: Tracked, during: boolean): Promise<void> => {
      const token = s.wait!;
      s.busy = true;
      const r = await api.callback(token, { approved: true, by: 'manager@example.com' });
      callbackResults.push({ id: s.id, status: r.status, version: r.body?.version, during });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      // the history names the wait by its digest (the store holds no wait token)
      s.sent.push(`[callback ${waitDigest(token)}]`);
      s.wait = null;
      s.busy = false;
    };
    const callbackLoop = async (): Promise<void> => {
      for (const s of callbackDuring) {
        if (stop) break;
        await sendCallback(s, true);
        await new Promise((res) => setTimeout(res, 5));
      }
    };

    const traffic = [turnLoop(), turnLoop(), turnLoop(), turnLoop(), newSessionLoop(), newSessionLoop()];
    const callbacks = callbackLoop();
    await new Promise((r) => setTimeout(r, 100));

    // ten sessions mid-turn (slow turns) while the rollout starts
    const slow = tracked.filter((s) => !s.busy && s.wait === null && before.has(s.id)).slice(0, 10);
    for (const s of slow) s.busy = true;
    const slowTurns = slow.map(async (s) => {
      const msg = `[slow] Is order ${s.order} on its way?`;
      const r = await api.turn(s, `${s.id}:${s.sent.length}`, msg);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      s.sent.push(msg);
      s.busy = false;
    });
    await new Promise((r) => setTimeout(r, 50));

    // --- the rollout, in three steps
    const created = await api.req('POST', '/v1/rollouts', {
      headers: { authorization: 'Bearer admin-token' },
      contentType: 'application/yaml',
      raw: `
agent: support
to: v2
migration: { policy: at-boundary, eager: true, batch: 25 }
steps:
  - fill: 10
    migrate: 10
    verify: { minSessions: 3, minDuration: 300ms, maxDuration: 20s, interval: 100ms }
  - fill: 50
    migrate: 50
    verify: { minSessions: 6, minDuration: 300ms, maxDuration: 20s, interval: 100ms }
  - fill: 100
    migrate: 100
gates:
  - metric: eval.resolution
    test: threshold
    threshold: 0.2
    tolerance: 0
    direction: higher-is-better
    minSamples: 3
    critical: true
onNoData: pass
`,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    expect(created.body.preflight.ok).toBe(true);
    expect(created.body.preflight.checked).toBe(created.body.preflight.total);
    expect(created.body.preflight.total).toBeGreaterThanOrEqual(before.size);

    // the rollout reaches promotion while traffic continues
    const midTurnSeen = await until(
      'mid-turn sessions in the drain status',
      async () => {
        const r = await api.admin('GET', `/v1/rollouts/${id}`);
        const running: string[] = r.body.drain.runningSessions ?? [];
        return slow.some((s) => running.includes(s.id)) ? running : null;
      },
      10_000,
    );
    expect(midTurnSeen.length).toBeGreaterThan(0);
    await Promise.all(slowTurns);
    const promoted = await until(
      'promotion',
      async () => {
        const r = await api.admin('GET', `/v1/rollouts/${id}`);
        expect(r.status).toBe(200);
        expect(['progressing', 'promoted']).toContain(r.body.phase);
        return r.body.phase === 'promoted' ? r.body : null;
      },
      45_000,
    );
    expect(promoted.weights).toEqual({ fill: 100, migrate: 100 });
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await Promise.all(traffic);
    await callbacks;

    // the rest of the callbacks arrive after promotion: their sessions resume on v2
    const callbackAfter = waiters.filter((s) => s.wait !== null);
    expect(callbackAfter.length).toBeGreaterThanOrEqual(WAITING / 2);
    await Promise.all(callbackAfter.map((s) => sendCallback(s, false)));

    const done = await until(
      'drain complete',
      async () => {
        const r = await api.admin('GET', `/v1/rollouts/${id}`);
        return r.body.stage === 'done' ? r.body : null;
      },
      30_000,
    );
    expect(done.phase).toBe('promoted');
    expect(done.drain.remaining).toBe(0);
    expect(done.drain.progress).toBe(1);
    expect(done.migrations.failed).toBe(0);

    // --- every session exists exactly once, on v2
    const all = await allSessions(store);
    const ids = all.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(before.size + newSessions.length);
    for (const id0 of before) expect(ids).toContain(id0);
    expect(all.filter((s) => s.version !== 'v2').map((s) => `${s.id}:${s.version}:${s.status}`)).toEqual([]);
    expect(all.every((s) => s.status === 'idle' || s.status === 'waiting')).toBe(true);

    // --- gap-free checkpoints and intact history (user messages and callbacks in order)
    const byId = new Map(tracked.map((s) => [s.id, s]));
    for (const s of all) {
      const metas = await store.listCheckpoints(s.id, { limit: 1000 });
      const seqs = metas.map((m) => m.seq).sort((a, b) => a - b);
      expect(seqs[seqs.length - 1]).toBe(s.seq);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
      const cp = await store.getLatestCheckpoint(s.id);
      expect(cp!.writtenBy).toBe('v2');
      expect(cp!.schemaVersion).toBe(2);
      const tr = byId.get(s.id)!;
      const inputs = (await store.readHistory(s.id, { limit: 1000 })).entries
        .filter((h) => h.role === 'user' || h.role === 'callback')
        .map((h) =>
          h.role === 'user' ? (h.content as string) : `[callback ${(h.content as { token: string }).token}]`,
        );
      expect(inputs).toEqual(tr.sent);
      if (before.has(s.id)) {
        const migs = await store.listMigrations({ sessionId: s.id });
        const ok = migs.filter((m) => m.status === 'ok');
        expect(ok).toHaveLength(1);
        expect(ok[0]).toMatchObject({ fromVersion: 'v1', toVersion: 'v2', fromSchema: 1, toSchema: 2 });
      }
    }

    // --- callbacks resumed their sessions (on whatever version owned them then)
    expect(callbackResults).toHaveLength(WAITING);
    expect(callbackResults.every((c) => c.status === 200)).toBe(true);
    expect(callbackResults.filter((c) => c.during).length).toBeGreaterThan(10);
    expect(callbackResults.filter((c) => !c.during).every((c) => c.version === 'v2')).toBe(true);
    for (const s of waiters) {
      const cp = await store.getLatestCheckpoint(s.id);
      expect((cp!.body.state as { refund: { status: string } }).refund.status).toBe('approved');
    }

    // --- no effect ran twice, and the ledger agrees with what ran
    expect(effects.duplicates()).toEqual([]);
    let committed = 0;
    let cursor: string | null = null;
    for (;;) {
      const p = await store.listEffects({ agent: 'support', limit: 1000, cursor });
      committed += p.items.filter((e) => e.status === 'committed').length;
      if (!p.nextCursor) break;
      cursor = p.nextCursor;
    }
    expect(committed).toBe(effects.total());

    // --- the decision log tells the story, each step once
    const kinds = (await api.admin('GET', `/v1/rollouts/${id}/decisions`)).body.items.map(
      (d: { kind: string }) => d.kind,
    );
    expect(kinds.filter((k: string) => k === 'step-started')).toHaveLength(3);
    expect(kinds[0]).toBe('created');
    expect(kinds.slice(-2)).toEqual(['promoted', 'drain-complete']);
    expect(kinds.filter((k: string) => k === 'gates-passed').length).toBe(2);
    expect(turnsDuring).toBeGreaterThan(50);
  });
});
