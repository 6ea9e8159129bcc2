/**
 * Quality gates end to end (real HTTP on 127.0.0.1, a real SQLite file, the example support agent):
 *
 * (a) v2 → v3-chatty: green looks every order up three times while answering as well as blue.
 *     Every committed turn goes through an evaluator that judges the answer against the order
 *     database (`eval.answer`). The behavioural-fingerprint gate (`session.tool_calls`,
 *     Mann-Whitney) fails while the eval gate passes; the rollout aborts forward naming the gate.
 * (b) v2 → v3-wrong: green answers wrong far more often; simulated users send thumbs down for wrong
 *     answers (`POST /v1/sessions/{id}/feedback`). The user-signal gate (`session.thumbs_down`,
 *     proportion) fails while the fingerprint gate passes; the rollout aborts forward.
 *
 * Both check the decision log's evidence, and that the fixed-horizon gates were acted on only once
 * the step had its minSessions (earlier failing looks are recorded as `gates-fail-deferred`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { GateResult } from '@baton/core';
import { judgeAnswer, userFeedback } from '@baton/example-support-agent';
import type { Evaluator } from '../../src/evaluators';
import { ordersWhere, startTestBaton, until, type Api, type TestBaton } from './harness';

let t: TestBaton | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

/** Reference-based: the answer's status or amount against the order database (1 right, 0 wrong). */
const answerEvaluator: Evaluator = {
  name: 'answer',
  evaluate(turn) {
    const j = judgeAnswer(turn.output);
    return Promise.resolve(j === null ? { skip: 'no factual answer' } : { score: j ? 1 : 0 });
  },
};

interface Decision {
  seq: number;
  kind: string;
  message: string;
  evidence: any;
}

/** Orders whose status needs no ticket (so sessions are short and have no side effects). */
const ORDERS = ordersWhere((f) => f.status !== 'delayed' && f.status !== 'lost', 400, 1000);

/**
 * One customer: asks about an order, asks twice more, says goodbye (three answered turns and a
 * completed session). With `feedback`, a wrong answer gets a thumbs down, as a user would.
 */
async function customer(api: Api, order: string, feedback: boolean) {
  const s = await api.createSession();
  const script = [
    `Where is my order ${order}?`,
    'Can you check the status again?',
    'Can you check the status again?',
    'Thanks, bye.',
  ];
  for (const [i, msg] of script.entries()) {
    const r = await api.turn(s, `k${i}`, msg);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    if (feedback && userFeedback(r.body.output) === 'thumbs_down')
      expect((await api.feedback(s, 'thumbs_down')).status).toBe(204);
  }
  return s;
}

/** Drives customers until the rollout leaves `progressing`; returns how many went to each version. */
async function traffic(api: Api, id: string, feedback: boolean, max: number) {
  const byVersion: Record<string, number> = {};
  for (let i = 0; i < max; i++) {
    const s = await customer(api, ORDERS[i % ORDERS.length]!, feedback);
    byVersion[s.version] = (byVersion[s.version] ?? 0) + 1;
    if (i % 5 === 4) {
      const st = await api.admin('GET', `/v1/rollouts/${id}`);
      if (st.body.phase !== 'progressing') break;
    }
  }
  return byVersion;
}

async function decisionsOf(api: Api, id: string): Promise<Decision[]> {
  const r = await api.admin('GET', `/v1/rollouts/${id}/decisions?limit=1000`);
  return r.body.items as Decision[];
}

function expectEvidence(g: GateResult, tests: { ci: boolean }) {
  const e = g.evidence;
  for (const k of ['nBlue', 'nGreen', 'statistic', 'pValue', 'effect', 'threshold'] as const)
    expect(Number.isFinite(e[k]), `${g.name}.${k} = ${String(e[k])}`).toBe(true);
  expect(e.pValue).toBeGreaterThanOrEqual(0);
  expect(e.pValue).toBeLessThanOrEqual(1);
  if (tests.ci) {
    expect(e.ci).toHaveLength(2);
    expect(e.ci![0]).toBeLessThanOrEqual(e.ci![1]);
  }
  expect(typeof e.reason).toBe('string');
}

/** The rollout aborted forward on `gate`: route back to blue, green sessions pinned, evidence logged. */
async function expectAbortedOn(api: Api, id: string, gate: string, minSessions: number) {
  const status = await until('abort', async () => {
    const r = await api.admin('GET', `/v1/rollouts/${id}`);
    return r.body.phase === 'aborted' ? r.body : null;
  });
  expect(status.abort.reason).toContain(gate);
  expect(status.route).toMatchObject({ stable: 'v2', weight: 0 });
  const log = await decisionsOf(api, id);
  const failed = log.filter((d) => d.kind === 'gates-failed');
  expect(failed).toHaveLength(1);
  const aborted = log.find((d) => d.kind === 'aborted')!;
  expect(aborted.seq).toBeGreaterThan(failed[0]!.seq);
  expect(aborted.message).toContain(gate);
  // acted on once the step had its minSessions; failing looks before that were only recorded
  expect(failed[0]!.evidence.nGreen).toBeGreaterThanOrEqual(minSessions);
  for (const d of log.filter((x) => x.kind === 'gates-fail-deferred')) {
    expect(d.evidence.nGreen).toBeLessThan(minSessions);
    expect(d.seq).toBeLessThan(failed[0]!.seq);
  }
  const results = failed[0]!.evidence.gates as GateResult[];
  return { status, log, results, byName: (n: string) => results.find((r) => r.name === n)! };
}

