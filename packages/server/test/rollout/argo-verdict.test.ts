/**
 * The verdict endpoint against the Argo Rollouts example of docs/argo-rollouts.md: the
 * AnalysisTemplate is parsed out of the page, its URL and header are filled in and called on a
 * real Baton over loopback with the read-only token, and its `jsonPath` (a maintained JSONPath
 * library) and success / failure conditions are evaluated on the answers of a rollout that is
 * collecting, has passed a step, and has aborted. The page's Rollout steps must ask for Baton's
 * steps in order, with the page's Baton spec's `fill` as their `setWeight`. Both backends.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { schemasDroppedAfterAll } from '../fixtures/pg-schemas';
import { JSONPath } from 'jsonpath-plus';
import { parseAllDocuments } from 'yaml';
import { openStore, type Store } from '@baton/store';
import { startTestBaton, TOKENS, until, type TestBaton } from './harness';

const DOC = join(__dirname, '../../../../docs/argo-rollouts.md');
const READ_TOKEN = 'read-token';
const PG_URL = process.env.BATON_TEST_PG_URL;
if (!PG_URL && process.env.CI === 'true') throw new Error('BATON_TEST_PG_URL must be set under CI');
if (!PG_URL) console.warn('argo verdict on PostgreSQL skipped: BATON_TEST_PG_URL is not set');

/** Every YAML document of every ```yaml block of the page. */
function yamlDocs(md: string): any[] {
  const out: any[] = [];
  for (const m of md.matchAll(/```yaml\n([\s\S]*?)```/g)) {
    for (const d of parseAllDocuments(m[1]!)) {
      expect(d.errors, 'a YAML block of the page parses').toEqual([]);
      out.push(d.toJS());
    }
  }
  return out;
}

const docs = yamlDocs(readFileSync(DOC, 'utf8'));
const template = docs.find((d) => d?.kind === 'AnalysisTemplate');
const rollout = docs.find((d) => d?.kind === 'Rollout');
const batonSpec = docs.find((d) => d?.agent !== undefined && Array.isArray(d?.steps));
const metric = template?.spec?.metrics?.[0];

/** Argo's `{{ args.NAME }}` placeholders, filled from `args`; an unknown one fails the test. */
function fill(text: string, args: Record<string, string>): string {
  return text.replace(/\{\{\s*args\.([\w-]+)\s*\}\}/g, (_m, name: string) => {
    const v = args[name];
    if (v === undefined) throw new Error(`the template uses args.${name}, which the test does not know`);
    return v;
  });
}

/** A condition of the form the page uses: `result == "literal"` (anything else fails the test). */
function condition(expr: string): (result: unknown) => boolean {
  const m = /^result\s*==\s*["']([^"']*)["']$/.exec(expr.trim());
  if (!m) throw new Error(`condition ${JSON.stringify(expr)} is not of the form result == "…"`);
  return (result) => result === m[1];
}

type Outcome = 'Successful' | 'Failed' | 'Inconclusive';

/** One Argo measurement: the web provider's request, its jsonPath, then the two conditions. */
async function measure(baseUrl: string, step: number): Promise<{ outcome: Outcome; body: any }> {
  const args: Record<string, string> = {
    'baton-url': baseUrl,
    'read-token': READ_TOKEN,
    agent: 'support',
    candidate: 'v2',
    step: String(step),
  };
  const web = metric.provider.web;
  const headers: Record<string, string> = {};
  for (const h of web.headers ?? []) headers[h.key] = fill(h.value, args);
  const res = await fetch(fill(web.url, args), { method: web.method ?? 'GET', headers });
  const body = (await res.json()) as any;
  expect(res.status, JSON.stringify(body)).toBe(200);
  // Kubernetes JSONPath wraps the expression in braces: `{$.verdict}`
  const path = /^\{(.*)\}$/.exec(web.jsonPath)![1]!;
  const result = JSONPath({ path, json: body, wrap: false });
  if (condition(metric.successCondition)(result)) return { outcome: 'Successful', body };
  if (condition(metric.failureCondition)(result)) return { outcome: 'Failed', body };
  return { outcome: 'Inconclusive', body };
}

describe('docs/argo-rollouts.md', () => {
  it('holds an AnalysisTemplate with a web metric, and a Rollout asking for every Baton step in order', () => {
    expect(template?.apiVersion).toBe('argoproj.io/v1alpha1');
    expect(metric?.provider?.web?.url).toMatch(/\/verdict\?/);
    expect(metric.provider.web.jsonPath).toMatch(/^\{\$\..+\}$/);
    expect(metric.successCondition).toBeTypeOf('string');
    expect(metric.failureCondition).toBeTypeOf('string');
    // the read token comes from a Secret, never inline
    const tokenArg = template.spec.args.find((a: any) => a.name === 'read-token');
    expect(tokenArg?.valueFrom?.secretKeyRef?.key).toBeTruthy();

    const steps: any[] = rollout.spec.strategy.canary.steps;
    const analyses = steps
      .map((s, i) => ({ s, i }))
      .filter(({ s }) => s.analysis !== undefined)
      .map(({ s, i }) => {
        expect(s.analysis.templates[0].templateName).toBe(template.metadata.name);
        const arg = (n: string) => s.analysis.args.find((a: any) => a.name === n)?.value;
        expect(arg('agent')).toBe(batonSpec.agent);
        expect(arg('candidate')).toBe(batonSpec.to);
        return { argoIndex: i, batonStep: Number(arg('step')), weight: steps[i - 1]?.setWeight };
      });
    expect(analyses.map((a) => a.batonStep)).toEqual(batonSpec.steps.map((_: unknown, i: number) => i));
    expect(analyses.map((a) => a.argoIndex)).toEqual(analyses.map((a) => 2 * a.batonStep + 1));
    expect(analyses.map((a) => a.weight)).toEqual(batonSpec.steps.map((s: any) => s.fill));
  });
});

