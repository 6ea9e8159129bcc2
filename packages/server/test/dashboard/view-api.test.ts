/**
 * The admin API behind the dashboard's live views, over real HTTP with a real SQLite store and the
 * example agent mid-rollout: stragglers with their reasons (paged), the controller's samples of
 * sessions by version and status, each gate's two distributions, the status event stream, and the
 * tenant filter on GET /v1/sessions. (The store's halves of these run on both backends in the
 * store conformance suite.)
 */
import { bucketOf } from '@baton/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bigRefundOrders, until } from '../rollout/harness';
import { startScenario, type Scenario } from './scenario';

let sc: Scenario;
let waitingId: string;

beforeAll(async () => {
  sc = await startScenario({ blueSessions: 16, greenTraffic: 16 });
  // a session waiting for a refund approval, created before the rollout would have put it on v1;
  // now it may land on either version: keep creating until one is on blue
  waitingId = await until('a waiting session on v1', async () => {
    const s = await sc.t.api.createSession();
    if (s.version !== 'v1') return null;
    const r = await sc.t.api.turn(s, 'k0', `I want a refund for order ${bigRefundOrders(1)[0]}`);
    expect(r.status).toBe(200);
    return r.body.status === 'waiting' ? s.id : null;
  });
  const tenants = ['acme', 'acme', 'globex'];
  for (const tenant of tenants) {
    const r = await sc.t.api.req('POST', '/v1/agents/support/sessions', {
      body: { tenant },
      headers: { authorization: 'Bearer traffic-token' },
    });
    expect(r.status).toBe(201);
  }
}, 120_000);

afterAll(async () => {
  await sc?.t.close();
});

const get = (p: string) => sc.t.api.admin('GET', p);

