/**
 * Session migration through the target version's worker (migration code is the candidate's code).
 * Success: one appendCheckpoint that moves the session to the target version with the migrated body,
 * waits and the migration record. Failure: the session stays on its origin version and the reason is
 * recorded (invariant 5).
 */
import {
  BatonError,
  CheckpointCorruptError,
  SessionBusyError,
  TERMINAL_SESSION_STATUSES,
  type Checkpoint,
  type MigrateResponse,
  type SessionRecord,
  type VersionRecord,
} from '@baton/core';
import { DRY_RUN_CALL, MIGRATE_CALL } from './capability';
import { historyWindowOf, type ServerContext } from './context';
import type { Lease } from '@baton/store';
import { LeaseKeeper, MIGRATION_LEASE_PREFIX, dropOwner, holdOwner } from './lease';
import { migrateRequestFor, unchangedParts } from './wire';
import { digestWaits } from './waits';
import { checkMigrateResponse } from './worker-response';
import { withMigrationSpan } from './tracing/spans';

export interface MigrateSessionInput {
  sessionId: string;
  /** Target version label. */
  to: string;
  rolloutId: string | null;
  /** Set when the caller already holds the session's lease (the lease is then left held). */
  leaseOwner?: string;
  /** The epoch of that lease (the worker's capability is bound to it). */
  leaseEpoch?: number;
  /** Ask the worker for a dry run and write nothing. */
  dryRun?: boolean;
  /** The session record when the caller just read it (saves a read). */
  session?: SessionRecord;
}

export type MigrateSessionResult =
  | { ok: true; seq: number; from: string; to: string; fromSchema: number; toSchema: number }
  | { ok: false; reason: string; code: string };

export { MIGRATION_LEASE_PREFIX } from './lease';

let counter = 0;

type MigrateContext = Pick<
  ServerContext,
  'store' | 'clock' | 'pool' | 'versions' | 'instanceId' | 'limits' | 'metrics' | 'capabilities'
>;

export function migrateSession(
  ctx: MigrateContext,
  input: MigrateSessionInput,
): Promise<MigrateSessionResult> {
  return withMigrationSpan(input, () => migrateUntraced(ctx, input));
}

