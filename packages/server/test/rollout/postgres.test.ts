/**
 * The rollout controller on PostgreSQL (the backend for several routers and controllers): a
 * rollout with idle and waiting sessions to promotion, and an abort with reverse fill. PostgreSQL
 * has no batched append, so the eager migrator takes the per-session path here.
 * Needs BATON_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openStore } from '@baton/store';
import { allSessions, bigRefundOrders, startTestBaton, until, type TestBaton } from './harness';

const PG_URL = process.env.BATON_TEST_PG_URL;
if (!PG_URL && process.env.CI === 'true') throw new Error('BATON_TEST_PG_URL must be set under CI');
if (!PG_URL) console.warn('rollout postgres tests skipped: BATON_TEST_PG_URL is not set');

const schemas: string[] = [];
const batons: TestBaton[] = [];
afterAll(async () => {
  for (const t of batons) await t.close();
  if (!PG_URL || schemas.length === 0) return;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  } finally {
    await admin.end();
  }
});

async function pgBaton(versions: Parameters<typeof startTestBaton>[0]['versions']): Promise<TestBaton> {
  const schema = `ro_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  schemas.push(schema);
  const store = await openStore(PG_URL!, { schema });
  const t = await startTestBaton({ versions, store, controller: { intervalMs: 30 } });
  batons.push(t);
  return t;
}

describe.skipIf(!PG_URL)('rollout controller on PostgreSQL', () => {
  it('moves idle and waiting sessions from v1 to v2 and promotes', async () => {
    const t = await pgBaton(['v1', 'v2']);
    const big = bigRefundOrders(5);
    const waits: string[] = [];
    for (let i = 0; i < 25; i++) {
      const s = await t.api.createSession();
      const msg = i < 20 ? `Where is my order G-${1000 + i}?` : `I want a refund for order ${big[i - 20]}`;
      const r = await t.api.turn(s, 'k0', msg);
      expect(r.status).toBe(200);
      if (i >= 20) waits.push(r.body.waits[0].token);
    }
    const created = await t.api.admin('POST', '/v1/rollouts', {
      agent: 'support',
      to: 'v2',
      steps: [
        { fill: 30, migrate: 30, verify: { minSessions: 0, minDuration: '100ms', interval: '50ms' } },
        { fill: 100, migrate: 100 },
      ],
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await until(
      'done',
      async () => (await t.api.admin('GET', `/v1/rollouts/${id}`)).body.stage === 'done',
      30_000,
    );
    const all = await allSessions(t.store);
    expect(all).toHaveLength(25);
    expect(all.every((s) => s.version === 'v2')).toBe(true);
    for (const s of all) {
      const seqs = (await t.store.listCheckpoints(s.id)).map((m) => m.seq).sort((a, b) => a - b);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
      expect(
        (await t.store.listMigrations({ sessionId: s.id })).filter((m) => m.status === 'ok'),
      ).toHaveLength(1);
    }
    // a callback after the move resumes the session on v2
    const r = await t.api.callback(waits[0]!, { approved: false, by: 'manager' });
    expect(r.status).toBe(200);
    expect(r.body.version).toBe('v2');
    const kinds = (await t.api.admin('GET', `/v1/rollouts/${id}/decisions`)).body.items.map(
      (d: any) => d.kind,
    );
    expect(kinds).toEqual([
      'created',
      'forecast',
      'preflight-passed',
      'step-started',
      'gates-passed',
      'step-started',
      'drain-started',
      'promoted',
      'drain-complete',
    ]);
  });

  it('an abort by hand with reverse moves green sessions back through down migrations', async () => {
    const t = await pgBaton(['v1', 'v2']);
    const created = await t.api.admin('POST', '/v1/rollouts', {
      agent: 'support',
      to: 'v2',
      steps: [
        { fill: 50, verify: { minSessions: 1000 } },
        { fill: 100, migrate: 100 },
      ],
      onAbort: { greenSessions: 'reverse' },
    });
    expect(created.status).toBe(201);
    const green: string[] = [];
    for (let i = 0; i < 20; i++) {
      const s = await t.api.createSession();
      await t.api.turn(s, 'k0', `Where is my order H-${1000 + i}?`);
      if (s.version === 'v2') green.push(s.id);
    }
    expect(green.length).toBeGreaterThan(0);
    const id = created.body.id as string;
    const ab = await t.api.admin('POST', `/v1/rollouts/${id}/abort`, { reason: 'by hand' });
    expect(ab.body.phase).toBe('aborted');
    expect((await t.api.createSession()).version).toBe('v1');
    await until(
      'reverse complete',
      async () => (await t.api.admin('GET', `/v1/rollouts/${id}`)).body.stage === 'done',
      30_000,
    );
    for (const sid of green) {
      expect((await t.store.getSession(sid)).version).toBe('v1');
      const cp = await t.store.getLatestCheckpoint(sid);
      expect(cp!.schemaVersion).toBe(1);
    }
  });
});
