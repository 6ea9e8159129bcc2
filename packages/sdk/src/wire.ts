/** Shape checks of the worker protocol's requests at the HTTP edge (bad input → VALIDATION, nothing runs). */
import { z } from 'zod';
import { ValidationError } from '@baton/core';
import type { MigrateRequest, TurnRequest } from '@baton/core';

const id = z.string().min(1).max(500);

const wait = z.object({
  token: z.string().min(1),
  name: z.string().min(1),
  deadline: z.number(),
  schema: z.record(z.string(), z.unknown()).nullable(),
  createdAt: z.number(),
});

const historyEntry = z.object({
  role: z.enum(['user', 'agent', 'tool', 'system', 'callback']),
  content: z.unknown(),
  turnId: z.string(),
  at: z.number(),
});

const body = z.object({
  state: z.unknown(),
  history: z.array(historyEntry),
  context: z.unknown(),
  waits: z.array(wait),
  memory: z.unknown().optional(),
});

const checkpoint = z.object({ seq: z.number().int().min(0), schemaVersion: z.number().int().min(1), body });

const input = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('message'), message: z.unknown() }),
  z.object({
    kind: z.literal('callback'),
    token: z.string().min(1),
    name: z.string().min(1),
    payload: z.unknown(),
  }),
  z.object({ kind: z.literal('timeout'), token: z.string().min(1), name: z.string().min(1) }),
]);

export const turnRequestSchema = z.object({
  session: z.object({ id, agent: id, version: id, tenant: z.string().nullable().optional().default(null) }),
  checkpoint: checkpoint.nullable(),
  input,
  turnId: id,
  deadline: z.number().finite(),
});

export const migrateRequestSchema = z.object({
  session: z.object({ id, agent: id, version: id }),
  checkpoint,
  targetSchemaVersion: z.number().int().min(1),
  dryRun: z.boolean().optional().default(false),
});

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  const path = first ? first.path.map(String).join('.') : '';
  throw new ValidationError(`${what}: ${path || '(root)'}: ${first?.message ?? 'invalid'}`, { path });
}

export function parseTurnRequest(value: unknown): TurnRequest {
  return check(turnRequestSchema, value, 'invalid turn request') as TurnRequest;
}

export function parseMigrateRequest(value: unknown): MigrateRequest {
  return check(migrateRequestSchema, value, 'invalid migrate request') as MigrateRequest;
}
