/**
 * Rollouts with their decision log and session samples, as plans over either backend
 * (`dialect.ts`). A rollout's `decision_seq` numbers its decisions; an update and the decisions it
 * records are one transaction.
 */
import { newId } from '@baton/core';
import type { Decision, DecisionInput, RolloutPhase, RolloutRecord } from '@baton/core';
import {
  asArray,
  decisionFromRow,
  jsonText,
  pageLimit,
  rolloutFromRow,
  rolloutNotFound,
  rolloutRevConflict,
} from '../common';
import type { CreateRolloutInput, RolloutPatch, SessionSample } from '../store';
import { all, done, one, readJson, run } from './dialect';
import type { Plan, SqlContext } from './dialect';
import { Where } from './where';

/** Decisions, session samples: how many a list answers when no `limit` is given (and at most). */
export const DEFAULT_LOG_LIMIT = 1000;

/** A rollout and the first decisions of its log; run it in a transaction. */
export function* createRollout(c: SqlContext, input: CreateRolloutInput): Plan<RolloutRecord> {
  const now = c.now();
  const decisions = input.decisions ?? [];
  const row = yield* one(
    `INSERT INTO rollouts (id, agent, from_version, to_version, spec, phase, step, state, rev, decision_seq,
       created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, 0, $8, $9, $9) RETURNING *`,
    [
      input.id ?? newId('r', now),
      input.agent,
      input.from,
      input.to,
      jsonText(input.spec),
      input.phase,
      jsonText(input.state),
      decisions.length,
      now,
    ],
  );
  const rec = rolloutFromRow(row!);
  for (const [i, d] of decisions.entries()) yield* insertDecision(rec.id, i + 1, d, now);
  return rec;
}

export function* getRollout(id: string): Plan<RolloutRecord> {
  const row = yield* one('SELECT * FROM rollouts WHERE id = $1', [id], true);
  if (!row) throw rolloutNotFound(id);
  return rolloutFromRow(row);
}

export function* listRollouts(
  q: { agent?: string; phase?: RolloutPhase | RolloutPhase[] } = {},
): Plan<RolloutRecord[]> {
  const phases = asArray(q.phase);
  if (phases && phases.length === 0) return yield* done([]);
  const w = new Where().eq('agent', q.agent).in('phase', phases);
  const rows = yield* all(`SELECT * FROM rollouts${w.sql} ORDER BY created_at, id`, w.args);
  return rows.map(rolloutFromRow);
}

/** Compare-and-set on `rev`, appending `decisions`; run it in a transaction. */
export function* updateRollout(
  c: SqlContext,
  id: string,
  expectedRev: number,
  patch: RolloutPatch,
  decisions: DecisionInput[] = [],
): Plan<RolloutRecord> {
  const now = c.now();
  const row = yield* one(
    `UPDATE rollouts SET phase = coalesce($1, phase), step = coalesce($2, step),
       state = CASE WHEN $3 THEN $4 ELSE state END, rev = rev + 1, decision_seq = decision_seq + $5, updated_at = $6
     WHERE id = $7 AND rev = $8 RETURNING *`,
    [
      patch.phase ?? null,
      patch.step ?? null,
      patch.state !== undefined,
      jsonText(patch.state),
      decisions.length,
      now,
      id,
      expectedRev,
    ],
    true,
  );
  if (!row) {
    const cur = yield* one('SELECT rev FROM rollouts WHERE id = $1', [id]);
    if (!cur) throw rolloutNotFound(id);
    throw rolloutRevConflict(id, expectedRev, Number(cur.rev));
  }
  const first = Number(row.decision_seq) - decisions.length + 1;
  for (const [i, d] of decisions.entries()) yield* insertDecision(id, first + i, d, now);
  return rolloutFromRow(row);
}

function* insertDecision(rolloutId: string, seq: number, d: DecisionInput, at: number): Plan<Decision> {
  const row = yield* one(
    'INSERT INTO decisions (rollout_id, seq, kind, message, evidence, at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
    [rolloutId, seq, d.kind, d.message, jsonText(d.evidence), at],
    true,
  );
  return decisionFromRow(row!);
}

/** The next decision of the rollout; run it in a transaction. */
export function* appendDecision(c: SqlContext, rolloutId: string, d: DecisionInput): Plan<Decision> {
  const row = yield* one(
    'UPDATE rollouts SET decision_seq = decision_seq + 1 WHERE id = $1 RETURNING decision_seq',
    [rolloutId],
  );
  if (!row) throw rolloutNotFound(rolloutId);
  return yield* insertDecision(rolloutId, Number(row.decision_seq), d, c.now());
}

export function* listDecisions(
  rolloutId: string,
  q: { afterSeq?: number; limit?: number } = {},
): Plan<Decision[]> {
  const rows = yield* all(
    'SELECT * FROM decisions WHERE rollout_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
    [rolloutId, q.afterSeq ?? 0, pageLimit(q.limit ?? DEFAULT_LOG_LIMIT)],
  );
  return rows.map(decisionFromRow);
}

export function* appendSessionSample(sample: SessionSample): Plan<void> {
  yield* run(
    `INSERT INTO session_samples (rollout_id, at, counts) VALUES ($1, $2, $3)
     ON CONFLICT (rollout_id, at) DO UPDATE SET counts = excluded.counts`,
    [sample.rolloutId, sample.at, JSON.stringify(sample.counts)],
  );
}

export function* listSessionSamples(
  rolloutId: string,
  q: { after?: number; limit?: number } = {},
): Plan<SessionSample[]> {
  const rows = yield* all(
    'SELECT * FROM session_samples WHERE rollout_id = $1 AND at > $2 ORDER BY at LIMIT $3',
    [rolloutId, q.after ?? -1, pageLimit(q.limit ?? DEFAULT_LOG_LIMIT)],
  );
  return rows.map((r) => ({
    rolloutId: String(r.rollout_id),
    at: Number(r.at),
    counts: readJson(r.counts) as SessionSample['counts'],
  }));
}
