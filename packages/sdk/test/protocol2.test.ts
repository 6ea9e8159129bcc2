import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BatonError, SimulatedClock } from '@baton/core';
import type { HistoryEntry, LedgerClient, TurnRequest, TurnRequestV1 } from '@baton/core';
import { defineAgent, runTurn } from '../src/index';
import type { AgentSpec, TurnContext } from '../src/index';
import { MapLedger } from './ledger';
import { EMPTY, commit, held, turnRequest } from './session';
import type { Held } from './session';

const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
const SESSION = { id: 'ses_p', agent: 'notes', version: 'v1', tenant: null };
const state = z.object({ n: z.number().int() });

function agentWith(turn: AgentSpec<{ n: number }>['turn']) {
  return defineAgent({
    name: 'notes',
    version: 'v1',
    schemaVersion: 1,
    state,
    initialState: () => ({ n: 0 }),
    modelId: 'sim',
    turn,
  });
}

function req(h: Held, turnId: string, window?: number): TurnRequest {
  return turnRequest(SESSION, h, { kind: 'message', message: turnId }, turnId, clock.now() + 60_000, window);
}

/** A session with `n` turns of two entries each (user, agent) already committed. */
async function sessionOf(n: number, ledger: MapLedger): Promise<Held> {
  const echo = agentWith((ctx) => {
    ctx.state.n += 1;
    return `reply ${ctx.state.n}`;
  });
  let h = EMPTY;
  for (let i = 1; i <= n; i++)
    h = commit(h, await runTurn(echo, req(h, `t${i}`), ledger, clock), ledger, SESSION.id);
  return h;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof BatonError) return e.code;
    throw e;
  }
  throw new Error('expected the promise to reject');
}

describe('protocol 2 turns: the history window', () => {
  it('ctx.history is the window plus this turn’s entries, indexed in the log; historyLength counts all', async () => {
    const ledger = new MapLedger();
    const h = await sessionOf(5, ledger); // 10 entries in the log
    let seen: { indexes: number[]; length: number; contents: unknown[] } | null = null;
    const agent = agentWith((ctx) => {
      ctx.note('tool', 'looked');
      seen = {
        indexes: ctx.history.map((e) => e.index),
        length: ctx.historyLength,
        contents: ctx.history.map((e) => e.content),
      };
    });
    const res = await runTurn(agent, req(h, 't6', 4), ledger, clock);
    // the newest 4 stored entries, then this turn's input (10) and note (11)
    expect(seen).toEqual({
      indexes: [6, 7, 8, 9, 10, 11],
      length: 12,
      contents: ['t4', 'reply 4', 't5', 'reply 5', 't6', 'looked'],
    });
    // the answer holds only this turn's entries, without indexes (the router numbers them)
    expect(res.history).toEqual([
      { role: 'user', content: 't6', turnId: 't6', at: clock.now() },
      { role: 'tool', content: 'looked', turnId: 't6', at: clock.now() },
    ]);
  });

  it('pages older entries with ctx.readHistory through ledger.history, presenting the turn capability', async () => {
    const ledger = new MapLedger();
    const h = await sessionOf(5, ledger);
    const pages: unknown[] = [];
    const agent = agentWith(async (ctx: TurnContext<{ n: number }>) => {
      const newest = await ctx.readHistory({ limit: 3 });
      const older = await ctx.readHistory({ before: newest.nextBefore!, limit: 3 });
      pages.push(newest, older);
    });
    ledger.historyCalls.length = 0;
    await runTurn(agent, req(h, 't6', 2), ledger, clock);
    expect(ledger.historyCalls).toEqual([
      { capability: 'cap:ses_p:t6', sessionId: 'ses_p', q: { limit: 3 } },
      { capability: 'cap:ses_p:t6', sessionId: 'ses_p', q: { before: 7, limit: 3 } },
    ]);
    expect(pages).toMatchObject([
      { total: 10, nextBefore: 7, entries: [{ index: 7 }, { index: 8 }, { index: 9 }] },
      { total: 10, nextBefore: 4, entries: [{ index: 4 }, { index: 5 }, { index: 6 }] },
    ]);
  });

  it('fails the turn with a clear error when the ledger client cannot read history', async () => {
    const inner = new MapLedger();
    const noHistory: LedgerClient = {
      intent: (i) => inner.intent(i),
      commit: (k, r) => inner.commit(k, r),
      fail: (k, e) => inner.fail(k, e),
      steps: (s, t) => inner.steps(s, t),
      putStep: (s, t, i, n, r) => inner.putStep(s, t, i, n, r),
    };
    const agent = agentWith(async (ctx) => void (await ctx.readHistory()));
    const err = (await runTurn(agent, req(EMPTY, 't1'), noHistory, clock).catch(
      (e: unknown) => e,
    )) as BatonError;
    expect(err).toBeInstanceOf(BatonError);
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toMatch(/LedgerClient\.history/);
  });

  it('refuses a window that is not the newest entries of the log', async () => {
    const ledger = new MapLedger();
    const h = await sessionOf(2, ledger);
    const r = req(h, 't3');
    const gap = { ...r, history: r.history.slice(0, -1) }; // the newest entry missing
    expect(
      await code(
        runTurn(
          agentWith(() => undefined),
          gap,
          ledger,
          clock,
        ),
      ),
    ).toBe('VALIDATION');
    const noCap = { ...r, capability: '' };
    expect(
      await code(
        runTurn(
          agentWith(() => undefined),
          noCap,
          ledger,
          clock,
        ),
      ),
    ).toBe('VALIDATION');
  });
});

