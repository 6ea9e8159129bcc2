import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { SimulatedClock, windowOf } from '@baton/core';
import type { CheckpointBody, HistoryEntry, MigrateResponse, TurnInput, TurnResponse } from '@baton/core';
import { migrateCheckpoint, runTurn } from '@baton/sdk';
import type { AgentDefinition } from '@baton/sdk';
import {
  REFUND_LIMIT,
  judgeAnswer,
  orderFacts,
  simulatedUser,
  stateV1,
  stateV2,
  supportAgent,
  userFeedback,
  v1,
  v2,
  v2Broken,
  v3Chatty,
  v3Wrong,
  versions,
} from '../src/index';
import type { SupportOutput } from '../src/index';
import { MapLedger } from './ledger';
import { EMPTY, commit, commitMigration, held, migrateRequest, turnRequest } from './session';
import type { Held } from './session';

/** A schema-1 checkpoint written by v1 with the first protocol: the body still holds the history. */
interface Golden {
  seq: number;
  schemaVersion: number;
  body: CheckpointBody & { history: HistoryEntry[] };
  description: string;
  sessionId: string;
  writtenBy: string;
}

const goldenDir = new URL('./golden/', import.meta.url);
const goldens: Array<[string, Golden]> = readdirSync(goldenDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f, JSON.parse(readFileSync(new URL(f, goldenDir), 'utf8')) as Golden]);

const clock = new SimulatedClock(Date.UTC(2026, 1, 1));

/** One turn as the router runs it: the version's window of the log, the rest behind `ledger.history`. */
async function turn(
  agent: AgentDefinition<any>,
  sessionId: string,
  cp: Held | null,
  input: TurnInput,
  turnId: string,
  ledger = new MapLedger(),
): Promise<{ res: TurnResponse; cp: Held }> {
  const prev = cp ?? EMPTY;
  ledger.logs.set(sessionId, prev.log);
  const session = { id: sessionId, agent: 'support', version: agent.version, tenant: null };
  const window = windowOf(agent.manifest().history).entries;
  const res = await runTurn(
    agent,
    turnRequest(session, prev, input, turnId, clock.now() + 60_000, window),
    ledger,
    clock,
  );
  return { res, cp: commit(prev, res) };
}

const msg = (message: string): TurnInput => ({ kind: 'message', message });

/** A golden checkpoint as the store holds it after the upgrade: its history moved to the log. */
function heldOf(g: Golden): Held {
  const { history, ...body } = g.body;
  return held(body, history, g.seq, g.schemaVersion);
}

/** Migrates a golden checkpoint with protocol 2, its history served by a ledger. */
async function migrateTo(
  agent: AgentDefinition<any>,
  g: Golden,
  from = 'v1',
): Promise<{ r: MigrateResponse; h: Held; ledger: MapLedger }> {
  const ledger = new MapLedger();
  ledger.setHistory(g.sessionId, g.body.history);
  const h = heldOf(g);
  const r = await migrateCheckpoint(
    agent,
    migrateRequest({ id: g.sessionId, agent: 'support', version: from }, h, agent.schemaVersion),
    ledger,
  );
  return { r, h, ledger };
}

