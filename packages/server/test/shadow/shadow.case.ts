/**
 * Shadow stage end to end, on one backend (SQLite file or the PostgreSQL server): blue (v2) serves
 * real sessions over HTTP; a shadow run replays 200+ of their recorded turns on a candidate.
 * - every effect the example agent really executes is counted through its side channel: the
 *   replay executes none, even for a candidate that sends an extra email, and reports that email
 *   as a divergence (`effect-extra`) while v2 replayed against itself diverges nowhere;
 * - the store is dumped (every table) before and after: a shadow run changes nothing.
 */
import { expect, it } from 'vitest';
import { ordersWhere, startTestBaton, type TestBaton } from '../rollout/harness';
import type { DumpedStore } from '../hostile/store-dump';
import { runShadow } from '../../src/shadow/run';
import { validateSpec } from '../../src/rollout/spec';

/** Half the orders need a ticket and an email (delayed or lost), half do not. */
const WITH_EFFECTS = ordersWhere((f) => f.status === 'delayed' || f.status === 'lost', 40, 1000);
const PLAIN = ordersWhere((f) => f.status !== 'delayed' && f.status !== 'lost', 40, 1000);

const SESSIONS = 70;

async function populate(t: TestBaton): Promise<void> {
  for (let i = 0; i < SESSIONS; i++) {
    const s = await t.api.createSession();
    expect(s.version).toBe('v2');
    const order = (i % 2 === 0 ? WITH_EFFECTS : PLAIN)[i % 40]!;
    const script = [`Hello`, `Where is my order ${order}?`, 'Can you check the status again?', 'And again?'];
    for (const [k, msg] of script.entries()) {
      const r = await t.api.turn(s, `k${k}`, msg);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
  }
}

function shadowSpec() {
  return validateSpec({
    agent: 'support',
    from: 'v2',
    to: 'v3-spammy',
    steps: [{ fill: 100 }],
    shadow: {
      sessions: SESSIONS,
      turnsPerSession: 3,
      gates: [
        { metric: 'shadow.divergence', test: 'proportion', tolerance: 0, critical: true },
        { metric: 'eval.resolution', test: 'wilcoxon', tolerance: -0.05 },
      ],
    },
  }).shadow!;
}

export function shadowCases(open: () => Promise<DumpedStore>): void {
  it('200 replayed turns execute no real effect, report the extra email, and change no table', async () => {
    const dumped = await open();
    const t = await startTestBaton({ versions: ['v2', 'v3-spammy'], controller: false, store: dumped.store });
    try {
      await populate(t);
      const executedLive = t.effects.total();
      expect(executedLive).toBeGreaterThan(0); // blue's turns really sent emails and opened tickets
      const before = await dumped.dump();

      const spammy = await runShadow(t.baton.ctx, {
        agent: 'support',
        blue: 'v2',
        green: 'v3-spammy',
        spec: shadowSpec(),
        runId: 'run1',
        beforeStep: 0,
      });
      expect(spammy.summary.turns).toBeGreaterThanOrEqual(200);
      expect(spammy.summary.failed).toBe(0);
      // the side channel: not one effect ran during the replay
      expect(t.effects.total()).toBe(executedLive);
      // every status answer of v3-spammy sends a follow-up email blue never sent
      const extra = spammy.turns.flatMap((x) => x.divergences).filter((d) => d.kind === 'effect-extra');
      expect(extra.length).toBeGreaterThan(0);
      expect(extra.every((d) => d.name === 'send_email')).toBe(true);
      expect(extra.every((d) => (d.args as { template?: string }).template === 'follow_up')).toBe(true);
      const divergence = spammy.results.find((r) => r.name === 'shadow.divergence')!;
      expect(divergence.verdict).toBe('fail');
      // same answers: the paired quality gate sees no difference
      const quality = spammy.results.find((r) => r.name === 'eval.resolution')!;
      expect(quality.evidence.effect).toBe(0);
      expect(quality.verdict).toBe('pass');
      // blue's recorded effects were served to green (tickets and emails of delayed orders)
      expect(spammy.turns.some((x) => x.blue.effects.length > 0)).toBe(true);

      const same = await runShadow(t.baton.ctx, {
        agent: 'support',
        blue: 'v2',
        green: 'v2',
        spec: shadowSpec(),
        runId: 'run2',
        beforeStep: 0,
      });
      expect(same.summary.turns).toBeGreaterThanOrEqual(200);
      expect(same.summary.divergent).toBe(0);
      expect(same.results.every((r) => r.verdict === 'pass')).toBe(true);
      expect(t.effects.total()).toBe(executedLive);

      // nothing in the store changed: sessions, checkpoints, history, effects, steps, telemetry …
      const after = await dumped.dump();
      expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
      for (const table of Object.keys(before)) {
        if (table === 'locks') continue; // below: the router's presence lease renews on its own timer
        expect(after[table], table).toEqual(before[table]);
      }
      const lockNames = (rows: string[] | undefined) =>
        (rows ?? []).map((r) => {
          const { expires_at: _e, ...rest } = JSON.parse(r) as Record<string, unknown>;
          return rest;
        });
      expect(lockNames(after.locks)).toEqual(lockNames(before.locks));
    } finally {
      await t.close();
      await dumped.cleanup();
    }
  }, 120_000);
}
