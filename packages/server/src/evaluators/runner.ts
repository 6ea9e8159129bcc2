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
 */
import { bucketOf, ValidationError } from '@baton/core';
import { errorMessage, type EvalResult, type EvalTurn, type Evaluator } from './types';

/** The narrow slice of the Store the runner writes to. */
export interface MetricsSink {
  recordSessionMetrics(
    sessionId: string,
    version: string,
    m: { metrics?: Record<string, number> },
  ): Promise<void>;
}

export interface EvaluationRunnerOptions {
  evaluators: Evaluator[];
  sink: MetricsSink;
  /** Fraction of completed turns to evaluate, 0..1 (default 1). */
  sampleRate?: number;
  /** Evaluations in flight at most (default 4). */
  concurrency?: number;
  /** Turns waiting at most; more are dropped (default 10 000). */
  maxQueue?: number;
  /** Called when recording to the sink fails (the result is lost, the runner keeps going). */
  onSinkError?: (e: unknown, turn: EvalTurn) => void;
}

export interface EvaluationStats {
  submitted: number;
  sampled: number;
  dropped: number;
  scored: number;
  errors: number;
  skipped: number;
  sinkErrors: number;
  /** Per evaluator: scores, errors, skips. */
  byEvaluator: Record<string, { scored: number; errors: number; skipped: number }>;
}

export class EvaluationRunner {
  private readonly evaluators: Evaluator[];
  private readonly sink: MetricsSink;
  private readonly sampleRate: number;
  private readonly concurrency: number;
  private readonly maxQueue: number;
  private readonly queue: EvalTurn[] = [];
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly s: EvaluationStats;

  constructor(private readonly opts: EvaluationRunnerOptions) {
    this.evaluators = opts.evaluators;
    const names = new Set<string>();
    for (const e of this.evaluators) {
      if (names.has(e.name))
        throw new ValidationError(`duplicate evaluator name '${e.name}'`, { name: e.name });
      names.add(e.name);
    }
    this.sink = opts.sink;
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
      byEvaluator: Object.fromEntries(
        this.evaluators.map((e) => [e.name, { scored: 0, errors: 0, skipped: 0 }]),
      ),
    };
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
    if (this.queue.length >= this.maxQueue) {
      this.s.dropped++;
      return false;
    }
    this.s.sampled++;
    this.queue.push(turn);
    this.pump();
    return true;
  }

  /** Resolves once the queue is empty and nothing is in flight. */
  drain(): Promise<void> {
    if (this.active === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stats(): EvaluationStats {
    return structuredClone(this.s);
  }

  private pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0) {
      const turn = this.queue.shift()!;
      this.active++;
      void this.run(turn).finally(() => {
        this.active--;
        this.pump();
        if (this.active === 0 && this.queue.length === 0) {
          const w = this.idleWaiters;
          this.idleWaiters = [];
          for (const r of w) r();
        }
      });
    }
  }

  private async run(turn: EvalTurn): Promise<void> {
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
    if (Object.keys(metrics).length === 0) return;
    try {
      await this.sink.recordSessionMetrics(turn.sessionId, turn.version, { metrics });
    } catch (err) {
      this.s.sinkErrors++;
      this.opts.onSinkError?.(err, turn);
    }
  }
}
