/** An in-process worker: the same WorkerClient interface as an HTTP worker, for the embedded mode and tests. */
import { SHADOW_PROTOCOL, WORKER_PROTOCOL, newId, systemClock } from '@baton/core';
import type {
  Clock,
  CompensateRequest,
  CompensateResponse,
  LedgerClient,
  MigrateRequest,
  MigrateRequestV1,
  MigrateResponse,
  TurnRequest,
  TurnRequestV1,
  TurnResponse,
  WorkerClient,
  WorkerHealthResponse,
  WorkerProtocol,
} from '@baton/core';
import type { AgentDefinition } from './agent';
import { runCompensation } from './compensate';
import { migrateCheckpoint } from './migrate';
import { runTurn } from './turn';

export interface InProcessWorkerOptions {
  id?: string;
  clock?: Clock;
}

/**
 * Serves one agent version in the caller's process. Lifecycle hooks: `open` runs before the
 * first turn (and again after `close`), `boundary` after every successful turn, `close` on `close()`.
 * Speaks protocol 2 (and still answers protocol-1 requests).
 */
export class InProcessWorker<S = unknown> implements WorkerClient {
  readonly id: string;
  readonly protocol: WorkerProtocol = WORKER_PROTOCOL;
  /** It honours `TurnRequest.shadow` (see `SHADOW_PROTOCOL`). */
  readonly shadow = SHADOW_PROTOCOL;
  private inflight = 0;
  private opened: Promise<void> | null = null;
  private closed = false;
  private readonly clock: Clock;

  constructor(
    readonly agent: AgentDefinition<S>,
    private readonly ledger: LedgerClient,
    opts: InProcessWorkerOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.id = opts.id ?? newId('wrk', this.clock.now());
  }

  private open(): Promise<void> {
    this.opened ??= Promise.resolve()
      .then(() => this.agent.hooks?.open?.())
      .then(
        () => undefined,
        (e: unknown) => {
          this.opened = null;
          throw e;
        },
      );
    return this.opened;
  }

  async turn(req: TurnRequest | TurnRequestV1, signal?: AbortSignal): Promise<TurnResponse> {
    this.inflight++;
    try {
      this.closed = false;
      await this.open();
      const res = await runTurn(this.agent, req, this.ledger, this.clock, signal ? { signal } : {});
      // a shadow turn is no boundary of any session
      if ('shadow' in req && req.shadow) return res;
      await this.agent.hooks?.boundary?.({
        sessionId: req.session.id,
        turnId: req.turnId,
        status: res.status,
      });
      return res;
    } finally {
      this.inflight--;
    }
  }

  async migrate(req: MigrateRequest | MigrateRequestV1): Promise<MigrateResponse> {
    this.inflight++;
    try {
      return await migrateCheckpoint(this.agent, req, this.ledger);
    } finally {
      this.inflight--;
    }
  }

  async compensate(req: CompensateRequest): Promise<CompensateResponse> {
    this.inflight++;
    try {
      await this.open();
      return await runCompensation(this.agent, req, this.ledger, this.clock);
    } finally {
      this.inflight--;
    }
  }

  async health(): Promise<WorkerHealthResponse> {
    const compensations = this.agent.manifest().compensations;
    return {
      ok: !this.closed,
      agent: this.agent.name,
      version: this.agent.version,
      identity: this.agent.identity,
      schemaVersion: this.agent.schemaVersion,
      inflight: this.inflight,
      protocol: this.protocol,
      shadow: SHADOW_PROTOCOL,
      ...(compensations ? { compensations } : {}),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.opened) {
      this.opened = null;
      await this.agent.hooks?.close?.();
    }
  }
}
