/** Sessions: creation, reads, counts and the compare-and-set update, as plans over either backend (`dialect.ts`). */
import type { Page, SessionRecord, SessionStatus } from '@baton/core';
import { newId } from '@baton/core';
import {
  asArray,
  emptyCounts,
  pageLimit,
  sessionConflict,
  sessionExists,
  sessionFromRow,
  sessionNotFound,
  toPage,
} from '../common';
import type { CreateSessionInput, ListSessionsQuery, SessionExpectation, SessionPatch } from '../store';
import { all, done, one } from './dialect';
import type { Plan, SqlContext } from './dialect';
import { Where } from './where';

export function* createSession(c: SqlContext, input: CreateSessionInput): Plan<SessionRecord> {
  const now = c.now();
  const id = input.id ?? newId('s', now);
  try {
    const row = yield* one(
      `INSERT INTO sessions (id, agent, tenant, version, status, seq, token_hash, created_at, updated_at, metadata)
       VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $7, $8) RETURNING *`,
      [
        id,
        input.agent,
        input.tenant ?? null,
        input.version,
        input.status ?? 'idle',
        input.tokenHash,
        now,
        JSON.stringify(input.metadata ?? {}),
      ],
      true,
    );
    return sessionFromRow(row!);
  } catch (e) {
    if (c.dialect.isUniqueViolation(e)) throw sessionExists(id);
    throw e;
  }
}

export function* getSession(id: string): Plan<SessionRecord> {
  const row = yield* one('SELECT * FROM sessions WHERE id = $1', [id], true);
  if (!row) throw sessionNotFound(id);
  return sessionFromRow(row);
}

export function* listSessions(q: ListSessionsQuery): Plan<Page<SessionRecord>> {
  const limit = pageLimit(q.limit);
  const statuses = asArray(q.status);
  if (statuses && statuses.length === 0) return yield* done({ items: [], nextCursor: null });
  const w = new Where().eq('agent', q.agent).eq('version', q.version).eq('tenant', q.tenant);
  w.in('status', statuses);
  if (q.cursor) w.cmp('id', '>', q.cursor);
  const rows = yield* all(`SELECT * FROM sessions${w.sql} ORDER BY id LIMIT ${w.p(limit + 1)}`, w.args);
  return toPage(rows.map(sessionFromRow), limit);
}

export function* countSessions(q: {
  agent?: string;
  version?: string;
}): Plan<Record<string, Record<SessionStatus, number>>> {
  const w = new Where().eq('agent', q.agent).eq('version', q.version);
  const rows = yield* all(
    `SELECT version, status, count(*) AS n FROM sessions${w.sql} GROUP BY version, status`,
    w.args,
  );
  const out: Record<string, Record<SessionStatus, number>> = {};
  for (const r of rows) {
    const byStatus = (out[r.version as string] ??= emptyCounts());
    byStatus[r.status as SessionStatus] = Number(r.n);
  }
  return out;
}

/** One compare-and-set statement; when it matches no row, the session as it is now says why. */
export function* updateSession(
  c: SqlContext,
  id: string,
  expect: SessionExpectation,
  patch: SessionPatch,
): Plan<SessionRecord> {
  const w = new Where();
  const set = `status = coalesce(${w.p(patch.status ?? null)}, status), version = coalesce(${w.p(patch.version ?? null)}, version),
    reason = CASE WHEN ${w.p(patch.reason !== undefined)} THEN ${w.p(patch.reason ?? null)} ELSE reason END,
    updated_at = ${w.p(c.now())}`;
  w.eq('id', id).in('status', asArray(expect.status)).eq('version', expect.version).eq('seq', expect.seq);
  const row = yield* one(`UPDATE sessions SET ${set}${w.sql} RETURNING *`, w.args);
  if (row) return sessionFromRow(row);
  throw sessionConflict(id, expect, yield* getSession(id));
}

export function* quarantineSession(c: SqlContext, id: string, reason: string): Plan<SessionRecord> {
  const row = yield* one(
    `UPDATE sessions SET status = 'quarantined', reason = $1, updated_at = $2 WHERE id = $3 RETURNING *`,
    [reason, c.now(), id],
  );
  if (!row) throw sessionNotFound(id);
  return sessionFromRow(row);
}
