import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@baton/store';
import { metricSamples } from '../../src/analysis';
import {
  EvaluationRunner,
  llmJudgeEvaluator,
  regexEvaluator,
  referenceEvaluator,
  type EvalTurn,
  type Evaluator,
  type MetricsSink,
} from '../../src/evaluators';
import { startFakeOpenAI, type FakeServer } from './fakeOpenAI';

const turn = (
  sessionId: string,
  turnId: string,
  output: string,
  extra: Partial<EvalTurn> = {},
): EvalTurn => ({
  sessionId,
  version: 'v1',
  turnId,
  input: 'question',
  output,
  ...extra,
});

describe('EvaluationRunner with a real SQLite store and a local judge server', () => {
  let dir: string;
  let store: Store;
  let judgeServer: FakeServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-eval-'));
    store = await openStore(join(dir, 'baton.db'));
    judgeServer = await startFakeOpenAI((req) => {
      const user = req.messages.find((m) => m.role === 'user')?.content ?? '';
      if (user.includes('great')) return { content: '{"score": 1}' };
      if (user.includes('meh')) return { content: '{"score": 0.5}' };
      if (user.includes('garbage')) return { content: 'no idea what format you want' };
      return { status: 500 };
    });
  });
  afterAll(async () => {
    await judgeServer.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records scores as eval.<name> and failures as evalerr.<name>, never as scores', async () => {
    for (const id of ['sa', 'sb'])
      await store.createSession({ id, agent: 'support', version: 'v1', tokenHash: 'h' });
    const runner = new EvaluationRunner({
      sink: store,
      concurrency: 2,
      evaluators: [
        llmJudgeEvaluator({
          name: 'helpful',
          baseURL: judgeServer.baseURL,
          model: 'm',
          rubric: 'r',
          maxRetries: 0,
        }),
        regexEvaluator({ name: 'polite', pattern: 'please|thanks', flags: 'i' }),
      ],
    });
    runner.submit(turn('sa', 't1', 'great answer, thanks'));
    runner.submit(turn('sa', 't2', 'meh answer'));
    runner.submit(turn('sb', 't3', 'garbage'));
    runner.submit(turn('sb', 't4', 'down')); // the judge answers 500
    await runner.drain();

    const aggs = await store.listSessionAggregates({ agent: 'support' });
    const a = aggs.find((x) => x.sessionId === 'sa')!;
    const b = aggs.find((x) => x.sessionId === 'sb')!;
    expect(a.metrics['eval.helpful']).toEqual({ sum: 1.5, count: 2 });
    expect(a.metrics['eval.polite']).toEqual({ sum: 1, count: 2 });
    expect(b.metrics['eval.helpful']).toBeUndefined();
    expect(b.metrics['evalerr.helpful']).toEqual({ sum: 2, count: 2 });
    expect(b.metrics['eval.polite']).toEqual({ sum: 0, count: 2 });
    // The gate sees only the session that has scores: failures are excluded, not zeros.
    expect(metricSamples('eval.helpful', aggs).values).toEqual([0.75]);

    const st = runner.stats();
    expect(st).toMatchObject({ submitted: 4, sampled: 4, scored: 6, errors: 2, skipped: 0, sinkErrors: 0 });
    expect(st.byEvaluator.helpful).toEqual({ scored: 2, errors: 2, skipped: 0 });
  });
});

/** An in-memory sink that also tracks concurrency, for the runner's own mechanics. */
function memorySink(): MetricsSink & { calls: Array<[string, string, Record<string, number>]> } {
  const calls: Array<[string, string, Record<string, number>]> = [];
  return {
    calls,
    recordSessionMetrics(sessionId, version, m) {
      calls.push([sessionId, version, m.metrics ?? {}]);
      return Promise.resolve();
    },
  };
}

describe('EvaluationRunner mechanics', () => {
  it('samples deterministically per turn id at the configured rate', async () => {
    const sink = memorySink();
    const mk = () =>
      new EvaluationRunner({
        sink,
        sampleRate: 0.3,
        evaluators: [regexEvaluator({ name: 'r', pattern: 'x' })],
      });
    const r1 = mk();
    const r2 = mk();
    let picked = 0;
    for (let i = 0; i < 2000; i++) {
      const id = `turn-${i}`;
      expect(r1.sampled(id)).toBe(r2.sampled(id));
      if (r1.sampled(id)) picked++;
    }
    expect(picked / 2000).toBeGreaterThan(0.25);
    expect(picked / 2000).toBeLessThan(0.35);
    for (let i = 0; i < 100; i++) r1.submit(turn('s', `turn-${i}`, 'x'));
    await r1.drain();
    expect(sink.calls.length).toBe(r1.stats().sampled);
    expect(r1.stats().submitted).toBe(100);
  });

  it('bounds concurrency and the queue', async () => {
    let active = 0;
    let peak = 0;
    const release: Array<() => void> = [];
    const slow: Evaluator = {
      name: 'slow',
      async evaluate() {
        active++;
        peak = Math.max(peak, active);
        await new Promise<void>((r) => release.push(r));
        active--;
        return { score: 1 };
      },
    };
    const sink = memorySink();
    const runner = new EvaluationRunner({ sink, evaluators: [slow], concurrency: 3, maxQueue: 5 });
    const accepted = Array.from({ length: 12 }, (_, i) => runner.submit(turn('s', `t${i}`, 'o')));
    // 3 running + 5 queued; the rest are dropped.
    expect(accepted.filter(Boolean).length).toBe(8);
    expect(runner.stats().dropped).toBe(4);
    const done = runner.drain();
    while (sink.calls.length < 8) {
      await new Promise((r) => setImmediate(r));
      release.splice(0).forEach((r) => r());
    }
    await done;
    expect(peak).toBe(3);
  });

  it('turns evaluator exceptions and invalid scores into errors, and skips what does not apply', async () => {
    const sink = memorySink();
    const runner = new EvaluationRunner({
      sink,
      evaluators: [
        { name: 'throws', evaluate: () => Promise.reject(new Error('boom')) },
        { name: 'nan', evaluate: () => Promise.resolve({ score: NaN }) },
        referenceEvaluator({ name: 'exact' }),
      ],
    });
    runner.submit(turn('s', 't', 'out'));
    await runner.drain();
    expect(sink.calls).toEqual([['s', 'v1', { 'evalerr.throws': 1, 'evalerr.nan': 1 }]]);
    expect(runner.stats()).toMatchObject({ errors: 2, skipped: 1, scored: 0 });
  });

  it('rejects bad configuration', () => {
    const sink = memorySink();
    const ev = regexEvaluator({ name: 'r', pattern: 'x' });
    expect(() => new EvaluationRunner({ sink, evaluators: [ev], sampleRate: 2 })).toThrow(/sampleRate/);
    expect(() => new EvaluationRunner({ sink, evaluators: [ev], concurrency: 0 })).toThrow(/concurrency/);
    expect(() => new EvaluationRunner({ sink, evaluators: [ev, ev] })).toThrow(/duplicate/);
  });
});