describe('stragglers', () => {
  it('lists every open session still on blue, a page at a time, each with the reason it has not moved', async () => {
    const route = await sc.t.store.getRoute('support');
    expect(route?.move?.percent).toBe(50);
    const seen: Array<{ sessionId: string; status: string; reason: string; waitDeadline?: number }> = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await get(
        `/v1/rollouts/${sc.rolloutId}/stragglers?limit=5${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(r.status).toBe(200);
      seen.push(...r.body.items);
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor);
    const open = (
      await sc.t.store.listSessions({
        agent: 'support',
        version: 'v1',
        status: ['idle', 'running', 'waiting', 'migrating'],
        limit: 1000,
      })
    ).items;
    expect(seen.map((s) => s.sessionId)).toEqual(open.map((s) => s.id));
    expect(pages).toBe(Math.max(1, Math.ceil(open.length / 5)));
    for (const s of seen) {
      if (s.status === 'waiting') continue;
      // idle and not due: its bucket is past the step's migrate share; due ones are queued for the eager migrator
      expect(s.reason).toBe(bucketOf(s.sessionId) < 50 ? 'idle-queued' : 'idle-not-due');
    }
    const w = seen.find((s) => s.sessionId === waitingId);
    expect(w).toMatchObject({ status: 'waiting', reason: 'waiting' });
    const waits = await sc.t.store.listWaits({ sessionId: waitingId, status: 'pending' });
    expect(w!.waitDeadline).toBe(Math.min(...waits.map((x) => x.deadline)));
    // the status view carries the first page when asked (the event stream asks for 20)
    const status = await get(`/v1/rollouts/${sc.rolloutId}?stragglers=7`);
    expect(status.body.drain.stragglers.items).toEqual(seen.slice(0, 7));
    expect((await get(`/v1/rollouts/${sc.rolloutId}`)).body.drain.stragglers).toBeUndefined();
  });

  it('refuses a cursor of another list, and an unknown rollout', async () => {
    const sessions = await get('/v1/sessions?limit=1');
    const r = await get(`/v1/rollouts/${sc.rolloutId}/stragglers?cursor=${sessions.body.nextCursor}`);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('INVALID_CURSOR');
    expect((await get('/v1/rollouts/nope/stragglers')).body.error.code).toBe('ROLLOUT_NOT_FOUND');
  });
});

describe('samples of sessions by version and status', () => {
  it('are recorded by the controller, ascending, and page by time', async () => {
    await until('three samples', async () => {
      const r = await get(`/v1/rollouts/${sc.rolloutId}/samples`);
      return r.body.items.length >= 3;
    });
    const all = (await get(`/v1/rollouts/${sc.rolloutId}/samples`)).body.items as Array<{
      at: number;
      counts: Record<string, Record<string, number>>;
    }>;
    const ats = all.map((x) => x.at);
    expect(ats).toEqual([...ats].sort((a, b) => a - b));
    expect(new Set(ats).size).toBe(ats.length);
    for (const s of all) expect(Object.keys(s.counts).every((v) => v === 'v1' || v === 'v2')).toBe(true);
    // the latest sample agrees with the store's counts, once nothing moves
    const now = await sc.t.store.countSessions({ agent: 'support' });
    const last = await until('a sample equal to the counts', async () => {
      const r = await get(`/v1/rollouts/${sc.rolloutId}/samples?after=${ats[ats.length - 1]! - 1}`);
      const l = r.body.items[r.body.items.length - 1];
      return JSON.stringify(l?.counts) === JSON.stringify(now) ? l : null;
    });
    expect(last.counts).toEqual(now);
    const page = await get(`/v1/rollouts/${sc.rolloutId}/samples?limit=1&after=${ats[0]}`);
    expect(page.body.items.map((x: { at: number }) => x.at)).toEqual([ats[1]]);
    expect(page.body.nextAfter).toBe(ats[1]);
  });
});

describe('gate distributions', () => {
  it('bin blue’s and green’s values of each gate’s metric on shared edges, with the gate’s sample sizes', async () => {
    const status = (await get(`/v1/rollouts/${sc.rolloutId}`)).body;
    const r = await get(`/v1/rollouts/${sc.rolloutId}/distributions`);
    expect(r.status).toBe(200);
    const d = r.body.gates.find((g: { name: string }) => g.name === 'tool-calls');
    expect(d).toMatchObject({ metric: 'session.tool_calls', kind: 'numeric' });
    expect(d.labels.length).toBe(d.blue.counts.length + 1);
    expect(d.green.counts.length).toBe(d.blue.counts.length);
    expect(d.blue.counts.reduce((a: number, b: number) => a + b, 0)).toBe(d.blue.n);
    expect(d.green.counts.reduce((a: number, b: number) => a + b, 0)).toBe(d.green.n);
    const g = status.gates.find((x: { name: string }) => x.name === 'tool-calls');
    expect(d.blue.n).toBe(g.evidence.nBlue);
    expect(d.green.n).toBe(g.evidence.nGreen);
    expect(d.green.n).toBeGreaterThan(0);
  });
});

describe('the status event stream', () => {
  it('sends the status at once and again when it changes; an unknown rollout is a plain 404', async () => {
    const missing = await fetch(`${sc.t.baton.url}/v1/rollouts/nope/events`, { headers: ADMIN });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('ROLLOUT_NOT_FOUND');
    const unauth = await fetch(`${sc.t.baton.url}/v1/rollouts/${sc.rolloutId}/events`);
    expect(unauth.status).toBe(401);

    const ctl = new AbortController();
    const res = await fetch(`${sc.t.baton.url}/v1/rollouts/${sc.rolloutId}/events`, {
      headers: { ...ADMIN, accept: 'text/event-stream' },
      signal: ctl.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    const next = async (): Promise<{ event: string; data: any }> => {
      for (;;) {
        const i = buf.indexOf('\n\n');
        if (i >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (block.startsWith(':')) continue;
          const event = /^event: (.*)$/m.exec(block)![1]!;
          return { event, data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) };
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buf += value;
      }
    };
    const first = await next();
    expect(first.event).toBe('status');
    expect(first.data).toMatchObject({ id: sc.rolloutId, phase: 'progressing' });
    const paused = await sc.t.api.admin('POST', `/v1/rollouts/${sc.rolloutId}/pause`, {
      reason: 'stream test',
    });
    expect(paused.status).toBe(200);
    let ev = await next();
    while (ev.data.phase !== 'paused') ev = await next();
    expect(ev.event).toBe('status');
    expect(ev.data.paused.reason).toBe('stream test');
    expect(ev.data.rev).toBeGreaterThan(first.data.rev);
    ctl.abort();
    await sc.t.api.admin('POST', `/v1/rollouts/${sc.rolloutId}/resume`, {});
  });
});

describe('GET /v1/sessions?tenant=', () => {
  it('lists only that tenant’s sessions', async () => {
    const acme = await get('/v1/sessions?tenant=acme');
    expect(acme.status).toBe(200);
    expect(acme.body.items).toHaveLength(2);
    expect(acme.body.items.every((s: { tenant: string }) => s.tenant === 'acme')).toBe(true);
    expect((await get('/v1/sessions?tenant=globex')).body.items).toHaveLength(1);
    expect((await get('/v1/sessions?tenant=nobody')).body.items).toHaveLength(0);
  });
});