describe('protocol 2 turns: unchanged parts', () => {
  it('marks a part unchanged (with its received hash, value left out) only when its JSON is the same', async () => {
    const ledger = new MapLedger();
    const h0 = commit(
      EMPTY,
      await runTurn(
        agentWith((ctx) => void (ctx.context = { keep: [1, 2] })),
        req(EMPTY, 't1'),
        ledger,
        clock,
      ),
    );
    const hashes = h0.checkpoint!.hashes;

    // state changed, context reassigned to an equal value: only the context is unchanged
    const bump = agentWith((ctx) => {
      ctx.state.n += 1;
      ctx.context = { keep: [1, 2] };
    });
    const a = await runTurn(bump, req(h0, 't2'), ledger, clock);
    expect(a.unchanged).toEqual({ context: hashes.context });
    expect('context' in a).toBe(false);
    expect(a.state).toEqual({ n: 1 });
    expect('memory' in a).toBe(false);

    // nothing changed: state and context are both unchanged, and neither is sent
    const idle = await runTurn(
      agentWith(() => 'ok'),
      req(h0, 't3'),
      ledger,
      clock,
    );
    expect(idle.unchanged).toEqual({ state: hashes.state, context: hashes.context });
    expect('state' in idle || 'context' in idle).toBe(false);

    // a changed context is sent and not marked
    const edit = await runTurn(
      agentWith((ctx) => void (ctx.context = { keep: [1] })),
      req(h0, 't4'),
      ledger,
      clock,
    );
    expect(edit.unchanged).toEqual({ state: hashes.state });
    expect(edit.context).toEqual({ keep: [1] });
  });

  it('reports nothing unchanged on a first turn, and carries memory: absent stays absent', async () => {
    const ledger = new MapLedger();
    const first = await runTurn(
      agentWith(() => undefined),
      req(EMPTY, 't1'),
      ledger,
      clock,
    );
    expect(first.unchanged).toBeUndefined();
    expect(first).toMatchObject({ state: { n: 0 }, context: null });
    expect('memory' in first).toBe(false);

    const withMemory = held({ state: { n: 1 }, context: null, waits: [], memory: { facts: ['a'] } }, []);
    const kept = await runTurn(
      agentWith(() => undefined),
      req(withMemory, 't2'),
      ledger,
      clock,
    );
    expect(kept.unchanged).toEqual(withMemory.checkpoint!.hashes);
    expect('memory' in kept).toBe(false);
    const grown = await runTurn(
      agentWith((ctx) => void (ctx.memory as { facts: string[] }).facts.push('b')),
      req(withMemory, 't3'),
      ledger,
      clock,
    );
    expect(grown.memory).toEqual({ facts: ['a', 'b'] });
    expect(grown.unchanged).not.toHaveProperty('memory');
  });

  it('still validates the state of a turn that left it unchanged', async () => {
    const bad = held({ state: { n: 'x' }, context: null, waits: [] }, []);
    expect(
      await code(
        runTurn(
          agentWith(() => undefined),
          req(bad, 't1'),
          new MapLedger(),
          clock,
        ),
      ),
    ).toBe('STATE_INVALID');
  });
});

describe('protocol 1 requests (an old router)', () => {
  const history: HistoryEntry[] = [
    { role: 'user', content: 'one', turnId: 'a', at: 1 },
    { role: 'agent', content: 'two', turnId: 'a', at: 2 },
    { role: 'user', content: 'three', turnId: 'b', at: 3 },
  ];
  const v1: TurnRequestV1 = {
    session: SESSION,
    checkpoint: { seq: 2, schemaVersion: 1, body: { state: { n: 2 }, history, context: 'ctx', waits: [] } },
    input: { kind: 'message', message: 'four' },
    turnId: 'c',
    deadline: clock.now() + 60_000,
  };

  it('gets the whole history as ctx.history, pages it from the request, and a full protocol-1 answer', async () => {
    const ledger = new MapLedger();
    let seen: unknown = null;
    const agent = agentWith(async (ctx) => {
      const page = await ctx.readHistory({ before: 2, limit: 1 });
      seen = { indexes: ctx.history.map((e) => e.index), length: ctx.historyLength, page };
    });
    const res = await runTurn(agent, v1, ledger, clock);
    expect(seen).toEqual({
      indexes: [0, 1, 2, 3],
      length: 4,
      page: {
        sessionId: 'ses_p',
        entries: [{ ...history[1], index: 1 }],
        total: 3,
        nextBefore: 1,
        trimmed: null,
      },
    });
    expect(ledger.historyCalls).toEqual([]);
    // every part is sent (an old router knows no markers), the history holds this turn's entries
    expect(res.unchanged).toBeUndefined();
    expect(res).toMatchObject({ state: { n: 2 }, context: 'ctx' });
    expect(res.history.map((e) => e.content)).toEqual(['four']);
  });
});
