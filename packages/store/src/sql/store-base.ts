/**
 * The methods both backends share, written once over the plans of this folder: a backend extends
 * `SqlStore`, says how it runs a plan (`runPlan`, `runInTx`: see `dialect.ts`) and how it adds
 * metrics to a session's aggregate, and implements the rest of `Store` itself (its hot paths, its
 * checkpoint and history reads, its schema). The shared methods are instance properties typed by
 * the `Store` interface (their signatures are written once, there); TypeScript refuses a backend
 * method of the same name, which the property would shadow.
 */
import { cipherFor } from '../cipher';
import type { RecordCipher } from '../cipher';
import {
  DEFAULT_KEEP_CHECKPOINTS,
  DEFAULT_MAX_CHECKPOINT_BYTES,
  DEFAULT_MAX_HISTORY_ENTRY_BYTES,
} from '../common';
import type { AppendLimits } from '../common';
import { CompensationLedger } from '../compensation';
import { reencrypt } from '../reencrypt';
import type { Store, StoreOptions } from '../store';
import * as catalog from './catalog';
import { one } from './dialect';
import type { Dialect, Plan, PlanRunner, SqlContext } from './dialect';
import * as effects from './effects';
import * as journal from './journal';
import * as leases from './leases';
import * as queues from './queues';
import * as rollouts from './rollouts';
import * as sessions from './sessions';
import * as telemetry from './telemetry';

type Metrics = { metrics?: Record<string, number>; signals?: Record<string, number> };

export abstract class SqlStore implements SqlContext, PlanRunner {
  readonly now: () => number;
  /** Encryption at rest (a no-op without a current key). */
  readonly cipher: RecordCipher;
  protected readonly limits: AppendLimits;
  /** Checkpoints kept per session by every append. */
  protected readonly keep: number;
  protected readonly compensations: CompensationLedger;

  protected constructor(
    readonly dialect: Dialect,
    opts: StoreOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.cipher = cipherFor(opts.encryption);
    this.limits = {
      maxCheckpointBytes: opts.maxCheckpointBytes ?? DEFAULT_MAX_CHECKPOINT_BYTES,
      maxHistoryEntryBytes: opts.maxHistoryEntryBytes ?? DEFAULT_MAX_HISTORY_ENTRY_BYTES,
    };
    this.keep = opts.keepCheckpoints ?? DEFAULT_KEEP_CHECKPOINTS;
    this.compensations = new CompensationLedger(
      (sql, args) => this.runPlan(one(sql, args, true)),
      () => this.now(),
      this.cipher,
    );
  }

  abstract runPlan<T>(plan: Plan<T>): Promise<T>;
  abstract runInTx<T>(op: string, plan: Plan<T>): Promise<T>;

  /** A plan adding metrics and signal counts to the session's aggregate for `version` (SESSION_NOT_FOUND for an unknown session). */
  protected abstract addMetrics(sessionId: string, version: string, m: Metrics): Plan<void>;

  /** Rewrite sealed records under the current key (`reencrypt.ts`), each batch in its own transaction. */
  reencrypt(opts?: Parameters<Store['reencrypt']>[0]): ReturnType<Store['reencrypt']> {
    return reencrypt(this, this.cipher, opts);
  }

  // ---------- versions, workers, routes ----------

  registerVersion: Store['registerVersion'] = (v) => this.runPlan(catalog.registerVersion(this, v));
  getVersion: Store['getVersion'] = (agent, label) => this.runPlan(catalog.getVersion(agent, label));
  listVersions: Store['listVersions'] = (agent) => this.runPlan(catalog.listVersions(agent));
  registerWorker: Store['registerWorker'] = (w) => this.runPlan(catalog.registerWorker(this, w));
  updateWorker: Store['updateWorker'] = (id, patch) => this.runPlan(catalog.updateWorker(this, id, patch));
  removeWorker: Store['removeWorker'] = (id) => this.runPlan(catalog.removeWorker(id));
  listWorkers: Store['listWorkers'] = (q) => this.runPlan(catalog.listWorkers(q));
  getRoute: Store['getRoute'] = (agent) => this.runPlan(catalog.getRoute(agent));
  setRoute: Store['setRoute'] = (r) => this.runPlan(catalog.setRoute(this, r));

  // ---------- sessions, leases, leader locks ----------

  createSession: Store['createSession'] = (input) => this.runPlan(sessions.createSession(this, input));
  getSession: Store['getSession'] = (id) => this.runPlan(sessions.getSession(id));
  listSessions: Store['listSessions'] = (q) => this.runPlan(sessions.listSessions(q));
  countSessions: Store['countSessions'] = (q) => this.runPlan(sessions.countSessions(q));
  updateSession: Store['updateSession'] = (id, expect, patch) =>
    this.runPlan(sessions.updateSession(this, id, expect, patch));
  quarantineSession: Store['quarantineSession'] = (id, reason) =>
    this.runPlan(sessions.quarantineSession(this, id, reason));
  acquireLease: Store['acquireLease'] = (sessionId, owner, ttlMs) =>
    this.runPlan(leases.acquireLease(this, sessionId, owner, ttlMs));
  renewLease: Store['renewLease'] = (lease, ttlMs) => this.runPlan(leases.renewLease(this, lease, ttlMs));
  releaseLease: Store['releaseLease'] = (lease) => this.runPlan(leases.releaseLease(lease));
  acquireLock: Store['acquireLock'] = (name, owner, ttlMs) =>
    this.runPlan(leases.acquireLock(this, name, owner, ttlMs));
  releaseLock: Store['releaseLock'] = (name, owner) => this.runPlan(leases.releaseLock(name, owner));

