/**
 * SQLite keeps the larger values a checkpoint changed in its own row and copies one to the blob
 * table when a child names it unchanged. A store remembers what the checkpoints it wrote hold, to
 * skip that copy when there is nothing to copy: the value must still be copied when the parent
 * holds it, whether this store or another one on the same file wrote the parent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { emptyCheckpoint, type Checkpoint } from '@langchain/langgraph-checkpoint';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { BatonCheckpointSaver } from '../src/index';

const doc = 'a working document written once '.repeat(40); // over the inline size: held in the row
const THREAD = 'held-copy';

function step(n: number, versions: Record<string, number>): Checkpoint {
  return {
    ...emptyCheckpoint(),
    id: `1ef00000-0000-6000-8000-00000000000${n}`,
    channel_values: { doc, messages: Array.from({ length: n + 1 }, (_, i) => `message ${i} `.repeat(30)) },
    channel_versions: versions,
  };
}

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function twoStoresOnOneFile(): Promise<[Store, Store]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-held-copy-'));
  dirs.push(dir);
  const a = await openStore(path.join(dir, 'store.db'));
  const b = await openStore(path.join(dir, 'store.db'));
  stores.push(a, b);
  return [a, b];
}

/** Step 0 writes both channels; steps 1 and 2 change only `messages` (by `writers[1]`, `writers[2]`). */
async function run(writers: BatonCheckpointSaver[]): Promise<void> {
  let config = { configurable: { thread_id: THREAD, checkpoint_ns: '' } } as Parameters<
    BatonCheckpointSaver['put']
  >[0];
  for (let n = 0; n < 3; n++) {
    const versions = { doc: 1, messages: n + 1 };
    const changed = n === 0 ? versions : { messages: n + 1 };
    config = await writers[n]!.put(
      config,
      step(n, versions),
      { source: 'loop', step: n, parents: {} },
      changed,
    );
  }
}

async function readBack(store: Store): Promise<void> {
  const saver = new BatonCheckpointSaver(store); // no memory of what was written
  for (let n = 0; n < 3; n++) {
    const t = await saver.getTuple({
      configurable: { thread_id: THREAD, checkpoint_ns: '', checkpoint_id: step(n, {}).id },
    });
    expect(t?.checkpoint.channel_values).toEqual(step(n, {}).channel_values);
  }
}

describe('a value held in the parent row and named unchanged by the child (SQLite)', () => {
  test('is copied when this store wrote the parent', async () => {
    const [a, b] = await twoStoresOnOneFile();
    const saver = new BatonCheckpointSaver(a);
    await run([saver, saver, saver]);
    await readBack(b);
  });

  test('is copied when another store on the file wrote the parent', async () => {
    const [a, b] = await twoStoresOnOneFile();
    await run([new BatonCheckpointSaver(a), new BatonCheckpointSaver(b), new BatonCheckpointSaver(a)]);
    await readBack(a);
    await readBack(b);
  });
});
