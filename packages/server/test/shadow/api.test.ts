/**
 * The shadow stage through the product (real HTTP on 127.0.0.1, a real SQLite file, the example
 * agent): a rollout v2 → v3-wrong with a shadow stage aborts before green gets any traffic, with
 * the paired evidence in its decisions; `POST /v1/rollouts/{id}/shadow` runs one on demand (with
 * a pairwise judge over a fake OpenAI-compatible provider on real HTTP that always prefers the
 * first answer: position swapping cancels it); a worker without shadow support is refused.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock, type TurnRequest, type WorkerClient } from '@baton/core';
import { openStore } from '@baton/store';
import { InProcessWorker } from '@baton/sdk';
import { supportAgent } from '@baton/example-support-agent';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBaton } from '../../src/baton';
import { StoreLedgerClient } from '../../src/ledger';
import { Capabilities } from '../../src/capability';
import { runShadow } from '../../src/shadow/run';
import { validateSpec } from '../../src/rollout/spec';
import { ordersWhere, startTestBaton, until, type Api, type TestBaton } from '../rollout/harness';

const ORDERS = ordersWhere((f) => f.status !== 'delayed' && f.status !== 'lost', 60, 1000);

async function populate(api: Api, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const s = await api.createSession();
    const script = ['Hello', `Where is my order ${ORDERS[i % 60]}?`, 'Check again?', 'And once more?'];
    for (const [k, msg] of script.entries()) expect((await api.turn(s, `k${k}`, msg)).status).toBe(200);
  }
}

let t: TestBaton | null = null;
let judge: Server | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
  await new Promise<void>((r) => (judge ? judge.close(() => r()) : r()));
  judge = null;
});

/** A fake OpenAI-compatible chat endpoint whose verdict is always "A" (pure position bias). */
async function biasedJudge(): Promise<{ url: string; calls: () => number }> {
  let calls = 0;
  judge = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls++;
      const content = JSON.stringify({ winner: 'A', reason: 'first is best' });
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          id: `c${calls}`,
          object: 'chat.completion',
          created: 0,
          model: 'fake',
          choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content } }],
        }),
      );
    });
  });
  await new Promise<void>((r) => judge!.listen(0, '127.0.0.1', () => r()));
  const port = (judge.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/v1`, calls: () => calls };
}

describe('shadow stage through the API', () => {
  it('v2 → v3-wrong: the shadow stage catches the regression before any live traffic', async () => {
    t = await startTestBaton({ versions: ['v2', 'v3-wrong'], controller: { intervalMs: 50 } });
    await populate(t.api, 30);
    const created = await t.api.admin('POST', '/v1/rollouts', {
      agent: 'support',
      to: 'v3-wrong',
      steps: [{ fill: 10, verify: { minSessions: 5 } }, { fill: 100 }],
      shadow: {
        sessions: 30,
        turnsPerSession: 3,
        gates: [{ metric: 'eval.resolution', test: 'wilcoxon', tolerance: -0.02, critical: true }],
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    const done = await until('the rollout to abort', async () => {
      const st = await t!.api.admin('GET', `/v1/rollouts/${id}`);
      return st.body.phase === 'aborted' ? st.body : null;
    });
    expect(done.shadow.verdict).toBe('fail');
    expect(done.shadow.turns).toBe(90);
    const dec = await t.api.admin('GET', `/v1/rollouts/${id}/decisions`);
    const failed = dec.body.items.find((d: { kind: string }) => d.kind === 'shadow-failed');
    expect(failed.evidence.gates[0].evidence.paired.sessions).toBe(30);
    expect(failed.evidence.gates[0].evidence.effect).toBeLessThan(-0.1);
    expect(failed.evidence.gates[0].evidence.pValue).toBeLessThan(0.05);
    expect(dec.body.items.some((d: { kind: string }) => d.kind === 'step-started')).toBe(false);
    // no session ever went to v3-wrong
    expect(Object.keys(await t.store.countSessions({ agent: 'support' }))).toEqual(['v2']);
    const s = await t.api.createSession();
    expect(s.version).toBe('v2');
  }, 120_000);

  it('POST /v1/rollouts/{id}/shadow runs on demand; a position-biased judge nets zero; bad input is 4xx', async () => {
    const fake = await biasedJudge();
    t = await startTestBaton({ versions: ['v2', 'v3-chatty'], controller: false });
    await populate(t.api, 12);
    const created = await t.api.admin('POST', '/v1/rollouts', {
      agent: 'support',
      to: 'v3-chatty',
      steps: [{ fill: 100 }],
      preflight: { enabled: false },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const r = await t.api.admin('POST', `/v1/rollouts/${id}/shadow`, {
      sessions: 12,
      turnsPerSession: 2,
      judge: { baseURL: fake.url, model: 'fake', rubric: 'answers the question' },
      gates: [
        { metric: 'judge.preference', test: 'wilcoxon', tolerance: -0.1, minSamples: 10 },
        { metric: 'turn.tool_calls', test: 'sign', tolerance: '+50%', minSamples: 10 },
      ],
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.turns).toBe(24);
    expect(fake.calls()).toBe(48); // both orders for every pair
    const pref = r.body.gates.find((g: { name: string }) => g.name === 'judge.preference');
    expect(pref.evidence.effect).toBe(0);
    expect(pref.verdict).toBe('pass');
    // v3-chatty looks every order up three times: the paired fingerprint gate fails
    const tools = r.body.gates.find((g: { name: string }) => g.name === 'turn.tool_calls');
    expect(tools.verdict).toBe('fail');
    const dec = await t.api.admin('GET', `/v1/rollouts/${id}/decisions`);
    expect(dec.body.items.some((d: { kind: string }) => d.kind === 'shadow-run')).toBe(true);

    const bad = await t.api.admin('POST', `/v1/rollouts/${id}/shadow`, { sessions: 0 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION');
    expect(bad.body.error.details.path).toBe('shadow.sessions');
    const unknown = await t.api.admin('POST', `/v1/rollouts/${id}/shadow`, { bogus: 1 });
    expect(unknown.status).toBe(400);
    const missing = await t.api.admin('POST', '/v1/rollouts/ro_missing/shadow', {});
    expect(missing.status).toBe(404);
    const noAuth = await t.api.req('POST', `/v1/rollouts/${id}/shadow`, { body: {} });
    expect(noAuth.status).toBe(401);
  }, 120_000);

  it('a worker whose health reports no shadow support is refused, and runs nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-shadow-'));
    const store = await openStore(join(dir, 'baton.db'));
    const ledger = new StoreLedgerClient(store, new Capabilities(store, systemClock));
    let shadowCalls = 0;
    const old = (
      label: 'v2' | 'v3-chatty',
    ): {
      client: WorkerClient;
      manifest: ReturnType<typeof supportAgent>['manifest'] extends () => infer M ? M : never;
    } => {
      const def = supportAgent(label);
      const inner = new InProcessWorker(def, ledger);
      const client: WorkerClient = {
        id: `old-${label}`,
        protocol: 2,
        turn: (req, signal) => {
          if ((req as TurnRequest).shadow) shadowCalls++;
          return inner.turn(req, signal);
        },
        migrate: (req) => inner.migrate(req),
        health: async () => {
          const { shadow: _s, ...h } = await inner.health();
          return h;
        },
      };
      return { client, manifest: def.manifest() };
    };
    const baton = await startBaton({
      store,
      tokens: { traffic: ['traffic-token'], admin: ['admin-token'], worker: ['worker-token'] },
      agents: [old('v2'), old('v3-chatty')],
      controller: false,
      limits: { healthIntervalMs: 0 },
    });
    try {
      const api = new (await import('../rollout/harness')).Api(baton.url);
      await populate(api, 3);
      const spec = validateSpec({
        agent: 'support',
        to: 'v3-chatty',
        steps: [{ fill: 100 }],
        shadow: {},
      }).shadow!;
      const err = await runShadow(baton.ctx, {
        agent: 'support',
        blue: 'v2',
        green: 'v3-chatty',
        spec,
        runId: 'r',
        beforeStep: 0,
      }).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('SHADOW_UNSUPPORTED');
      expect(shadowCalls).toBe(0);
    } finally {
      await baton.close({ deadlineMs: 2000 });
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
