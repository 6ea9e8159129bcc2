/**
 * Runs evaluators asynchronously over a sample of completed turns and records the results as
 * session telemetry: a score as the metric `eval.<name>` (so gates read it as `eval.<name>`,
 * a per-session mean), a failure as the counter `evalerr.<name>` (value 1 per failure; read it
 * with `metric.evalerr.<name>`). Failures are never recorded as scores.
 *
 * Sampling is deterministic per turn (a hash of the turn id), so a retried or replayed turn
 * is sampled the same way, and both arms of a rollout are sampled at the same rate.
 * Concurrency is bounded; the queue is bounded too, and turns arriving at a full queue are
 * dropped (counted), so a slow judge never makes the serving path wait or grow memory.
 *
 * With a store as the sink (`startBaton` passes its store) the queue is durable (queue.ts): a
 * turn is queued in the store, claimed for `claimTtlMs` while its evaluators run, and its metrics
 * are recorded with the job marked done in one transaction, at most once. Jobs a crashed process
 * left are resumed by any process of the store (at start, then every `resumeIntervalMs`); a crash
 * may repeat an evaluator call, never the recording.
 */
import { bucketOf, randomToken, ValidationError } from '@baton/core';
import { isEvaluationStore, MemoryQueue, StoreQueue } from './queue';
import type { EvaluationQueue, MetricsSink, QueuedEvaluation } from './queue';
import { errorMessage, type EvalResult, type EvalTurn, type Evaluator } from './types';

export type { MetricsSink } from './queue';

export interface EvaluationRunnerOptions {
  evaluators: Evaluator[];
  /** Where results go: a store (durable queue) or any metrics sink (in-memory queue). */
  sink: MetricsSink;
  /** Fraction of completed turns to evaluate, 0..1 (default 1). */
  sampleRate?: number;
  /** Evaluations in flight at most (default 4). */
  concurrency?: number;
  /** Turns waiting at most; more are dropped (default 10 000). */
  maxQueue?: number;
  /** Called when recording to the sink fails (in memory the result is lost; durable, it is retried). */
  onSinkError?: (e: unknown, turn: EvalTurn) => void;
  /** Durable queue: how long a claimed job is held before another process may take it (default 60 s). */
  claimTtlMs?: number;
  /** Durable queue: how often jobs left by other (crashed) processes are looked for (default 5 s). */
  resumeIntervalMs?: number;
  /** Durable queue: this runner's name on its claims (default random). */
  owner?: string;
}

export interface EvaluationStats {
  submitted: number;
  sampled: number;
  dropped: number;
  scored: number;
  errors: number;
  skipped: number;
  sinkErrors: number;
  /** Durable queue: jobs whose results another attempt had recorded already (nothing recorded twice). */
  alreadyRecorded: number;
  /** Per evaluator: scores, errors, skips. */
  byEvaluator: Record<string, { scored: number; errors: number; skipped: number }>;
}

export class EvaluationRunner {
  private readonly evaluators: Evaluator[];
  private readonly sampleRate: number;
  private readonly concurrency: number;
  private readonly maxQueue: number;
  private readonly queue: EvaluationQueue;
  private readonly memory: MemoryQueue | null;
  /** Turns this runner queued (durable) and no runner of it took yet: what maxQueue bounds. */
  private outstanding = 0;
  private pushing = 0;
  private taking = false;
  private wake = false;
  private stopped = false;
  private readonly timer: ReturnType<typeof setInterval> | null = null;
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly s: EvaluationStats;

  /** The evaluators it runs (a shadow stage scores blue's and green's answers with them too). */
  list(): readonly Evaluator[] {
    return this.evaluators;
  }

