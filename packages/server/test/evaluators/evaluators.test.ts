import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatonError } from '@baton/core';
import {
  jsonSchemaEvaluator,
  lengthEvaluator,
  llmJudgeEvaluator,
  normalizeAnswer,
  parseJudgeReply,
  referenceEvaluator,
  regexEvaluator,
  tokenF1,
  type EvalTurn,
} from '../../src/evaluators';
import { startFakeOpenAI, type FakeServer } from './fakeOpenAI';

const turn = (output: unknown, extra: Partial<EvalTurn> = {}): EvalTurn => ({
  sessionId: 's1',
  version: 'v1',
  turnId: 't1',
  input: 'Where is my order?',
  output,
  ...extra,
});

describe('rule-based evaluators', () => {
  it('regex: match and must-not-match', async () => {
    const ticket = regexEvaluator({ name: 'ticket', pattern: 'TICKET-\\d+' });
    expect(await ticket.evaluate(turn('Opened TICKET-42 for you'))).toEqual({ score: 1 });
    expect(await ticket.evaluate(turn('Sorry, no idea'))).toEqual({ score: 0 });
    const noApology = regexEvaluator({ name: 'no_apology', pattern: /sorry/i, mustMatch: false });
    expect(await noApology.evaluate(turn({ text: 'SORRY!' }))).toEqual({ score: 0 });
    expect(() => regexEvaluator({ name: 'bad', pattern: '(' })).toThrow(BatonError);
  });

  it('JSON schema via ajv, for objects and JSON strings', async () => {
    const e = jsonSchemaEvaluator({
      name: 'order_json',
      schema: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string' } } },
    });
    expect(await e.evaluate(turn({ orderId: 'A1' }))).toEqual({ score: 1 });
    expect(await e.evaluate(turn('{"orderId": 7}'))).toEqual({ score: 0 });
    expect(await e.evaluate(turn('not json'))).toEqual({ score: 0 });
    expect(() => jsonSchemaEvaluator({ name: 'x', schema: { type: 'nonsense' } })).toThrow(
      /invalid JSON Schema/,
    );
  });

  it('length bounds, in characters or words, with linear decay', async () => {
    const e = lengthEvaluator({ name: 'concise', max: 10 });
    expect(await e.evaluate(turn('short'))).toEqual({ score: 1 });
    expect(await e.evaluate(turn('fifteen chars!!'))).toEqual({ score: 0.5 });
    expect(await e.evaluate(turn('x'.repeat(40)))).toEqual({ score: 0 });
    const words = lengthEvaluator({ name: 'words', min: 3, max: 5, unit: 'words', strict: true });
    expect(await words.evaluate(turn('one two three'))).toEqual({ score: 1 });
    expect(await words.evaluate(turn('one two'))).toEqual({ score: 0 });
    expect(() => lengthEvaluator({ name: 'x', min: 5, max: 2 })).toThrow(/min <= max/);
  });

  it('rejects invalid evaluator names', () => {
    expect(() => regexEvaluator({ name: 'has space', pattern: 'a' })).toThrow(/name/);
  });
});

describe('reference-based evaluators', () => {
  it('normalizes like the SQuAD script and computes token F1', () => {
    expect(normalizeAnswer('The  Order, shipped!')).toBe('order shipped');
    // prediction "the order has shipped" vs "order shipped": common 2, P = 2/3, R = 1 → F1 = 0.8
    expect(tokenF1('the order has shipped', 'order shipped')).toBeCloseTo(0.8, 12);
    expect(tokenF1('', '')).toBe(1);
    expect(tokenF1('abc', '')).toBe(0);
  });

  it('exact match (normalized or raw), best of several references, skip without one', async () => {
    const e = referenceEvaluator({ name: 'exact' });
    expect(await e.evaluate(turn('Paris.', { expected: 'paris' }))).toEqual({ score: 1 });
    expect(await e.evaluate(turn('Lyon', { expected: ['Paris', 'Lyon'] }))).toEqual({ score: 1 });
    expect(await e.evaluate(turn('x'))).toEqual({ skip: 'no expected answer' });
    const raw = referenceEvaluator({ name: 'raw', normalize: false });
    expect(await raw.evaluate(turn('Paris.', { expected: 'paris' }))).toEqual({ score: 0 });
    const f1 = referenceEvaluator({ name: 'f1', mode: 'f1' });
    expect(await f1.evaluate(turn('the order has shipped', { expected: 'order shipped' }))).toEqual({
      score: 0.8,
    });
  });
});