describe('golden schema-1 checkpoints', () => {
  it('are present and valid schema-1 states', () => {
    expect(goldens.length).toBeGreaterThanOrEqual(6);
    for (const [, g] of goldens) {
      expect(g.schemaVersion).toBe(1);
      expect(stateV1.safeParse(g.body.state).success).toBe(true);
    }
  });

  for (const agent of [v2, v3Chatty, v3Wrong]) {
    it(`all migrate to ${agent.version} (schema 2), validate and keep their waits`, async () => {
      for (const [file, g] of goldens) {
        const { r, ledger } = await migrateTo(agent, g);
        expect(r.ok, `${file}: ${JSON.stringify(r)}`).toBe(true);
        if (!r.ok) continue;
        expect(r.schemaVersion).toBe(2);
        expect(r.contextPolicy).toBe('rebuild');
        expect(stateV2.parse(r.body.state)).toBeTruthy();
        // the history stays in the log: the migration read it through the ledger, never returned it
        expect('history' in r.body).toBe(false);
        expect(ledger.historyCalls.length).toBeGreaterThan(0);
        expect(r.body.waits.map((w) => [w.token, w.deadline])).toEqual(
          g.body.waits.map((w) => [w.token, w.deadline]),
        );
        expect(r.body.context).toMatchObject({ format: 'v2' });
      }
    });
  }

  it('migrate the same with protocol 1 (the whole history in the request, an old router)', async () => {
    for (const [file, g] of goldens) {
      const old = await migrateCheckpoint(v2, {
        session: { id: g.sessionId, agent: 'support', version: 'v1' },
        checkpoint: { seq: g.seq, schemaVersion: g.schemaVersion, body: g.body },
        targetSchemaVersion: 2,
        dryRun: false,
      });
      const { r } = await migrateTo(v2, g);
      if (!old.ok || !r.ok) throw new Error(`${file}: ${JSON.stringify([old, r])}`);
      expect(old.body.state, file).toEqual(r.body.state);
      expect(old.body.context, file).toEqual(r.body.context);
      expect((old.body as { history?: unknown }).history, file).toEqual(g.body.history);
    }
  });

  it('recovers every order from the history and the customer sentiment', async () => {
    const g = goldens.find(([f]) => f === 'two-orders-lost-ticket.json')![1];
    const { r } = await migrateTo(v2, g);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.body.state).toMatchObject({ orders: ['A-1002', 'A-1000'], sentiment: 'negative' });
    expect((r.body.state as { ticketId: string }).ticketId).toBe(
      (g.body.state as { ticketId: string }).ticketId,
    );
    const clar = goldens.find(([f]) => f === 'clarification.json')![1];
    const { r: c } = await migrateTo(v2, clar);
    expect(c.ok && c.body.state).toMatchObject({ orders: [], sentiment: 'neutral' });
  });

  it('migrate down 2→1 again with v2 and validate as schema 1', async () => {
    for (const [, g] of goldens) {
      const { r: up, h, ledger } = await migrateTo(v2, g);
      if (!up.ok) throw new Error(up.error.message);
      const on2 = commitMigration(h, up);
      const down = await migrateCheckpoint(
        v2,
        migrateRequest({ id: g.sessionId, agent: 'support', version: 'v2' }, on2, 1, true),
        ledger,
      );
      expect(down.ok).toBe(true);
      if (down.ok) {
        expect(down.contextPolicy).toBe('carry');
        expect((down.body.state as { orderId: string | null }).orderId).toBe(
          (g.body.state as { orderId: string | null }).orderId,
        );
      }
    }
  });

  it('v2-broken fails pre-flight on the legacy order id and passes the others', async () => {
    for (const [file, g] of goldens) {
      const { r } = await migrateTo(v2Broken, g);
      if (file === 'legacy-id-7.json') {
        expect(r).toMatchObject({ ok: false, error: { code: 'MIGRATION_FAILED' } });
        if (!r.ok) expect(r.error.message).toMatch(/A-1027/);
      } else expect(r.ok, file).toBe(true);
    }
  });

  it('a migrated session continues on v2 and a pending approval resumes there', async () => {
    const g = goldens.find(([f]) => f === 'refund-waiting.json')![1];
    expect(g.body.waits).toHaveLength(1);
    const { r: m, h } = await migrateTo(v2, g);
    if (!m.ok) throw new Error(m.error.message);
    const executed: string[] = [];
    const agent = supportAgent('v2', { onEffect: (name) => executed.push(name) });
    const wait = m.body.waits[0]!;
    const cp = commitMigration(h, m);
    const { res } = await turn(
      agent,
      g.sessionId,
      cp,
      {
        kind: 'callback',
        token: wait.token,
        name: 'approval',
        payload: { approved: true, by: 'lead@support' },
      },
      'trn_resume',
    );
    expect(res.status).toBe('idle');
    expect(res.waits).toEqual([]);
    expect((res.output as SupportOutput).text).toMatch(/approved/);
    expect((res.output as SupportOutput).version).toBe('v2');
    expect(res.state).toMatchObject({
      refund: { status: 'approved', orderId: 'A-1012' },
      orders: ['A-1012'],
    });
    expect(executed).toEqual(['send_email']);

    const next = await turn(agent, g.sessionId, cp, msg('Can you check the status again?'), 'trn_next');
    expect((next.res.output as SupportOutput).answer).toMatchObject({ kind: 'status', orderId: 'A-1012' });
  });
});

