import type { SessionAggregate } from '@baton/core';

let counter = 0;

/** A session aggregate with neutral defaults; override what a test needs. */
export function agg(over: Partial<SessionAggregate> = {}): SessionAggregate {
  counter++;
  return {
    sessionId: `s${counter}`,
    agent: 'support',
    version: 'v1',
    sessionStartedAt: 0,
    firstAt: 0,
    lastAt: 0,
    turns: 1,
    errors: 0,
    toolCalls: 0,
    toolMix: {},
    reasoningSteps: 0,
    tokensIn: 0,
    tokensOut: 0,
    latencyMsSum: 0,
    latencyMsMax: 0,
    contextUtilizationMax: 0,
    metrics: {},
    signals: {},
    completed: true,
    ...over,
  };
}

/** Sessions whose `eval.<name>` per-session mean is each of `scores`. */
export function evalAggs(name: string, scores: readonly number[], version = 'v1'): SessionAggregate[] {
  return scores.map((s) => agg({ version, metrics: { [`eval.${name}`]: { sum: s, count: 1 } } }));
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
