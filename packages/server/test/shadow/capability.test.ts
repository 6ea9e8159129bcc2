/**
 * A shadow turn's capability (real SQLite file, real sessions): read-only — the ledger refuses
 * every write (intent, step) — and its history reads stop where the replayed turn started.
 */
import { afterEach, expect, it } from 'vitest';
import { BatonError, shadowTurnId } from '@baton/core';
import { StoreLedgerClient } from '../../src/ledger';
import { startTestBaton, type TestBaton } from '../rollout/harness';

let t: TestBaton | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

it('refuses ledger writes and clamps history reads to the replayed turn', async () => {
  t = await startTestBaton({ versions: ['v2'], controller: false });
  const s = await t.api.createSession();
  for (const [k, msg] of ['Hello', 'Where is my order A-1000?', 'Again?'].entries())
    expect((await t.api.turn(s, `k${k}`, msg)).status).toBe(200);
  const cp = await t.store.getCheckpoint(s.id, 2);
  const turnId = shadowTurnId('run', 3, cp.historyLength);
  const cap = await t.baton.ctx.capabilities.issue(s.id, turnId, null, 60_000);
  const ledger = new StoreLedgerClient(t.store, t.baton.ctx.capabilities).withCapability(cap);
  const code = async (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: unknown) => (e instanceof BatonError ? e.code : String(e)),
    );
  expect(
    await code(
      ledger.intent({
        idempotencyKey: `${s.id}:${turnId}:0`,
        sessionId: s.id,
        agent: 'support',
        version: 'v2',
        turnId,
        name: 'send_email',
        args: {},
        compensation: null,
      }),
    ),
  ).toBe('CAPABILITY_INVALID');
  expect(await code(ledger.putStep(s.id, turnId, 0, 'model', {}))).toBe('CAPABILITY_INVALID');
  const all = await t.store.readHistory(s.id, { limit: 1000 });
  expect(all.entries.length).toBeGreaterThan(cp.historyLength);
  const page = await ledger.history(cap, s.id, { limit: 1000 });
  expect(page.entries.length).toBe(cp.historyLength);
  expect(page.entries.every((e) => e.index < cp.historyLength)).toBe(true);
  const later = await ledger.history(cap, s.id, { before: all.entries.length, limit: 1000 });
  expect(later.entries.every((e) => e.index < cp.historyLength)).toBe(true);
  expect(
    (await t.store.listEffects({ sessionId: s.id })).items.every((e) => !e.turnId.startsWith('shadow:')),
  ).toBe(true);
});
