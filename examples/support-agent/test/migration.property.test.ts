import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HistoryEntry } from '@baton/core';
import { migrateCheckpoint } from '@baton/sdk';
import { stateV1, stateV2, v2, v2Broken } from '../src/index';
import type { StateV1 } from '../src/index';
import { MapLedger } from './ledger';
import { held, migrateRequest } from './session';

const orderId = fc
  .tuple(fc.constantFrom(...'ABCDEFGH'), fc.integer({ min: 0, max: 9999 }))
  .map(([p, n]) => `${p}-${String(n).padStart(4, '0')}`);

const refund = fc.option(
  fc.record({
    orderId,
    amount: fc.integer({ min: 1, max: 500 }),
    status: fc.constantFrom('pending' as const, 'approved' as const, 'denied' as const, 'expired' as const),
  }),
  { nil: null },
);

const state1: fc.Arbitrary<StateV1> = fc.record({
  orderId: fc.option(orderId, { nil: null }),
  ticketId: fc.option(fc.string({ minLength: 1, maxLength: 12 }), { nil: null }),
  refund,
  turns: fc.nat(50),
  resolved: fc.boolean(),
});

const words = fc.constantFrom(
  'hello',
  'where is',
  'my order',
  'angry',
  'thanks',
  'terrible',
  'great',
  'refund',
  '?',
);
const userMessage = fc
  .tuple(fc.array(words, { maxLength: 5 }), fc.option(orderId, { nil: null }))
  .map(([w, id]) => [...w, id ?? ''].join(' ').trim());
const history: fc.Arbitrary<HistoryEntry[]> = fc
  .array(userMessage, { maxLength: 6 })
  .map((msgs) => msgs.map((content, i) => ({ role: 'user' as const, content, turnId: `t${i}`, at: i })));

/** A protocol-2 migrate request, with a ledger serving the session's history `h`. */
function req(state: unknown, h: HistoryEntry[], schemaVersion: number, target: number, version: string) {
  const ledger = new MapLedger();
  ledger.setHistory('s', h);
  const m = migrateRequest(
    { id: 's', agent: 'support', version },
    held({ state, context: null, waits: [] }, h, 1, schemaVersion),
    target,
    true,
  );
  return [m, ledger] as const;
}

describe('support agent migrations over arbitrary schema-1 states', () => {
  it('1→2 always validates, keeps the current order last and every order from the history; 2→1 restores the current order', async () => {
    await fc.assert(
      fc.asyncProperty(state1, history, async (s, h) => {
        expect(stateV1.safeParse(s).success).toBe(true);
        const up = await migrateCheckpoint(v2, ...req(s, h, 1, 2, 'v1'));
        if (!up.ok) throw new Error(up.error.message);
        const s2 = stateV2.parse(up.body.state);
        const mentioned = h.flatMap((e) =>
          [...String(e.content).matchAll(/\b([A-Z]-\d{4})\b/g)].map((m) => m[1]!),
        );
        // the current order is the most recent one; without one, the last order mentioned
        expect(s2.orders.at(-1) ?? null).toBe(s.orderId ?? mentioned.at(-1) ?? null);
        expect(new Set(s2.orders).size).toBe(s2.orders.length);
        for (const e of h)
          for (const m of String(e.content).matchAll(/\b([A-Z]-\d{4})\b/g)) expect(s2.orders).toContain(m[1]);
        expect(s2).toMatchObject({
          ticketId: s.ticketId,
          refund: s.refund,
          turns: s.turns,
          resolved: s.resolved,
        });

        const down = await migrateCheckpoint(v2, ...req(s2, h, 2, 1, 'v2'));
        if (!down.ok) throw new Error(down.error.message);
        expect(down.body.state).toEqual({ ...s, orderId: s.orderId ?? mentioned.at(-1) ?? null });
      }),
      { numRuns: 300 },
    );
  });

  it('v2-broken fails exactly for order ids ending in 7, with MIGRATION_FAILED', async () => {
    await fc.assert(
      fc.asyncProperty(state1, history, async (s, h) => {
        const r = await migrateCheckpoint(v2Broken, ...req(s, h, 1, 2, 'v1'));
        const broken = s.orderId !== null && s.orderId.endsWith('7');
        expect(r.ok).toBe(!broken);
        if (!r.ok) expect(r.error.code).toBe('MIGRATION_FAILED');
      }),
      { numRuns: 200 },
    );
  });
});