async function migrateUntraced(
  ctx: MigrateContext,
  input: MigrateSessionInput,
): Promise<MigrateSessionResult> {
  const { store } = ctx;
  const session = input.session ?? (await store.getSession(input.sessionId));
  if (TERMINAL_SESSION_STATUSES.includes(session.status)) {
    return { ok: false, code: 'SESSION_CLOSED', reason: `session is ${session.status}` };
  }
  if (session.version === input.to) {
    return { ok: false, code: 'CONFLICT', reason: `session is already on ${input.to}` };
  }
  const target = await ctx.versions.get(session.agent, input.to);

  const ownLease = input.leaseOwner === undefined && !input.dryRun;
  const owner = input.leaseOwner ?? `${MIGRATION_LEASE_PREFIX}${ctx.instanceId}:${++counter}`;
  let lease: Lease | null = null;
  /** Renews this migration's own lease while it runs (a caller's lease is renewed by the caller). */
  let keeper: LeaseKeeper | null = null;
  if (ownLease) {
    holdOwner(owner);
    try {
      lease = await store.acquireLease(session.id, owner, ctx.limits.leaseMs);
    } catch (e) {
      dropOwner(owner);
      if (e instanceof SessionBusyError)
        return { ok: false, code: 'SESSION_BUSY', reason: 'session is busy' };
      throw e;
    }
    keeper = new LeaseKeeper(lease, store, ctx.clock, {
      leaseMs: ctx.limits.leaseMs,
      renewMs: ctx.limits.leaseRenewMs,
    });
  }
  try {
    // Re-read under the lease: a turn may have committed or moved the session meanwhile.
    const cur = ownLease ? await store.getSession(session.id) : session;
    if (cur.version === input.to) {
      return { ok: false, code: 'CONFLICT', reason: `session is already on ${input.to}` };
    }
    if (TERMINAL_SESSION_STATUSES.includes(cur.status)) {
      return { ok: false, code: 'SESSION_CLOSED', reason: `session is ${cur.status}` };
    }
    let cp;
    try {
      cp = await store.getLatestCheckpoint(cur.id);
    } catch (e) {
      if (e instanceof CheckpointCorruptError) {
        if (!input.dryRun) await store.quarantineSession(cur.id, `corrupt checkpoint: ${e.message}`);
        return { ok: false, code: 'CHECKPOINT_CORRUPT', reason: e.message };
      }
      throw e;
    }
    if (cp === null) {
      // Never ran a turn: nothing to migrate, only the pin moves.
      if (input.dryRun)
        return okResult(cur.seq, cur.version, input.to, target.schemaVersion, target.schemaVersion);
      await store.updateSession(cur.id, { seq: cur.seq, version: cur.version }, { version: input.to });
      ctx.metrics.migrations.labels(cur.agent, cur.version, input.to, 'ok').inc();
      return okResult(cur.seq, cur.version, input.to, target.schemaVersion, target.schemaVersion);
    }
    const fromSchema = cp.schemaVersion;
    // the target's workers run the migration, or for a reverse fill the origin's
    const runOn = await migrationRunner(ctx, cur, cp.schemaVersion, target);
    if (runOn === null) {
      return fail(
        ctx,
        cur,
        input,
        fromSchema,
        target.schemaVersion,
        'MIGRATION_FAILED',
        `${cur.agent}@${input.to} (schema ${target.schemaVersion}) has no migration from schema ${cp.schemaVersion}`,
      );
    }
    // the capability the worker pages history with: under the lease when one is held
    const epoch = input.dryRun ? null : (lease?.epoch ?? input.leaseEpoch ?? null);
    const answer = await runMigration(
      ctx,
      runOn,
      cur,
      cp,
      target.schemaVersion,
      input.dryRun === true,
      epoch,
    );
    if (!answer.ok) {
      return fail(ctx, cur, input, fromSchema, target.schemaVersion, answer.code, answer.reason);
    }
    if (input.dryRun) return okResult(cp.seq, cur.version, input.to, fromSchema, answer.schemaVersion);
    try {
      keeper?.check();
    } catch {
      return { ok: false, code: 'LEASE_LOST', reason: 'the migration lost its lease; nothing was written' };
    }
    const meta = await store.appendCheckpoint({
      sessionId: cur.id,
      expectedSeq: cp.seq,
      schemaVersion: answer.schemaVersion,
      writtenBy: input.to,
      body: answer.body,
      ...(answer.unchanged ? { unchanged: answer.unchanged } : {}),
      session: { version: input.to, status: cur.status === 'waiting' ? 'waiting' : settledStatus(cur) },
      waits: answer.body.waits ?? [],
      migration: {
        fromVersion: cur.version,
        toVersion: input.to,
        fromSchema: cp.schemaVersion,
        toSchema: answer.schemaVersion,
        contextPolicy: answer.contextPolicy,
        rolloutId: input.rolloutId,
        at: ctx.clock.now(),
      },
      ...(ownLease ? { leaseOwner: owner } : {}),
    });
    lease = null; // released by the commit
    ctx.metrics.migrations.labels(cur.agent, cur.version, input.to, 'ok').inc();
    return okResult(meta.seq, cur.version, input.to, fromSchema, answer.schemaVersion);
  } finally {
    keeper?.stop();
    if (lease) await store.releaseLease(keeper?.current ?? lease).catch(() => undefined);
    if (ownLease) dropOwner(owner);
  }
}

/**
 * Which version's workers run the migration of a checkpoint of `session` (schema `fromSchema`) to
 * `target`: the target's, whose `up` migrations read it; or, for a reverse fill, the origin's when
 * the target cannot read it but the origin ships a `down` migration to the target's schema
 * (down migrations are its code). Null when neither can.
 */
export async function migrationRunner(
  ctx: Pick<ServerContext, 'versions'>,
  session: SessionRecord,
  fromSchema: number,
  target: VersionRecord,
): Promise<string | null> {
  if (fromSchema === target.schemaVersion || target.acceptsSchemas.includes(fromSchema)) return target.label;
  const origin = await ctx.versions.get(session.agent, session.version).catch(() => null);
  if (origin && origin.schemaVersion === fromSchema && origin.downSchemas.includes(target.schemaVersion))
    return session.version;
  return null;
}