describe('parseJudgeReply', () => {
  it.each([
    ['{"score": 0.8, "reason": "ok"}', 0.8],
    ['```json\n{"score": 1}\n```', 1],
    ['Sure! Here is my verdict: {"reason": "has {braces}", "score": 0.25} Hope it helps.', 0.25],
    ['score: 0.5', 0.5],
    ['{"score": "0.7"}', 0.7],
  ])('parses %j', (content, score) => {
    expect(parseJudgeReply(content)).toEqual({ score });
  });

  it.each([
    ['', /empty/],
    [null, /empty/],
    ['I think it is fine', /unparsable/],
    ['{"score": 7}', /outside/],
    ['{"score": "high"}', /not a number/],
  ])('reports %j as an error', (content, re) => {
    const r = parseJudgeReply(content);
    expect('error' in r && r.error).toMatch(re);
  });
});

describe('LLM-as-judge over a local OpenAI-compatible server', () => {
  let server: FakeServer;

  beforeAll(async () => {
    server = await startFakeOpenAI((req) => {
      const user = req.messages.find((m) => m.role === 'user')?.content ?? '';
      if (user.includes('GOOD')) return { content: '{"score": 0.9, "reason": "resolved"}' };
      if (user.includes('PROSE')) return { content: 'Verdict follows. ```json\n{"score": 0.4}\n```' };
      if (user.includes('GARBAGE')) return { content: 'the answer looks nice I guess' };
      if (user.includes('RANGE')) return { content: '{"score": 9}' };
      if (user.includes('EMPTY')) return { content: null };
      if (user.includes('BROKEN')) return { raw: '{"choices": [' };
      if (user.includes('HANG')) return { hangMs: 2000 };
      return { status: 500 };
    });
  });
  afterAll(async () => {
    await server.close();
  });

  const judge = () =>
    llmJudgeEvaluator({
      name: 'helpful',
      baseURL: server.baseURL,
      model: 'judge-model',
      rubric: 'The agent resolves the user issue.',
      maxRetries: 0,
      timeoutMs: 500,
    });

  it('sends the rubric, input, output and reference, and reads the score', async () => {
    const r = await judge().evaluate(turn('GOOD answer', { expected: 'ref answer' }));
    expect(r).toEqual({ score: 0.9 });
    const req = server.requests.at(-1)!;
    expect(req.model).toBe('judge-model');
    expect(req.temperature).toBe(0);
    expect(req.messages[0]!.role).toBe('system');
    expect(req.messages[1]!.content).toContain('RUBRIC:\nThe agent resolves the user issue.');
    expect(req.messages[1]!.content).toContain('USER INPUT:\nWhere is my order?');
    expect(req.messages[1]!.content).toContain('REFERENCE ANSWER:\nref answer');
  });

  it('parses a fenced JSON verdict amid prose', async () => {
    expect(await judge().evaluate(turn('PROSE'))).toEqual({ score: 0.4 });
  });

  it.each([
    ['GARBAGE', /unparsable/],
    ['RANGE', /outside/],
    ['EMPTY', /empty/],
    ['BROKEN', /judge/],
    ['FAIL500', /HTTP 500/],
    ['HANG', /judge request failed/],
  ])('turns %s into an error, never a score', async (kind, re) => {
    const r = await judge().evaluate(turn(kind));
    expect('score' in r).toBe(false);
    expect('error' in r && r.error).toMatch(re);
  });

  it('retries transient 5xx through the client', async () => {
    let calls = 0;
    const flaky = await startFakeOpenAI(() =>
      ++calls === 1 ? { status: 503 } : { content: '{"score": 0.6}' },
    );
    try {
      const e = llmJudgeEvaluator({
        name: 'flaky',
        baseURL: flaky.baseURL,
        model: 'm',
        rubric: 'r',
        maxRetries: 2,
        timeoutMs: 2000,
      });
      expect(await e.evaluate(turn('anything'))).toEqual({ score: 0.6 });
      expect(calls).toBe(2);
    } finally {
      await flaky.close();
    }
  });

  it('validates its options', () => {
    expect(() => llmJudgeEvaluator({ name: 'j', baseURL: 'ftp://x', model: 'm', rubric: 'r' })).toThrow(
      /baseURL/,
    );
    expect(() => llmJudgeEvaluator({ name: 'j', baseURL: server.baseURL, model: '', rubric: 'r' })).toThrow(
      /model/,
    );
  });
});
