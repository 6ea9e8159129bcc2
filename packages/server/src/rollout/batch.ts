/**
 * The batched eager migration path: read the checkpoints of a batch of idle/waiting sessions,
 * migrate them through the target's workers, and commit all the new checkpoints (with their
 * migration records and session moves) in one store transaction (`store.appendCheckpoints`).
 *
 * Instead of taking each session's lease, every append compare-and-sets on the session's seq and
 * is refused while the session holds a live lease, so a turn that started (or committed) since the
 * read wins and the session is simply retried later: the same guarantees as `migrateSession`
 * (invariant 5: a migration either validates and moves the session, or leaves it on its origin
 * with the reason recorded) with one write transaction per batch instead of two per session.
 * Sessions this path cannot handle (no checkpoint yet, or a backend without `appendCheckpoints`)
 * go through `migrateSession`.
 */
import {
  CheckpointCorruptError,
  type Checkpoint,
  type CheckpointBody,
  type SessionRecord,
} from '@baton/core';
import type { AppendCheckpointInput } from '@baton/store';
import { migrateSession, migrationRunner, runMigration } from '../migration';
import { mapLimit, type OpsContext } from './util';

export interface BatchOutcome {
  migrated: number;
  failed: number;
  skipped: number;
  failures: Array<{ sessionId: string; reason: string }>;
}

const SKIP_CODES = new Set(['SESSION_BUSY', 'CONFLICT', 'SESSION_CLOSED', 'SEQUENCE_CONFLICT', 'LEASE_LOST']);

/** Migrate `sessions` (all of one agent, idle or waiting) to `to`; see the module comment. */
export async function migrateBatch(
  ctx: OpsContext,
  sessions: SessionRecord[],
  input: { to: string; rolloutId: string | null; concurrency?: number },
): Promise<BatchOutcome> {
  const out: BatchOutcome = { migrated: 0, failed: 0, skipped: 0, failures: [] };
  const { store } = ctx;
  const viaOne = async (s: SessionRecord): Promise<void> => {
    try {
      const r = await migrateSession(ctx, {
        sessionId: s.id,
        to: input.to,
        rolloutId: input.rolloutId,
        session: s,
      });
      if (r.ok) out.migrated++;
      else if (SKIP_CODES.has(r.code)) out.skipped++;
      else {
        out.failed++;
        out.failures.push({ sessionId: s.id, reason: `${r.code}: ${r.reason}` });
      }
    } catch (e) {
      out.failed++;
      out.failures.push({ sessionId: s.id, reason: e instanceof Error ? e.message : String(e) });
    }
  };
  const first = sessions[0];
  if (!store.appendCheckpoints || !first) {
    await mapLimit(sessions, input.concurrency ?? 8, viaOne);
    return out;
  }
  const agent = first.agent;
  const target = await ctx.versions.get(agent, input.to);
  const fail = async (s: SessionRecord, fromSchema: number, code: string, reason: string): Promise<void> => {
    await store.recordMigrationFailure({
      sessionId: s.id,
      fromVersion: s.version,
      toVersion: input.to,
      fromSchema,
      toSchema: target.schemaVersion,
      contextPolicy: 'carry',
      rolloutId: input.rolloutId,
      error: `${code}: ${reason}`,
      at: ctx.clock.now(),
    });
    ctx.metrics.migrations.labels(agent, s.version, input.to, 'failed').inc();
    out.failed++;
    out.failures.push({ sessionId: s.id, reason: `${code}: ${reason}` });
  };

  const items: Array<AppendCheckpointInput & { requireNoLease: boolean }> = [];
  const itemSessions: SessionRecord[] = [];
  const single: SessionRecord[] = [];
  await mapLimit(sessions, input.concurrency ?? 8, async (s) => {
    if (s.agent !== agent || s.version === input.to || (s.status !== 'idle' && s.status !== 'waiting')) {
      single.push(s);
      return;
    }
    let cp: Checkpoint | null;
    try {
      cp = await store.getLatestCheckpoint(s.id);
    } catch (e) {
      if (e instanceof CheckpointCorruptError) {
        await store.quarantineSession(s.id, `corrupt checkpoint: ${e.message}`);
        out.failed++;
        out.failures.push({ sessionId: s.id, reason: `CHECKPOINT_CORRUPT: ${e.message}` });
        return;
      }
      throw e;
    }
    if (cp === null || cp.seq !== s.seq) {
      single.push(s); // nothing to migrate (pin only), or it moved on since the listing
      return;
    }
    // which version's workers run the migration: the target's `up`, or the origin's `down`
    const runOn = await migrationRunner(ctx, s, cp.schemaVersion, target);
    if (runOn === null) {
      await fail(
        s,
        cp.schemaVersion,
        'MIGRATION_FAILED',
        `${agent}@${input.to} (schema ${target.schemaVersion}) has no migration from schema ${cp.schemaVersion}`,
      );
      return;
    }
    const answer = await runMigration(ctx, runOn, s, cp, target.schemaVersion, false);
    if (!answer.ok) {
      await fail(s, cp.schemaVersion, answer.code, answer.reason);
      return;
    }
    const body: CheckpointBody = answer.body;
    items.push({
      sessionId: s.id,
      expectedSeq: cp.seq,
      schemaVersion: answer.schemaVersion,
      writtenBy: input.to,
      body,
      ...(answer.unchanged ? { unchanged: answer.unchanged } : {}),
      session: { version: input.to, status: s.status },
      waits: body.waits ?? [],
      migration: {
        fromVersion: s.version,
        toVersion: input.to,
        fromSchema: cp.schemaVersion,
        toSchema: answer.schemaVersion,
        contextPolicy: answer.contextPolicy,
        rolloutId: input.rolloutId,
        at: ctx.clock.now(),
      },
      requireNoLease: true,
    });
    itemSessions.push(s);
  });
  if (items.length > 0) {
    const results = await store.appendCheckpoints(items);
    results.forEach((r, i) => {
      const s = itemSessions[i]!;
      if (r.ok) {
        out.migrated++;
        ctx.metrics.migrations.labels(agent, s.version, input.to, 'ok').inc();
      } else if (SKIP_CODES.has(r.error.code)) out.skipped++;
      else {
        out.failed++;
        out.failures.push({ sessionId: s.id, reason: `${r.error.code}: ${r.error.message}` });
      }
    });
  }
  if (single.length > 0) await mapLimit(single, input.concurrency ?? 8, viaOne);
  return out;
}
