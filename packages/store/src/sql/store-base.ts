/**
 * The methods both backends share, written once over the plans of this folder: a backend extends
 * `SqlStore`, says how it runs a plan (`runPlan`, `runInTx`: see `dialect.ts`) and how it adds
 * metrics to a session's aggregate, and implements the rest of `Store` itself (its hot paths, its
 * checkpoint and history reads, its schema).
 */
import type {
  Decision,
  DecisionInput,
  EffectIntentInput,
  EffectRecord,
  EffectResolutionInput,
  MigrationRecord,
  Page,
  RolloutPhase,
  RolloutRecord,
  RouteRecord,
  SessionAggregate,
  SessionRecord,
  SessionStatus,
  TurnTelemetryRecord,
  VersionRecord,
  WaitRecord,
  WorkerRecord,
  CheckpointMeta,
} from '@baton/core';
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
import type {
  CompensationClaim,
  CompensationOutcome,
  CreateRolloutInput,
  CreateSessionInput,
  EvaluationJob,
  Lease,
  ListEffectsQuery,
  ListSessionsQuery,
  RolloutPatch,
  SessionExpectation,
  SessionKeyReservation,
  SessionPatch,
  SessionSample,
  Store,
  StoreOptions,
  TelemetryQuery,
  TurnTelemetryQuery,
} from '../store';
import * as catalog from './catalog';
import { all, one, run } from './dialect';
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
  protected reencryptRecords(opts?: Parameters<Store['reencrypt']>[0]): ReturnType<Store['reencrypt']> {
    return reencrypt(
      {
        all: (sql, args) => this.runPlan(all(sql, args)),
        update: (stmts) =>
          this.runInTx(
            'reencrypt',
            (function* () {
              let n = 0;
              for (const s of stmts) n += yield* run(s.sql, s.args);
              return n;
            })(),
          ),
      },
      this.cipher,
      opts,
    );
  }

  // ---------- versions, workers, routes ----------

  registerVersion(v: Omit<VersionRecord, 'createdAt'>): Promise<VersionRecord> {
    return this.runPlan(catalog.registerVersion(this, v));
  }
  getVersion(agent: string, label: string): Promise<VersionRecord> {
    return this.runPlan(catalog.getVersion(agent, label));
  }
  listVersions(agent?: string): Promise<VersionRecord[]> {
    return this.runPlan(catalog.listVersions(agent));
  }
  registerWorker(w: Omit<WorkerRecord, 'registeredAt' | 'lastSeenAt'>): Promise<WorkerRecord> {
    return this.runPlan(catalog.registerWorker(this, w));
  }
  updateWorker(
    id: string,
    patch: { health?: WorkerRecord['health']; seen?: boolean },
  ): Promise<WorkerRecord> {
    return this.runPlan(catalog.updateWorker(this, id, patch));
  }
  removeWorker(id: string): Promise<void> {
    return this.runPlan(catalog.removeWorker(id));
  }
  listWorkers(q?: { agent?: string; version?: string }): Promise<WorkerRecord[]> {
    return this.runPlan(catalog.listWorkers(q));
  }
  getRoute(agent: string): Promise<RouteRecord | null> {
    return this.runPlan(catalog.getRoute(agent));
  }
  setRoute(r: Omit<RouteRecord, 'updatedAt'>): Promise<RouteRecord> {
    return this.runPlan(catalog.setRoute(this, r));
  }

  // ---------- sessions and leases ----------

  createSession(input: CreateSessionInput): Promise<SessionRecord> {
    return this.runPlan(sessions.createSession(this, input));
  }
  getSession(id: string): Promise<SessionRecord> {
    return this.runPlan(sessions.getSession(id));
  }
  listSessions(q: ListSessionsQuery): Promise<Page<SessionRecord>> {
    return this.runPlan(sessions.listSessions(q));
  }
  countSessions(q: {
    agent?: string;
    version?: string;
  }): Promise<Record<string, Record<SessionStatus, number>>> {
    return this.runPlan(sessions.countSessions(q));
  }
  updateSession(id: string, expect: SessionExpectation, patch: SessionPatch): Promise<SessionRecord> {
    return this.runPlan(sessions.updateSession(this, id, expect, patch));
  }
  quarantineSession(id: string, reason: string): Promise<SessionRecord> {
    return this.runPlan(sessions.quarantineSession(this, id, reason));
  }
  acquireLease(sessionId: string, owner: string, ttlMs: number): Promise<Lease> {
    return this.runPlan(leases.acquireLease(this, sessionId, owner, ttlMs));
  }
  renewLease(lease: Lease, ttlMs: number): Promise<Lease> {
    return this.runPlan(leases.renewLease(this, lease, ttlMs));
  }
  releaseLease(lease: Lease): Promise<void> {
    return this.runPlan(leases.releaseLease(lease));
  }
  acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.runPlan(leases.acquireLock(this, name, owner, ttlMs));
  }
  releaseLock(name: string, owner: string): Promise<void> {
    return this.runPlan(leases.releaseLock(name, owner));
  }

  // ---------- checkpoint list, migrations, waits, steps, turn results ----------

  listCheckpoints(sessionId: string, q?: { limit?: number; beforeSeq?: number }): Promise<CheckpointMeta[]> {
    return this.runPlan(journal.listCheckpoints(sessionId, q));
  }
  listMigrations(q: {
    sessionId?: string;
    rolloutId?: string;
    status?: 'ok' | 'failed';
    limit?: number;
  }): Promise<MigrationRecord[]> {
    return this.runPlan(journal.listMigrations(q));
  }
  recordMigrationFailure(r: Omit<MigrationRecord, 'seq' | 'status'>): Promise<void> {
    return this.runPlan(journal.recordMigrationFailure(r));
  }
  getWait(token: string): Promise<WaitRecord> {
    return this.runPlan(journal.getWait(token));
  }
  listWaits(q: {
    sessionId?: string;
    status?: WaitRecord['status'];
    dueBefore?: number;
    limit?: number;
  }): Promise<WaitRecord[]> {
    return this.runPlan(journal.listWaits(q));
  }
  listSteps(
    sessionId: string,
    turnId: string,
  ): Promise<Array<{ index: number; name: string; result: unknown }>> {
    return this.runPlan(journal.listSteps(this, sessionId, turnId));
  }
  putStep(sessionId: string, turnId: string, index: number, name: string, result: unknown): Promise<void> {
    return this.runPlan(journal.putStep(this, sessionId, turnId, index, name, result));
  }
  getTurnResult(sessionId: string, key: string): Promise<unknown> {
    return this.runPlan(journal.getTurnResult(this, sessionId, key));
  }
  putTurnResult(sessionId: string, key: string, result: unknown): Promise<void> {
    return this.runPlan(journal.putTurnResult(this, sessionId, key, result));
  }

  // ---------- effects ----------

  recordEffectIntent(
    input: EffectIntentInput & { rolloutId?: string | null },
  ): Promise<{ effect: EffectRecord; existing: boolean }> {
    return this.runPlan(effects.recordEffectIntent(this, input));
  }
  commitEffect(idempotencyKey: string, result: unknown): Promise<EffectRecord> {
    return this.runPlan(effects.transitionEffect(this, idempotencyKey, 'commit', result));
  }
  failEffect(idempotencyKey: string, error: string): Promise<EffectRecord> {
    return this.runPlan(effects.transitionEffect(this, idempotencyKey, 'fail', error));
  }
  getEffect(idempotencyKey: string): Promise<EffectRecord> {
    return this.runPlan(effects.getEffect(this, idempotencyKey));
  }
  listEffects(q: ListEffectsQuery): Promise<Page<EffectRecord>> {
    return this.runPlan(effects.listEffects(this, q));
  }
  resolveEffect(id: string, r: EffectResolutionInput): Promise<EffectRecord> {
    return this.runPlan(effects.resolveEffect(this, id, r));
  }
  getEffectById(id: string): Promise<EffectRecord> {
    return this.compensations.getById(id);
  }
  claimCompensation(id: string, claim: CompensationClaim): Promise<EffectRecord> {
    return this.compensations.claim(id, claim);
  }
  finishCompensation(id: string, owner: string, outcome: CompensationOutcome): Promise<EffectRecord> {
    return this.compensations.finish(id, owner, outcome);
  }
  skipCompensation(id: string, by: string, reason: string): Promise<EffectRecord> {
    return this.compensations.skip(id, by, reason);
  }
  holdCompensation(id: string, reason: string): Promise<EffectRecord> {
    return this.compensations.hold(id, reason);
  }

  // ---------- session keys, evaluation queue, shared secrets ----------

  reserveSessionKey(input: {
    agent: string;
    key: string;
    sessionId: string;
    bodyHash: string;
  }): Promise<SessionKeyReservation> {
    return this.runPlan(queues.reserveSessionKey(this, input));
  }
  enqueueEvaluation(job: {
    id: string;
    sessionId: string;
    version: string;
    turn: unknown;
  }): Promise<boolean> {
    return this.runPlan(queues.enqueueEvaluation(this, job));
  }
  claimEvaluations(owner: string, limit: number, ttlMs: number): Promise<EvaluationJob[]> {
    return this.runPlan(queues.claimEvaluations(this, owner, limit, ttlMs));
  }
  completeEvaluation(id: string, metrics: Record<string, number>): Promise<boolean> {
    const add = (sid: string, version: string, m: Metrics) => this.addMetrics(sid, version, m);
    return this.runInTx('completeEvaluation', queues.completeEvaluation(this, id, metrics, add));
  }
  listEvaluations(q?: {
    status?: 'pending' | 'done';
    sessionId?: string;
    limit?: number;
  }): Promise<EvaluationJob[]> {
    return this.runPlan(queues.listEvaluations(q));
  }
  sharedSecret(name: string): Promise<Buffer> {
    return this.runPlan(queues.sharedSecret(this, name));
  }

  // ---------- rollouts ----------

  createRollout(input: CreateRolloutInput): Promise<RolloutRecord> {
    return this.runPlan(rollouts.createRollout(this, input));
  }
  getRollout(id: string): Promise<RolloutRecord> {
    return this.runPlan(rollouts.getRollout(id));
  }
  listRollouts(q?: { agent?: string; phase?: RolloutPhase | RolloutPhase[] }): Promise<RolloutRecord[]> {
    return this.runPlan(rollouts.listRollouts(q));
  }
  updateRollout(
    id: string,
    expectedRev: number,
    patch: RolloutPatch,
    decisions?: DecisionInput[],
  ): Promise<RolloutRecord> {
    return this.runInTx('updateRollout', rollouts.updateRollout(this, id, expectedRev, patch, decisions));
  }
  appendDecision(rolloutId: string, d: DecisionInput): Promise<Decision> {
    return this.runInTx('appendDecision', rollouts.appendDecision(this, rolloutId, d));
  }
  listDecisions(rolloutId: string, q?: { afterSeq?: number; limit?: number }): Promise<Decision[]> {
    return this.runPlan(rollouts.listDecisions(rolloutId, q));
  }
  appendSessionSample(sample: SessionSample): Promise<void> {
    return this.runPlan(rollouts.appendSessionSample(sample));
  }
  listSessionSamples(rolloutId: string, q?: { after?: number; limit?: number }): Promise<SessionSample[]> {
    return this.runPlan(rollouts.listSessionSamples(rolloutId, q));
  }

  // ---------- telemetry ----------

  listSessionAggregates(q: TelemetryQuery): Promise<SessionAggregate[]> {
    return this.runPlan(telemetry.listSessionAggregates(q));
  }
  listTurnTelemetry(q: TurnTelemetryQuery): Promise<TurnTelemetryRecord[]> {
    return this.runPlan(telemetry.listTurnTelemetry(q));
  }
  markSessionCompleted(sessionId: string): Promise<void> {
    return this.runInTx('markSessionCompleted', telemetry.markSessionCompleted(sessionId));
  }
}
