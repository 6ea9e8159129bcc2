/**
 * Session leases (one turn at a time) and leader locks. The lease rule is written here once, in
 * TypeScript (`leaseFree`) and as the same condition in SQL (`leaseFreeSql`): a lease can be taken
 * by `owner` when nobody holds it, `owner` holds it already, or it has expired.
 */
import { SessionBusyError } from '@baton/core';
import type { SessionRecord } from '@baton/core';
import { checkTtl, leaseLost, sessionFromRow, sessionNotFound } from '../common';
import type { Lease } from '../store';
import { all, one, run } from './dialect';
import type { Plan, SqlContext } from './dialect';

/** The lease rule over a session as read. */
export function leaseFree(
  s: Pick<SessionRecord, 'leaseOwner' | 'leaseExpiresAt'>,
  owner: string,
  now: number,
): boolean {
  return (
    s.leaseOwner === null || s.leaseOwner === owner || (s.leaseExpiresAt !== null && s.leaseExpiresAt <= now)
  );
}

/** The lease rule over the `sessions` row, `ownerSql` and `nowSql` being SQL expressions (placeholders). */
export function leaseFreeSql(ownerSql: string, nowSql: string): string {
  return `(lease_owner IS NULL OR lease_owner = ${ownerSql} OR lease_expires_at <= ${nowSql})`;
}

/** SESSION_BUSY for a session whose lease another owner holds, with how long until it expires. */
export function sessionBusy(s: Pick<SessionRecord, 'id' | 'leaseExpiresAt'>, now: number): SessionBusyError {
  return new SessionBusyError(s.id, Math.max(0, (s.leaseExpiresAt ?? 0) - now));
}

const ACQUIRE = `UPDATE sessions SET lease_owner = $1, lease_expires_at = $2, lease_epoch = lease_epoch + 1
  WHERE id = $3 AND ${leaseFreeSql('$1', '$4')} RETURNING lease_epoch`;

export function* acquireLease(c: SqlContext, sessionId: string, owner: string, ttlMs: number): Plan<Lease> {
  checkTtl(ttlMs);
  for (;;) {
    const now = c.now();
    const expiresAt = now + ttlMs;
    const r = yield* one(ACQUIRE, [owner, expiresAt, sessionId, now], true);
    if (r) return { sessionId, owner, expiresAt, epoch: Number(r.lease_epoch) };
    const cur = yield* one('SELECT * FROM sessions WHERE id = $1', [sessionId], true);
    if (!cur) throw sessionNotFound(sessionId);
    const s = sessionFromRow(cur);
    // free now: the holder released it between the two statements (another process): try again
    if (!leaseFree(s, owner, now)) throw sessionBusy(s, now);
  }
}

export function* renewLease(c: SqlContext, lease: Lease, ttlMs: number): Plan<Lease> {
  checkTtl(ttlMs);
  const expiresAt = c.now() + ttlMs;
  const n = yield* run(
    'UPDATE sessions SET lease_expires_at = $1 WHERE id = $2 AND lease_owner = $3',
    [expiresAt, lease.sessionId, lease.owner],
    true,
  );
  if (n === 1) return { ...lease, expiresAt };
  const cur = yield* one('SELECT lease_owner FROM sessions WHERE id = $1', [lease.sessionId]);
  if (!cur) throw sessionNotFound(lease.sessionId);
  throw leaseLost(lease.sessionId, lease.owner, cur.lease_owner as string | null);
}

export function* releaseLease(lease: Lease): Plan<void> {
  yield* run(
    'UPDATE sessions SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2',
    [lease.sessionId, lease.owner],
    true,
  );
}

/** A leader lock (controller election): taken when free, expired, or already this owner's. */
export function* acquireLock(c: SqlContext, name: string, owner: string, ttlMs: number): Plan<boolean> {
  checkTtl(ttlMs);
  const now = c.now();
  const rows = yield* all(
    `INSERT INTO locks (name, owner, expires_at) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
     WHERE locks.owner = excluded.owner OR locks.expires_at <= $4
     RETURNING name`,
    [name, owner, now + ttlMs, now],
    true,
  );
  return rows.length === 1;
}

export function* releaseLock(name: string, owner: string): Plan<void> {
  yield* run('DELETE FROM locks WHERE name = $1 AND owner = $2', [name, owner]);
}
