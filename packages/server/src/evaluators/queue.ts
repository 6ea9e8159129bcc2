/**
 * Where the evaluation runner keeps the turns waiting for their evaluators: in memory (a sink
 * that only records metrics), or in the store (durable: queued turns survive a crash and any
 * process of the store resumes them; each job's metrics are recorded exactly once).
 */
import type { EvaluationJob } from '@baton/store';
import type { EvalTurn } from './types';

/** The narrow slice of the Store the in-memory runner writes to. */
export interface MetricsSink {
  recordSessionMetrics(
    sessionId: string,
    version: string,
    m: { metrics?: Record<string, number> },
  ): Promise<void>;
}

/** The slice of the Store a durable queue needs. */
export interface EvaluationStore extends MetricsSink {
  enqueueEvaluation(job: { id: string; sessionId: string; version: string; turn: unknown }): Promise<boolean>;
  claimEvaluations(owner: string, limit: number, ttlMs: number): Promise<EvaluationJob[]>;
  completeEvaluation(id: string, metrics: Record<string, number>): Promise<boolean>;
}

export function isEvaluationStore(s: MetricsSink): s is EvaluationStore {
  const e = s as Partial<EvaluationStore>;
  return (
    typeof e.enqueueEvaluation === 'function' &&
    typeof e.claimEvaluations === 'function' &&
    typeof e.completeEvaluation === 'function'
  );
}

export interface QueuedEvaluation {
  id: string;
  turn: EvalTurn;
}

/** `take` answers synchronously when it can (the in-memory queue), so bursts fill the slots at once. */
export interface EvaluationQueue {
  readonly durable: boolean;
  /** Queue a turn; false when it was not (already queued). */
  push(turn: EvalTurn): Promise<boolean> | boolean;
  take(n: number): QueuedEvaluation[] | Promise<QueuedEvaluation[]>;
  /** Record the job's metrics at most once; true when this call recorded them. */
  record(job: QueuedEvaluation, metrics: Record<string, number>): Promise<boolean>;
}

export function jobId(turn: EvalTurn): string {
  return `${turn.sessionId}:${turn.turnId}`;
}

export class MemoryQueue implements EvaluationQueue {
  readonly durable = false;
  private readonly items: QueuedEvaluation[] = [];

  constructor(private readonly sink: MetricsSink) {}

  get length(): number {
    return this.items.length;
  }

  push(turn: EvalTurn): boolean {
    this.items.push({ id: jobId(turn), turn });
    return true;
  }

  take(n: number): QueuedEvaluation[] {
    return this.items.splice(0, n);
  }

  async record(job: QueuedEvaluation, metrics: Record<string, number>): Promise<boolean> {
    if (Object.keys(metrics).length === 0) return true;
    await this.sink.recordSessionMetrics(job.turn.sessionId, job.turn.version, { metrics });
    return true;
  }
}

export class StoreQueue implements EvaluationQueue {
  readonly durable = true;

  constructor(
    private readonly store: EvaluationStore,
    private readonly owner: string,
    private readonly claimTtlMs: number,
  ) {}

  push(turn: EvalTurn): Promise<boolean> {
    return this.store.enqueueEvaluation({
      id: jobId(turn),
      sessionId: turn.sessionId,
      version: turn.version,
      turn,
    });
  }

  async take(n: number): Promise<QueuedEvaluation[]> {
    const jobs = await this.store.claimEvaluations(this.owner, n, this.claimTtlMs);
    return jobs.map((j) => ({ id: j.id, turn: j.turn as EvalTurn }));
  }

  record(job: QueuedEvaluation, metrics: Record<string, number>): Promise<boolean> {
    return this.store.completeEvaluation(job.id, metrics);
  }
}
