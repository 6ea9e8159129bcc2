import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BatonError, SimulatedClock } from '@baton/core';
import type { MigrateRequest, TurnRequest } from '@baton/core';
import { InProcessWorker, defineAgent, migrateCheckpoint, runTurn } from '../src/index';
import type { AgentSpec } from '../src/index';
import { MapLedger } from './ledger';
import { EMPTY, commit, held, migrateRequest, turnRequest } from './session';
import type { Held } from './session';

const counterState = z.object({ count: z.number().int().nonnegative(), notes: z.array(z.string()) });
type Counter = z.infer<typeof counterState>;

function spec(overrides: Partial<AgentSpec<Counter>> = {}): AgentSpec<Counter> {
  return {
    name: 'counter',
    version: 'v1',
    schemaVersion: 1,
    state: counterState,
    initialState: () => ({ count: 0, notes: [] }),
    modelId: 'sim-1',
    prompts: { system: 'You count.' },
    tools: [{ name: 'email', description: 'send an email' }],
    turn: async (ctx) => {
      ctx.state.count += 1;
      return { count: ctx.state.count };
    },
    ...overrides,
  };
}

const clock = new SimulatedClock(Date.UTC(2026, 0, 1));

const SESSION = { id: 'ses_1', agent: 'counter', version: 'v1', tenant: null };

