import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BatonError, SimulatedClock } from '@baton/core';
import { defineAgent, runTurn } from '../src/index';
import { MapLedger } from './ledger';

type Op = { kind: 'effect'; name: string } | { kind: 'step'; name: string; inner: number } | { kind: 'tool' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('effect' as const), name: fc.constantFrom('email', 'ticket', 'sms') }),
  fc.record({ kind: fc.constant('step' as const), name: fc.constantFrom('plan', 'draft'), inner: fc.nat(2) }),
  fc.record({ kind: fc.constant('tool' as const) }),
);

const clock = new SimulatedClock(Date.UTC(2026, 0, 1));

describe('retrying a turn after crashes at arbitrary boundaries', () => {
  it('runs every effect once, every completed step once, and ends with the crash-free result', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(30), { maxLength: 4 }),
        async (ops, crashes) => {
          const executions = new Map<string, number>();
          const bump = (k: string): number => {
            const n = (executions.get(k) ?? 0) + 1;
            executions.set(k, n);
            return n;
          };
          /** Crash points: the handler throws when its op counter reaches one of them (once each). */
          const pendingCrashes = new Set(crashes);
          /** Crashes inside a step body, by op index: such a step was not completed, so it runs again. */
          const crashedInside = new Map<number, number>();
          const agent = defineAgent({
            name: 'prop',
            version: 'v1',
            schemaVersion: 1,
            state: z.object({ log: z.array(z.string()) }),
            initialState: () => ({ log: [] }),
            modelId: 'sim',
            turn: async (ctx) => {
              let counter = 0;
              let inStep: number | null = null;
              const boundary = (): void => {
                counter++;
                if (pendingCrashes.delete(counter)) {
                  if (inStep !== null) crashedInside.set(inStep, (crashedInside.get(inStep) ?? 0) + 1);
                  throw new Error(`crash at ${counter}`);
                }
              };
              const results: unknown[] = [];
              for (const [i, o] of ops.entries()) {
                boundary();
                if (o.kind === 'effect') {
                  results.push(
                    await ctx.effect(o.name, { i }, () => `${o.name}#${i}:${bump(`effect:${i}`)}`),
                  );
                } else if (o.kind === 'tool') {
                  results.push(await ctx.tool('lookup', () => i));
                } else {
                  results.push(
                    await ctx.step(o.name, async () => {
                      bump(`step:${i}`);
                      inStep = i;
                      const inner: unknown[] = [];
                      for (let j = 0; j < o.inner; j++) {
                        boundary();
                        inner.push(
                          await ctx.effect(
                            'inner',
                            { i, j },
                            () => `inner#${i}.${j}:${bump(`inner:${i}.${j}`)}`,
                          ),
                        );
                      }
                      inStep = null;
                      ctx.reasoningStep();
                      return inner;
                    }),
                  );
                }
              }
              boundary();
              ctx.state.log.push('done');
              return results;
            },
          });
          const ledger = new MapLedger();
          const req = {
            protocol: 2 as const,
            session: { id: 's', agent: 'prop', version: 'v1', tenant: null },
            checkpoint: null,
            history: [],
            input: { kind: 'message' as const, message: 'go' },
            turnId: 't',
            deadline: clock.now() + 60_000,
            capability: 'cap-t',
          };
          let res;
          for (let attempt = 0; attempt < 10 && !res; attempt++) {
            try {
              res = await runTurn(agent, req, ledger, clock);
            } catch (e) {
              if (!(e instanceof BatonError) || e.code !== 'TURN_FAILED') throw e;
              if (!String(e.message).includes('crash at')) throw e;
            }
          }
          expect(res).toBeDefined();
          // every effect ran exactly once whatever the crashes; a completed step never runs again
          for (const [k, n] of executions) {
            const stepIndex = k.startsWith('step:') ? Number(k.slice(5)) : null;
            expect(n, k).toBe(stepIndex === null ? 1 : 1 + (crashedInside.get(stepIndex) ?? 0));
          }
          const effects = ops.filter((o) => o.kind === 'effect').length;
          const inner = ops.reduce((a, o) => a + (o.kind === 'step' ? o.inner : 0), 0);
          expect(ledger.effects.size).toBe(effects + inner);
          for (const e of ledger.effects.values()) expect(e.status).toBe('committed');
          // the output is what a crash-free run returns (every value carries execution count 1)
          for (const v of (res!.output as unknown[]).flat())
            if (typeof v === 'string') expect(v).toMatch(/:1$/);
          expect(res!.telemetry.reasoningSteps).toBe(ops.filter((o) => o.kind === 'step').length);
          expect(res!.telemetry.toolCalls.lookup ?? 0).toBe(ops.filter((o) => o.kind === 'tool').length);
        },
      ),
      { numRuns: 150 },
    );
  });
});
