/**
 * Evaluators on the traffic path: turns sent over HTTP are committed by the router, then offered to
 * the EvaluationRunner; scores land as `eval.<name>` and failures as `evalerr.<name>` in the
 * session aggregates of the real SQLite store. The LLM judge talks to a local fake OpenAI server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { judgeAnswer } from '@baton/example-support-agent';
import { llmJudgeEvaluator, regexEvaluator, type EvalTurn, type Evaluator } from '../../src/evaluators';
import { startTestBaton, type TestBaton } from '../rollout/harness';
import { startFakeOpenAI, type FakeServer } from './fakeOpenAI';

/** Scores an answer of the support agent against the order database (1 right, 0 wrong). */
const answerEvaluator: Evaluator = {
  name: 'answer',
  evaluate(turn) {
    const j = judgeAnswer(turn.output);
    return Promise.resolve(j === null ? { skip: 'no factual answer' } : { score: j ? 1 : 0 });
  },
};

let t: TestBaton | null = null;
let judge: FakeServer;

beforeAll(async () => {
  judge = await startFakeOpenAI(() => ({ status: 500, body: '{"error": {"message": "judge down"}}' }));
});
afterAll(async () => {
  await judge.close();
});
afterEach(async () => {
  await t?.close();
  t = null;
});

describe('evaluators on the traffic path', () => {
  it('scores committed turns into the session aggregates; a failing judge records failures, no score', async () => {
    t = await startTestBaton({
      versions: ['v2'],
      evaluators: {
        sampleRate: 1,
        concurrency: 2,
        evaluators: [
          answerEvaluator,
          regexEvaluator({ name: 'names_order', pattern: 'order [A-Z]-\\d{4}' }),
          llmJudgeEvaluator({
            name: 'judge',
            baseURL: judge.baseURL,
            model: 'judge-model',
            rubric: 'Is the answer helpful?',
            maxRetries: 0,
          }),
        ],
      },
    });
    const { api, store, baton } = t;
    const sessions = [];
    for (let i = 0; i < 4; i++) {
      const s = await api.createSession();
      sessions.push(s);
      const a = await api.turn(s, 'k1', `Where is my order C-${2000 + i}?`);
      expect(a.status).toBe(200);
      const b = await api.turn(s, 'k2', 'Thanks, bye.');
      expect(b.status).toBe(200);
      // a retried key replays the committed turn: it is not evaluated twice
      expect((await api.turn(s, 'k1', `Where is my order C-${2000 + i}?`)).status).toBe(200);
    }
    const runner = baton.evaluations!;
    await runner.drain();

    const aggs = await store.listSessionAggregates({ agent: 'support' });
    expect(aggs).toHaveLength(4);
    for (const a of aggs) {
      // the status answer is judged (1 or 0); the goodbye has no factual answer and is skipped
      expect(a.metrics['eval.answer']?.count).toBe(1);
      expect([0, 1]).toContain(a.metrics['eval.answer']!.sum);
      // both turns are scored by the rule
      expect(a.metrics['eval.names_order']).toEqual({ sum: 1, count: 2 });
      // the judge failed both turns: recorded as failures, never as a score
      expect(a.metrics['evalerr.judge']).toEqual({ sum: 2, count: 2 });
      expect(a.metrics['eval.judge']).toBeUndefined();
    }
    const st = runner.stats();
    expect(st.submitted).toBe(8);
    expect(st.sampled).toBe(8);
    expect(st.dropped).toBe(0);
    expect(st.byEvaluator.answer).toEqual({ scored: 4, errors: 0, skipped: 4 });
    expect(st.byEvaluator.judge).toEqual({ scored: 0, errors: 8, skipped: 0 });
    // the judge saw the turn's input and output
    expect(judge.requests.length).toBeGreaterThanOrEqual(8);
    expect(judge.requests.some((r) => JSON.stringify(r.messages).includes('C-2000'))).toBe(true);
  });

  it('never holds a turn: with a blocked evaluator and a full queue, turns complete and drops are counted', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: EvalTurn[] = [];
    const blocked: Evaluator = {
      name: 'slow',
      async evaluate(turn) {
        seen.push(turn);
        await gate;
        return { score: 1 };
      },
    };
    t = await startTestBaton({
      versions: ['v2'],
      evaluators: { evaluators: [blocked], concurrency: 1, maxQueue: 1 },
    });
    const { api, store, baton } = t;
    const s = await api.createSession();
    for (let i = 0; i < 5; i++) {
      const r = await api.turn(s, `k${i}`, `Where is my order D-${3000 + i}?`);
      expect(r.status).toBe(200);
    }
    // one evaluation in flight (blocked), one queued, three dropped; every turn answered meanwhile
    const st = baton.evaluations!.stats();
    expect(st).toMatchObject({ submitted: 5, sampled: 2, dropped: 3 });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ sessionId: s.id, version: 'v2', metadata: { agent: 'support' } });
    expect(seen[0]!.input).toMatchObject({ kind: 'message', message: 'Where is my order D-3000?' });
    expect((seen[0]!.output as { answer: { orderId: string } }).answer.orderId).toBe('D-3000');
    release();
    await baton.evaluations!.drain();
    const [agg] = await store.listSessionAggregates({ agent: 'support' });
    expect(agg!.metrics['eval.slow']).toEqual({ sum: 2, count: 2 });
  });

  it('samples deterministically by turn id: sampleRate 0 evaluates nothing', async () => {
    t = await startTestBaton({
      versions: ['v2'],
      evaluators: { evaluators: [answerEvaluator], sampleRate: 0 },
    });
    const { api, store, baton } = t;
    const s = await api.createSession();
    expect((await api.turn(s, 'k1', 'Where is my order E-4000?')).status).toBe(200);
    await baton.evaluations!.drain();
    expect(baton.evaluations!.stats()).toMatchObject({ submitted: 1, sampled: 0 });
    const [agg] = await store.listSessionAggregates({ agent: 'support' });
    expect(agg!.metrics['eval.answer']).toBeUndefined();
  });
});
