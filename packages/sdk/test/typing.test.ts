/**
 * Typed waits and typed migrations. The `expectTypeOf` and `@ts-expect-error` lines are checked by
 * `tsc --noEmit` (a regression in the typing fails it); the rest runs the same agent.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { BatonError, SimulatedClock } from '@baton/core';
import type { TurnInput } from '@baton/core';
import { defineAgent, runTurn } from '../src/index';
import type { MigrationContext, MigrationFn, TurnContext } from '../src/index';
import { MapLedger } from './ledger';
import { EMPTY, commit, turnRequest } from './session';

const approval = z.object({ approved: z.boolean(), by: z.string() });
const refund = z.object({ amount: z.number().default(0) });
const stateV1 = z.object({ orderId: z.string().nullable() });
const stateV2 = z.object({ orders: z.array(z.string()) });

const agent = defineAgent({
  name: 'typed',
  version: 'v2',
  schemaVersion: 2,
  state: stateV2,
  initialState: () => ({ orders: [] }),
  modelId: 'sim',
  waits: { approval, refund },
  migrations: {
    schemas: { 1: stateV1 },
    up: {
      1: (s, ctx) => {
        expectTypeOf(s).toEqualTypeOf<{ orderId: string | null }>();
        expectTypeOf(ctx).toEqualTypeOf<MigrationContext>();
        return { orders: s.orderId ? [s.orderId] : [] };
      },
    },
    down: {
      1: (s) => {
        // down[1] starts from schema 2, the agent's own state
        expectTypeOf(s).toEqualTypeOf<{ orders: string[] }>();
        return { orderId: s.orders.at(-1) ?? null };
      },
    },
  },
  turn: (ctx, input) => {
    if (input.kind === 'message') {
      ctx.waitFor(String(input.message), { timeout: 60_000 });
      return 'waiting';
    }
    if (input.kind !== 'callback') return 'timed out';
    if (input.name === 'refund') {
      const r = ctx.payload('refund');
      expectTypeOf(r).toEqualTypeOf<{ amount: number }>();
      return r;
    }
    const p = ctx.payload('approval');
    expectTypeOf(p).toEqualTypeOf<{ approved: boolean; by: string }>();
    // (typed only, never called)
    void (() =>
      // @ts-expect-error the agent declares no wait of that name
      ctx.payload('escalation'));
    // a schema given in place of a name still types the payload by that schema
    expectTypeOf(ctx.payload(approval)).toEqualTypeOf<{ approved: boolean; by: string }>();
    return p;
  },
});

describe('types', () => {
  it('a migration step of an undeclared schema takes unknown, never any', () => {
    expectTypeOf<Parameters<MigrationFn>[0]>().toBeUnknown();
    expectTypeOf<Parameters<MigrationFn<{ n: number }>>[0]>().toEqualTypeOf<{ n: number }>();
    defineAgent({
      name: 'untyped',
      version: 'v3',
      schemaVersion: 3,
      state: stateV2,
      initialState: () => ({ orders: [] }),
      modelId: 'sim',
      migrations: {
        up: {
          2: (s) => {
            expectTypeOf(s).toBeUnknown();
            // @ts-expect-error an undeclared schema's state must be narrowed or annotated first
            return { orders: s.orders };
          },
          // an annotated step is accepted as it stands
          1: (s: { orderId: string | null }) => ({ orders: [s.orderId ?? 'none'] }),
        },
      },
      turn: (ctx) => {
        // @ts-expect-error an agent without waits has no payload by name
        ctx.payload('approval');
        return null;
      },
    });
  });

  it('an agent definition is usable where any definition of its state is', () => {
    expectTypeOf(agent.turn)
      .parameter(0)
      .toEqualTypeOf<
        TurnContext<{ orders: string[] }, { approval: typeof approval; refund: typeof refund }>
      >();
    expectTypeOf(agent.turn).parameter(1).toEqualTypeOf<TurnInput>();
  });
});

describe('ctx.payload(name)', () => {
  const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
  const session = { id: 'ses_t', agent: 'typed', version: 'v2', tenant: null };
  const at = (wait: string) => async () => {
    const ledger = new MapLedger();
    const first = await runTurn(
      agent,
      turnRequest(session, EMPTY, { kind: 'message', message: wait }, 't1', clock.now() + 60_000),
      ledger,
      clock,
    );
    return { h: commit(EMPTY, first), token: first.waits[0]!.token };
  };
  const answer = async (wait: string, name: string, payload: unknown) => {
    const { h, token } = await at(wait)();
    const input = { kind: 'callback' as const, token, name, payload };
    return runTurn(agent, turnRequest(session, h, input, 't2', clock.now() + 60_000), new MapLedger(), clock);
  };

  it('returns the payload parsed by the wait’s declared schema', async () => {
    expect((await answer('approval', 'approval', { approved: true, by: 'ops' })).output).toEqual({
      approved: true,
      by: 'ops',
    });
    // parsed, not only checked: the schema's default is filled in
    expect((await answer('refund', 'refund', {})).output).toEqual({ amount: 0 });
  });

  it('refuses with VALIDATION a name the input does not answer', async () => {
    const lying = defineAgent({
      ...agent,
      turn: (ctx: TurnContext<{ orders: string[] }, { approval: typeof approval; refund: typeof refund }>) =>
        ctx.payload('refund'),
    });
    const { h, token } = await at('approval')();
    const input = {
      kind: 'callback' as const,
      token,
      name: 'approval',
      payload: { approved: false, by: 'x' },
    };
    const err = await runTurn(
      lying,
      turnRequest(session, h, input, 't2', clock.now() + 60_000),
      new MapLedger(),
      clock,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).code).toBe('VALIDATION');
    expect((err as BatonError).message).toBe('turn input answers the wait approval, not refund');
  });
});
