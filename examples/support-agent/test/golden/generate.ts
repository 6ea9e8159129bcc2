/**
 * Writes the golden schema-1 checkpoints in this directory by running v1 over fixed scripts.
 * The files are kept forever: every later version must migrate them. Re-run only to add new
 * cases (`npx tsx examples/support-agent/test/golden/generate.ts`), never to "fix" old ones.
 * They are in the first protocol's format (the history inside the body), so the turns here are
 * protocol-1 requests, as the router of that release sent them.
 */
import { writeFileSync } from 'node:fs';
import { SimulatedClock } from '@baton/core';
import type { CheckpointBody, HistoryEntry, TurnInput, TurnResponse } from '@baton/core';
import { runTurn } from '@baton/sdk';
import { v1 } from '../../src/index';
import { MapLedger } from '../ledger';

type Step = string | { approval: { approved: boolean; by: string } };

const cases: Array<{ file: string; description: string; steps: Step[] }> = [
  {
    file: 'clarification.json',
    description: 'no order mentioned yet; orderId is null',
    steps: ['Hi there.'],
  },
  { file: 'status-delivered.json', description: 'one status question', steps: ['Where is my order A-1005?'] },
  {
    file: 'refund-waiting.json',
    description: 'refund above the limit, waiting for approval (one pending wait)',
    steps: ['This is terrible. I want a refund for order A-1012.'],
  },
  {
    file: 'two-orders-lost-ticket.json',
    description: 'two orders mentioned, the second lost: ticket and email effects, negative customer',
    steps: ['Where is my order A-1002?', 'And order A-1000? I am angry, this is taking forever.'],
  },
  {
    file: 'legacy-id-7.json',
    description: 'order id ending in 7 (the v2-broken migration throws on it)',
    steps: ['Where is my order A-1027?', 'Can you check the status again?'],
  },
  {
    file: 'refund-approved.json',
    description: 'refund approved through the approval callback',
    steps: ['I want a refund for order A-1012.', { approval: { approved: true, by: 'lead@support' } }],
  },
];

const clock = new SimulatedClock(Date.UTC(2026, 0, 15, 9, 0, 0));
for (const [n, c] of cases.entries()) {
  const sessionId = `ses_golden_${n + 1}`;
  const ledger = new MapLedger();
  let cp = null as {
    seq: number;
    schemaVersion: number;
    body: CheckpointBody & { history: HistoryEntry[] };
  } | null;
  for (const [i, step] of c.steps.entries()) {
    await clock.advance(60_000);
    let input: TurnInput;
    if (typeof step === 'string') input = { kind: 'message', message: step };
    else {
      const w = cp?.body.waits[0];
      if (!w) throw new Error(`${c.file}: no wait to answer`);
      input = { kind: 'callback', token: w.token, name: w.name, payload: step.approval };
    }
    const res: TurnResponse = await runTurn(
      v1,
      {
        session: { id: sessionId, agent: 'support', version: 'v1', tenant: null },
        checkpoint: cp,
        input,
        turnId: `trn_golden_${n + 1}_${i + 1}`,
        deadline: clock.now() + 60_000,
      },
      ledger,
      clock,
    );
    cp = {
      seq: (cp?.seq ?? 0) + 1,
      schemaVersion: res.schemaVersion,
      body: {
        state: res.state,
        history: [...(cp?.body.history ?? []), ...res.history],
        context: res.context,
        waits: res.waits,
      },
    };
  }
  const out = { description: c.description, agent: 'support', writtenBy: 'v1', sessionId, ...cp };
  writeFileSync(new URL(c.file, import.meta.url), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${c.file}`);
}