/** A protocol-2 turn request on the session as `h` holds it (default: its first turn). */
function req(over: Partial<TurnRequest> = {}, h: Held = EMPTY): TurnRequest {
  return {
    ...turnRequest(SESSION, h, { kind: 'message', message: 'hi' }, 'turn_1', clock.now() + 60_000),
    ...over,
  };
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

describe('version identity', () => {
  it('is stable for the same spec and changes with prompt, model, tools or code', () => {
    const base = defineAgent(spec());
    expect(defineAgent(spec()).identity).toBe(base.identity);
    const m = base.manifest();
    expect(m).toMatchObject({ agent: 'counter', label: 'v1', schemaVersion: 1, modelId: 'sim-1' });
    expect(m.identity).toMatch(/^[0-9a-f]{64}$/);

    const prompt = defineAgent(spec({ prompts: { system: 'You count carefully.' } })).manifest();
    expect(prompt.identity).not.toBe(m.identity);
    expect(prompt.promptHash).not.toBe(m.promptHash);
    expect(prompt.codeHash).toBe(m.codeHash);
    expect(prompt.toolManifestHash).toBe(m.toolManifestHash);

    const model = defineAgent(spec({ modelId: 'sim-2' })).manifest();
    expect(model.identity).not.toBe(m.identity);
    expect(model.promptHash).toBe(m.promptHash);

    const tools = defineAgent(spec({ tools: [{ name: 'email', description: 'send an e-mail' }] })).manifest();
    expect(tools.toolManifestHash).not.toBe(m.toolManifestHash);
    expect(tools.identity).not.toBe(m.identity);

    const code = defineAgent(
      spec({
        turn: async (ctx) => {
          ctx.state.count += 2;
          return { count: ctx.state.count };
        },
      }),
    ).manifest();
    expect(code.codeHash).not.toBe(m.codeHash);
    expect(code.identity).not.toBe(m.identity);
  });

  it('lists the schema versions its migration chains reach', () => {
    const a = defineAgent({
      ...spec({ version: 'v3', schemaVersion: 3 }),
      migrations: { up: { 1: (s) => s, 2: (s) => s }, down: { 2: (s) => s } },
    });
    expect(a.manifest().acceptsSchemas).toEqual([1, 2]);
    expect(a.manifest().downSchemas).toEqual([2]);
    const gap = defineAgent({
      ...spec({ version: 'v3', schemaVersion: 3 }),
      migrations: { up: { 1: (s) => s } },
    });
    expect(gap.acceptsSchemas()).toEqual([]);
  });

  it('rejects malformed specs with VALIDATION', () => {
    expect(() => defineAgent(spec({ schemaVersion: 0 }))).toThrow(/schemaVersion/);
    expect(() => defineAgent(spec({ initialState: () => ({ count: -1, notes: [] }) }))).toThrow(
      /initialState/,
    );
    expect(() => defineAgent(spec({ contextPolicy: 'rebuild' }))).toThrow(/rebuildContext/);
  });
});

describe('runTurn', () => {
  it('runs a first turn from the initial state and reports history, output and telemetry', async () => {
    const agent = defineAgent(
      spec({
        turn: async (ctx, input) => {
          ctx.state.count += 1;
          await ctx.tool('lookup', () => 1);
          await ctx.tool('lookup', () => 2);
          ctx.reasoningStep(2);
          ctx.model.record({ tokensIn: 100, tokensOut: 20, contextUtilization: 0.25 });
          ctx.model.record({ tokensIn: 50, tokensOut: 5, contextUtilization: 0.1 });
          ctx.metric('eval.resolution', 0.75);
          ctx.signal('clarification');
          ctx.context = { prompt: ['sys', input.kind] };
          ctx.reply('hello');
        },
      }),
    );
    const res = await runTurn(agent, req(), new MapLedger(), clock);
    expect(res.state).toEqual({ count: 1, notes: [] });
    expect(res.output).toBe('hello');
    expect(res.status).toBe('idle');
    expect(res.schemaVersion).toBe(1);
    expect(res.context).toEqual({ prompt: ['sys', 'message'] });
    expect(res.history.map((h) => h.role)).toEqual(['user', 'agent']);
    expect(res.telemetry).toMatchObject({
      toolCalls: { lookup: 2 },
      reasoningSteps: 2,
      tokensIn: 150,
      tokensOut: 25,
      contextUtilization: 0.25,
      metrics: { 'eval.resolution': 0.75 },
      signals: ['clarification'],
    });
    expect(res.telemetry.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('continues from a checkpoint and never mutates the request', async () => {
    const agent = defineAgent(spec());
    const first = await runTurn(agent, req(), new MapLedger(), clock);
    const r2 = req({ turnId: 'turn_2' }, commit(EMPTY, first));
    const frozen = structuredClone(r2);
    const second = await runTurn(agent, r2, new MapLedger(), clock);
    expect(second.state).toEqual({ count: 2, notes: [] });
    expect(r2).toEqual(frozen);
  });

  it('fails the turn with STATE_INVALID when the handler leaves an invalid state', async () => {
    const agent = defineAgent(
      spec({
        turn: async (ctx) => {
          (ctx.state as { count: unknown }).count = 'many';
        },
      }),
    );
    const err = await runTurn(agent, req(), new MapLedger(), clock).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).code).toBe('STATE_INVALID');
    expect((err as BatonError).details?.path).toBe('count');
  });

  it('refuses a checkpoint of another schema version (migrate first) and a foreign version', async () => {
    const agent = defineAgent(spec({ version: 'v2', schemaVersion: 2 }));
    const h = held({ state: { count: 1, notes: [] }, context: null, waits: [] }, [], 1, 1);
    const r = req({ session: { id: 's', agent: 'counter', version: 'v2', tenant: null } }, h);
    expect(await code(runTurn(agent, r, new MapLedger(), clock))).toBe('MIGRATION_FAILED');
    expect(await code(runTurn(agent, req(), new MapLedger(), clock))).toBe('VERSION_CONFLICT');
  });

  it('wraps a throwing handler as TURN_FAILED with the attempt telemetry', async () => {
    const agent = defineAgent(
      spec({
        turn: async (ctx) => {
          await ctx.tool('lookup', () => 1);
          throw new Error('boom');
        },
      }),
    );
    const err = (await runTurn(agent, req(), new MapLedger(), clock).catch((e: unknown) => e)) as BatonError;
    expect(err.code).toBe('TURN_FAILED');
    expect(err.message).toMatch(/boom/);
    expect(err.details?.telemetry).toMatchObject({ toolCalls: { lookup: 1 }, error: 'TURN_FAILED' });
  });

  it('times out a turn that runs past its deadline', async () => {
    const agent = defineAgent(spec({ turn: () => new Promise(() => undefined) }));
    const real = { now: () => Date.now(), sleep: async () => undefined };
    const r = req({ deadline: Date.now() + 30 });
    expect(await code(runTurn(agent, r, new MapLedger(), real))).toBe('TURN_TIMEOUT');
    expect(await code(runTurn(agent, req({ deadline: clock.now() - 1 }), new MapLedger(), clock))).toBe(
      'TURN_TIMEOUT',
    );
  });

  it("aborts the handler's signal at the deadline, and one read after the deadline or the turn is aborted", async () => {
    const real = { now: () => Date.now(), sleep: async () => undefined };
    let early: AbortSignal | undefined;
    let reason: unknown;
    const watching = defineAgent(
      spec({
        turn: (ctx) => {
          early = ctx.abortSignal;
          early.addEventListener('abort', () => (reason = early!.reason));
          return new Promise(() => undefined);
        },
      }),
    );
    expect(await code(runTurn(watching, req({ deadline: Date.now() + 30 }), new MapLedger(), real))).toBe(
      'TURN_TIMEOUT',
    );
    expect(early!.aborted).toBe(true);
    expect((reason as Error).message).toBe('deadline');
    // a handler that first looks at its signal after the deadline finds it aborted
    let late: AbortSignal | undefined;
    const lateAgent = defineAgent(
      spec({
        turn: async (ctx) => {
          await new Promise((r) => setTimeout(r, 60));
          late = ctx.abortSignal;
        },
      }),
    );
    expect(await code(runTurn(lateAgent, req({ deadline: Date.now() + 20 }), new MapLedger(), real))).toBe(
      'TURN_TIMEOUT',
    );
    await new Promise((r) => setTimeout(r, 80));
    expect(late!.aborted).toBe(true);
    expect((late!.reason as Error).message).toBe('deadline');
    // after a turn that finished, a kept signal is aborted ("turn finished")
    let kept: AbortSignal | undefined;
    const keeps = defineAgent(spec({ turn: (ctx) => void (kept = ctx.abortSignal) }));
    await runTurn(keeps, req(), new MapLedger(), clock);
    expect(kept!.aborted).toBe(true);
    expect((kept!.reason as Error).message).toBe('turn finished');
  });

  it("ends the turn when the caller's signal aborts, and refuses effects after it", async () => {
    const caller = new AbortController();
    let after: unknown;
    let seen: AbortSignal | undefined;
    const agent = defineAgent(
      spec({
        turn: async (ctx) => {
          seen = ctx.abortSignal;
          caller.abort(new Error('lease lost'));
          await new Promise((r) => setTimeout(r, 5));
          after = await ctx.effect('email', {}, () => 'sent').catch((e: BatonError) => e.code);
        },
      }),
    );
    const real = { now: () => Date.now(), sleep: async () => undefined };
    const err = (await runTurn(agent, req({ deadline: Date.now() + 10_000 }), new MapLedger(), real, {
      signal: caller.signal,
    }).catch((e: unknown) => e)) as BatonError;
    expect(err.code).toBe('TURN_TIMEOUT');
    expect(err.message).toMatch(/was aborted/);
    expect(seen!.aborted).toBe(true);
    expect((seen!.reason as Error).message).toBe('lease lost');
    await new Promise((r) => setTimeout(r, 20));
    expect(after).toBe('TURN_TIMEOUT');
  });

  it('survives a handler that fails after its deadline, and deadlines beyond the timer range', async () => {
    let fail: (e: Error) => void = () => undefined;
    const late = defineAgent(spec({ turn: () => new Promise((_, reject) => (fail = reject)) }));
    const real = { now: () => Date.now(), sleep: async () => undefined };
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      expect(await code(runTurn(late, req({ deadline: Date.now() + 20 }), new MapLedger(), real))).toBe(
        'TURN_TIMEOUT',
      );
      fail(new Error('late failure'));
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    const slow = defineAgent(spec({ turn: () => new Promise((r) => setTimeout(() => r('done'), 30)) }));
    const far = await runTurn(slow, req({ deadline: Date.now() + 40 * 86_400_000 }), new MapLedger(), real);
    expect(far.output).toBe('done');
    expect(far.status).toBe('idle');
  });

  it('ends the session with complete() and fail()', async () => {
    const done = defineAgent(spec({ turn: (ctx) => ctx.complete() }));
    expect((await runTurn(done, req(), new MapLedger(), clock)).status).toBe('completed');
    const bad = defineAgent(spec({ turn: (ctx) => ctx.fail('gave up') }));
    const res = await runTurn(bad, req(), new MapLedger(), clock);
    expect(res.status).toBe('failed');
    expect(res.telemetry.error).toBe('gave up');
  });
});

describe('effects', () => {
  function emailer(runs: { n: number }, opts: { crashAfter?: boolean; idempotent?: boolean } = {}) {
    return defineAgent(
      spec({
        compensations: { send_correction_email: () => ({ corrected: true }) },
        turn: async (ctx) => {
          const a = await ctx.effect(
            'email',
            { to: 'a@example.com' },
            () => {
              runs.n++;
              return { messageId: `m${runs.n}` };
            },
            { compensate: 'send_correction_email', idempotent: opts.idempotent ?? false },
          );
          const b = await ctx.effect('ticket', { title: 't' }, () => ({ ticket: 7 }));
          if (opts.crashAfter) throw new Error('crash after effects');
          return { a, b };
        },
      }),
    );
  }

  it('records intent with a (session, turn, call index) key and never runs a committed effect twice', async () => {
    const ledger = new MapLedger();
    const runs = { n: 0 };
    const err = await code(runTurn(emailer(runs, { crashAfter: true }), req(), ledger, clock));
    expect(err).toBe('TURN_FAILED');
    expect(runs.n).toBe(1);
    const rec = ledger.effects.get('ses_1:turn_1:0');
    expect(rec).toMatchObject({ status: 'committed', name: 'email', compensation: 'send_correction_email' });
    expect(ledger.effects.get('ses_1:turn_1:1')?.name).toBe('ticket');

    const res = await runTurn(emailer(runs), req(), ledger, clock);
    expect(runs.n).toBe(1);
    expect(res.output).toEqual({ a: { messageId: 'm1' }, b: { ticket: 7 } });
    expect(res.telemetry.toolCalls).toEqual({ email: 1, ticket: 1 });

    // a new turn id is a new effect
    await runTurn(emailer(runs), req({ turnId: 'turn_2' }), ledger, clock);
    expect(runs.n).toBe(2);
  });

  it('does not re-run an effect left in intent (crash mid-run) unless it is idempotent', async () => {
    const ledger = new MapLedger();
    const runs = { n: 0 };
    ledger.crashOnCommit = true;
    expect(await code(runTurn(emailer(runs), req(), ledger, clock))).toBe('TURN_FAILED');
    expect(ledger.effects.get('ses_1:turn_1:0')?.status).toBe('intent');

    // the handler cannot swallow the in-doubt error
    const swallowing = defineAgent(
      spec({
        turn: async (ctx) => {
          try {
            await ctx.effect('email', {}, () => runs.n++);
          } catch {
            return 'ignored';
          }
        },
      }),
    );
    expect(await code(runTurn(swallowing, req(), ledger, clock))).toBe('EFFECT_IN_DOUBT');
    expect(await code(runTurn(emailer(runs), req(), ledger, clock))).toBe('EFFECT_IN_DOUBT');
    expect(runs.n).toBe(1);

    const res = await runTurn(emailer(runs, { idempotent: true }), req(), ledger, clock);
    expect(runs.n).toBe(2);
    expect(res.output).toMatchObject({ a: { messageId: 'm2' } });
    expect(ledger.effects.get('ses_1:turn_1:0')?.status).toBe('committed');
  });

  it('records a failing effect and replays the failure on retry without running it', async () => {
    const ledger = new MapLedger();
    let runs = 0;
    const agent = defineAgent(
      spec({
        turn: async (ctx) => {
          try {
            await ctx.effect('email', {}, () => {
              runs++;
              throw new Error('smtp down');
            });
          } catch (e) {
            return { failed: (e as BatonError).code };
          }
        },
      }),
    );
    expect((await runTurn(agent, req(), ledger, clock)).output).toEqual({ failed: 'EFFECT_FAILED' });
    expect(ledger.effects.get('ses_1:turn_1:0')).toMatchObject({ status: 'failed', error: 'smtp down' });
    expect((await runTurn(agent, req(), ledger, clock)).output).toEqual({ failed: 'EFFECT_FAILED' });
    expect(runs).toBe(1);
  });

  it('detects a retry that calls a different effect at the same index', async () => {
    const ledger = new MapLedger();
    await runTurn(emailer({ n: 0 }), req(), ledger, clock);
    const other = defineAgent(spec({ turn: (ctx) => ctx.effect('sms', {}, () => 1) }));
    const err = (await runTurn(other, req(), ledger, clock).catch((e: unknown) => e)) as BatonError;
    expect(err.code).toBe('TURN_FAILED');
    expect(err.message).toMatch(/not deterministic/);
  });

  it('makes no ledger calls for a turn without effects or steps', async () => {
    const ledger = new MapLedger();
    await runTurn(defineAgent(spec()), req(), ledger, clock);
    expect(ledger.calls).toBe(0);
  });
});

describe('steps', () => {
  it('journals completed steps so a retried turn resumes after them, with the same telemetry and effect keys', async () => {
    const ledger = new MapLedger();
    const runs: string[] = [];
    let crash = true;
    const agent = defineAgent(
      spec({
        turn: async (ctx) => {
          const plan = await ctx.step('plan', async () => {
            runs.push('plan');
            ctx.reasoningStep();
            ctx.model.record({ tokensIn: 500, tokensOut: 50, contextUtilization: 0.5 });
            await ctx.tool('search', () => 'x');
            return { steps: ['a', 'b'] };
          });
          const sent = await ctx.step('notify', async () => {
            runs.push('notify');
            return ctx.effect('email', plan, () => {
              runs.push('email');
              return 'sent';
            });
          });
          if (crash) {
            crash = false;
            throw new Error('crash after two steps');
          }
          const after = await ctx.effect('ticket', {}, () => {
            runs.push('ticket');
            return 1;
          });
          return { plan, sent, after };
        },
      }),
    );
    expect(await code(runTurn(agent, req(), ledger, clock))).toBe('TURN_FAILED');
    expect(runs).toEqual(['plan', 'notify', 'email']);
    const res = await runTurn(agent, req(), ledger, clock);
    expect(runs).toEqual(['plan', 'notify', 'email', 'ticket']);
    expect(res.output).toEqual({ plan: { steps: ['a', 'b'] }, sent: 'sent', after: 1 });
    // the effect after the journaled steps keeps its call index (1), not 0
    expect(ledger.effects.get('ses_1:turn_1:1')?.name).toBe('ticket');
    expect(res.telemetry).toMatchObject({
      toolCalls: { search: 1, email: 1, ticket: 1 },
      reasoningSteps: 1,
      tokensIn: 500,
      tokensOut: 50,
      contextUtilization: 0.5,
    });
  });
});

describe('waits', () => {
  const approval = z.object({ approved: z.boolean(), by: z.string() });
  const agent = defineAgent(
    spec({
      waits: { approval },
      turn: async (ctx, input) => {
        if (input.kind === 'message') {
          ctx.waitFor('approval', { timeout: 3_600_000 });
          return 'waiting for approval';
        }
        if (input.kind === 'callback') {
          const p = ctx.payload(approval);
          ctx.state.notes.push(`${p.approved ? 'approved' : 'denied'} by ${p.by}`);
          return p;
        }
        ctx.state.notes.push('timed out');
        return 'timed out';
      },
    }),
  );

  it('ends the turn in waiting with a serializable wait, resumable by a callback', async () => {
    const ledger = new MapLedger();
    const first = await runTurn(agent, req(), ledger, clock);
    expect(first.status).toBe('waiting');
    expect(first.waits).toHaveLength(1);
    const w = first.waits[0]!;
    expect(JSON.parse(JSON.stringify(w))).toEqual(w);
    expect(w.name).toBe('approval');
    expect(w.token.length).toBeGreaterThanOrEqual(20);
    expect(w.deadline).toBe(clock.now() + 3_600_000);
    expect(w.schema).toMatchObject({ type: 'object', required: ['approved', 'by'] });

    const h = JSON.parse(JSON.stringify(commit(EMPTY, first))) as Held;
    const resumed = await runTurn(
      agent,
      req(
        {
          turnId: 'turn_2',
          input: {
            kind: 'callback',
            token: w.token,
            name: 'approval',
            payload: { approved: true, by: 'ops' },
          },
        },
        h,
      ),
      ledger,
      clock,
    );
    expect(resumed.status).toBe('idle');
    expect(resumed.waits).toEqual([]);
    expect(resumed.output).toEqual({ approved: true, by: 'ops' });
    expect(resumed.state).toEqual({ count: 0, notes: ['approved by ops'] });
    expect(resumed.history[0]).toMatchObject({ role: 'callback', content: { name: 'approval' } });
  });

  it('rejects an invalid callback payload with VALIDATION and resumes on timeout', async () => {
    const first = await runTurn(agent, req(), new MapLedger(), clock);
    const w = first.waits[0]!;
    const h = commit(EMPTY, first);
    const bad = req(
      {
        turnId: 'turn_2',
        input: { kind: 'callback', token: w.token, name: 'approval', payload: { approved: 'yes' } },
      },
      h,
    );
    expect(await code(runTurn(agent, bad, new MapLedger(), clock))).toBe('VALIDATION');
    const timedOut = await runTurn(
      agent,
      req({ turnId: 'turn_3', input: { kind: 'timeout', token: w.token, name: 'approval' } }, h),
      new MapLedger(),
      clock,
    );
    expect(timedOut.output).toBe('timed out');
    expect(timedOut.waits).toEqual([]);
  });
});

describe('waits declared only at the call site', () => {
  const inline = defineAgent(
    spec({
      turn: async (ctx, input) => {
        if (input.kind === 'message') {
          ctx.waitFor('docs', {
            timeout: 1000,
            schema: z.object({ url: z.string().startsWith('https://') }),
          });
          return 'send the document';
        }
        return ctx.payload();
      },
    }),
  );

  it('validates the payload on resume against the JSON Schema stored with the wait', async () => {
    const first = await runTurn(inline, req(), new MapLedger(), clock);
    const w = first.waits[0]!;
    const h = JSON.parse(JSON.stringify(commit(EMPTY, first))) as Held;
    const cb = (payload: unknown) =>
      req({ turnId: 'turn_2', input: { kind: 'callback', token: w.token, name: 'docs', payload } }, h);
    expect(await code(runTurn(inline, cb({ url: 'ftp://x' }), new MapLedger(), clock))).toBe('VALIDATION');
    expect((await runTurn(inline, cb({ url: 'https://x' }), new MapLedger(), clock)).output).toEqual({
      url: 'https://x',
    });
  });

  it('refuses a callback or timeout for a token that is not pending', async () => {
    const first = await runTurn(inline, req(), new MapLedger(), clock);
    const stray = req(
      {
        turnId: 'turn_2',
        input: { kind: 'callback', token: 'not-a-token', name: 'docs', payload: { url: 'https://x' } },
      },
      commit(EMPTY, first),
    );
    expect(await code(runTurn(inline, stray, new MapLedger(), clock))).toBe('WAIT_NOT_FOUND');
    const timeout = req({ turnId: 'turn_3', input: { kind: 'timeout', token: 'nope', name: 'docs' } });
    expect(await code(runTurn(inline, timeout, new MapLedger(), clock))).toBe('WAIT_NOT_FOUND');
  });
});

describe('migrateCheckpoint', () => {
  const s1 = z.object({ orderId: z.string().nullable() });
  const s2 = z.object({ orderIds: z.array(z.string()) });
  const s3 = z.object({ orders: z.array(z.object({ id: z.string() })), mood: z.enum(['ok', 'upset']) });
  const v3 = defineAgent({
    name: 'shop',
    version: 'v3',
    schemaVersion: 3,
    state: s3,
    initialState: () => ({ orders: [], mood: 'ok' as const }),
    modelId: 'sim',
    contextPolicy: 'rebuild',
    rebuildContext: async (history, state) => ({
      rebuilt: (await history.window()).map((e) => e.content),
      of: history.length,
      orders: state.orders.length,
    }),
    waits: { approval: z.object({ approved: z.boolean() }) },
    migrations: {
      up: {
        1: (s: z.infer<typeof s1>) => ({ orderIds: s.orderId ? [s.orderId] : [] }),
        2: (s: z.infer<typeof s2>) => {
          if (s.orderIds.includes('poison')) throw new Error('cannot migrate poison orders');
          return { orders: s.orderIds.map((id) => ({ id })), mood: s.orderIds.length > 2 ? 'upset' : 'ok' };
        },
      },
      down: {
        2: (s: z.infer<typeof s3>) => ({ orderIds: s.orders.map((o) => o.id) }),
        1: (s: z.infer<typeof s2>) => ({ orderId: s.orderIds[0] ?? null }),
      },
      schemas: { 1: s1, 2: s2 },
    },
    turn: () => undefined,
  });
  const wait = { token: 'tok', name: 'approval', deadline: 5, schema: null, createdAt: 1 };
  const entries = [{ role: 'user' as const, content: 'hi', turnId: 't', at: 0 }];
  /** A protocol-2 migrate request, and a ledger serving the session's history. */
  function mreq(
    schemaVersion: number,
    state: unknown,
    target = 3,
    version = 'v1',
  ): [MigrateRequest, MapLedger] {
    const ledger = new MapLedger();
    ledger.setHistory('s1', entries);
    const h = held({ state, context: { old: true }, waits: [wait] }, entries, 4, schemaVersion);
    return [migrateRequest({ id: 's1', agent: 'shop', version }, h, target), ledger];
  }

  it('chains up migrations 1→2→3, validates, migrates waits and rebuilds the context', async () => {
    const [m, ledger] = mreq(1, { orderId: 'A1' });
    const r = await migrateCheckpoint(v3, m, ledger);
    expect(r).toMatchObject({ ok: true, schemaVersion: 3, contextPolicy: 'rebuild' });
    if (!r.ok) throw new Error('unreachable');
    expect(r.body.state).toEqual({ orders: [{ id: 'A1' }], mood: 'ok' });
    // rebuilt from the history read through the ledger with the request's capability
    expect(r.body.context).toEqual({ rebuilt: ['hi'], of: 1, orders: 1 });
    expect(ledger.historyCalls.map((c) => c.capability)).toEqual(['cap:s1:migrate']);
    expect(r.body.waits[0]).toMatchObject({ token: 'tok', deadline: 5, schema: { type: 'object' } });
    expect('history' in r.body).toBe(false);
    // state and context both changed: nothing is unchanged
    expect(r.unchanged).toBeUndefined();
    const dry = await migrateCheckpoint(v3, { ...m, dryRun: true }, ledger);
    expect(dry).toEqual(r);
  });

  it('chains down migrations and carries the context (marked unchanged)', async () => {
    const [m, ledger] = mreq(3, { orders: [{ id: 'B' }], mood: 'upset' }, 1, 'v3');
    const r = await migrateCheckpoint(v3, m, ledger);
    expect(r).toMatchObject({ ok: true, schemaVersion: 1, contextPolicy: 'carry' });
    if (!r.ok) throw new Error('unreachable');
    expect(r.body).toMatchObject({ state: { orderId: 'B' }, context: { old: true } });
    expect(r.unchanged).toEqual({ context: m.checkpoint.hashes.context });
    // nothing read the history, so nothing was fetched
    expect(ledger.historyCalls).toEqual([]);
  });

  it('reports a throwing migration, a missing path and an invalid result without throwing', async () => {
    const threw = await migrateCheckpoint(v3, ...mreq(2, { orderIds: ['poison'] }));
    expect(threw).toMatchObject({ ok: false, error: { code: 'MIGRATION_FAILED' } });
    if (!threw.ok) expect(threw.error.message).toMatch(/up migration 2→3 .*poison/);

    const noPath = await migrateCheckpoint(v3, ...mreq(3, { orders: [], mood: 'ok' }, 4, 'v3'));
    expect(noPath).toMatchObject({ ok: false, error: { code: 'MIGRATION_FAILED' } });
    if (!noPath.ok) expect(noPath.error.message).toMatch(/no up migration 3→4/);

    const invalid = await migrateCheckpoint(v3, ...mreq(1, { orderId: 42 }));
    expect(invalid).toMatchObject({ ok: false, error: { code: 'STATE_INVALID', path: 'orderId' } });
  });

  it('validates a same-schema move and carries the context when the policy is carry', async () => {
    const carry = defineAgent(spec({ version: 'v1b' }));
    const h = held({ state: { count: 3, notes: [] }, context: 'ctx', waits: [] }, []);
    const m = migrateRequest({ id: 's', agent: 'counter', version: 'v1' }, h, 1, true);
    const r = await migrateCheckpoint(carry, m, new MapLedger());
    expect(r).toMatchObject({
      ok: true,
      contextPolicy: 'carry',
      body: { context: 'ctx', state: { count: 3 } },
      unchanged: { state: m.checkpoint.hashes.state, context: m.checkpoint.hashes.context },
    });
  });

  it('still answers a protocol-1 request (history in the body) with a protocol-1 body', async () => {
    const r = await migrateCheckpoint(v3, {
      session: { id: 's1', agent: 'shop', version: 'v1' },
      checkpoint: {
        seq: 4,
        schemaVersion: 1,
        body: { state: { orderId: 'A1' }, history: entries, context: null, waits: [] },
      },
      targetSchemaVersion: 3,
      dryRun: true,
    });
    if (!r.ok) throw new Error(r.error.message);
    // rebuildContext read the history the request carried; the answer keeps it, with no markers
    expect(r.body.context).toEqual({ rebuilt: ['hi'], of: 1, orders: 1 });
    expect((r.body as { history?: unknown }).history).toEqual(entries);
    expect(r.unchanged).toBeUndefined();
  });
});

describe('InProcessWorker', () => {
  it('opens hooks lazily, reports health and closes', async () => {
    const events: string[] = [];
    const agent = defineAgent(
      spec({
        hooks: {
          open: () => void events.push('open'),
          close: () => void events.push('close'),
          boundary: (b) => void events.push(`boundary:${b.status}`),
        },
      }),
    );
    const w = new InProcessWorker(agent, new MapLedger(), { id: 'w1', clock });
    expect(await w.health()).toMatchObject({
      ok: true,
      agent: 'counter',
      version: 'v1',
      identity: agent.identity,
      inflight: 0,
      protocol: 2,
    });
    expect(w.protocol).toBe(2);
    await w.turn(req());
    await w.turn(req({ turnId: 'turn_2' }));
    expect(events).toEqual(['open', 'boundary:idle', 'boundary:idle']);
    await w.close();
    expect(events.at(-1)).toBe('close');
    expect((await w.health()).ok).toBe(false);
    const h = held({ state: { count: 1, notes: [] }, context: null, waits: [] }, []);
    const m = await w.migrate(migrateRequest({ id: 's', agent: 'counter', version: 'v0' }, h, 1, true));
    expect(m.ok).toBe(true);
  });
});
