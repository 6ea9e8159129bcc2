/**
 * Test helper: opens a store, waits until a shared start time, then tries to take the session's
 * lease and append the next checkpoint (with one history entry naming the owner). Prints one JSON
 * line: `{lease, append}` with `ok` or an error code.
 * argv: target, options JSON, sessionId, expectedSeq, owner, startAtMs
 */
import { writeSync } from 'node:fs';
import { BatonError } from '@baton/core';
import { openStore } from '../src/index';

const [target, optsJson, sessionId, expectedSeq, owner, startAt] = process.argv.slice(2);

const code = (e: unknown) => (e instanceof BatonError ? e.code : String(e));

const store = await openStore(target!, JSON.parse(optsJson!) as Record<string, unknown>);
while (Date.now() < Number(startAt)) {
  // spin until the shared start so both processes hit the store together
}
const out: { lease: string; append: string } = { lease: 'ok', append: 'ok' };
await Promise.all([
  store.acquireLease(sessionId!, owner!, 60_000).catch((e: unknown) => (out.lease = code(e))),
  store
    .appendCheckpoint({
      sessionId: sessionId!,
      expectedSeq: Number(expectedSeq),
      schemaVersion: 1,
      writtenBy: owner!,
      body: { state: owner, context: null, waits: [] },
      history: [{ role: 'agent', content: `written by ${owner}`, turnId: `race-${owner}`, at: 1 }],
    })
    .catch((e: unknown) => (out.append = code(e))),
]);
await store.close();
writeSync(1, JSON.stringify(out) + '\n');
