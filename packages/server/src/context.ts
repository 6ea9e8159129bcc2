/** What the server's modules share: store, clock, pool, metrics, auth, limits and the wait-expiry port. */
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '@baton/core';
import type { Capabilities } from './capability';
import type { Store } from '@baton/store';
import type { Auth } from './auth';
import type { EvaluationRunner } from './evaluators/runner';
import type { Metrics } from './metrics';
import type { WorkerPool } from './pool';
import type { VersionCache } from './versions';
import type { Limits } from './limits';
import type { WaitExpiry } from './wait-expiry';

export { DEFAULT_LIMITS, type Limits } from './limits';
export {
  VersionCache,
  compensationsOf,
  historyPolicyOf,
  historyWindowOf,
  retentionOf,
  versionMetadata,
} from './versions';
export type { WaitExpiry } from './wait-expiry';

export interface ServerContext {
  store: Store;
  clock: Clock;
  /** Unique per server instance; lease owners are derived from it. */
  instanceId: string;
  limits: Limits;
  auth: Auth;
  metrics: Metrics;
  pool: WorkerPool;
  /** Fires the `timeout` turn of a wait whose deadline passed (the controller's port into the traffic half). */
  waitExpiry: WaitExpiry;
  versions: VersionCache;
  log: FastifyBaseLogger;
  /** Evaluators run on a sample of committed turns (their scores become `eval.<name>`), or null. */
  evaluations: EvaluationRunner | null;
  /** Issues and checks turn capabilities. */
  capabilities: Capabilities;
}