const schemas = schemasDroppedAfterAll(PG_URL);

let t: TestBaton | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

const backends: Array<{ name: string; store: () => Promise<Store | undefined>; skip: boolean }> = [
  { name: 'SQLite', store: async () => undefined, skip: false },
  {
    name: 'PostgreSQL',
    skip: !PG_URL,
    store: async () => {
      const schema = `argo_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
      schemas.push(schema);
      return openStore(PG_URL!, { schema });
    },
  },
];

describe.each(backends)('the verdict against the template ($name)', ({ store, skip }) => {
  it.skipIf(skip)(
    'is Inconclusive while collecting, Successful once a step passed, Failed after an abort',
    async () => {
      const s = await store();
      t = await startTestBaton({
        versions: ['v1', 'v2'],
        controller: { intervalMs: 30 },
        tokens: { ...TOKENS, read: [READ_TOKEN] },
        ...(s ? { store: s } : {}),
      });
      const { api, baton } = t;
      for (let i = 0; i < 4; i++) {
        const sess = await api.createSession();
        expect((await api.turn(sess, 'k1', `Where is my order A-${1000 + i}?`)).status).toBe(200);
      }
      // before any rollout: not found, which Argo counts as a measurement error
      const none = await fetch(`${baton.url}/v1/agents/support/verdict?to=v2&step=0`, {
        headers: { authorization: `Bearer ${READ_TOKEN}` },
      });
      expect(none.status).toBe(404);
      expect(((await none.json()) as any).error.code).toBe('ROLLOUT_NOT_FOUND');

      const created = await api.admin('POST', '/v1/rollouts', {
        agent: 'support',
        to: 'v2',
        steps: [
          { fill: 10, verify: { minSessions: 0, interval: '20ms' } },
          { fill: 50, verify: { minSessions: 1000, maxDuration: '1h', interval: '20ms' } },
          { fill: 100, migrate: 100 },
        ],
      });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      await until(
        'step 1 reached',
        async () => (await api.admin('GET', `/v1/rollouts/${id}`)).body.step === 1,
      );

      const passed = await measure(baton.url, 0);
      expect(passed.outcome).toBe('Successful');
      expect(passed.body).toMatchObject({ rolloutId: id, step: 0, currentStep: 1, code: 'step-passed' });
      expect(passed.body.samples).not.toBeNull();

      const collecting = await measure(baton.url, 1);
      expect(collecting.outcome).toBe('Inconclusive');
      expect(collecting.body).toMatchObject({ verdict: 'inconclusive', code: 'collecting' });
      expect(collecting.body.reason).toMatch(/of 1000 green sessions/);

      const ahead = await measure(baton.url, 2);
      expect(ahead.outcome).toBe('Inconclusive');
      expect(ahead.body.code).toBe('not-reached');

      // the same document by rollout id
      const byId = await fetch(`${baton.url}/v1/rollouts/${id}/verdict?step=1`, {
        headers: { authorization: `Bearer ${READ_TOKEN}` },
      });
      expect(((await byId.json()) as any).verdict).toBe('inconclusive');

      expect(
        (await api.admin('POST', `/v1/rollouts/${id}/abort`, { reason: 'resolution dropped' })).status,
      ).toBe(200);
      for (const step of [0, 1, 2]) {
        const failed = await measure(baton.url, step);
        expect(failed.outcome, `step ${step}`).toBe('Failed');
        expect(failed.body).toMatchObject({ code: 'aborted', phase: 'aborted' });
        expect(failed.body.reason).toContain('resolution dropped');
      }

      // the read token reads the verdict and may not act on the rollout
      const promote = await fetch(`${baton.url}/v1/rollouts/${id}/promote`, {
        method: 'POST',
        headers: { authorization: `Bearer ${READ_TOKEN}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(promote.status).toBe(403);
      // a step past the spec's last is refused
      const past = await fetch(`${baton.url}/v1/rollouts/${id}/verdict?step=3`, {
        headers: { authorization: `Bearer ${READ_TOKEN}` },
      });
      expect(past.status).toBe(400);
      expect(((await past.json()) as any).error.code).toBe('VALIDATION');
    },
  );

  it.skipIf(skip)('is Successful for every step once the rollout is promoted', async () => {
    const s = await store();
    t = await startTestBaton({
      versions: ['v1', 'v2'],
      controller: { intervalMs: 30 },
      tokens: { ...TOKENS, read: [READ_TOKEN] },
      ...(s ? { store: s } : {}),
    });
    const { api, baton } = t;
    const sess = await api.createSession();
    expect((await api.turn(sess, 'k1', 'Where is my order A-1001?')).status).toBe(200);
    const created = await api.admin('POST', '/v1/rollouts', {
      agent: 'support',
      to: 'v2',
      steps: [
        { fill: 10, verify: { minSessions: 0, interval: '20ms' } },
        { fill: 100, migrate: 100 },
      ],
    });
    const id = created.body.id as string;
    await until(
      'promoted',
      async () => (await api.admin('GET', `/v1/rollouts/${id}`)).body.phase === 'promoted',
    );
    for (const step of [0, 1]) {
      const m = await measure(baton.url, step);
      expect(m.outcome, `step ${step}`).toBe('Successful');
      expect(m.body.code).toBe('promoted');
    }
  });
});
