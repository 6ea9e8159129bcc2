/**
 * (b) A candidate whose migration fails for some checkpoints is refused by the pre-flight with
 *     the failing session ids, and nothing moves.
 * (c) A candidate that breaches a gate aborts forward: new sessions return to blue, green
 *     sessions stay on green (or, with `reverse`, move back), the abort report lists green's effects.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EffectRecord } from '@baton/core';
import { allSessions, ordersWhere, startTestBaton, until, type TestBaton } from './harness';

let t: TestBaton | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

async function allEffects(t: TestBaton, version: string): Promise<EffectRecord[]> {
  const out: EffectRecord[] = [];
  let cursor: string | null = null;
  for (;;) {
    const p = await t.store.listEffects({ agent: 'support', version, limit: 1000, cursor });
    out.push(...p.items);
    if (!p.nextCursor) return out;
    cursor = p.nextCursor;
  }
}

describe('pre-flight', () => {
  it('refuses a candidate whose migration fails for some checkpoints, naming them; nothing moves', async () => {
    t = await startTestBaton({ versions: ['v1', 'v2-broken', 'v2'] });
    const { api, store } = t;
    const failing: string[] = [];
    for (let i = 0; i < 30; i++) {
      const s = await api.createSession();
      const order = `A-${1000 + i * 3}`; // ids ending in 7 cannot be converted by v2-broken
      expect((await api.turn(s, 'k0', `Where is my order ${order}?`)).status).toBe(200);
      if (order.endsWith('7')) failing.push(s.id);
    }
    failing.sort();
    expect(failing.length).toBeGreaterThan(0);
    const routeBefore = await store.getRoute('support');
    const sessionsBefore = await allSessions(store);
    const spec = { agent: 'support', to: 'v2-broken', steps: [{ fill: 10 }, { fill: 100, migrate: 100 }] };

    // baton migrate check: a report, nothing stored
    const check = await api.admin('POST', '/v1/migrate/check', spec);
    expect(check.status).toBe(200);
    expect(check.body.ok).toBe(false);
    expect(check.body.checked).toBe(30);
    expect(check.body.failures.map((f: { sessionId: string }) => f.sessionId)).toEqual(failing);
    expect(check.body.failures[0].error).toMatch(/cannot convert legacy order id/);

    // starting the rollout is refused with the failing sessions
    const r = await api.admin('POST', '/v1/rollouts', spec);
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('PREFLIGHT_FAILED');
    expect(r.body.error.details.sessionIds).toEqual(failing);
    expect(r.body.error.details.failed).toBe(failing.length);

    // a sample checks fewer sessions
    const sampled = await api.admin('POST', '/v1/migrate/check', { ...spec, preflight: { sample: 5 } });
    expect(sampled.body).toMatchObject({ checked: 5, total: 30 });

    // nothing moved: route, sessions, checkpoints, migrations, rollouts
    expect(await store.getRoute('support')).toEqual(routeBefore);
    expect(await allSessions(store)).toEqual(sessionsBefore);
    expect(await store.listRollouts()).toEqual([]);
    expect(await store.listMigrations({ limit: 1000 })).toEqual([]);
    for (const s of sessionsBefore) {
      const cp = await store.getLatestCheckpoint(s.id);
      expect(cp!.writtenBy).toBe('v1');
      expect(cp!.seq).toBe(s.seq);
    }

    // the same fleet passes the pre-flight for the good candidate (dry run: nothing stored)
    const good = await api.admin('POST', '/v1/rollouts?dryRun=true', { ...spec, to: 'v2' });
    expect(good.status).toBe(200);
    expect(good.body.preflight).toMatchObject({ ok: true, checked: 30 });
    expect(await store.listRollouts()).toEqual([]);
  });

  it('rejects invalid specs with the offending field, changing nothing', async () => {
    t = await startTestBaton({ versions: ['v1', 'v2'] });
    const { api, store } = t;
    const bad = await api.req('POST', '/v1/rollouts', {
      headers: { authorization: 'Bearer admin-token' },
      raw: 'agent: support\nto: v2\nsteps:\n  - fill: 50\n  - fill: 20\n',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION');
    expect(bad.body.error.message).toMatch(/^steps\[1\]\.fill: must not decrease/);
    const unknown = await api.admin('POST', '/v1/rollouts', {
      agent: 'support',
      to: 'v9',
      steps: [{ fill: 5 }],
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('VERSION_NOT_FOUND');
    const noAuth = await api.req('POST', '/v1/rollouts', {
      body: { agent: 'support', to: 'v2', steps: [{ fill: 5 }] },
    });
    expect(noAuth.status).toBe(401);
    expect(await store.listRollouts()).toEqual([]);
    // a second rollout while one is active is refused
    const first = await api.admin('POST', '/v1/rollouts', {
      agent: 'support',
      to: 'v2',
      steps: [{ fill: 5, verify: { minSessions: 1000 } }],
    });
    expect(first.status).toBe(201);
    const second = await api.admin('POST', '/v1/rollouts', {
      agent: 'support',
      to: 'v2',
      steps: [{ fill: 5 }],
    });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('ROLLOUT_ACTIVE');
    // commands not allowed in the phase are refused with ROLLOUT_STATE
    const resume = await api.admin('POST', `/v1/rollouts/${first.body.id}/resume`, {});
    expect(resume.status).toBe(409);
    expect(resume.body.error.code).toBe('ROLLOUT_STATE');
    const paused = await api.admin('POST', `/v1/rollouts/${first.body.id}/pause`, { reason: 'lunch' });
    expect(paused.status).toBe(200);
    expect(paused.body.phase).toBe('paused');
    expect(paused.body.paused.reason).toBe('lunch');
    const resumed = await api.admin('POST', `/v1/rollouts/${first.body.id}/resume`, {});
    expect(resumed.body.phase).toBe('progressing');
    const promoted = await api.admin('POST', `/v1/rollouts/${first.body.id}/promote`, { by: 'ops' });
    expect(promoted.body.phase).toBe('promoted');
    expect(promoted.body.route).toMatchObject({ stable: 'v2', candidate: null });
  });
});

/** Orders whose status makes the agent open a ticket and send an email (two effects). */
const troubleOrders = (n: number) => ordersWhere((f) => f.status === 'delayed' || f.status === 'lost', n);

