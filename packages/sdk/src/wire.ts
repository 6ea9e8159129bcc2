/**
 * Shape checks of the worker protocol's requests at the HTTP edge (bad input → VALIDATION, nothing
 * runs), against the protocol's schemas in `@baton/core` (the router checks the answers against the
 * same). A request with `protocol: 2` is checked against the protocol-2 shapes; one without a
 * `protocol` field is a protocol-1 request (an old router) and checked against those.
 */
import type { z } from 'zod';
import {
  ValidationError,
  compensateRequestSchema,
  migrateRequestSchema,
  migrateRequestV1Schema,
  turnRequestSchema,
  turnRequestV1Schema,
} from '@baton/core';
import type {
  CompensateRequest,
  MigrateRequest,
  MigrateRequestV1,
  TurnRequest,
  TurnRequestV1,
} from '@baton/core';

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
    ? check(turnRequestV1Schema, value, 'invalid turn request (protocol 1)')
    : check(turnRequestSchema, value, 'invalid turn request');
}

export function parseMigrateRequest(value: unknown): MigrateRequest | MigrateRequestV1 {
  return isV1(value)
    ? check(migrateRequestV1Schema, value, 'invalid migrate request (protocol 1)')
    : check(migrateRequestSchema, value, 'invalid migrate request');
}

export function parseCompensateRequest(value: unknown): CompensateRequest {
  return check(compensateRequestSchema, value, 'invalid compensate request');
}