  constructor(private readonly opts: EvaluationRunnerOptions) {
    this.evaluators = opts.evaluators;
    const names = new Set<string>();
    for (const e of this.evaluators) {
      if (names.has(e.name))
        throw new ValidationError(`duplicate evaluator name '${e.name}'`, { name: e.name });
      names.add(e.name);
    }
    this.sampleRate = opts.sampleRate ?? 1;
    if (!(this.sampleRate >= 0 && this.sampleRate <= 1)) {
      throw new ValidationError('sampleRate must be within [0, 1]', { sampleRate: opts.sampleRate });
    }
    this.concurrency = opts.concurrency ?? 4;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new ValidationError('concurrency must be a positive integer', { concurrency: opts.concurrency });
    }
    this.maxQueue = opts.maxQueue ?? 10_000;
    this.s = {
      submitted: 0,
      sampled: 0,
      dropped: 0,
      scored: 0,
      errors: 0,
      skipped: 0,
      sinkErrors: 0,
      alreadyRecorded: 0,
      byEvaluator: Object.fromEntries(
        this.evaluators.map((e) => [e.name, { scored: 0, errors: 0, skipped: 0 }]),
      ),
    };
    if (isEvaluationStore(opts.sink)) {
      const owner = opts.owner ?? `eval_${randomToken(9)}`;
      this.queue = new StoreQueue(opts.sink, owner, opts.claimTtlMs ?? 60_000);
      this.memory = null;
      this.timer = setInterval(() => this.pump(), opts.resumeIntervalMs ?? 5000);
      this.timer.unref();
      this.pump(); // jobs left by an earlier process
    } else {
      this.memory = new MemoryQueue(opts.sink);
      this.queue = this.memory;
    }
  }

  /** Whether queued turns survive a crash (the sink is a store). */
  get durable(): boolean {
    return this.queue.durable;
  }

  /** Whether a turn falls in the sample (deterministic in the turn id). */
  sampled(turnId: string): boolean {
    if (this.sampleRate >= 1) return true;
    if (this.sampleRate <= 0) return false;
    return bucketOf(turnId, 'baton-eval') < this.sampleRate * 100;
  }

  /** Offer a completed turn; returns whether it was queued. Never waits for the evaluation. */
  submit(turn: EvalTurn): boolean {
    this.s.submitted++;
    if (!this.sampled(turn.turnId)) return false;
    const waiting = this.memory ? this.memory.length : this.outstanding;
    if (waiting >= this.maxQueue) {
      this.s.dropped++;
      return false;
    }
    this.s.sampled++;
    const pushed = this.queue.push(turn);
    if (typeof pushed === 'boolean') {
      this.pump();
      return true;
    }
    this.outstanding++;
    this.pushing++;
    void pushed
      .catch((e: unknown) => {
        this.outstanding--;
        this.s.sinkErrors++;
        this.opts.onSinkError?.(e, turn);
      })
      .finally(() => {
        this.pushing--;
        this.pump();
      });
    return true;
  }

  /** Resolves once nothing is queued (that this process can take) and nothing is in flight. */
  drain(): Promise<void> {
    if (this.queue.durable && !this.stopped) this.pump(); // look in the store once more
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stop taking new jobs (those in flight finish; durable ones left are resumed by the next process). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.settle();
  }

  stats(): EvaluationStats {
    return structuredClone(this.s);
  }

  private idle(): boolean {
    const queued = this.memory !== null && this.memory.length > 0;
    return this.active === 0 && this.pushing === 0 && !this.taking && (this.stopped || !queued);
  }

  private settle(): void {
    if (!this.idle()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }

  /** Fill the free slots: synchronously from memory, through one claim at a time from the store. */
  private pump(): void {
    if (this.taking) {
      this.wake = true;
      return;
    }
    while (!this.stopped && this.active < this.concurrency) {
      this.wake = false;
      const got = this.queue.take(this.concurrency - this.active);
      if (Array.isArray(got)) {
        if (got.length === 0) break;
        this.start(got);
        continue;
      }
      this.taking = true;
      void got.then(
        (jobs) => {
          this.taking = false;
          this.start(jobs);
          if (jobs.length > 0 || this.wake) this.pump();
          else this.settle();
        },
        (e: unknown) => {
          this.taking = false;
          this.s.sinkErrors++;
          this.opts.onSinkError?.(e, { sessionId: '', version: '', turnId: '', input: null, output: null });
          this.settle();
        },
      );
      return;
    }
    this.settle();
  }

  private start(jobs: QueuedEvaluation[]): void {
    for (const job of jobs) {
      if (this.outstanding > 0) this.outstanding--;
      this.active++;
      void this.run(job).finally(() => {
        this.active--;
        this.pump();
      });
    }
  }

  private async run(job: QueuedEvaluation): Promise<void> {
    const turn = job.turn;
    const results = await Promise.all(
      this.evaluators.map(async (e): Promise<[Evaluator, EvalResult]> => {
        try {
          const r = await e.evaluate(turn);
          if ('score' in r && !(Number.isFinite(r.score) && r.score >= 0 && r.score <= 1)) {
            return [e, { error: `score ${r.score} outside [0, 1]` }];
          }
          return [e, r];
        } catch (err) {
          return [e, { error: errorMessage(err) }];
        }
      }),
    );
    const metrics: Record<string, number> = {};
    for (const [e, r] of results) {
      const st = this.s.byEvaluator[e.name]!;
      if ('score' in r) {
        metrics[`eval.${e.name}`] = r.score;
        st.scored++;
        this.s.scored++;
      } else if ('error' in r) {
        metrics[`evalerr.${e.name}`] = 1;
        st.errors++;
        this.s.errors++;
      } else {
        st.skipped++;
        this.s.skipped++;
      }
    }
    try {
      // a durable job is marked done even without metrics (all skipped), so it is not taken again
      const recorded = await this.queue.record(job, metrics);
      if (!recorded) this.s.alreadyRecorded++;
    } catch (err) {
      // durable: the job stays pending and is taken again once its claim expires
      this.s.sinkErrors++;
      this.opts.onSinkError?.(err, turn);
    }
  }
}
