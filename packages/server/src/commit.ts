/**
 * Group commit. The store writes that arrive in the same event-loop turn, or while the batches in
 * flight run, go to the store in one batched call (one transaction, one fsync), each answered or
 * refused on its own:
 * - turn commits (`appendCheckpoint` → `appendCheckpoints`);
 * - turn starts (`beginTurn`: stored result, lease, session, latest checkpoint → `beginTurns`), so
 *   the lease writes share a commit as the turn commits do.
 * Backends without the batched method (or with grouping disabled) get one call per item.
 */
import type { CheckpointMeta } from '@baton/core';
import type { AppendCheckpointInput, BeginTurnInput, BeginTurnResult, Store } from '@baton/store';

/** One item's answer from a batched call: a value, or the error that refused it. */
type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

interface Pending<I, R> {
  input: I;
  resolve(r: R): void;
  reject(e: unknown): void;
}

/**
 * A further batch goes in flight beside a running one only when the queue fills it with at least
 * this many items. A transaction has a fixed cost (a statement's execution, the commit, the WAL
 * flush), and on a busy database concurrent small ones mostly contend. On PostgreSQL (2 cores shared
 * with the server), 50 sessions committing at once through a pool of 8 made 2,000–2,800 appends/s in
 * batches of about 6 on 8 connections, and 3,380–4,116/s with this minimum in a scratch loop of the
 * same workload; `npm run bench -- store --concurrent` went from 2.9x LangGraph's rate to 3.6–5.1x
 * (docs/benchmarks.md, "Concurrent appends"). A load that fills every slot with batches this large
 * still uses them all.
 */
export const MIN_PARALLEL_BATCH = 16;

/**
 * Queues items until the event loop turns, then hands them to `many` in batches of at most
 * `maxBatch`, with at most `parallel` batches in flight (one per connection a backend can write
 * on in parallel: 1 for SQLite, the pool size for PostgreSQL). The first batch always goes; a
 * further one only when the queue holds `minBatch` items for it (`MIN_PARALLEL_BATCH`). What
 * arrives while the batches in flight run waits for the next free slot and goes with the rest of
 * the queue: starting a flush per arrival instead would spread a few items over every connection,
 * in batches of one.
 */
class Batcher<I, R> {
  private queue: Array<Pending<I, R>> = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(
    private readonly one: (input: I) => Promise<R>,
    /** Null when the backend has no batched call or grouping is disabled. */
    private readonly many: ((inputs: I[]) => Promise<Array<Outcome<R>>>) | null,
    private readonly maxBatch: number,
    private readonly parallel = 1,
    private readonly minBatch = MIN_PARALLEL_BATCH,
  ) {}

  submit(input: I): Promise<R> {
    if (!this.many) return this.one(input);
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.pump());
      }
    });
  }

  /**
   * Fill free slots: as many as the queue fills with `minBatch` items each (at least one when none
   * is busy), the queue spread over them as evenly as possible.
   */
  private pump(): void {
    this.scheduled = false;
    while (this.queue.length > 0 && this.inFlight < this.parallel) {
      if (this.inFlight > 0 && this.queue.length < this.minBatch) break;
      const slots = Math.min(
        this.parallel - this.inFlight,
        Math.max(1, Math.floor(this.queue.length / this.minBatch)),
      );
      const batch = this.queue.splice(0, Math.min(this.maxBatch, Math.ceil(this.queue.length / slots)));
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.pump();
      });
    }
  }

  private async run(batch: Array<Pending<I, R>>): Promise<void> {
    if (batch.length === 1) {
      const p = batch[0]!;
      await this.one(p.input).then(p.resolve, p.reject);
      return;
    }
    try {
      const results = await this.many!(batch.map((b) => b.input));
      results.forEach((r, i) => {
        const p = batch[i]!;
        if (r.ok) p.resolve(r.value);
        else p.reject(r.error);
      });
    } catch (e) {
      for (const p of batch) p.reject(e);
    }
  }
}

export class CommitBatcher {
  private readonly batcher: Batcher<AppendCheckpointInput, CheckpointMeta>;

  constructor(
    store: Store,
    /** Largest batch per transaction. */ maxBatch = 256,
    enabled = true,
    /** Smallest batch that goes in flight beside another. */ minBatch = MIN_PARALLEL_BATCH,
  ) {
    const many = store.appendCheckpoints?.bind(store);
    this.batcher = new Batcher(
      (input) => store.appendCheckpoint(input),
      enabled && many
        ? async (inputs) =>
            (await many(inputs)).map((r) =>
              r.ok ? { ok: true, value: r.meta } : { ok: false, error: r.error },
            )
        : null,
      maxBatch,
      store.parallelWrites ?? 1,
      minBatch,
    );
  }

  commit(input: AppendCheckpointInput): Promise<CheckpointMeta> {
    return this.batcher.submit(input);
  }
}

export class BeginBatcher {
  private readonly batcher: Batcher<BeginTurnInput, BeginTurnResult>;

  /**
   * `minBatch` 1 by default: PostgreSQL's `beginTurns` runs a statement per item in its transaction,
   * so a group of turn starts waits for a round trip per item, and spreading the queue over the
   * connections shortens that wait (the minimum batch pays off for commits, one statement per batch).
   */
  constructor(store: Store, maxBatch = 256, enabled = true, minBatch = 1) {
    const many = store.beginTurns?.bind(store);
    this.batcher = new Batcher(
      (i) => store.beginTurn(i.sessionId, i.key, i.owner, i.ttlMs, i.window, i.tokenHash),
      enabled && many
        ? async (inputs) =>
            (await many(inputs)).map((r) =>
              r.kind === 'error' ? { ok: false, error: r.error } : { ok: true, value: r },
            )
        : null,
      maxBatch,
      store.parallelWrites ?? 1,
      minBatch,
    );
  }

  begin(input: BeginTurnInput): Promise<BeginTurnResult> {
    return this.batcher.submit(input);
  }
}
