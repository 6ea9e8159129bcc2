/**
 * The dashboard's test scenario: Baton on a real SQLite file over loopback with the example
 * support agent, v1 → v2 mid-rollout (a canary step that does not advance on its own), blue
 * sessions with an order in their state, some migrated to v2 by the eager migrator, and traffic
 * on both versions so the gate has been judged.
 */
import { startTestBaton, until, type TestBaton } from '../rollout/harness';

export interface Scenario {
  t: TestBaton;
  rolloutId: string;
  /** A session migrated v1 → v2 (its state had `orderId`, now `orders`). */
  migratedId: string;
}

async function customer(
  t: TestBaton,
  order: string,
  turns: number,
): Promise<{ id: string; version: string }> {
  const s = await t.api.createSession();
  const script = [`Where is my order ${order}?`, 'Can you check the status again?', 'Thanks, bye.'];
  for (let i = 0; i < turns; i++) {
    const r = await t.api.turn(s, `k${i}`, script[i % script.length]);
    if (r.status !== 200) throw new Error(`turn ${i} of ${s.id}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  return s;
}

export async function startScenario(
  opts: { blueSessions?: number; greenTraffic?: number } = {},
): Promise<Scenario> {
  const t = await startTestBaton({
    versions: ['v1', 'v2'],
    controller: { intervalMs: 50, sampleIntervalMs: 200 },
  });
  for (let i = 0; i < (opts.blueSessions ?? 24); i++) await customer(t, `A-${1000 + i}`, 1);
  const created = await t.api.admin('POST', '/v1/rollouts', {
    agent: 'support',
    to: 'v2',
    migration: { policy: 'at-boundary', eager: true, batch: 50 },
    steps: [
      { fill: 50, migrate: 50, verify: { minSessions: 1_000, interval: '100ms', maxDuration: '1h' } },
      { fill: 100, migrate: 100 },
    ],
    gates: [
      {
        name: 'tool-calls',
        metric: 'session.tool_calls',
        test: 'mann-whitney',
        tolerance: '+20%',
        minSamples: 3,
      },
    ],
    onFail: 'pause',
  });
  if (created.status !== 201) throw new Error(`rollout: ${created.status} ${JSON.stringify(created.body)}`);
  const rolloutId = created.body.id as string;
  for (let i = 0; i < (opts.greenTraffic ?? 24); i++) await customer(t, `A-${2000 + i}`, 2);
  const migratedId = await until('an eager migration', async () => {
    const r = await t.api.admin('GET', `/v1/migrations?rollout=${rolloutId}&status=ok&limit=1`);
    return (r.body.items as Array<{ sessionId: string }>)[0]?.sessionId ?? null;
  });
  await until('a gate verdict', async () => {
    const r = await t.api.admin('GET', `/v1/rollouts/${rolloutId}`);
    return (r.body.gates as unknown[]).length > 0 && (r.body.lastVerdicts?.nGreen ?? 0) > 0;
  });
  return { t, rolloutId, migratedId };
}
