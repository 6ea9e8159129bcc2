/**
 * Test helper: appends checkpoints to a session in a loop, as fast as it can, each with the
 * history entries `loopEntries(seq)`, printing each committed seq on stdout. The parent SIGKILLs it
 * at a random moment, possibly in the middle of a commit.
 * argv: target, options JSON, sessionId
 */
import { writeSync } from 'node:fs';
import { openStore } from '../src/index';
import { loopEntries } from './loop-entries';

const [target, optsJson, sessionId] = process.argv.slice(2);

const store = await openStore(target!, JSON.parse(optsJson!) as Record<string, unknown>);
let seq = (await store.getSession(sessionId!)).seq;
for (;;) {
  const next = seq + 1;
  await store.appendCheckpoint({
    sessionId: sessionId!,
    expectedSeq: seq,
    schemaVersion: 1,
    writtenBy: 'loop',
    body: { state: { n: next }, context: { n: next }, waits: [] },
    history: loopEntries(next),
  });
  seq = next;
  writeSync(1, `${seq}\n`);
}
