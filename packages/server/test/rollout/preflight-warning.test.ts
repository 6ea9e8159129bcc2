/**
 * The pre-flight warns when a step's minSessions cannot give a gate its minSamples (the gate would
 * stay nodata until maxDuration): in a dry run's answer, and as a `preflight-warning` decision of
 * the created rollout. A step that reaches minSamples gets no warning. Both backends.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { schemasDroppedAfterAll } from '../fixtures/pg-schemas';
import { openStore } from '@baton/store';
import { startTestBaton, type TestBaton } from './harness';

const PG_URL = process.env.BATON_TEST_PG_URL;
if (!PG_URL && process.env.CI === 'true') throw new Error('BATON_TEST_PG_URL must be set under CI');
if (!PG_URL) console.warn('pre-flight warning on PostgreSQL skipped: BATON_TEST_PG_URL is not set');

const schemas = schemasDroppedAfterAll(PG_URL);

let t: TestBaton | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

const spec = (minSessions: number, minSamples?: number) => ({
  agent: 'support',
  to: 'v2',
  steps: [
    { fill: 10, verify: { minSessions, maxDuration: '1h' } },
    { fill: 100, migrate: 100 },
  ],
  gates: [
    {
      metric: 'session.tool_calls',
      test: 'mann-whitney',
      tolerance: '+20%',
      ...(minSamples !== undefined ? { minSamples } : {}),
    },
  ],
});

describe.each([
  { name: 'SQLite', skip: false, pg: false },
  { name: 'PostgreSQL', skip: !PG_URL, pg: true },
])('pre-flight warning ($name)', ({ skip, pg: onPg }) => {
  it.skipIf(skip)('names the step and gate whose minSamples its minSessions cannot reach', async () => {
    let store;
    if (onPg) {
      const schema = `pfw_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
      schemas.push(schema);
      store = await openStore(PG_URL!, { schema });
    }
    t = await startTestBaton({ versions: ['v1', 'v2'], controller: false, ...(store ? { store } : {}) });
    const s = await t.api.createSession();
    expect((await t.api.turn(s, 'k1', 'Where is my order A-1001?')).status).toBe(200);

    const dry = await t.api.admin('POST', '/v1/rollouts?dryRun=true', spec(5));
    expect(dry.status).toBe(200);
    expect(dry.body.warnings).toEqual([
      expect.objectContaining({
        code: 'MIN_SAMPLES_UNREACHABLE',
        step: 0,
        gate: 'session.tool_calls',
        minSessions: 5,
        minSamples: 20,
      }),
    ]);
    expect(dry.body.warnings[0].message).toMatch(
      /^step 1: minSessions 5 is below gate session\.tool_calls's minSamples 20/,
    );
    // the forecast (baton rollout plan) carries the same warnings
    const plan = await t.api.admin('POST', '/v1/rollouts/forecast', spec(5));
    expect(plan.status).toBe(200);
    expect(plan.body.warnings).toEqual(dry.body.warnings);
    // enough sessions for the gate's own minSamples: nothing to warn about
    expect((await t.api.admin('POST', '/v1/rollouts?dryRun=true', spec(5, 5))).body.warnings).toEqual([]);
    expect((await t.api.admin('POST', '/v1/rollouts?dryRun=true', spec(20))).body.warnings).toEqual([]);

    const created = await t.api.admin('POST', '/v1/rollouts', spec(5));
    expect(created.status).toBe(201);
    const decisions = (await t.api.admin('GET', `/v1/rollouts/${created.body.id}/decisions`)).body
      .items as Array<{
      kind: string;
      evidence: { step: number; minSamples: number };
    }>;
    const warned = decisions.filter((d) => d.kind === 'preflight-warning');
    expect(warned).toHaveLength(1);
    expect(warned[0]!.evidence).toMatchObject({ step: 0, minSamples: 20 });
  });
});
