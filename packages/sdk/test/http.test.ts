import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BatonError } from '@baton/core';
import type { TurnRequest } from '@baton/core';
import { defineAgent, httpLedgerClient, httpWorkerClient, serveWorker } from '../src/index';
import type { ServedWorker } from '../src/index';
import { MapLedger } from './ledger';
import { ledgerServer } from './ledger-server';
import { held, migrateRequest } from './session';

const state = z.object({ sent: z.number().int() });
let emails = 0;
const agent = defineAgent({
  name: 'mailer',
  version: 'v1',
  schemaVersion: 1,
  state,
  initialState: () => ({ sent: 0 }),
  modelId: 'sim',
  migrations: { schemas: {} },
  compensations: { send_correction_email: () => ({ corrected: true }) },
  turn: async (ctx, input) => {
    if (input.kind === 'message' && input.message === 'corrupt') {
      (ctx.state as { sent: unknown }).sent = 'x';
      return;
    }
    const summary = await ctx.step('summarize', () => ({ words: 3 }));
    const r = await ctx.effect('email', { to: 'u@example.com' }, () => ({ id: ++emails }), {
      compensate: 'send_correction_email',
    });
    ctx.state.sent += 1;
    if (input.kind === 'message' && input.message === 'crash-after-email') throw new Error('crashed');
    return { summary, email: r };
  },
});

let ledger: MapLedger;
let ledgerSrv: Awaited<ReturnType<typeof ledgerServer>>;
let served: ServedWorker;

function turnReq(turnId: string, message: unknown): TurnRequest {
  return {
    protocol: 2,
    session: { id: 'ses_h', agent: 'mailer', version: 'v1', tenant: 't1' },
    checkpoint: null,
    history: [],
    input: { kind: 'message', message },
    turnId,
    deadline: Date.now() + 30_000,
    capability: `cap-${turnId}`,
  };
}

beforeAll(async () => {
  ledger = new MapLedger();
  ledgerSrv = await ledgerServer(ledger, 'wtok');
  served = await serveWorker(agent, {
    port: 0,
    ledger: httpLedgerClient(ledgerSrv.url, 'wtok'),
    token: 'router-secret',
    bodyLimit: 64 * 1024,
  });
});

afterAll(async () => {
  await served.close();
  await new Promise((r) => ledgerSrv.server.close(r));
});

