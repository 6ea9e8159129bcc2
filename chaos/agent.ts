/**
 * The chaos agent: versions `c1`, `c2`, `c3` (state schemas 1, 2, 3, each migrating up from the
 * previous one). Every turn journals a step and runs one effect (`notify`) through the ledger;
 * every third message ends in a wait (`approval`) that the load resumes with a callback.
 *
 * It writes what really happened to a side channel outside Baton (`CHAOS_SIDE`, an append-only
 * file of JSON lines): every attempt reaching the effect (`try`, before its intent), every
 * execution of it (`run`, after its `begin`), so duplicates are
 * counted without trusting the ledger; likewise every execution of the compensation's own effect
 * (`undo-begin`, `undo-run`, keyed by the compensated effect's key). And it obeys a fault switch (`CHAOS_CONTROL`, a JSON file
 * `{mode, hangMs}` the chaos scheduler rewrites): `hang` sleeps past the turn deadline before
 * doing anything, `badstate` ends the turn with a state that fails the schema, `garbage` answers
 * the router's turn request with a body that is not JSON (after the turn ran, effects included).
 *
 * The state counts the turns applied (`count`) and the last turn number (`lastN`); a turn whose
 * number is not above `lastN` would be a turn applied twice, and is counted in `dupes`.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { ServerResponse } from 'node:http';
import { z } from 'zod';
import { BatonError } from '@baton/core';
import { defineAgent } from '@baton/sdk';
import type { AgentDefinition } from '@baton/sdk';

export const AGENT = 'chaos';
/**
 * How long a wait lasts: longer than any run, so every wait ends with the load's callback (a wait
 * left for the end of a run is resumed then) and never with a timeout turn the load did not send.
 */
export const WAIT_TIMEOUT_MS = 6 * 3_600_000;
/** Every how many messages a turn ends waiting for an `approval` callback. */
export const WAIT_EVERY = 3;

export type FaultMode = 'none' | 'hang' | 'garbage' | 'badstate';
export interface FaultSwitch {
  mode: FaultMode;
  hangMs?: number;
}

/** A line of the side channel. */
export interface SideLine {
  /**
   * `try`: an attempt reached the effect (before its intent); `begin`/`run`: it started/ran;
   * `undo-begin`/`undo-run`: the compensation's own effect undoing `key` started/ran.
   */
  e: 'try' | 'begin' | 'run' | 'undo-begin' | 'undo-run';
  key: string;
  pid: number;
  at: number;
}

export function stateSchema(gen: number) {
  return z.object({
    gen: z.literal(gen),
    count: z.number().int().nonnegative(),
    lastN: z.number().int(),
    dupes: z.number().int().nonnegative(),
    effectsFailed: z.number().int().nonnegative(),
  });
}
export type ChaosState = z.infer<ReturnType<typeof stateSchema>>;

export const approval = z.object({ n: z.number().int().nonnegative() });

/** Turn n of a session ends waiting when this holds. */
export function endsWaiting(n: number): boolean {
  return n % WAIT_EVERY === WAIT_EVERY - 1;
}

let cached: { at: number; value: FaultSwitch } | null = null;
/** The current fault switch (re-read at most every 50 ms). */
export function faultSwitch(): FaultSwitch {
  const file = process.env.CHAOS_CONTROL;
  if (!file) return { mode: 'none' };
  const now = Date.now();
  if (cached && now - cached.at < 50) return cached.value;
  let value: FaultSwitch = { mode: 'none' };
  try {
    value = JSON.parse(readFileSync(file, 'utf8')) as FaultSwitch;
  } catch {
    // no file yet, or being rewritten: no fault
  }
  cached = { at: now, value };
  return value;
}