async function gateBreach(reverse: boolean, auto = false): Promise<void> {
  t = await startTestBaton({ versions: ['v1', 'v3-chatty'], controller: { intervalMs: 30 } });
  const { api, store } = t;
  // a few sessions from before the rollout, on v1
  const old = [];
  for (let i = 0; i < 5; i++) {
    const s = await api.createSession();
    await api.turn(s, 'k0', `Where is my order B-${2000 + i}?`);
    old.push(s);
  }
  const created = await api.admin('POST', '/v1/rollouts', {
    agent: 'support',
    to: 'v3-chatty',
    steps: [
      { fill: 50, migrate: 0, verify: { minSessions: 8, interval: '100ms', maxDuration: '30s' } },
      { fill: 100, migrate: 100 },
    ],
    gates: [
      {
        metric: 'session.tool_calls',
        test: 'mann-whitney',
        tolerance: '+20%',
        critical: true,
        minSamples: 5,
      },
    ],
    onFail: 'abort',
    onAbort: { greenSessions: reverse ? 'reverse' : 'stay', ...(auto ? { compensate: 'auto' } : {}) },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const id = created.body.id as string;

  // new sessions split between blue and green; green looks orders up three times as often
  const orders = troubleOrders(40);
  const fresh: Array<{ id: string; token: string; version: string }> = [];
  for (const order of orders) {
    const s = await api.createSession();
    const r = await api.turn(s, 'k0', `Where is my order ${order}?`);
    expect(r.status).toBe(200);
    fresh.push(s);
    const st = await api.admin('GET', `/v1/rollouts/${id}`);
    if (st.body.phase === 'aborted') break;
  }
  const aborted = await until('abort', async () => {
    const r = await api.admin('GET', `/v1/rollouts/${id}`);
    return r.body.phase === 'aborted' ? r.body : null;
  });
  const green = fresh.filter((s) => s.version === 'v3-chatty');
  // a fixed-horizon (Mann-Whitney) failure is acted on once the step has its minSessions
  expect(green.length).toBeGreaterThanOrEqual(8);

  // the gate failure is recorded with its evidence
  const decisions = (await api.admin('GET', `/v1/rollouts/${id}/decisions`)).body.items as Array<{
    kind: string;
    evidence: any;
  }>;
  const kinds = decisions.map((d) => d.kind);
  expect(kinds.slice(0, 4)).toEqual(['created', 'forecast', 'preflight-passed', 'step-started']);
  const failed = decisions.find((d) => d.kind === 'gates-failed')!;
  const g = failed.evidence.gates[0];
  expect(g).toMatchObject({ name: 'session.tool_calls', verdict: 'fail', critical: true });
  expect(g.evidence.nGreen).toBeGreaterThanOrEqual(5);
  expect(g.evidence.pValue).toBeLessThan(0.05);
  expect(g.evidence.effect).toBeGreaterThan(0);
  expect(kinds).toContain('aborted');
  expect(aborted.abort.reverse).toBe(reverse);
  // the status reports what the route does: no new session goes to green any more
  expect(aborted.weights.fill).toBe(0);

  // new sessions return to blue
  for (let i = 0; i < 10; i++) expect((await api.createSession()).version).toBe('v1');
  const route = await store.getRoute('support');
  expect(route).toMatchObject({ stable: 'v1', candidate: 'v3-chatty', weight: 0 });

  // the abort report lists every effect green committed, with its compensation
  const report = await until('abort report', async () => {
    const ds = (await api.admin('GET', `/v1/rollouts/${id}/decisions`)).body.items as typeof decisions;
    return ds.find((d) => d.kind === 'abort-report')?.evidence ?? null;
  });
  const ledger = (await allEffects(t, 'v3-chatty')).filter((e) => e.status === 'committed' && !e.compensates);
  expect(ledger.length).toBeGreaterThan(0);
  // the decision is a snapshot at the report's time: every effect green had committed by then;
  // green keeps serving its sessions, so effects committed later appear in the live report
  const reported = new Set<string>(report.effects.map((e: { id: string }) => e.id));
  const byThen = ledger.filter((e) => e.updatedAt <= report.at);
  for (const e of byThen) expect(reported.has(e.id), `effect ${e.id} missing from the report`).toBe(true);
  for (const id0 of reported) expect(ledger.map((e) => e.id)).toContain(id0);
  expect(report.totals.pendingCompensation).toBe(reported.size);
  const live = await api.admin('GET', `/v1/rollouts/${id}/report`);
  expect(live.body.effects.map((e: { id: string }) => e.id).sort()).toEqual(ledger.map((e) => e.id).sort());
  for (const e of report.effects) {
    expect(['cancel_ticket', 'send_correction_email']).toContain(e.compensation);
    expect(e.compensationState).toBe('pending');
    expect(green.map((s) => s.id)).toContain(e.sessionId);
  }

  if (!reverse) {
    // green keeps serving its sessions
    const s = green[0]!;
    const r = await api.turn(s, 'k1', 'Any news?');
    expect(r.status).toBe(200);
    expect(r.body.version).toBe('v3-chatty');
    await until('done', async () => (await api.admin('GET', `/v1/rollouts/${id}`)).body.stage === 'done');
    for (const gs of green) expect((await store.getSession(gs.id)).version).toBe('v3-chatty');
    // compensations: a dry run lists what would run where and changes nothing; a real run runs them
    const turnEffects = async () =>
      (await allEffects(t!, 'v3-chatty')).filter((e) => e.status === 'committed' && !e.compensates);
    const before = await turnEffects();
    const dry = await api.admin('POST', `/v1/rollouts/${id}/compensate`, { dryRun: true });
    expect(dry.body.effects).toHaveLength(before.length);
    expect(dry.body.totals).toMatchObject({ ran: before.length, compensated: 0, pending: 0 });
    for (const e of dry.body.effects) expect(e).toMatchObject({ action: 'run', version: 'v3-chatty' });
    expect(await turnEffects()).toEqual(before);
    expect(t.compensations.total()).toBe(0);
    const real = await api.admin('POST', `/v1/rollouts/${id}/compensate`, {
      dryRun: false,
      note: 'tickets closed',
    });
    expect(real.status).toBe(200);
    expect(real.body.totals).toMatchObject({ ran: before.length, compensated: before.length, failed: 0 });
    // counted outside Baton: each compensation's own effect executed exactly once
    expect(t.compensations.total()).toBe(before.length);
    expect(t.compensations.duplicates()).toEqual([]);
    const after = await api.admin('GET', `/v1/rollouts/${id}/report`);
    expect(after.body.totals.compensated).toBe(before.length);
    // a second run finds nothing left to do
    const again = await api.admin('POST', `/v1/rollouts/${id}/compensate`, { dryRun: false });
    expect(again.body.totals).toMatchObject({ ran: 0, skipped: before.length });
    expect(t.compensations.total()).toBe(before.length);
  } else {
    // green sessions move back to blue through the candidate's down migration
    await until(
      'reverse complete',
      async () => (await api.admin('GET', `/v1/rollouts/${id}`)).body.stage === 'done',
    );
    const kinds2 = (await api.admin('GET', `/v1/rollouts/${id}/decisions`)).body.items.map(
      (d: any) => d.kind,
    );
    expect(kinds2).toContain('reverse-complete');
    for (const gs of green) {
      const s = await store.getSession(gs.id);
      expect(s.version).toBe('v1');
      const cp = await store.getLatestCheckpoint(gs.id);
      expect(cp!.schemaVersion).toBe(1);
      const migs = (await store.listMigrations({ sessionId: gs.id })).filter((m) => m.status === 'ok');
      expect(migs).toHaveLength(1);
      expect(migs[0]).toMatchObject({
        fromVersion: 'v3-chatty',
        toVersion: 'v1',
        fromSchema: 2,
        toSchema: 1,
      });
    }
    // and v1 serves them again
    const r = await api.turn(green[0]!, 'k1', 'Any news?');
    expect(r.status).toBe(200);
    expect(r.body.version).toBe('v1');
    const ds = (await api.admin('GET', `/v1/rollouts/${id}/decisions`)).body.items as typeof decisions;
    const greenEffects = (await allEffects(t, 'v3-chatty')).filter(
      (e) => e.status === 'committed' && !e.compensates,
    );
    if (auto) {
      // every green session moved back: the controller planned, then ran green's compensations
      const plan = ds.find((d) => d.kind === 'compensation-plan')!;
      expect(plan.evidence.totals).toMatchObject({ effects: greenEffects.length, ran: greenEffects.length });
      const ran = ds.find((d) => d.kind === 'compensations-ran')!;
      expect(ran.evidence.totals).toMatchObject({
        ran: greenEffects.length,
        compensated: greenEffects.length,
      });
      expect(ds.findIndex((d) => d.kind === 'compensation-plan')).toBeLessThan(
        ds.findIndex((d) => d.kind === 'compensations-ran'),
      );
      for (const e of greenEffects) expect(e.compensationState).toBe('compensated');
      expect(t.compensations.total()).toBe(greenEffects.length);
      expect(t.compensations.duplicates()).toEqual([]);
    } else {
      // manual (the default): nothing ran
      expect(ds.map((d) => d.kind)).not.toContain('compensations-ran');
      for (const e of greenEffects) expect(e.compensationState).toBe('pending');
      expect(t.compensations.total()).toBe(0);
    }
  }
  // sessions from before the rollout never left blue
  for (const s of old) expect((await store.getSession(s.id)).version).toBe('v1');
  expect((await allSessions(store)).every((s) => s.version === 'v1' || s.version === 'v3-chatty')).toBe(true);
}

describe('abort forward', () => {
  it('a gate breach aborts: new sessions to blue, green sessions stay on green, report lists green effects', () =>
    gateBreach(false));
  it('with reverse, green sessions move back to blue through down migrations', () => gateBreach(true));
  it('with reverse and onAbort.compensate auto, green effects are compensated once sessions moved back', () =>
    gateBreach(true, true));
});
