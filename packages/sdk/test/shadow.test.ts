import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BatonError, SimulatedClock } from '@baton/core';
import type { ShadowTurn, TurnRequest } from '@baton/core';
import { InProcessWorker, defineAgent, runTurn } from '../src/index';
import type { AgentSpec, ShadowPolicy } from '../src/index';
import { MapLedger } from './ledger';
import { EMPTY, turnRequest } from './session';

const state = z.object({ sent: z.array(z.string()) });
type S = z.infer<typeof state>;

const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
const SESSION = { id: 'ses_1', agent: 'mailer', version: 'v1', tenant: null };

/** A side channel: every effect `run` and tool `run` that really executes lands here. */
function mailer(ran: string[], opts: { extra?: boolean; shadow?: ShadowPolicy } = {}): AgentSpec<S> {
  return {
    name: 'mailer',
    version: 'v1',
    schemaVersion: 1,
    state,
    initialState: () => ({ sent: [] }),
    modelId: 'sim-1',
    ...(opts.shadow ? { shadow: opts.shadow } : {}),
    turn: async (ctx) => {
      const price = await ctx.tool('price', () => {
        ran.push('tool:price');
        return 42;
      });
      const stock = await ctx.tool('stock', () => {
        ran.push('tool:stock');
        return 7;
      });
      const r = await ctx.effect('send_email', { to: 'a@x', price }, (a: unknown) => {
        ran.push('send_email');
        return { id: `MSG-${JSON.stringify(a).length}` };
      });
      ctx.state.sent.push((r as { id: string } | null)?.id ?? 'none');
      if (opts.extra) {
        const r2 = await ctx.effect('send_email', { to: 'b@x' }, () => {
          ran.push('send_email');
          return { id: 'MSG-extra' };
        });
        ctx.state.sent.push((r2 as { id: string } | null)?.id ?? 'placeholder');
      }
      const j = await ctx.step('model', () => stock * 2);
      return { price, stock, j, sent: ctx.state.sent };
    },
  };
}

function req(shadow?: ShadowTurn): TurnRequest {
  const r = turnRequest(
    SESSION,
    EMPTY,
    { kind: 'message', message: 'hi' },
    'shadow:r1:1',
    clock.now() + 60_000,
  );
  return shadow ? { ...r, shadow } : r;
}

const RECORDED: ShadowTurn = {
  effects: [
    {
      name: 'send_email',
      args: { to: 'a@x', price: 42 },
      status: 'committed',
      result: { id: 'MSG-blue' },
      error: null,
    },
  ],
  tools: [{ name: 'price', result: 42 }],
};

describe('shadow turns (sandboxed effects and tools)', () => {
  it('returns blue’s recorded effect result without running it, and writes nothing to the ledger', async () => {
    const ran: string[] = [];
    const ledger = new MapLedger();
    const agent = defineAgent(mailer(ran, { shadow: { tools: { price: 'replay' } } }));
    const res = await runTurn(agent, req(RECORDED), ledger, clock);
    expect(res.output).toMatchObject({ price: 42, stock: 7, j: 14, sent: ['MSG-blue'] });
    // the replay tool is served from the recording; the `run` tool (read-only) runs; no effect runs
    expect(ran).toEqual(['tool:stock']);
    expect(ledger.calls).toBe(0);
    expect(ledger.effects.size).toBe(0);
    expect(ledger.journal.size).toBe(0);
    expect(res.shadow).toEqual({
      effects: [{ name: 'send_email', args: { to: 'a@x', price: 42 }, replayed: true }],
      divergences: [],
      tools: { replayed: 1, ran: 1 },
    });
  });

  it('reports an extra effect as a divergence and returns the declared placeholder', async () => {
    const ran: string[] = [];
    const agent = defineAgent(mailer(ran, { extra: true, shadow: { placeholder: { id: 'PLACEHOLDER' } } }));
    const ledger = new MapLedger();
    const res = await runTurn(agent, req(RECORDED), ledger, clock);
    expect(ran.filter((r) => r === 'send_email')).toEqual([]);
    expect(ledger.effects.size).toBe(0);
    expect(res.shadow!.divergences).toEqual([
      { kind: 'effect-extra', index: 1, name: 'send_email', args: { to: 'b@x' } },
    ]);
    expect((res.output as { sent: string[] }).sent).toEqual(['MSG-blue', 'PLACEHOLDER']);
  });

  it('compares arguments, reports what blue called and green did not, and can fail the turn', async () => {
    const ran: string[] = [];
    const other: ShadowTurn = {
      effects: [
        {
          name: 'send_email',
          args: { to: 'a@x', price: 41 },
          status: 'committed',
          result: { id: 'X' },
          error: null,
        },
        { name: 'create_ticket', args: {}, status: 'committed', result: { t: 1 }, error: null },
      ],
      tools: [],
    };
    const res = await runTurn(defineAgent(mailer(ran)), req(other), new MapLedger(), clock);
    expect(res.shadow!.divergences.map((d) => d.kind)).toEqual(['effect-args', 'effect-missing']);
    expect(res.shadow!.divergences[0]!.recorded).toEqual({
      name: 'send_email',
      args: { to: 'a@x', price: 41 },
    });
    const failing = defineAgent(mailer(ran, { shadow: { onDivergence: 'fail' } }));
    const err = await runTurn(failing, req(other), new MapLedger(), clock).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).code).toBe('SHADOW_DIVERGED');
    expect(ran.filter((r) => r === 'send_email')).toEqual([]);
  });

  it('a live turn records a replay tool’s result in the history; the same request without shadow runs effects', async () => {
    const ran: string[] = [];
    const ledger = new MapLedger();
    const agent = defineAgent(mailer(ran, { shadow: { tools: { price: 'replay' } } }));
    const res = await runTurn(agent, req(), ledger, clock);
    expect(ran).toEqual(['tool:price', 'tool:stock', 'send_email']);
    expect(res.shadow).toBeUndefined();
    expect(res.history.filter((e) => e.role === 'tool').map((e) => e.content)).toEqual([
      { tool: 'price', result: 42 },
    ]);
    expect(ledger.effects.size).toBe(1);
  });

  it('the shadow policy is part of the version identity; workers report shadow support', async () => {
    const a = defineAgent(mailer([]));
    const b = defineAgent(mailer([], { shadow: { tools: { price: 'replay' } } }));
    expect(a.identity).not.toBe(b.identity);
    expect(() => defineAgent({ ...mailer([]), shadow: { onDivergence: 'explode' as 'fail' } })).toThrow(
      /onDivergence/,
    );
    const w = new InProcessWorker(a, new MapLedger(), { clock });
    expect((await w.health()).shadow).toBe(1);
  });
});
