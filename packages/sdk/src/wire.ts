/**
 * Shape checks of the worker protocol's requests at the HTTP edge (bad input → VALIDATION, nothing
 * runs). A request with `protocol: 2` is checked against the protocol-2 shapes; one without a
 * `protocol` field is a protocol-1 request (an old router) and checked against those.
 */
import { z } from 'zod';
import { ValidationError } from '@baton/core';
import type {
  CompensateRequest,
  MigrateRequest,
  MigrateRequestV1,
  TurnRequest,
  TurnRequestV1,
} from '@baton/core';

const id = z.string().min(1).max(500);
const hash = z.string().min(1).max(200);
const capability = z.string().min(1).max(4096);

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

const storedHistoryEntry = historyEntry.extend({ index: z.number().int().min(0) });

const bodyV1 = z.object({
  state: z.unknown(),
  history: z.array(historyEntry),
  context: z.unknown(),
  waits: z.array(wait),
  memory: z.unknown().optional(),
});

const checkpointV1 = z.object({
  seq: z.number().int().min(0),
  schemaVersion: z.number().int().min(1),
  body: bodyV1,
});

/** Protocol 2: the checkpoint's parts, their hashes and the length of the history log. */
const checkpointView = z.object({
  seq: z.number().int().min(0),
  schemaVersion: z.number().int().min(1),
  state: z.unknown(),
  context: z.unknown(),
  waits: z.array(wait),
  memory: z.unknown().optional(),
  hashes: z.object({ state: hash, context: hash, memory: hash.nullable() }),
  historyLength: z.number().int().min(0),
});

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

const turnSession = z.object({
  id,
  agent: id,
  version: id,
  tenant: z.string().nullable().optional().default(null),
});

const shadowTurn = z.object({
  effects: z
    .array(
      z.object({
        name: id,
        args: z.unknown(),
        status: z.enum(['intent', 'committed', 'failed']),
        result: z.unknown(),
        error: z.string().nullable(),
      }),
    )
    .max(10_000),
  tools: z.array(z.object({ name: id, result: z.unknown() })).max(10_000),
});

export const turnRequestSchema = z.object({
  protocol: z.literal(2),
  session: turnSession,
  checkpoint: checkpointView.nullable(),
  history: z.array(storedHistoryEntry),
  input,
  turnId: id,
  deadline: z.number().finite(),
  capability,
  shadow: shadowTurn.optional(),
  // W3C trace context of the router's turn span (an unparseable value is ignored, never refused)
  traceparent: z.string().max(512).optional(),
  tracestate: z.string().max(1024).optional(),
});

export const turnRequestV1Schema = z.object({
  session: turnSession,
  checkpoint: checkpointV1.nullable(),
  input,
  turnId: id,
  deadline: z.number().finite(),
});

export const migrateRequestSchema = z.object({
  protocol: z.literal(2),
  session: z.object({ id, agent: id, version: id }),
  checkpoint: checkpointView,
  targetSchemaVersion: z.number().int().min(1),
  dryRun: z.boolean().optional().default(false),
  capability,
});

export const migrateRequestV1Schema = z.object({
  session: z.object({ id, agent: id, version: id }),
  checkpoint: checkpointV1,
  targetSchemaVersion: z.number().int().min(1),
  dryRun: z.boolean().optional().default(false),
});

export const compensateRequestSchema = z.object({
  protocol: z.literal(2),
  session: z.object({ id, agent: id, version: id }),
  effect: z.object({
    id,
    idempotencyKey: z.string().min(1).max(2000),
    name: id,
    version: id,
    turnId: id,
    args: z.unknown(),
    result: z.unknown(),
  }),
  compensation: id,
  deadline: z.number().finite(),
  capability,
});

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  const path = first ? first.path.map(String).join('.') : '';
  throw new ValidationError(`${what}: ${path || '(root)'}: ${first?.message ?? 'invalid'}`, { path });
}

/** Protocol 1 when the request has no `protocol` field; anything but 1 or 2 is refused. */
function isV1(value: unknown): boolean {
  return !!value && typeof value === 'object' && (value as { protocol?: unknown }).protocol === undefined;
}

export function parseTurnRequest(value: unknown): TurnRequest | TurnRequestV1 {
  return isV1(value)
    ? (check(turnRequestV1Schema, value, 'invalid turn request (protocol 1)') as TurnRequestV1)
    : (check(turnRequestSchema, value, 'invalid turn request') as TurnRequest);
}

export function parseMigrateRequest(value: unknown): MigrateRequest | MigrateRequestV1 {
  return isV1(value)
    ? (check(migrateRequestV1Schema, value, 'invalid migrate request (protocol 1)') as MigrateRequestV1)
    : (check(migrateRequestSchema, value, 'invalid migrate request') as MigrateRequest);
}

export function parseCompensateRequest(value: unknown): CompensateRequest {
  return check(compensateRequestSchema, value, 'invalid compensate request') as CompensateRequest;
}