describe('support agent behaviour', () => {
  it('asks for clarification without an order id and answers a status question', async () => {
    const a = await turn(v1, 'ses_a', null, msg('Hello!'), 't1');
    expect(a.res.telemetry.signals).toEqual(['clarification']);
    expect((a.res.output as SupportOutput).correct).toBeNull();
    const b = await turn(v1, 'ses_a', a.cp, msg('Where is my order A-1005?'), 't2');
    const out = b.res.output as SupportOutput;
    expect(out.answer).toMatchObject({ kind: 'status', orderId: 'A-1005' });
    expect(judgeAnswer(out)).toBe(out.correct);
    expect(b.res.state).toMatchObject({ orderId: 'A-1005' });
    expect(b.res.telemetry.toolCalls).toEqual({ lookup_order: 1 });
    expect(b.res.telemetry.reasoningSteps).toBeGreaterThanOrEqual(1);
    expect(b.res.telemetry.tokensIn).toBeGreaterThan(0);
    expect(b.res.telemetry.tokensOut).toBeGreaterThan(0);
    expect(b.res.telemetry.contextUtilization).toBeGreaterThan(0);
    expect(b.res.telemetry.contextUtilization).toBeLessThanOrEqual(1);
    expect(b.res.telemetry.metrics['eval.resolution']).toBe(out.correct ? 1 : 0);
  });

  it('is deterministic per session and turn', async () => {
    const run = async () => {
      const a = await turn(v2, 'ses_det', null, msg('Where is my order A-1003?'), 'x1');
      const b = await turn(v2, 'ses_det', a.cp, msg('Where is my order A-1022?'), 'x2');
      return [
        a.res.output,
        b.res.output,
        b.res.state,
        b.res.telemetry.tokensIn,
        b.res.telemetry.reasoningSteps,
      ];
    };
    expect(await run()).toEqual(await run());
  });

  it('creates a ticket and an email for a lost order, exactly once across a retried turn', async () => {
    const executed: string[] = [];
    const agent = supportAgent('v1', { onEffect: (name) => executed.push(name) });
    const ledger = new MapLedger();
    const first = await turn(agent, 'ses_lost', null, msg('Where is my order A-1000?'), 'tl', ledger);
    expect(executed).toEqual(['create_ticket', 'send_email']);
    expect([...ledger.effects.values()].map((e) => [e.name, e.compensation, e.status])).toEqual([
      ['create_ticket', 'cancel_ticket', 'committed'],
      ['send_email', 'send_correction_email', 'committed'],
    ]);
    const retry = await turn(agent, 'ses_lost', null, msg('Where is my order A-1000?'), 'tl', ledger);
    expect(executed).toEqual(['create_ticket', 'send_email']);
    expect(retry.res.state).toEqual(first.res.state);
    expect(retry.res.output).toEqual(first.res.output);
  });

  it('waits for approval on a refund above the limit and refunds small orders at once', async () => {
    expect(orderFacts('A-1012').amount).toBeGreaterThan(REFUND_LIMIT);
    const big = await turn(v2, 'ses_r', null, msg('I want a refund for order A-1012.'), 'r1');
    expect(big.res.status).toBe('waiting');
    expect(big.res.waits[0]).toMatchObject({ name: 'approval', schema: { type: 'object' } });
    expect(big.res.state).toMatchObject({ refund: { status: 'pending' } });
    const bad = await runTurn(
      v2,
      turnRequest(
        { id: 'ses_r', agent: 'support', version: 'v2', tenant: null },
        big.cp,
        { kind: 'callback', token: big.res.waits[0]!.token, name: 'approval', payload: { approved: 'yes' } },
        'r2',
        clock.now() + 1000,
      ),
      new MapLedger(),
      clock,
    ).catch((e: { code?: string }) => e.code);
    expect(bad).toBe('VALIDATION');
    const timeout = await turn(
      v2,
      'ses_r',
      big.cp,
      { kind: 'timeout', token: big.res.waits[0]!.token, name: 'approval' },
      'r3',
    );
    expect(timeout.res.telemetry.signals).toContain('escalation');
    expect(timeout.res.state).toMatchObject({ refund: { status: 'expired' } });

    expect(orderFacts('A-1002').amount).toBeLessThanOrEqual(REFUND_LIMIT);
    const small = await turn(v2, 'ses_s', null, msg('I want a refund for order A-1002.'), 's1');
    expect(small.res.status).toBe('idle');
    expect(small.res.state).toMatchObject({
      refund: { status: 'approved', amount: orderFacts('A-1002').amount },
    });
  });

  it('completes the session on goodbye', async () => {
    const r = await turn(v1, 'ses_bye', null, msg('Thanks, bye.'), 'b1');
    expect(r.res.status).toBe('completed');
  });
});

