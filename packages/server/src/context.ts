/** What the server's modules share: store, clock, pool, router, metrics, auth and limits. */
import type { FastifyBaseLogger } from 'fastify';
import { windowOf } from '@baton/core';
import type { Clock, HistoryPolicy, HistoryRetention, HistoryWindow, VersionRecord } from '@baton/core';
import type { Capabilities } from './capability';
import type { Store } from '@baton/store';
import type { Auth } from './auth';
import type { EvaluationRunner } from './evaluators/runner';
import type { Metrics } from './metrics';
import type { WorkerPool } from './pool';
import type { Router } from './router';

export interface Limits {
  /** Largest accepted request body in bytes (default 1 MiB). */
  bodyBytes: number;
  /** How long a worker may take for one turn (default 30 s). */
  turnTimeoutMs: number;
  /** How long a turn capability outlives the turn deadline (default 5 s; the lease epoch is the real fence). */
  leaseMarginMs: number;
  /**
   * The session lease a turn or migration takes, renewed while it runs (default 3 s): a crashed
   * router's sessions are free again at most this long after its last renewal.
   */
  leaseMs: number;
  /** How often a running turn renews its lease (default 1 s; less than `leaseMs`). */
  leaseRenewMs: number;
  /** How long a callback waits for a busy session before answering SESSION_BUSY (default 10 s). */
  callbackBusyWaitMs: number;
  /** Worker health-check period (default 5 s; 0 disables the timer). */
  healthIntervalMs: number;
  /** How long a worker may take to answer a migration (default 30 s). */
  migrateTimeoutMs: number;
  /** How long a worker may take to run one compensation (default 30 s); a run holds its effect this long plus the lease margin. */
  compensateTimeoutMs: number;
  /** Cache an agent's routing table this long (default 0: read it on every turn). */
  routeCacheMs: number;
  /**
   * Commit the turns that finish in the same event-loop turn in one store transaction, and start
   * the turns that arrive in the same event-loop turn in one (default true; needs a backend with
   * `appendCheckpoints` / `beginTurns`, otherwise one transaction per turn and per start).
   */
  groupCommit: boolean;
  /**
   * History retention for every agent version on this server, overriding what the versions
   * declare (null: each version's own policy; a version without one keeps its whole history).
   */
  historyRetention: HistoryRetention | null;
  /** How often the worker pool re-reads the store's worker records (default 1 s; 0: only at start). */
  workerSyncMs: number;
  /** `/readyz` answers 503 once the last successful worker sync is older than this (default 10 s). */
  readyMaxStaleMs: number;
  /** Deepest nesting of arrays and objects accepted in a JSON body (default 64). */
  jsonDepth: number;
  /** Longest path segment (an id, a callback token) in characters (default 200). */
  maxParamLength: number;
  /** How long a client may take to send a whole request, headers and body (default 60 s; 0 is refused). */
  requestTimeoutMs: number;
  /** How long a client may take to send the request headers (default 20 s; at most `requestTimeoutMs`). */
  headersTimeoutMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  bodyBytes: 1024 * 1024,
  turnTimeoutMs: 30_000,
  leaseMarginMs: 5_000,
  leaseMs: 3_000,
  leaseRenewMs: 1_000,
  callbackBusyWaitMs: 10_000,
  healthIntervalMs: 5_000,
  migrateTimeoutMs: 30_000,
  compensateTimeoutMs: 30_000,
  routeCacheMs: 0,
  groupCommit: true,
  historyRetention: null,
  workerSyncMs: 1_000,
  readyMaxStaleMs: 10_000,
  jsonDepth: 64,
  maxParamLength: 200,
  requestTimeoutMs: 60_000,
  headersTimeoutMs: 20_000,
};

export interface ServerContext {
  store: Store;
  clock: Clock;
  /** Unique per server instance; lease owners are derived from it. */
  instanceId: string;
  limits: Limits;
  auth: Auth;
  metrics: Metrics;
  pool: WorkerPool;
  router: Router;
  versions: VersionCache;
  log: FastifyBaseLogger;
  /** Evaluators run on a sample of committed turns (their scores become `eval.<name>`), or null. */
  evaluations: EvaluationRunner | null;
  /** Issues and checks turn capabilities. */
  capabilities: Capabilities;
}

/** A version's metadata as registered: the given metadata plus its history policy, if it declares one. */
export function versionMetadata(
  metadata: Record<string, unknown> | undefined,
  history: HistoryPolicy | undefined,
  compensations?: string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = history ? { ...(metadata ?? {}), history } : { ...(metadata ?? {}) };
  if (compensations && compensations.length > 0) out.compensations = [...compensations].sort();
  return out;
}

/** The compensations a version declared in its manifest (kept in the version's metadata). */
export function compensationsOf(v: VersionRecord): string[] {
  const c = (v.metadata as { compensations?: unknown }).compensations;
  return Array.isArray(c) ? c.filter((x): x is string => typeof x === 'string') : [];
}

/** The history policy a version declared in its manifest (kept in the version's metadata). */
export function historyPolicyOf(v: VersionRecord): HistoryPolicy | undefined {
  return (v.metadata as { history?: HistoryPolicy }).history;
}

/** The window of history a version's workers receive with each turn. */
export function historyWindowOf(v: VersionRecord): HistoryWindow {
  return windowOf(historyPolicyOf(v));
}

/** The retention applied when a version's turns commit: the server's override, else the version's. */
export function retentionOf(v: VersionRecord, limits: Limits): HistoryRetention | undefined {
  return limits.historyRetention ?? historyPolicyOf(v)?.retention ?? undefined;
}

/** Versions are immutable once registered, so they are cached forever. */
export class VersionCache {
  private readonly cache = new Map<string, VersionRecord>();
  constructor(private readonly store: Store) {}
  async get(agent: string, label: string): Promise<VersionRecord> {
    const k = `${agent}\0${label}`;
    const hit = this.cache.get(k);
    if (hit) return hit;
    const v = await this.store.getVersion(agent, label);
    this.cache.set(k, v);
    return v;
  }
  remember(v: VersionRecord): void {
    this.cache.set(`${v.agent}\0${v.label}`, v);
  }
}
