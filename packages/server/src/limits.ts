/** The server's limits: body sizes, timeouts, lease times, caches; one table of defaults. */
import type { HistoryRetention } from '@baton/core';

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
  /**
   * Cache an agent's routing table this long (default 1 s; 0: read it on every turn). A cached route
   * is used only while its revision is the one `beginTurn` reads, so a change is seen at once.
   */
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
  routeCacheMs: 1_000,
  groupCommit: true,
  historyRetention: null,
  workerSyncMs: 1_000,
  readyMaxStaleMs: 10_000,
  jsonDepth: 64,
  maxParamLength: 200,
  requestTimeoutMs: 60_000,
  headersTimeoutMs: 20_000,
};