describe('versions', () => {
  it('have distinct identities; a prompt-only or fanout change is a new identity', () => {
    const ids = Object.values(versions).map((v) => v.identity);
    expect(new Set(ids).size).toBe(ids.length);
    const m2 = v2.manifest();
    const chatty = v3Chatty.manifest();
    const wrong = v3Wrong.manifest();
    expect(chatty.promptHash).toBe(m2.promptHash);
    expect(chatty.codeHash).not.toBe(m2.codeHash);
    expect(wrong.promptHash).not.toBe(m2.promptHash);
    expect(v1.manifest()).toMatchObject({ schemaVersion: 1, acceptsSchemas: [], downSchemas: [] });
    expect(m2).toMatchObject({ schemaVersion: 2, acceptsSchemas: [1], downSchemas: [1] });
    // the injected effect sink does not change the identity
    expect(supportAgent('v2', { onEffect: () => undefined }).identity).toBe(v2.identity);
  });

  async function simulate(agent: AgentDefinition<any>, n: number) {
    let correct = 0;
    let answered = 0;
    let lookups = 0;
    let thumbsDown = 0;
    const outputs: unknown[] = [];
    for (let i = 0; i < n; i++) {
      const sid = `ses_sim_${i}`;
      const user = simulatedUser(sid);
      let cp: Held | null = null;
      for (const [k, text] of user.messages.entries()) {
        const r: { res: TurnResponse; cp: Held } = await turn(agent, sid, cp, msg(text), `t${k}`);
        cp = r.cp;
        lookups += r.res.telemetry.toolCalls.lookup_order ?? 0;
        const out = r.res.output as SupportOutput;
        outputs.push(out);
        if (out.correct !== null) {
          answered++;
          if (out.correct) correct++;
          expect(judgeAnswer(out)).toBe(out.correct);
          if (userFeedback(out) === 'thumbs_down') thumbsDown++;
        }
        if (r.res.status !== 'idle') break;
      }
    }
    return { rate: correct / answered, answered, lookups, thumbsDown, outputs };
  }

  it('v3-chatty answers like v2 with three times the lookups; v3-wrong answers wrong more often', async () => {
    const a = await simulate(v2, 120);
    const chatty = await simulate(v3Chatty, 120);
    const wrong = await simulate(v3Wrong, 120);
    expect(a.answered).toBeGreaterThan(100);
    expect(chatty.rate).toBe(a.rate);
    expect(chatty.lookups).toBe(3 * a.lookups);
    expect(chatty.outputs.map((o) => (o as SupportOutput).answer)).toEqual(
      a.outputs.map((o) => (o as SupportOutput).answer),
    );
    expect(a.rate).toBeGreaterThan(0.8);
    expect(wrong.rate).toBeLessThan(a.rate - 0.2);
    expect(wrong.thumbsDown).toBeGreaterThan(a.thumbsDown * 2);
  });
});

describe('a real model through BATON_LLM_URL', () => {
  it('calls the OpenAI-compatible chat completions API and reports its usage', async () => {
    const requests: Array<{ model: string; messages: Array<{ role: string; content: string }> }> = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
          res.writeHead(404).end();
          return;
        }
        const body = JSON.parse(Buffer.concat(chunks).toString());
        requests.push(body);
        const facts = JSON.parse(
          String(body.messages.at(-1).content).replace('lookup_order result: ', ''),
        ) as { status: string; orderId: string };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'chatcmpl-1',
            object: 'chat.completion',
            created: 1,
            model: body.model,
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: `Order ${facts.orderId} is ${facts.status}.` },
                finish_reason: 'stop',
              },
            ],
            usage: { prompt_tokens: 321, completion_tokens: 12, total_tokens: 333 },
          }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const prev = process.env.BATON_LLM_URL;
    process.env.BATON_LLM_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    try {
      const r = await turn(v2, 'ses_llm', null, msg('Where is my order A-1005?'), 'l1');
      const out = r.res.output as SupportOutput;
      expect(out.text).toBe(`Order A-1005 is ${orderFacts('A-1005').status}.`);
      expect(out.correct).toBe(true);
      expect(r.res.telemetry).toMatchObject({ tokensIn: 321, tokensOut: 12 });
      expect(requests).toHaveLength(1);
      expect(requests[0]!.model).toBe('sim-support-2');
      expect(requests[0]!.messages[0]!.role).toBe('system');
    } finally {
      if (prev === undefined) delete process.env.BATON_LLM_URL;
      else process.env.BATON_LLM_URL = prev;
      await new Promise((r) => server.close(r));
    }
  });
});
