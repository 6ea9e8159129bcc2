/**
 * The effects ledger: intents, the worker's commit or fail, an operator's resolution of an
 * in-doubt effect, and reads, as plans over either backend (`dialect.ts`). Compensation runs are in
 * `compensation.ts`.
 */
import { newId } from '@baton/core';
import type { EffectIntentInput, EffectRecord, EffectResolutionInput, Page } from '@baton/core';
import {
  EFFECT_TRANSITIONS,
  asArray,
  effectConflict,
  effectFromRow,
  effectNotFound,
  jsonText,
  pageLimit,
  toPage,
} from '../common';
import type { EffectOp } from '../common';
import { initialCompensation } from '../compensation';
import { effectIdNotFound, notInDoubt, ownIntent, resolutionColumns, resolvedConflict } from '../recovery';
import { effectPlace, sealValue } from '../sealed';
import type { ListEffectsQuery } from '../store';
import { all, done, one } from './dialect';
import type { Plan, SqlContext } from './dialect';
import { Where } from './where';

/** Record an intent once per idempotency key; a second call answers the first record (`existing`). */
export function* recordEffectIntent(
  c: SqlContext,
  input: EffectIntentInput & { rolloutId?: string | null },
): Plan<{ effect: EffectRecord; existing: boolean }> {
  const now = c.now();
  const comp = initialCompensation(input.compensation);
  const row = yield* one(
    `INSERT INTO effects (id, idempotency_key, session_id, agent, version, rollout_id, turn_id, name, args, status,
       compensation, created_at, updated_at, attempt_id, compensation_state, compensation_reason, compensates)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'intent', $10, $11, $11, $12, $13, $14, $15)
     ON CONFLICT (idempotency_key) DO NOTHING RETURNING *`,
    [
      newId('e', now),
      input.idempotencyKey,
      input.sessionId,
      input.agent,
      input.version,
      input.rolloutId ?? null,
      input.turnId,
      input.name,
      sealValue(c.cipher, jsonText(input.args), effectPlace(input.idempotencyKey, 'args')),
      input.compensation ?? null,
      now,
      input.attemptId ?? null,
      comp.state,
      comp.reason,
      input.compensates ?? null,
    ],
    true,
  );
  if (row) return { effect: effectFromRow(row, c.cipher), existing: false };
  // ON CONFLICT waited for a concurrent intent to commit; this statement sees it
  const effect = yield* getEffect(c, input.idempotencyKey);
  return { effect, existing: !ownIntent(effect, input.attemptId) };
}

/** A worker's commit or fail: compare-and-set from `intent`; repeating one that happened is a no-op. */
export function* transitionEffect(
  c: SqlContext,
  key: string,
  op: EffectOp,
  value: unknown,
): Plan<EffectRecord> {
  const { from, to } = EFFECT_TRANSITIONS[op];
  const col = op === 'fail' ? 'error' : 'result';
  const v = op === 'fail' ? String(value) : sealValue(c.cipher, jsonText(value), effectPlace(key, 'result'));
  const row = yield* one(
    `UPDATE effects SET status = $1, ${col} = $2, updated_at = $3 WHERE idempotency_key = $4 AND status = $5 RETURNING *`,
    [to, v, c.now(), key, from],
    true,
  );
  if (row) return effectFromRow(row, c.cipher);
  const e = yield* getEffect(c, key);
  if (e.resolution) throw resolvedConflict(e, op);
  if (e.status === to) return e;
  throw effectConflict(key, op, e.status);
}

export function* getEffect(c: SqlContext, idempotencyKey: string): Plan<EffectRecord> {
  const row = yield* one('SELECT * FROM effects WHERE idempotency_key = $1', [idempotencyKey], true);
  if (!row) throw effectNotFound(idempotencyKey);
  return effectFromRow(row, c.cipher);
}

export function* listEffects(c: SqlContext, q: ListEffectsQuery): Plan<Page<EffectRecord>> {
  const limit = pageLimit(q.limit);
  const statuses = asArray(q.status);
  if (statuses && statuses.length === 0) return yield* done({ items: [], nextCursor: null });
  const w = new Where().eq('session_id', q.sessionId).eq('agent', q.agent).eq('version', q.version);
  w.eq('rollout_id', q.rolloutId)
    .in('status', statuses)
    .in('compensation_state', asArray(q.compensationState));
  if (q.kind) w.add(q.kind === 'turn' ? 'compensates IS NULL' : 'compensates IS NOT NULL');
  if (q.cursor) w.cmp('id', '>', q.cursor);
  const rows = yield* all(`SELECT * FROM effects${w.sql} ORDER BY id LIMIT ${w.p(limit + 1)}`, w.args);
  return toPage(
    rows.map((r) => effectFromRow(r, c.cipher)),
    limit,
  );
}

/** An operator resolves an in-doubt effect: compare-and-set from `intent`, recording who and why. */
export function* resolveEffect(c: SqlContext, id: string, r: EffectResolutionInput): Plan<EffectRecord> {
  const now = c.now();
  const cols = resolutionColumns(r, now);
  if (c.cipher.enabled && cols.result !== null) {
    const k = yield* one('SELECT idempotency_key FROM effects WHERE id = $1', [id]);
    if (k) cols.result = sealValue(c.cipher, cols.result, effectPlace(String(k.idempotency_key), 'result'));
  }
  const row = yield* one(
    `UPDATE effects SET status = $1, result = $2, error = $3, resolution = $4, updated_at = $5
     WHERE id = $6 AND status = 'intent' RETURNING *`,
    [cols.status, cols.result, cols.error, cols.resolution, now, id],
  );
  if (row) return effectFromRow(row, c.cipher);
  const cur = yield* one('SELECT * FROM effects WHERE id = $1', [id]);
  if (!cur) throw effectIdNotFound(id);
  throw notInDoubt(effectFromRow(cur, c.cipher));
}