describe('serveWorker over 127.0.0.1', () => {
  it('runs a shadow turn remotely: blue’s recorded result, no effect, no ledger call, the report in the answer', async () => {
    const client = httpWorkerClient(served.url, { token: 'router-secret' });
    expect((await client.health()).shadow).toBe(1);
    const before = emails;
    const calls = ledger.calls;
    const effects = ledger.effects.size;
    const res = await client.turn({
      ...turnReq('shadow:r:1:0', 'replayed'),
      shadow: {
        effects: [
          {
            name: 'email',
            args: { to: 'u@example.com' },
            status: 'committed',
            result: { id: 'blue-7' },
            error: null,
          },
        ],
        tools: [],
      },
    });
    expect(emails).toBe(before);
    expect(ledger.calls).toBe(calls);
    expect(ledger.effects.size).toBe(effects);
    expect(res.output).toMatchObject({ email: { id: 'blue-7' } });
    expect(res.shadow).toEqual({
      effects: [{ name: 'email', args: { to: 'u@example.com' }, replayed: true }],
      divergences: [],
      tools: { replayed: 0, ran: 0 },
    });
  });

  it('answers health with the version identity', async () => {
    const res = await fetch(`${served.url}/v1/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      ok: true,
      agent: 'mailer',
      version: 'v1',
      identity: agent.identity,
      schemaVersion: 1,
      inflight: 0,
      protocol: 2,
    });
  });

  it('runs turns whose effects and steps go through the HTTP ledger, once across retries', async () => {
    const client = httpWorkerClient(served.url, { token: 'router-secret' });
    const before = emails;
    const err = await client.turn(turnReq('t1', 'crash-after-email')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).code).toBe('TURN_FAILED');
    expect((err as BatonError).details?.telemetry).toMatchObject({ toolCalls: { email: 1 } });
    expect(emails).toBe(before + 1);
    expect(ledger.effects.get('ses_h:t1:0')).toMatchObject({
      status: 'committed',
      agent: 'mailer',
      version: 'v1',
    });

    const ok = await client.turn(turnReq('t1', 'retry'));
    expect(emails).toBe(before + 1);
    expect(ok.output).toEqual({ summary: { words: 3 }, email: { id: before + 1 } });
    expect(ok.state).toEqual({ sent: 1 });
    expect(ledgerSrv.hits).toContain('GET /v1/worker/steps');
    expect(ledgerSrv.hits).toContain('POST /v1/worker/steps');
    expect(ledgerSrv.hits).toContain('POST /v1/worker/effects/commit');
    // every ledger and journal call of the turn presented its capability
    const t1Calls = ledgerSrv.capabilities.filter(([, c]) => c === 'cap-t1').map(([route]) => route);
    expect(new Set(t1Calls)).toEqual(
      new Set([
        'GET /v1/worker/steps',
        'POST /v1/worker/steps',
        'POST /v1/worker/effects/intent',
        'POST /v1/worker/effects/commit',
      ]),
    );
    expect(ledgerSrv.capabilities.length).toBe(ledgerSrv.hits.length);
  });

  it('still serves a protocol-1 turn request (no protocol field, history in the body)', async () => {
    const client = httpWorkerClient(served.url, { token: 'router-secret' });
    const history = [{ role: 'user' as const, content: 'earlier', turnId: 'old', at: 1 }];
    const res = await client.turn({
      session: { id: 'ses_v1', agent: 'mailer', version: 'v1', tenant: null },
      checkpoint: {
        seq: 1,
        schemaVersion: 1,
        body: { state: { sent: 4 }, history, context: null, waits: [] },
      },
      input: { kind: 'message', message: 'hi' },
      turnId: 'v1-t1',
      deadline: Date.now() + 30_000,
    });
    expect(res.state).toEqual({ sent: 5 });
    expect(res.unchanged).toBeUndefined();
    expect(res.history.map((e) => e.turnId)).toEqual(['v1-t1', 'v1-t1']);
  });

  it('returns typed errors as {error:{code,message}}', async () => {
    const post = (path: string, body: string, auth = 'Bearer router-secret') =>
      fetch(`${served.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body,
      });
    const invalid = await post('/v1/turn', JSON.stringify(turnReq('t9', 'corrupt')));
    expect(invalid.status).toBe(422);
    expect(await invalid.json()).toMatchObject({
      error: { code: 'STATE_INVALID', message: expect.any(String) },
    });

    const unauth = await post('/v1/turn', JSON.stringify(turnReq('t9', 'x')), 'Bearer nope');
    expect(unauth.status).toBe(401);
    expect(((await unauth.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');

    const badJson = await post('/v1/turn', '{nope');
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { error: { code: string } }).error.code).toBe('VALIDATION');

    const big = await post('/v1/turn', JSON.stringify({ pad: 'x'.repeat(70 * 1024) }));
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');

    const wrong = await post(
      '/v1/turn',
      JSON.stringify({ ...turnReq('t9', 'x'), session: { id: 's', agent: 'other', version: 'v1' } }),
    );
    expect(wrong.status).toBe(409);

    const malformed = await post(
      '/v1/turn',
      JSON.stringify({ ...turnReq('t9', 'x'), input: { kind: 'callback', name: 'approval' } }),
    );
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({
      error: { code: 'VALIDATION', details: { path: 'input.token' } },
    });
    const badMigrate = await post(
      '/v1/migrate',
      JSON.stringify({ session: { id: 's', agent: 'mailer', version: 'v1' } }),
    );
    expect(badMigrate.status).toBe(400);

    const future = await post('/v1/turn', JSON.stringify({ ...turnReq('t9', 'x'), protocol: 3 }));
    expect(future.status).toBe(400);
    const noCapability = await post(
      '/v1/turn',
      JSON.stringify({ ...turnReq('t9', 'x'), capability: undefined }),
    );
    expect(noCapability.status).toBe(400);
    expect(await noCapability.json()).toMatchObject({
      error: { code: 'VALIDATION', details: { path: 'capability' } },
    });

    const missing = await fetch(`${served.url}/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('migrates over HTTP and reports a missing path as data', async () => {
    const client = httpWorkerClient(served.url, { token: 'router-secret' });
    const h = held({ state: { sent: 2 }, context: null, waits: [] }, [], 3);
    const session = { id: 's', agent: 'mailer', version: 'v0' };
    const ok = await client.migrate(migrateRequest(session, h, 1, true));
    expect(ok).toMatchObject({
      ok: true,
      schemaVersion: 1,
      body: { state: { sent: 2 } },
      unchanged: { state: h.checkpoint!.hashes.state, context: h.checkpoint!.hashes.context },
    });
    const none = await client.migrate(migrateRequest(session, h, 2, true));
    expect(none).toMatchObject({ ok: false, error: { code: 'MIGRATION_FAILED' } });
  });

  it('reads history pages with GET /v1/worker/history, the worker token and the capability', async () => {
    ledger.setHistory('ses_hist', [
      { role: 'user', content: 'a', turnId: 't', at: 1 },
      { role: 'agent', content: 'b', turnId: 't', at: 2 },
      { role: 'user', content: 'c', turnId: 'u', at: 3 },
    ]);
    const client = httpLedgerClient(ledgerSrv.url, 'wtok');
    const page = await client.history!('cap-read', 'ses_hist', { before: 2, limit: 1 });
    expect(page).toEqual({
      sessionId: 'ses_hist',
      entries: [{ role: 'agent', content: 'b', turnId: 't', at: 2, index: 1 }],
      total: 3,
      nextBefore: 1,
      trimmed: null,
    });
    expect(ledger.historyCalls.at(-1)).toEqual({
      capability: 'cap-read',
      sessionId: 'ses_hist',
      q: { before: 2, limit: 1 },
    });
    const err = await client.history!('cap-read', 'ses_hist', { limit: 5000 }).catch((e: unknown) => e);
    expect((err as BatonError).code).toBe('VALIDATION');
  });

  it('surfaces a ledger that rejects the worker token as UNAUTHORIZED', async () => {
    const bad = httpLedgerClient(ledgerSrv.url, 'wrong', { attempts: 1 });
    const err = await bad.steps('s', 't').catch((e: unknown) => e);
    expect((err as BatonError).code).toBe('UNAUTHORIZED');
    const down = httpLedgerClient('http://127.0.0.1:1', 'x', { attempts: 2 });
    expect(((await down.steps('s', 't').catch((e: unknown) => e)) as BatonError).code).toBe('UNREACHABLE');
  });

  it('fails over between several servers and stays on the one that answered', async () => {
    const before = ledgerSrv.hits.length;
    const client = httpLedgerClient(['http://127.0.0.1:1', ledgerSrv.url], 'wtok');
    expect(await client.steps('ses_fo', 't1')).toEqual([]);
    await client.putStep('ses_fo', 't1', 0, 'a', { x: 1 });
    expect(await client.steps('ses_fo', 't1')).toEqual([{ index: 0, name: 'a', result: { x: 1 } }]);
    // every call reached the live server exactly once: after the first failover it stays there
    expect(ledgerSrv.hits.length - before).toBe(3);
    // a refusal from a server that answered is final (no failover to another)
    const refused = httpLedgerClient([ledgerSrv.url, 'http://127.0.0.1:1'], 'wrong');
    expect(((await refused.steps('s', 't').catch((e: unknown) => e)) as BatonError).code).toBe(
      'UNAUTHORIZED',
    );
    const none = httpLedgerClient(['http://127.0.0.1:1', 'http://127.0.0.1:2'], 'x');
    const err = (await none.steps('s', 't').catch((e: unknown) => e)) as BatonError;
    expect(err.code).toBe('UNREACHABLE');
  });
});

describe('serveWorker lifecycle', () => {
  it('aborts a turn whose caller went away: no effect starts afterwards; close() runs the close hook', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let entered = false;
    let aborted = false;
    let after: string | null = null;
    let ran = 0;
    const events: string[] = [];
    const slow = defineAgent({
      name: 'slow',
      version: 'v1',
      schemaVersion: 1,
      state: z.object({}),
      initialState: () => ({}),
      modelId: 'sim',
      hooks: { open: () => void events.push('open'), close: () => void events.push('close') },
      turn: async (ctx) => {
        entered = true;
        ctx.abortSignal.addEventListener('abort', () => (aborted = true));
        await gate;
        try {
          await ctx.effect('email', {}, () => ran++);
          after = 'ran';
        } catch (e) {
          after = (e as BatonError).code;
        }
      },
    });
    const local = new MapLedger();
    const w = await serveWorker(slow, { port: 0, ledger: local });
    try {
      const ac = new AbortController();
      const pending = fetch(`${w.url}/v1/turn`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          ...turnReq('t1', 'x'),
          session: { id: 's', agent: 'slow', version: 'v1', tenant: null },
        }),
        signal: ac.signal,
      }).catch((e: unknown) => e);
      while (!entered) await new Promise((r) => setTimeout(r, 5));
      ac.abort();
      await pending;
      while (!aborted) await new Promise((r) => setTimeout(r, 5));
      release();
      while (after === null) await new Promise((r) => setTimeout(r, 5));
      expect(after).toBe('TURN_TIMEOUT');
      expect(ran).toBe(0);
      expect(local.effects.size).toBe(0);
    } finally {
      release();
      await w.close();
    }
    expect(events).toEqual(['open', 'close']);
  });
});