describe('quality gates end to end', () => {
  it('(a) a v3 that triples tool calls while keeping its eval scores is caught by the fingerprint gate', async () => {
    t = await startTestBaton({
      versions: ['v2', 'v3-chatty'],
      controller: { intervalMs: 30 },
      evaluators: { evaluators: [answerEvaluator], sampleRate: 1 },
    });
    const { api } = t;
    const minSessions = 100;
    const created = await api.admin('POST', '/v1/rollouts', {
      agent: 'support',
      to: 'v3-chatty',
      steps: [
        { fill: 50, verify: { minSessions, interval: '50ms', maxDuration: '5m' } },
        { fill: 100, migrate: 100 },
      ],
      gates: [
        {
          name: 'answer-quality',
          metric: 'eval.answer',
          test: 'mann-whitney',
          tolerance: -0.15,
          critical: true,
          minSamples: 20,
        },
        {
          name: 'fingerprint',
          metric: 'session.tool_calls',
          test: 'mann-whitney',
          tolerance: '+20%',
          censoring: 'completed', // whole sessions only (the one in flight has partial counts)
          critical: true,
          minSamples: 20,
        },
      ],
      onFail: 'abort',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;

    const byVersion = await traffic(api, id, false, 400);
    expect(byVersion['v3-chatty']).toBeGreaterThanOrEqual(minSessions);
    const { byName } = await expectAbortedOn(api, id, 'fingerprint', minSessions);

    const fp = byName('fingerprint');
    expect(fp).toMatchObject({ verdict: 'fail', critical: true });
    expectEvidence(fp, { ci: true });
    // three look-ups per answer instead of one: 9 vs 3 per session
    expect(fp.evidence.blue.mean).toBe(3);
    expect(fp.evidence.green.mean).toBe(9);
    expect(fp.evidence.effect).toBe(6);
    expect(fp.evidence.threshold).toBeCloseTo(0.6, 10); // +20% of blue's mean
    expect(fp.evidence.pValue).toBeLessThan(0.05);
    expect(fp.evidence.nGreen).toBeGreaterThanOrEqual(20);

    const q = byName('answer-quality');
    expect(q.verdict, q.evidence.reason).toBe('pass');
    expectEvidence(q, { ci: true });
    expect(q.evidence.threshold).toBe(-0.15);
    expect(q.evidence.ci![0]).toBeGreaterThanOrEqual(-0.15);
    // both arms were scored by the evaluator on the traffic path
    expect(q.evidence.nBlue).toBeGreaterThanOrEqual(20);
    expect(q.evidence.nGreen).toBeGreaterThanOrEqual(20);
    expect(t.baton.evaluations!.stats().byEvaluator.answer!.scored).toBeGreaterThan(0);

    // forward only: new sessions go to blue, green sessions stay on green
    const after = await api.createSession();
    expect(after.version).toBe('v2');
  });

  it('(b) a v3 that raises the thumbs-down rate is caught by the user-signal gate', async () => {
    t = await startTestBaton({ versions: ['v2', 'v3-wrong'], controller: { intervalMs: 30 } });
    const { api } = t;
    const minSessions = 40;
    const created = await api.admin('POST', '/v1/rollouts', {
      agent: 'support',
      to: 'v3-wrong',
      steps: [
        { fill: 50, verify: { minSessions, interval: '50ms', maxDuration: '5m' } },
        { fill: 100, migrate: 100 },
      ],
      gates: [
        {
          name: 'thumbs-down',
          metric: 'session.thumbs_down',
          test: 'proportion',
          tolerance: '+10pp',
          critical: true,
          minSamples: 20,
        },
        {
          name: 'fingerprint',
          metric: 'session.tool_calls',
          test: 'mann-whitney',
          tolerance: '+20%',
          censoring: 'completed', // whole sessions only (the one in flight has partial counts)
          critical: true,
          minSamples: 20,
        },
      ],
      onFail: 'abort',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;

    const byVersion = await traffic(api, id, true, 300);
    expect(byVersion['v3-wrong']).toBeGreaterThanOrEqual(minSessions);
    const { byName } = await expectAbortedOn(api, id, 'thumbs-down', minSessions);

    const td = byName('thumbs-down');
    expect(td).toMatchObject({ verdict: 'fail', critical: true });
    expectEvidence(td, { ci: true });
    expect(td.evidence.threshold).toBeCloseTo(0.1, 10);
    expect(td.evidence.green.rate).toBeGreaterThan(td.evidence.blue.rate!);
    expect(td.evidence.effect).toBeCloseTo(td.evidence.green.rate! - td.evidence.blue.rate!, 10);
    expect(td.evidence.effect).toBeGreaterThan(0.1);
    expect(td.evidence.pValue).toBeLessThan(0.05);
    expect(td.evidence.ci![0]).toBeGreaterThan(0);

    // same tool use as blue: the fingerprint passes
    const fp = byName('fingerprint');
    expect(fp.verdict, fp.evidence.reason).toBe('pass');
    expect(fp.evidence.effect).toBe(0);
    expect(fp.evidence.threshold).toBeCloseTo(0.6, 10);

    const after = await api.createSession();
    expect(after.version).toBe('v2');
  });
});
