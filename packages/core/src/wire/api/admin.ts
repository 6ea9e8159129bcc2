/**
 * The admin API's shapes (bearer `admin` token; the read-only lists also take a `read` token):
 * versions, workers, sessions, checkpoints, migrations and the effects ledger.
 */
import { z } from 'zod';
import { COMPENSATION_STATES, SESSION_STATUSES, type SessionStatus } from '../../types';
import { commaList, limitParam, listOf, nameSchema, pageOf, positionParam } from './params';
import { migrationRecordSchema } from './traffic';
import { versionManifestSchema } from '../worker';

export { versionManifestSchema };

const sessionStatuses = SESSION_STATUSES as [SessionStatus, ...SessionStatus[]];

export type VersionManifestBody = z.input<typeof versionManifestSchema>;

export const versionRecordSchema = z.object({
  agent: z.string(),
  label: z.string(),
  schemaVersion: z.number().int(),
  modelId: z.string(),
  promptHash: z.string(),
  toolManifestHash: z.string(),
  codeHash: z.string(),
  identity: z.string(),
  acceptsSchemas: z.array(z.number().int()),
  downSchemas: z.array(z.number().int()),
  createdAt: z.number(),
  metadata: z.record(z.string(), z.unknown()),
});

/** `POST /v1/workers`. */
export const registerWorkerBodySchema = z
  .object({ url: z.string().min(1).max(2000), manifest: versionManifestSchema.optional() })
  .strict();
export type RegisterWorkerBody = z.input<typeof registerWorkerBodySchema>;

export const workerRecordSchema = z.object({
  id: z.string(),
  agent: z.string(),
  version: z.string(),
  url: z.string().nullable(),
  health: z.enum(['healthy', 'unhealthy', 'draining']),
  registeredAt: z.number(),
  lastSeenAt: z.number(),
  /** Requests in flight on this router (a worker this router has in its pool). */
  outstanding: z.number().int().optional(),
  /** Registered with the worker token: the key that worker presents to unregister itself. */
  workerKey: z.string().optional(),
});

export const versionsQuerySchema = z.object({ agent: nameSchema.optional() });
export const workersQuerySchema = z.object({ agent: nameSchema.optional(), version: nameSchema.optional() });

export const sessionsQuerySchema = z.object({
  agent: nameSchema.optional(),
  version: nameSchema.optional(),
  tenant: nameSchema.optional(),
  status: commaList(sessionStatuses).optional(),
  cursor: z.string().optional(),
  limit: limitParam(),
});

/** A session as the admin lists show it (never its token's digest). */
export const sessionSummarySchema = z
  .object({
    id: z.string(),
    agent: z.string(),
    tenant: z.string().nullable(),
    version: z.string(),
    status: z.enum(sessionStatuses),
    seq: z.number().int(),
    reason: z.string().nullable(),
    createdAt: z.number(),
    updatedAt: z.number(),
    metadata: z.record(z.string(), z.unknown()),
  })
  .loose();

export const checkpointsQuerySchema = z.object({
  limit: limitParam(),
  beforeSeq: positionParam(1).optional(),
});

export const migrationsQuerySchema = z.object({
  session: nameSchema.optional(),
  rollout: nameSchema.optional(),
  status: z.enum(['ok', 'failed']).optional(),
  limit: limitParam(),
});

export const effectsQuerySchema = z.object({
  agent: nameSchema.optional(),
  version: nameSchema.optional(),
  rollout: nameSchema.optional(),
  session: nameSchema.optional(),
  status: commaList(['intent', 'committed', 'failed']).optional(),
  compensation: commaList(COMPENSATION_STATES).optional(),
  kind: z.enum(['turn', 'compensation']).optional(),
  cursor: z.string().optional(),
  limit: limitParam(),
});

/** An entry of the effects ledger (the fields every release answers; see `EffectRecord`). */
export const effectRecordSchema = z
  .object({
    id: z.string(),
    idempotencyKey: z.string(),
    sessionId: z.string(),
    agent: z.string(),
    version: z.string(),
    rolloutId: z.string().nullable(),
    turnId: z.string(),
    name: z.string(),
    args: z.unknown(),
    status: z.enum(['intent', 'committed', 'failed']),
    result: z.unknown(),
    error: z.string().nullable(),
    compensation: z.string().nullable(),
    compensationState: z.enum(COMPENSATION_STATES),
    createdAt: z.number(),
    updatedAt: z.number(),
  })
  .loose();

/** `POST /v1/effects/{id}/resolve`: an operator says what became of an in-doubt effect. */
export const resolveEffectBodySchema = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('committed'),
    result: z.unknown(),
    by: z.string().min(1).max(200),
    reason: z.string().min(1).max(2000),
  }),
  z.object({
    status: z.literal('failed'),
    error: z.string().min(1).max(100_000),
    by: z.string().min(1).max(200),
    reason: z.string().min(1).max(2000),
  }),
]);
export type ResolveEffectBody = z.input<typeof resolveEffectBodySchema>;

/** `POST /v1/effects/{id}/compensate`: plan (the default), run, or skip by hand. */
export const compensateEffectBodySchema = z
  .object({
    dryRun: z.boolean().default(true),
    skip: z
      .object({ by: z.string().min(1).max(200), reason: z.string().min(1).max(2000) })
      .strict()
      .optional(),
  })
  .strict();
export type CompensateEffectBody = z.input<typeof compensateEffectBodySchema>;

export const versionListSchema = listOf(versionRecordSchema);
export const workerListSchema = listOf(workerRecordSchema);
export const sessionPageSchema = pageOf(sessionSummarySchema);
export const effectPageSchema = pageOf(effectRecordSchema);
export const migrationListSchema = listOf(migrationRecordSchema);
