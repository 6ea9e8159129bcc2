/** Group commit over a real SQLite file: concurrent commits share one transaction, each refused alone. */
import { describe, expect, it } from 'vitest';
import { SequenceConflictError } from '@baton/core';
import type { AppendCheckpointInput, Store } from '@baton/store';
import { CommitBatcher, MIN_PARALLEL_BATCH } from '../src/commit';
import { sqliteTarget } from './fixtures/harness';

function append(sessionId: string, expectedSeq: number): AppendCheckpointInput {
  return {
    sessionId,
    expectedSeq,
    schemaVersion: 1,
    writtenBy: 'v1',
    body: { state: { n: expectedSeq + 1 }, context: null, waits: [] },
    session: { status: 'idle' },
  };
}

describe('CommitBatcher', () => {
  it('commits concurrent appends in one batch; a stale one is refused without affecting the rest', async () => {
    const t = await sqliteTarget.open();
    try {
      const { store } = t;
      expect(typeof store.appendCheckpoints).toBe('function');
      await store.registerVersion({
        agent: 'a',
        label: 'v1',
        schemaVersion: 1,
        modelId: 'm',
        promptHash: 'p',
        toolManifestHash: 't',
        codeHash: 'c',
        identity: 'i',
        acceptsSchemas: [],
        downSchemas: [],
        metadata: {},
      });
      const ids: string[] = [];
      for (let i = 0; i < 20; i++)
        ids.push((await store.createSession({ agent: 'a', version: 'v1', tokenHash: 'h' })).id);
      const sizes: number[] = [];
      const original = store.appendCheckpoints.bind(store);
      store.appendCheckpoints = (inputs) => {
        sizes.push(inputs.length);
        return original(inputs);
      };
      const batcher = new CommitBatcher(store);
      const results = await Promise.allSettled(
        ids.map((id, i) => batcher.commit(append(id, i === 7 ? 5 : 0))),
      );
      expect(sizes).toEqual([20]);
      results.forEach((r, i) => {
        if (i === 7) {
          expect(r.status).toBe('rejected');
          expect((r as PromiseRejectedResult).reason).toBeInstanceOf(SequenceConflictError);
        } else {
          expect(r).toMatchObject({ status: 'fulfilled', value: { seq: 1, sessionId: ids[i] } });
        }
      });
      expect((await store.getSession(ids[7]!)).seq).toBe(0);
      expect(await store.listCheckpoints(ids[7]!)).toEqual([]);
      expect((await store.getSession(ids[3]!)).seq).toBe(1);
    } finally {
      await t.cleanup();
    }
  });

  it("spreads one flush over the backend's parallel writers, each batch its own call", async () => {
    const calls: number[] = [];
    let running = 0;
    let most = 0;
    const fake = {
      parallelWrites: 3,
      appendCheckpoint: async () => {
        throw new Error('a flush of several items must not fall back to single appends');
      },
      appendCheckpoints: async (items: AppendCheckpointInput[]) => {
        calls.push(items.length);
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
        return items.map((i) => ({ ok: true as const, meta: { seq: i.expectedSeq + 1 } as never }));
      },
    } as unknown as Store;
    const batcher = new CommitBatcher(fake, 256, true, 3);
    const metas = await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.commit(append(`s${i}`, i))));
    expect(metas.map((m) => m.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(calls.sort()).toEqual([3, 3, 4]);
    expect(most).toBe(3);
  });

  it('what arrives while every writer is busy waits for a free one and goes with the rest of the queue', async () => {
    const calls: number[] = [];
    let singles = 0;
    let running = 0;
    let most = 0;
    const release: Array<() => void> = [];
    const fake = {
      parallelWrites: 2,
      appendCheckpoint: async (i: AppendCheckpointInput) => {
        singles++;
        return { seq: i.expectedSeq + 1 } as never;
      },
      appendCheckpoints: async (items: AppendCheckpointInput[]) => {
        calls.push(items.length);
        running++;
        most = Math.max(most, running);
        await new Promise<void>((r) => release.push(r));
        running--;
        return items.map((i) => ({ ok: true as const, meta: { seq: i.expectedSeq + 1 } as never }));
      },
    } as unknown as Store;
    const batcher = new CommitBatcher(fake, 256, true, 2);
    const tick = () => new Promise((r) => setImmediate(r));
    const first = Array.from({ length: 4 }, (_, i) => batcher.commit(append(`a${i}`, i)));
    await tick();
    expect(calls).toEqual([2, 2]); // both writers busy
    // arrivals one event-loop turn apart, while both are busy: none starts a call of its own
    const later: Array<Promise<unknown>> = [];
    for (let i = 0; i < 6; i++) {
      later.push(batcher.commit(append(`b${i}`, i)));
      await tick();
    }
    expect(calls).toEqual([2, 2]);
    release.shift()!(); // one writer frees: the whole queue goes to it
    await Promise.all(first.slice(0, 2));
    await tick();
    expect(calls).toEqual([2, 2, 6]);
    while (release.length > 0) release.shift()!();
    await Promise.all([...first, ...later]);
    expect(singles).toBe(0);
    expect(most).toBe(2);
  });

  it('a further batch goes in flight beside a running one only when the queue fills one of MIN_PARALLEL_BATCH', async () => {
    const calls: number[] = [];
    const release: Array<() => void> = [];
    const fake = {
      parallelWrites: 8,
      appendCheckpoint: async (i: AppendCheckpointInput) => {
        calls.push(1);
        return { seq: i.expectedSeq + 1 } as never;
      },
      appendCheckpoints: async (items: AppendCheckpointInput[]) => {
        calls.push(items.length);
        await new Promise<void>((r) => release.push(r));
        return items.map((i) => ({ ok: true as const, meta: { seq: i.expectedSeq + 1 } as never }));
      },
    } as unknown as Store;
    const batcher = new CommitBatcher(fake, 256, true);
    const tick = () => new Promise((r) => setImmediate(r));
    const n = 3 * MIN_PARALLEL_BATCH + 2;
    // a queue of 3 batches' worth goes to 3 of the 8 writers, not spread over all 8
    const first = Array.from({ length: n }, (_, i) => batcher.commit(append(`a${i}`, i)));
    await tick();
    expect(calls.length).toBe(3);
    expect(calls.reduce((a, b) => a + b, 0)).toBe(n);
    expect(Math.min(...calls)).toBeGreaterThanOrEqual(MIN_PARALLEL_BATCH);
    // fewer than a batch's worth while those run: they wait, though 5 writers are free
    const later = Array.from({ length: MIN_PARALLEL_BATCH - 1 }, (_, i) =>
      batcher.commit(append(`b${i}`, i)),
    );
    await tick();
    expect(calls.length).toBe(3);
    // one more makes a batch: it goes beside the running ones
    later.push(batcher.commit(append('c', 0)));
    await tick();
    expect(calls.slice(3)).toEqual([MIN_PARALLEL_BATCH]);
    while (release.length > 0) release.shift()!();
    await Promise.all([...first, ...later]);
    // with nothing in flight, a queue smaller than a batch goes at once
    const small = [batcher.commit(append('d0', 0)), batcher.commit(append('d1', 0))];
    await tick();
    expect(calls.slice(4)).toEqual([2]);
    while (release.length > 0) release.shift()!();
    await Promise.all(small);
  });
});
