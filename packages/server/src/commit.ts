/**
 * Group commit: the turn commits that arrive in the same event-loop turn are written with one
 * `appendCheckpoints` call (one transaction, one fsync), each applied or refused on its own.
 * Backends without `appendCheckpoints` get one `appendCheckpoint` per commit.
 */
import type { CheckpointMeta } from '@baton/core';
import type { AppendCheckpointInput, BeginTurnInput, BeginTurnResult, Store } from '@baton/store';

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

interface PendingBegin {
  input: BeginTurnInput;
  resolve(r: BeginTurnResult): void;
  reject(e: unknown): void;
}

/**
 * Group begin: the turn starts (`beginTurn`: stored result, lease, session, latest checkpoint) that
 * arrive in the same event-loop turn go to the store in one `beginTurns` transaction, so the lease
 * writes share a commit (and its fsync) as the turn commits do. Each is answered or refused on its
 * own. Backends without `beginTurns` get one `beginTurn` per call.
 */
export class BeginBatcher {
  private queue: PendingBegin[] = [];
  private scheduled = false;

  constructor(
    private readonly store: Store,
    private readonly maxBatch = 256,
    private readonly enabled = true,
  ) {}

  begin(input: BeginTurnInput): Promise<BeginTurnResult> {
    if (!this.enabled || typeof this.store.beginTurns !== 'function') {
      return this.store.beginTurn!(input.sessionId, input.key, input.owner, input.ttlMs);
    }
    return new Promise<BeginTurnResult>((resolve, reject) => {
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
        const { input: i, resolve, reject } = batch[0]!;
        await this.store.beginTurn!(i.sessionId, i.key, i.owner, i.ttlMs).then(resolve, reject);
        continue;
      }
      try {
        const results = await this.store.beginTurns!(batch.map((b) => b.input));
        results.forEach((r, i) => {
          const p = batch[i]!;
          if (r.kind === 'error') p.reject(r.error);
          else p.resolve(r);
        });
      } catch (e) {
        for (const p of batch) p.reject(e);
      }
    }
  }
}
