/** The forecast benchmark's fleets: a small agent, simulated users, the patterns and the rollout spec. */
import { defineAgent } from '@baton/sdk';
import { z } from 'zod';

export const MIN = 60_000;
export const PASS_MS = 5000;
export const AGENT = 'fc';

const state = z.object({ turns: z.number() });
const base = {
  name: AGENT,
  modelId: 'sim',
  schemaVersion: 1,
  state,
  initialState: () => ({ turns: 0 }),
};
export function agent(version: string) {
  return defineAgent<{ turns: number }>({
    ...base,
    version,
    turn(ctx, input) {
      ctx.state.turns++;
      if (
        input.kind === 'message' &&
        typeof input.message === 'string' &&
        input.message.startsWith('wait:')
      ) {
        ctx.waitFor('cb', { timeout: Number(input.message.slice(5)) });
        ctx.reply('waiting');
        return;
      }
      ctx.reply(`ok ${ctx.state.turns}`);
    },
  });
}

// ---- simulated users ------------------------------------------------------------------------

export type Act = { at: number; kind: 'turn' | 'wait' | 'callback' | 'end'; timeout?: number };
export type R = () => number;
export const exp = (r: R, mean: number) => -Math.log(1 - r()) * mean;
const uni = (r: R, a: number, b: number) => a + r() * (b - a);
const int = (r: R, a: number, b: number) => Math.floor(uni(r, a, b + 1));

/** A short chat: 3–12 turns ~20 s apart, then the user ends it. */
function shortChat(r: R): Act[] {
  const out: Act[] = [];
  let t = exp(r, 3000);
  const n = int(r, 3, 12);
  for (let i = 0; i < n; i++) {
    out.push({ at: t, kind: 'turn' });
    t += exp(r, 20_000);
  }
  out.push({ at: t - exp(r, 15_000) + exp(r, 5000), kind: 'end' });
  return fix(out);
}

/** A long chat: 4–12 turns, a quarter of the gaps are 5–25 min idle; 10% are abandoned. */
/**
 * The true process behind `shortChat`, for the benchmark's oracle: given a session created at
 * `createdAt` whose turns so far came at `turns` (absolute ms, ascending) and that had not ended
 * by `now`, draw its end time from the same generator conditioned on what is observed (rejection
 * on the one gap or end still open at `now`; every later gap is drawn afresh).
 */
export function shortChatEndGiven(createdAt: number, turns: number[], now: number, r: R): number {
  const j = turns.length;
  for (let tries = 0; tries < 100_000; tries++) {
    let t: number;
    let n: number;
    if (j === 0) {
      const first = createdAt + exp(r, 3000);
      if (first <= now) continue;
      n = int(r, 3, 12);
      t = first;
    } else {
      n = int(r, 3, 12);
      if (n < j) continue;
      const last = turns[j - 1]!;
      const g = exp(r, 20_000);
      if (n === j) {
        const end = Math.max(last + g - exp(r, 15_000) + exp(r, 5000), last + 1);
        if (end <= now) continue;
        return end;
      }
      t = last + g;
      if (t <= now) continue;
    }
    // turn j+1 is at t; the rest as the generator draws them
    for (let i = j + 1; i < n; i++) t = Math.max(t + exp(r, 20_000), t + 1);
    const gap = exp(r, 20_000);
    return Math.max(t + gap - exp(r, 15_000) + exp(r, 5000), t + 1);
  }
  return now + exp(r, 20_000);
}

function longChat(r: R): Act[] {
  const out: Act[] = [];
  let t = exp(r, 3000);
  const n = int(r, 4, 12);
  const abandonAt = r() < 0.1 ? int(r, 2, n) : -1;
  for (let i = 0; i < n; i++) {
    if (i === abandonAt) return out;
    out.push({ at: t, kind: 'turn' });
    t += r() < 0.75 ? exp(r, 30_000) : uni(r, 5 * MIN, 25 * MIN);
  }
  out.push({ at: t - 20_000, kind: 'end' });
  return fix(out);
}

/** A session that waits on a callback (24 h timeout): 60% come back after ~20 min, the rest never. */
function callbackSession(r: R): Act[] {
  const out: Act[] = [];
  let t = exp(r, 3000);
  const n = int(r, 1, 3);
  for (let i = 0; i < n; i++) {
    out.push({ at: t, kind: 'turn' });
    t += exp(r, 20_000);
  }
  out.push({ at: t, kind: 'wait', timeout: 24 * 60 * MIN });
  if (r() < 0.6) {
    t += exp(r, 20 * MIN);
    out.push({ at: t, kind: 'callback' });
    t += exp(r, 15_000);
    out.push({ at: t, kind: 'turn' });
    t += exp(r, 10_000);
    out.push({ at: t, kind: 'end' });
  }
  return fix(out);
}

function fix(acts: Act[]): Act[] {
  let last = 0;
  for (const a of acts) {
    a.at = Math.max(a.at, last + 1);
    last = a.at;
  }
  return acts;
}

export interface Pattern {
  name: string;
  /** New sessions per minute. */
  perMin: number;
  warmupMin: number;
  user: (r: R) => Act[];
  maxAgeMin: number;
  onDeadline: 'wait' | 'mark-stuck';
  /** Multiply every user gap after the rollout starts (the turn rate changes during the drain). */
  slowdown?: number;
  /** The true end-time process given a session's observed turns (the oracle's), where known. */
  endGiven?: (createdAt: number, turns: number[], now: number, r: R) => number;
}

export const PATTERNS: Pattern[] = [
  {
    name: 'short chats',
    perMin: 12,
    warmupMin: 12,
    user: shortChat,
    maxAgeMin: 2,
    onDeadline: 'wait',
    endGiven: shortChatEndGiven,
  },
  {
    name: 'long chats, idle gaps',
    perMin: 1.2,
    warmupMin: 120,
    user: longChat,
    maxAgeMin: 30,
    onDeadline: 'mark-stuck',
  },
  {
    name: 'callbacks, 24h deadlines',
    perMin: 2,
    warmupMin: 180,
    user: callbackSession,
    maxAgeMin: 20,
    onDeadline: 'mark-stuck',
  },
  {
    name: 'mix',
    perMin: 2.5,
    warmupMin: 120,
    user: (r) => (r() < 0.5 ? shortChat(r) : r() < 0.6 ? longChat(r) : callbackSession(r)),
    maxAgeMin: 10,
    onDeadline: 'mark-stuck',
  },
  {
    name: 'short chats, 3x slower in the drain',
    perMin: 12,
    warmupMin: 12,
    user: shortChat,
    maxAgeMin: 2,
    onDeadline: 'wait',
    slowdown: 3,
  },
];
export const POLICIES = ['at-boundary', 'finish-on-origin', 'max-age'] as const;
export type Policy = (typeof POLICIES)[number];

export function specOf(p: Pattern, policy: Policy) {
  return {
    agent: AGENT,
    to: 'v2',
    migration: { policy, eager: true, ...(policy === 'max-age' ? { maxAge: p.maxAgeMin * MIN } : {}) },
    drain: { deadline: '10m', onDeadline: p.onDeadline },
    onNoData: 'pass',
    steps: [
      { fill: 50, migrate: 0, verify: { minSessions: 20, interval: '30s', maxDuration: '2h' } },
      { fill: 100, migrate: 100 },
    ],
  };
}
