import type { BatonError, Checkpoint } from '@baton/core';
import { describe, expect, it } from 'vitest';
import { unchangedParts } from '../src/wire';
import { checkTurnResponse } from '../src/worker-response';

const answer = {
  state: { n: 1 },
  context: null,
  history: [{ role: 'user', content: 'hi', turnId: 't1', at: 1 }],
  output: 'ok',
  status: 'idle',
  waits: [],
  telemetry: {
    latencyMs: 1,
    toolCalls: {},
    reasoningSteps: 0,
    tokensIn: 0,
    tokensOut: 0,
    contextUtilization: 0,
    metrics: {},
    signals: [],
  },
  schemaVersion: 1,
};

function refusal(r: unknown): BatonError {
  try {
    checkTurnResponse(r, 'wrk_1');
  } catch (e) {
    return e as BatonError;
  }
  throw new Error('the answer was accepted');
}

describe('the router checks a turn answer against the protocol schema', () => {
  it('accepts a well-formed answer', () => {
    expect(() => checkTurnResponse(answer, 'wrk_1')).not.toThrow();
  });

  it.each([
    ['no object', null],
    ['an unknown status', { ...answer, status: 'done' }],
    ['waits that are not a list', { ...answer, waits: {} }],
    ['history that is not a list', { ...answer, history: 'hi' }],
    ['a schemaVersion that is not a number', { ...answer, schemaVersion: '1' }],
    ['no telemetry', { ...answer, telemetry: null }],
    ['telemetry without its counters', { ...answer, telemetry: { latencyMs: 1 } }],
    ['a history entry with an unknown role', { ...answer, history: [{ ...answer.history[0], role: 'bot' }] }],
    [
      'a wait without a deadline',
      { ...answer, status: 'waiting', waits: [{ token: 'w', name: 'n', schema: null, createdAt: 1 }] },
    ],
  ])('refuses %s as a WORKER_ERROR naming the worker', (_what, r) => {
    const e = refusal(r);
    expect(e.code).toBe('WORKER_ERROR');
    expect(e.message).toBe('worker wrk_1 sent a malformed turn response');
    expect(e.details).toEqual({ workerId: 'wrk_1' });
  });

  it('leaves faulty unchanged markers to the check against the checkpoint, which says what is wrong', () => {
    const cp = { parts: { state: 'hs', context: 'hc', memory: null } } as unknown as Checkpoint;
    for (const [unchanged, why] of [
      [{ foo: 'x' }, 'unknown part foo'],
      [{ context: 5 }, 'the context it declared unchanged does not match the checkpoint it was sent'],
      ['hc', 'unchanged must be an object'],
    ] as const) {
      const r = { ...answer, unchanged };
      expect(() => checkTurnResponse(r, 'wrk_1')).not.toThrow();
      expect(() => unchangedParts(r.unchanged as never, cp, 'wrk_1')).toThrow(
        `worker wrk_1 sent a malformed answer: ${why}`,
      );
    }
  });
});
