/**
 * The drain forecast at the API, over real HTTP on 127.0.0.1 with a real SQLite file:
 * POST /v1/rollouts/forecast creates nothing, the same errors as POST /v1/rollouts, the forecast
 * in a dry run and stored with a created rollout, the re-forecast in the status while draining.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBaton, type TestBaton } from './harness';

const open: TestBaton[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

async function fleet(opts: { turns: boolean }): Promise<TestBaton> {
  const t = await startTestBaton({ versions: ['v1', 'v2'], controller: false });
  open.push(t);
  for (let i = 0; i < 8; i++) {
    const s = await t.api.createSession();
    if (!opts.turns) continue;
    await t.api.turn(s, 'k0', `Where is my order F-${1000 + i}?`);
    await t.api.turn(s, 'k1', 'thanks');
    if (i < 3)
      await t.api.req('POST', `/v1/sessions/${s.id}/end`, {
        headers: { authorization: 'Bearer traffic-token', 'x-session-token': s.token },
      });
  }
  return t;
}

const spec = { agent: 'support', to: 'v2', steps: [{ fill: 100, migrate: 100 }] };

describe('drain forecast API', () => {
  it('POST /v1/rollouts/forecast forecasts from the store and creates nothing', async () => {
    const t = await fleet({ turns: true });
    const routeBefore = await t.store.getRoute('support');
    const r = await t.api.admin('POST', '/v1/rollouts/forecast', spec);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ agent: 'support', from: 'v1', to: 'v2' });
    const f = r.body.forecast;
    expect(f.model).toBe('empirical-survival-monte-carlo/1');
    expect(f.openOnBlue).toBe(5);
    expect(f.inputs.afterTurnObservations).toBe(16);
    expect(f.inputs.eagerRateSource).toBe('preflight');
    expect(f.drain.p50).toEqual(expect.any(Number));
    expect(f.drain.p90).toBeGreaterThanOrEqual(f.drain.p50);
    expect(f.steps).toEqual({ p50: 0, p90: 0 });
    expect(await t.store.listRollouts({ agent: 'support' })).toEqual([]);
    expect(await t.store.getRoute('support')).toEqual(routeBefore);
    // YAML works as for POST /v1/rollouts
    const y = await t.api.req('POST', '/v1/rollouts/forecast', {
      headers: { authorization: 'Bearer admin-token' },
      raw: 'agent: support\nto: v2\nsteps:\n  - { fill: 100, migrate: 100 }\n',
    });
    expect(y.status).toBe(200);
    expect(y.body.forecast.openOnBlue).toBe(5);
  });

  it('an invalid spec or an unknown agent gets the same errors as POST /v1/rollouts', async () => {
    const t = await fleet({ turns: false });
    const bad = [
      { agent: 'support', to: 'v2', steps: [{ fil: 10 }] },
      { agent: 'support', to: 'v2', steps: [{ fill: 50 }, { fill: 10 }] },
      { agent: 'nobody', to: 'v2', steps: [{ fill: 100 }] },
      { agent: 'support', to: 'v9', steps: [{ fill: 100 }] },
    ];
    for (const b of bad) {
      const create = await t.api.admin('POST', '/v1/rollouts', b);
      const fc = await t.api.admin('POST', '/v1/rollouts/forecast', b);
      expect(create.status).toBeGreaterThanOrEqual(400);
      expect(fc.status).toBe(create.status);
      expect(fc.body).toEqual(create.body);
    }
    const empty = await t.api.req('POST', '/v1/rollouts/forecast', {
      headers: { authorization: 'Bearer admin-token' },
      raw: '',
      contentType: 'application/json',
    });
    expect(empty.status).toBe(400);
    expect(await t.store.listRollouts()).toEqual([]);
    // the admin scope is required
    const noAuth = await t.api.req('POST', '/v1/rollouts/forecast', { body: spec });
    expect(noAuth.status).toBe(401);
  });

  it('a fleet with no history gets a low-confidence forecast, not a made-up number', async () => {
    const t = await fleet({ turns: false });
    const r = await t.api.admin('POST', '/v1/rollouts/forecast', spec);
    expect(r.status).toBe(200);
    const f = r.body.forecast;
    expect(f.confidence).toBe('low');
    expect(f.openOnBlue).toBe(8);
    expect(f.drain).toEqual({ p50: null, p90: null });
    expect(f.sessions.stragglers).toEqual({ p50: null, p90: null });
    expect(f.notes.join(' ')).toMatch(/no turn history/);
  });

  it('the forecast is in a dry run, stored with a created rollout, and shown in its status', async () => {
    const t = await fleet({ turns: true });
    const dry = await t.api.req('POST', '/v1/rollouts?dryRun=true', {
      headers: { authorization: 'Bearer admin-token' },
      body: spec,
    });
    expect(dry.status).toBe(200);
    expect(dry.body.forecast.openOnBlue).toBe(5);
    expect(await t.store.listRollouts()).toEqual([]);

    const created = await t.api.admin('POST', '/v1/rollouts', {
      ...spec,
      migration: { policy: 'finish-on-origin' },
      drain: { deadline: '1h' },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const ds = (await t.api.admin('GET', `/v1/rollouts/${id}/decisions`)).body.items as Array<{
      kind: string;
      message: string;
      evidence: any;
    }>;
    const fd = ds.find((d) => d.kind === 'forecast')!;
    expect(fd.message).toMatch(/^forecast \(low confidence\): steps .*drain .* of 5 open on blue/);
    expect(fd.evidence.openOnBlue).toBe(5);
    const st = created.body;
    expect(st.forecast.initial).toEqual(fd.evidence);
    // the drain started at creation (fill 100): the status re-forecasts from what is left
    expect(st.forecast.actual).toMatchObject({ drainComplete: false, migrated: 0 });
    expect(st.forecast.actual.stepsMs).toBeLessThan(5000); // the first step has fill 100
    expect(st.forecast.reforecast).toMatchObject({ start: 'draining', openOnBlue: 5 });
    expect(st.forecast.reforecast.remaining.p50 === null || st.forecast.reforecast.remaining.p50 >= 0).toBe(
      true,
    );
  });
});