/**
 * Ask a worker of `runOn` to migrate `cp`; a worker that fails or refuses comes back as
 * `{code, reason}`. `epoch` is the lease the migration runs under (null: none, the capability is
 * read-only). A protocol-1 worker gets the origin version's history window in the body; the
 * history a worker sends back is ignored (history never moves in a migration).
 */
export async function runMigration(
  ctx: Pick<ServerContext, 'pool' | 'store' | 'versions' | 'capabilities' | 'limits'>,
  runOn: string,
  session: SessionRecord,
  cp: Checkpoint,
  targetSchemaVersion: number,
  dryRun: boolean,
  epoch: number | null = null,
): Promise<Extract<MigrateResponse, { ok: true }> | { ok: false; code: string; reason: string }> {
  let answer: MigrateResponse;
  let workerId: string;
  try {
    const worker = ctx.pool.pick(session.agent, runOn);
    workerId = worker.id;
    worker.outstanding++;
    try {
      // the call id says what the capability is for: a dry run's writes nothing anywhere
      const callId = `${dryRun ? DRY_RUN_CALL : MIGRATE_CALL}${cp.seq}_${targetSchemaVersion}`;
      const req = await migrateRequestFor(
        await ctx.pool.protocolOf(worker),
        {
          session: { id: session.id, agent: session.agent, version: session.version },
          checkpoint: cp,
          targetSchemaVersion,
          dryRun,
          capability: await ctx.capabilities.issue(
            session.id,
            callId,
            epoch,
            ctx.limits.migrateTimeoutMs + ctx.limits.leaseMarginMs,
          ),
        },
        async () => {
          const w = historyWindowOf(await ctx.versions.get(session.agent, session.version));
          return (
            await ctx.store.readHistory(session.id, { limit: Math.max(1, w.entries), maxBytes: w.bytes })
          ).entries;
        },
      );
      answer = await worker.client.migrate(req);
      checkMigrateResponse(answer, worker.id);
    } finally {
      worker.outstanding--;
    }
  } catch (e) {
    return {
      ok: false,
      code: e instanceof BatonError ? e.code : 'WORKER_ERROR',
      reason: e instanceof Error ? e.message : String(e),
    };
  }
  if (!answer.ok) {
    const where = answer.error.path ? ` at ${answer.error.path}` : '';
    return { ok: false, code: answer.error.code, reason: `${answer.error.message}${where}` };
  }
  const { history: _ignored, ...rest } = answer.body as typeof answer.body & { history?: unknown };
  // a wait the migration created is stored by its digest, as a turn's are
  const body = { ...rest, waits: digestWaits(rest.waits ?? [], cp.body.waits).stored };
  let unchanged;
  try {
    unchanged = unchangedParts(answer.unchanged, cp, workerId);
  } catch (e) {
    return { ok: false, code: 'WORKER_ERROR', reason: (e as Error).message };
  }
  return {
    ok: true,
    body,
    schemaVersion: answer.schemaVersion,
    contextPolicy: answer.contextPolicy,
    ...(unchanged ? { unchanged } : {}),
  };
}

function settledStatus(s: SessionRecord): SessionRecord['status'] {
  return s.status === 'running' || s.status === 'migrating' ? 'idle' : s.status;
}

function okResult(
  seq: number,
  from: string,
  to: string,
  fromSchema: number,
  toSchema: number,
): MigrateSessionResult {
  return { ok: true, seq, from, to, fromSchema, toSchema };
}

async function fail(
  ctx: Pick<ServerContext, 'store' | 'clock' | 'metrics'>,
  s: SessionRecord,
  input: MigrateSessionInput,
  fromSchema: number,
  toSchema: number,
  code: string,
  reason: string,
): Promise<MigrateSessionResult> {
  if (!input.dryRun) {
    await ctx.store.recordMigrationFailure({
      sessionId: s.id,
      fromVersion: s.version,
      toVersion: input.to,
      fromSchema,
      toSchema,
      contextPolicy: 'carry',
      rolloutId: input.rolloutId,
      error: `${code}: ${reason}`,
      at: ctx.clock.now(),
    });
    ctx.metrics.migrations.labels(s.agent, s.version, input.to, 'failed').inc();
  }
  return { ok: false, code, reason };
}