function side(line: SideLine): void {
  const file = process.env.CHAOS_SIDE;
  if (file) appendFileSync(file, JSON.stringify(line) + '\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function notify(args: { key: string }): Promise<{ sent: string }> {
  side({ e: 'begin', key: args.key, pid: process.pid, at: Date.now() });
  await sleep(5); // a window for a SIGKILL between the start and the end of the effect
  side({ e: 'run', key: args.key, pid: process.pid, at: Date.now() });
  return { sent: args.key };
}

async function unnotify(args: { key: string }): Promise<{ undone: string }> {
  side({ e: 'undo-begin', key: args.key, pid: process.pid, at: Date.now() });
  await sleep(5); // a window for a SIGKILL inside the compensation's effect
  side({ e: 'undo-run', key: args.key, pid: process.pid, at: Date.now() });
  return { undone: args.key };
}

/**
 * `unnotify`, the compensation of `notify`: its own effect goes through the ledger, so a run
 * retried after a crash replays it. When an operator resolved that effect as never run (its
 * worker died between the intent and the run), the retry sends it under a second key: the undo
 * happens once either way.
 */
const compensations: NonNullable<AgentDefinition<ChaosState>['compensations']> = {
  unnotify: async (ctx, { args }) => {
    const key = (args as { key: string }).key;
    try {
      return await ctx.effect('unnotify', { key }, unnotify);
    } catch (e) {
      if (!(e instanceof BatonError && e.code === 'EFFECT_FAILED')) throw e;
      return ctx.effect('unnotify-again', { key }, unnotify);
    }
  },
};

if (process.env.CHAOS_CONTROL) {
  // `garbage`: the worker's answer to a turn is replaced by bytes that are not JSON (same length)
  const end = ServerResponse.prototype.end as (...a: unknown[]) => ServerResponse;
  ServerResponse.prototype.end = function (this: ServerResponse, ...a: unknown[]) {
    const chunk = a[0];
    if (
      typeof chunk === 'string' &&
      chunk.length > 0 &&
      this.req?.url?.startsWith('/v1/turn') &&
      faultSwitch().mode === 'garbage'
    )
      a[0] = '<'.repeat(Buffer.byteLength(chunk));
    return end.apply(this, a);
  } as typeof ServerResponse.prototype.end;
}

function makeVersion(gen: number): AgentDefinition<ChaosState> {
  const up: Record<number, (s: any) => Promise<unknown>> = {};
  for (let g = 1; g < gen; g++)
    up[g] = async (s: Record<string, unknown>) => {
      await sleep(20); // so an eager migration batch takes a while
      return { ...s, gen: g + 1 };
    };
  return defineAgent<ChaosState>({
    name: AGENT,
    version: `c${gen}`,
    schemaVersion: gen,
    state: stateSchema(gen) as unknown as z.ZodType<ChaosState>,
    initialState: () => ({ gen, count: 0, lastN: -1, dupes: 0, effectsFailed: 0 }) as ChaosState,
    migrations: { up },
    modelId: 'none',
    waits: { approval },
    compensations,
    tools: [{ name: 'notify', description: 'records a notification in the side channel' }],
    async turn(ctx, input) {
      const fault = faultSwitch();
      if (fault.mode === 'hang') await sleep(fault.hangMs ?? 60_000); // ignores the deadline
      let n: number;
      if (input.kind === 'message') n = approval.parse(input.message).n;
      else if (input.kind === 'callback') n = ctx.payload(approval).n;
      else n = ctx.state.lastN + 1; // a wait's timeout (not expected: waits outlast any run)
      const s = ctx.state;
      if (n <= s.lastN) s.dupes += 1;
      await ctx.step('plan', () => ({ n }));
      const key = `${ctx.session.id}:${ctx.turnId}:0`;
      side({ e: 'try', key, pid: process.pid, at: Date.now() });
      try {
        await ctx.effect('notify', { key }, notify, { compensate: 'unnotify' });
      } catch (e) {
        // an effect an operator resolved as failed: the turn goes on without it
        if (!(e instanceof BatonError && e.code === 'EFFECT_FAILED')) throw e;
        s.effectsFailed += 1;
      }
      s.count += 1;
      s.lastN = n;
      if (input.kind === 'message' && endsWaiting(n)) ctx.waitFor('approval', { timeout: WAIT_TIMEOUT_MS });
      if (fault.mode === 'badstate') (s as { count: unknown }).count = 'not a number';
      return { n, count: s.count, gen };
    },
  });
}

export const c1 = makeVersion(1);
export const c2 = makeVersion(2);
export const c3 = makeVersion(3);
export const versions = [c1, c2, c3];
