import type { BatonError, Checkpoint } from '@baton/core';
import { describe, expect, it } from 'vitest';
import { unchangedParts } from '../src/wire';
import { checkCompensateResponse, checkMigrateResponse, checkTurnResponse } from '../src/worker-response';

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

describe('the router checks migrate and compensate answers against the protocol schemas', () => {
  const body = { state: { n: 1 }, context: null, waits: [] };

  it('accepts well-formed migrate answers, successes and refusals', () => {
    const ok = { ok: true, body, schemaVersion: 2, contextPolicy: 'carry' };
    expect(() => checkMigrateResponse(ok, 'wrk_1')).not.toThrow();
    const refused = { ok: false, error: { code: 'STATE_INVALID', message: 'no', path: 'n' } };
    expect(() => checkMigrateResponse(refused, 'wrk_1')).not.toThrow();
  });

  it.each([
    ['no ok flag', { body, schemaVersion: 2, contextPolicy: 'carry' }],
    [
      'a body without waits',
      { ok: true, body: { state: 1, context: null }, schemaVersion: 2, contextPolicy: 'carry' },
    ],
    ['a schema version that is not a number', { ok: true, body, schemaVersion: '2', contextPolicy: 'carry' }],
    ['a refusal with an unknown code', { ok: false, error: { code: 'NOPE', message: 'x' } }],
    ['null', null],
  ])('refuses a migrate answer with %s: WORKER_ERROR naming the worker', (_what, r) => {
    let err: BatonError | undefined;
    try {
      checkMigrateResponse(r, 'wrk_9');
    } catch (e) {
      err = e as BatonError;
    }
    expect(err?.code).toBe('WORKER_ERROR');
    expect(err?.message).toBe('worker wrk_9 sent a malformed migrate response');
    expect(err?.details).toEqual({ workerId: 'wrk_9' });
  });

  it('accepts compensate answers of both kinds and refuses malformed ones', () => {
    expect(() => checkCompensateResponse({ ok: true, result: { refunded: 1 } }, 'wrk_1')).not.toThrow();
    expect(() =>
      checkCompensateResponse({ ok: false, error: { code: 'X', message: 'failed' } }, 'wrk_1'),
    ).not.toThrow();
    for (const bad of [{ result: 1 }, { ok: false, error: 'failed' }, { ok: 'yes' }, undefined]) {
      let err: BatonError | undefined;
      try {
        checkCompensateResponse(bad, 'wrk_2');
      } catch (e) {
        err = e as BatonError;
      }
      expect(err?.code, JSON.stringify(bad)).toBe('WORKER_ERROR');
      expect(err?.message).toBe('worker wrk_2 sent a malformed compensate response');
    }
  });
});
