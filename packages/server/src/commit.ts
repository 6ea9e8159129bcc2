/**
 * Group commit: the turn commits that arrive in the same event-loop turn are written with one
 * `appendCheckpoints` call (one transaction, one fsync), each applied or refused on its own.
 * Backends without `appendCheckpoints` get one `appendCheckpoint` per commit.
 */
import type { CheckpointMeta } from '@baton/core';
import type { AppendCheckpointInput, Store } from '@baton/store';

interface Pending {
  input: AppendCheckpointInput;
  resolve(meta: CheckpointMeta): void;
  reject(e: unknown): void;
}

export class CommitBatcher {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly store: Store,
    /** Largest batch per transaction. */
    private readonly maxBatch = 256,
    private readonly enabled = true,
  ) {}

  commit(input: AppendCheckpointInput): Promise<CheckpointMeta> {
    if (!this.enabled || typeof this.store.appendCheckpoints !== 'function') {
      return this.store.appendCheckpoint(input);
    }
    return new Promise<CheckpointMeta>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      if (batch.length === 1) {
        const one = batch[0]!;
        await this.store.appendCheckpoint(one.input).then(one.resolve, one.reject);
        continue;
      }
      try {
        const results = await this.store.appendCheckpoints!(batch.map((b) => b.input));
        results.forEach((r, i) => {
          const p = batch[i]!;
          if (r.ok) p.resolve(r.meta);
          else p.reject(r.error);
        });
      } catch (e) {
        for (const p of batch) p.reject(e);
      }
    }
  }
}
