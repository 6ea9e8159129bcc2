/**
 * The turn capability: one token per dispatched turn (and per migrate call) naming the session,
 * the call and the lease epoch it runs under. The router signs it with a secret every router of
 * the store shares, so any router of a fleet can check it; the worker presents it on every call
 * back (history paging, and the ledger, journal and graph calls as they bind to it). It is
 * revoked when the turn commits or its lease is lost: a check compares `epoch` with the session's
 * live lease. A capability without an epoch (dry-run and batched migrations, which hold no lease)
 * is read-only and lives until `expiresAt`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { turnCapabilitySchema } from './wire/ledger';

/** What a capability names (`turnCapabilitySchema`). */
export type TurnCapability = z.infer<typeof turnCapabilitySchema>;

/** A capability's signed payload: `[sessionId, turnId, epoch, expiresAt]`, then `effectId, owner` for a compensation. */
const payloadSchema = z.union([
  z.tuple([z.string(), z.string(), z.number().nullable(), z.number()]),
  z.tuple([z.string(), z.string(), z.number().nullable(), z.number(), z.string(), z.string()]),
]);

function mac(payload: string, key: Uint8Array): string {
  return createHmac('sha256', key).update(payload).digest('base64url');
}

export function signCapability(cap: TurnCapability, key: Uint8Array): string {
  const fields: unknown[] = [cap.sessionId, cap.turnId, cap.epoch, cap.expiresAt];
  if (cap.compensation) fields.push(cap.compensation.effectId, cap.compensation.owner);
  const payload = Buffer.from(JSON.stringify(fields), 'utf8').toString('base64url');
  return `${payload}.${mac(payload, key)}`;
}

/** The capability a token carries, or null when it is malformed or not signed with `key`. */
export function openCapability(token: string, key: Uint8Array): TurnCapability | null {
  if (typeof token !== 'string' || token.length > 2048) return null;
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  const payload = token.slice(0, dot);
  const want = Buffer.from(mac(payload, key));
  const got = Buffer.from(token.slice(dot + 1));
  if (want.length !== got.length || !timingSafeEqual(want, got)) return null;
  try {
    const v = payloadSchema.safeParse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
    if (!v.success) return null;
    const [sessionId, turnId, epoch, expiresAt, effectId, owner] = v.data;
    if (effectId === undefined || owner === undefined) return { sessionId, turnId, epoch, expiresAt };
    return { sessionId, turnId, epoch, expiresAt, compensation: { effectId, owner } };
  } catch {
    return null;
  }
}
