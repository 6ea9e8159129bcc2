/**
 * Declared compensations: the manifest lists them, an effect naming an undeclared one fails the
 * turn with VALIDATION before its intent is recorded, and a compensation runs with a context of its
 * own whose effects are keyed by the compensated effect (a retry replays them instead of re-running).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BatonError, SimulatedClock, compensationEffectKey } from '@baton/core';
import type { CompensateRequest } from '@baton/core';
import { InProcessWorker, defineAgent, runCompensation, runTurn } from '../src/index';
import type { AgentSpec } from '../src/index';
import { MapLedger } from './ledger';
import { EMPTY, turnRequest } from './session';

const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
const state = z.object({ n: z.number().int() });
const cancels: string[] = [];

function spec(over: Partial<AgentSpec<{ n: number }>> = {}): AgentSpec<{ n: number }> {
  return {
    name: 'tickets',
    version: 'v1',
    schemaVersion: 1,
    state,
    initialState: () => ({ n: 0 }),
    modelId: 'sim',
    compensations: {
      cancel_ticket: async (ctx, { result, effect }) => {
        const id = (result as { ticket: string }).ticket;
        const r = await ctx.effect('cancel', { id }, () => {
          cancels.push(id);
          return { cancelled: id };
        });
        if (effect.name === 'explode') throw new Error('boom');
        return r;
      },
    },
    turn: async (ctx, input) => {
      const name = input.kind === 'message' ? String(input.message) : 'cancel_ticket';
      return ctx.effect('open', { n: 1 }, () => ({ ticket: 'T-1' }), { compensate: name });
    },
    ...over,
  };
}

const SESSION = { id: 'ses_1', agent: 'tickets', version: 'v1', tenant: null };

function compensateReq(name = 'open'): CompensateRequest {
  return {
    protocol: 2,
    session: { id: 'ses_1', agent: 'tickets', version: 'v1' },
    effect: {
      id: 'e_1',
      idempotencyKey: 'ses_1:turn_1:0',
      name,
      version: 'v0',
      turnId: 'turn_1',
      args: { n: 1 },
      result: { ticket: 'T-1' },
    },
    compensation: 'cancel_ticket',
    deadline: clock.now() + 60_000,
    capability: 'cap',
  };
}

describe('declared compensations', () => {
  it('are listed in the manifest and folded into the identity', () => {
    const a = defineAgent(spec());
    expect(a.manifest().compensations).toEqual(['cancel_ticket']);
    expect(defineAgent(spec({ compensations: {} })).manifest().compensations).toBeUndefined();
    expect(defineAgent(spec({ compensations: { cancel_ticket: () => 1 } })).identity).not.toBe(a.identity);
    expect(() => defineAgent(spec({ compensations: { x: 'nope' as never } }))).toThrow(/must be a function/);
  });

  it('an effect naming an undeclared compensation fails VALIDATION before its intent is recorded', async () => {
    const ledger = new MapLedger();
    const agent = defineAgent(spec());
    const r = turnRequest(
      SESSION,
      EMPTY,
      { kind: 'message', message: 'refund_money' },
      'turn_1',
      clock.now() + 60_000,
    );
    const err = await runTurn(agent, r, ledger, clock).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).code).toBe('VALIDATION');
    expect((err as BatonError).message).toMatch(/refund_money.*does not declare.*cancel_ticket/);
    expect(ledger.effects.size).toBe(0);
    const ok = turnRequest(
      SESSION,
      EMPTY,
      { kind: 'message', message: 'cancel_ticket' },
      'turn_2',
      clock.now() + 60_000,
    );
    await runTurn(agent, ok, ledger, clock);
    expect([...ledger.effects.values()].map((e) => e.compensation)).toEqual(['cancel_ticket']);
  });

  it('runs with its own context; its effects are keyed by the compensated effect and replayed on retry', async () => {
    cancels.length = 0;
    const ledger = new MapLedger();
    const worker = new InProcessWorker(defineAgent(spec()), ledger, { clock });
    expect((await worker.health()).compensations).toEqual(['cancel_ticket']);
    expect(await worker.compensate(compensateReq())).toEqual({ ok: true, result: { cancelled: 'T-1' } });
    const own = ledger.effects.get(compensationEffectKey('ses_1:turn_1:0', 0))!;
    expect(own).toMatchObject({
      name: 'cancel',
      status: 'committed',
      turnId: 'compensate:e_1',
      compensates: 'e_1',
    });
    // a retry (e.g. after a crash before the answer reached the router) replays, never re-runs
    expect(await worker.compensate(compensateReq())).toEqual({ ok: true, result: { cancelled: 'T-1' } });
    expect(cancels).toEqual(['T-1']);
  });

  it('a throwing compensation answers ok: false with the error; an undeclared one is refused', async () => {
    const agent = defineAgent(spec());
    const res = await runCompensation(agent, compensateReq('explode'), new MapLedger(), clock);
    expect(res).toEqual({ ok: false, error: { code: 'COMPENSATION_FAILED', message: 'boom' } });
    const other = { ...compensateReq(), compensation: 'refund' };
    await expect(runCompensation(agent, other, new MapLedger(), clock)).rejects.toMatchObject({
      code: 'COMPENSATION_UNDECLARED',
    });
  });
});