  // ---------- checkpoint list, migrations, waits, steps, turn results ----------

  listCheckpoints: Store['listCheckpoints'] = (sessionId, q) =>
    this.runPlan(journal.listCheckpoints(sessionId, q));
  listMigrations: Store['listMigrations'] = (q) => this.runPlan(journal.listMigrations(q));
  recordMigrationFailure: Store['recordMigrationFailure'] = (r) =>
    this.runPlan(journal.recordMigrationFailure(r));
  getWait: Store['getWait'] = (token) => this.runPlan(journal.getWait(token));
  listWaits: Store['listWaits'] = (q) => this.runPlan(journal.listWaits(q));
  listSteps: Store['listSteps'] = (sessionId, turnId) =>
    this.runPlan(journal.listSteps(this, sessionId, turnId));
  putStep: Store['putStep'] = (sessionId, turnId, index, name, result) =>
    this.runPlan(journal.putStep(this, sessionId, turnId, index, name, result));
  getTurnResult: Store['getTurnResult'] = (sessionId, key) =>
    this.runPlan(journal.getTurnResult(this, sessionId, key));
  putTurnResult: Store['putTurnResult'] = (sessionId, key, result) =>
    this.runPlan(journal.putTurnResult(this, sessionId, key, result));

  // ---------- effects and their compensations ----------

  recordEffectIntent: Store['recordEffectIntent'] = (input) =>
    this.runPlan(effects.recordEffectIntent(this, input));
  commitEffect: Store['commitEffect'] = (key, result) =>
    this.runPlan(effects.transitionEffect(this, key, 'commit', result));
  failEffect: Store['failEffect'] = (key, error) =>
    this.runPlan(effects.transitionEffect(this, key, 'fail', error));
  getEffect: Store['getEffect'] = (key) => this.runPlan(effects.getEffect(this, key));
  listEffects: Store['listEffects'] = (q) => this.runPlan(effects.listEffects(this, q));
  resolveEffect: Store['resolveEffect'] = (id, r) => this.runPlan(effects.resolveEffect(this, id, r));
  getEffectById: Store['getEffectById'] = (id) => this.compensations.getById(id);
  claimCompensation: Store['claimCompensation'] = (id, claim) => this.compensations.claim(id, claim);
  finishCompensation: Store['finishCompensation'] = (id, owner, o) => this.compensations.finish(id, owner, o);
  skipCompensation: Store['skipCompensation'] = (id, by, reason) => this.compensations.skip(id, by, reason);
  holdCompensation: Store['holdCompensation'] = (id, reason) => this.compensations.hold(id, reason);

  // ---------- session keys, evaluation queue, shared secrets ----------

  reserveSessionKey: Store['reserveSessionKey'] = (input) =>
    this.runPlan(queues.reserveSessionKey(this, input));
  enqueueEvaluation: Store['enqueueEvaluation'] = (job) => this.runPlan(queues.enqueueEvaluation(this, job));
  claimEvaluations: Store['claimEvaluations'] = (owner, limit, ttlMs) =>
    this.runPlan(queues.claimEvaluations(this, owner, limit, ttlMs));
  completeEvaluation: Store['completeEvaluation'] = (id, metrics) =>
    this.runInTx(
      'completeEvaluation',
      queues.completeEvaluation(this, id, metrics, (sid, version, m) => this.addMetrics(sid, version, m)),
    );
  listEvaluations: Store['listEvaluations'] = (q) => this.runPlan(queues.listEvaluations(q));
  sharedSecret: Store['sharedSecret'] = (name) => this.runPlan(queues.sharedSecret(this, name));

  // ---------- rollouts ----------

  createRollout: Store['createRollout'] = (input) =>
    this.runInTx('createRollout', rollouts.createRollout(this, input));
  getRollout: Store['getRollout'] = (id) => this.runPlan(rollouts.getRollout(id));
  listRollouts: Store['listRollouts'] = (q) => this.runPlan(rollouts.listRollouts(q));
  updateRollout: Store['updateRollout'] = (id, expectedRev, patch, decisions) =>
    this.runInTx('updateRollout', rollouts.updateRollout(this, id, expectedRev, patch, decisions));
  appendDecision: Store['appendDecision'] = (rolloutId, d) =>
    this.runInTx('appendDecision', rollouts.appendDecision(this, rolloutId, d));
  listDecisions: Store['listDecisions'] = (rolloutId, q) =>
    this.runPlan(rollouts.listDecisions(rolloutId, q));
  appendSessionSample: Store['appendSessionSample'] = (sample) =>
    this.runPlan(rollouts.appendSessionSample(sample));
  listSessionSamples: Store['listSessionSamples'] = (rolloutId, q) =>
    this.runPlan(rollouts.listSessionSamples(rolloutId, q));

  // ---------- telemetry reads, a session's end ----------

  listSessionAggregates: Store['listSessionAggregates'] = (q) =>
    this.runPlan(telemetry.listSessionAggregates(q));
  listTurnTelemetry: Store['listTurnTelemetry'] = (q) => this.runPlan(telemetry.listTurnTelemetry(q));
  markSessionCompleted: Store['markSessionCompleted'] = (sessionId) =>
    this.runInTx('markSessionCompleted', telemetry.markSessionCompleted(sessionId));
}
