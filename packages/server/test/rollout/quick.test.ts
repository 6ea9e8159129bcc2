import { afterEach, describe, expect, it } from 'vitest';
import { allSessions, startTestBaton, until, type TestBaton } from './harness';

let t: TestBaton | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

describe('rollout controller (quick)', () => {
  it('moves idle sessions from v1 to v2 through two steps and promotes', async () => {
    t = await startTestBaton({ versions: ['v1', 'v2'], controller: { intervalMs: 30 } });
    const { api, store } = t;
    const sessions = [];
    for (let i = 0; i < 20; i++) {
      const s = await api.createSession();
      expect(s.version).toBe('v1');
      const r = await api.turn(s, 'k1', `Where is my order A-${1000 + i}?`);
      expect(r.status).toBe(200);
      sessions.push(s);
    }
    const created = await api.admin('POST', '/v1/rollouts', {
      agent: 'support',
      to: 'v2',
      steps: [
        { fill: 20, migrate: 20, verify: { minSessions: 0, minDuration: '100ms', interval: '50ms' } },
        { fill: 100, migrate: 100 },
      ],
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const done = await until('rollout done', async () => {
      const r = await api.admin('GET', `/v1/rollouts/${id}`);
      return r.body.stage === 'done' ? r.body : null;
    });
    expect(done.phase).toBe('promoted');
    const all = await allSessions(store);
    expect(all.every((s) => s.version === 'v2')).toBe(true);
    const kinds = (await api.admin('GET', `/v1/rollouts/${id}/decisions`)).body.items.map((d: any) => d.kind);
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
});
