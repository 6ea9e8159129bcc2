/**
 * Reads of turn telemetry and session aggregates (the gates' inputs), and a session's end, as plans
 * over either backend (`dialect.ts`). Writing an aggregate is each backend's own (see
 * `SqlStore.addMetrics`): it merges JSON maps, which SQLite does in TypeScript inside its write
 * transaction and PostgreSQL in SQL inside the statement that writes it.
 */
import type { SessionAggregate, TurnTelemetryRecord } from '@baton/core';
import { aggregateFromRow, telemetryFromRow } from '../common';
import type { TelemetryQuery, TurnTelemetryQuery } from '../store';
import { all, run } from './dialect';
import type { Plan } from './dialect';
import { Where } from './where';

/** ` LIMIT $n`, or nothing: these lists answer every matching row unless a `limit` is given. */
function limitSql(w: Where, limit: number | undefined): string {
  return limit === undefined ? '' : ` LIMIT ${w.p(limit)}`;
}

export function* listSessionAggregates(q: TelemetryQuery): Plan<SessionAggregate[]> {
  const w = new Where().eq('agent', q.agent).eq('version', q.version);
  w.cmp('session_started_at', '>=', q.startedFrom).cmp('session_started_at', '<', q.startedTo);
  const rows = yield* all(
    `SELECT * FROM session_aggregates${w.sql} ORDER BY session_started_at, session_id, version${limitSql(w, q.limit)}`,
    w.args,
  );
  return rows.map(aggregateFromRow);
}

export function* listTurnTelemetry(q: TurnTelemetryQuery): Plan<TurnTelemetryRecord[]> {
  const w = new Where()
    .eq('agent', q.agent)
    .eq('version', q.version)
    .cmp('at', '>=', q.from)
    .cmp('at', '<', q.to);
  const rows = yield* all(
    `SELECT * FROM turn_telemetry${w.sql} ORDER BY at, id${limitSql(w, q.limit)}`,
    w.args,
  );
  return rows.map(telemetryFromRow);
}

/** The session's aggregates count as completed and its pending waits expire; run it in a transaction. */
export function* markSessionCompleted(sessionId: string): Plan<void> {
  yield* run(`UPDATE waits SET status = 'expired' WHERE session_id = $1 AND status = 'pending'`, [sessionId]);
  yield* run('UPDATE session_aggregates SET completed = true WHERE session_id = $1', [sessionId]);
}
