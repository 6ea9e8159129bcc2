/**
 * Test helper: opens a store, starts appending a checkpoint and stops inside the write transaction,
 * just before commit, announcing `ready` on stdout. The parent test then SIGKILLs this process.
 * argv: target, options JSON, sessionId, expectedSeq, extra input JSON (merged into the append:
 * e.g. `history`, `unchanged`)
 */
import { writeSync } from 'node:fs';
import { openStore } from '../src/index';
import type { AppendCheckpointInput } from '../src/store';

const [target, optsJson, sessionId, expectedSeq, extraJson] = process.argv.slice(2);

function hang(): void {
  writeSync(1, 'ready\n');
  // Block the whole process inside the open transaction until it is killed.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

const store = await openStore(target!, {
  ...(JSON.parse(optsJson!) as Record<string, unknown>),
  hooks: { beforeCommit: hang },
});
await store.appendCheckpoint({
  sessionId: sessionId!,
  expectedSeq: Number(expectedSeq),
  schemaVersion: 1,
  writtenBy: 'crash',
  body: { state: 'never committed', context: null, waits: [] },
  turnResult: { key: 'crash-key', result: 'never' },
  ...(JSON.parse(extraJson ?? '{}') as Partial<AppendCheckpointInput>),
});
writeSync(2, 'the append committed, which it must not\n');
process.exit(3);
