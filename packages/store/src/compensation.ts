/**
 * Compensation state of effects, beside their status (both backends): the compare-and-set transitions `pending | failed | running (expired)` → `running` (claim) →
 * `compensated | failed` (finish by the run's owner), the operator's skip to `not-compensable`, and
 * the reason an effect stays pending. One query text for both backends (`$n` placeholders, run as a
 * plan: `sql/dialect.ts`).
 */
import { BatonError, initialCompensationFields } from '@baton/core';
import type { CompensationState, EffectRecord } from '@baton/core';
import { effectFromRow, jsonText } from './common';
import { NO_ENCRYPTION } from './cipher';
import type { RecordCipher } from './cipher';
import { effectPlace, sealValue } from './sealed';
import type { Row } from './common';
import { effectIdNotFound } from './recovery';
import type { CompensationClaim, CompensationOutcome } from './store';

/** The compensation state an intent starts with. */
export function initialCompensation(compensation: string | null | undefined): {
  state: CompensationState;
  reason: string | null;
} {
  const f = initialCompensationFields(compensation);
  return { state: f.compensationState, reason: f.compensationReason };
}

/** The states a run may start from (`running` only once its holder's expiry passed). */
const CLAIMABLE = `(compensation_state IN ('pending', 'failed')
  OR (compensation_state = 'running' AND compensation_expires_at <= $5))`;

const CLAIM = `UPDATE effects SET compensation_state = 'running', compensation_owner = $2,
    compensation_expires_at = $3, compensation_version = $4, compensation_attempts = compensation_attempts + 1,
    compensation_reason = NULL, updated_at = $5
  WHERE id = $1 AND status = 'committed' AND compensation IS NOT NULL AND ${CLAIMABLE} RETURNING *`;

const FINISH = `UPDATE effects SET compensation_state = $3, compensation_result = $4, compensation_error = $5,
    compensation_expires_at = NULL, updated_at = $6
  WHERE id = $1 AND compensation_state = 'running' AND compensation_owner = $2 RETURNING *`;

const SKIP = `UPDATE effects SET compensation_state = 'not-compensable', compensation_by = $2,
    compensation_reason = $3, compensation_expires_at = NULL, updated_at = $4
  WHERE id = $1 AND status = 'committed'
    AND (compensation_state IN ('pending', 'failed') OR (compensation_state = 'running' AND compensation_expires_at <= $4))
  RETURNING *`;

const HOLD = `UPDATE effects SET compensation_reason = $2, updated_at = $3
  WHERE id = $1 AND status = 'committed' AND compensation_state IN ('pending', 'failed') RETURNING *`;

const BY_ID = 'SELECT * FROM effects WHERE id = $1';

/** Runs one statement and returns its first row (the backend adapts the placeholders). */
export type OneRow = (sql: string, args: unknown[]) => Promise<Row | undefined>;

/** Why `e`'s compensation cannot start now. */
export function notCompensable(e: EffectRecord, now: number): BatonError {
  if (e.status !== 'committed')
    return new BatonError(
      'EFFECT_NOT_COMPENSABLE',
      `effect ${e.id} is ${e.status}, not committed: there is nothing to compensate`,
      { effectId: e.id, status: e.status, compensationState: e.compensationState },
    );
  if (e.compensationState === 'running' && (e.compensationExpiresAt ?? 0) > now)
    return new BatonError(
      'CONFLICT',
      `effect ${e.id}: its compensation is running (${e.compensationOwner})`,
      {
        effectId: e.id,
        compensationState: e.compensationState,
        owner: e.compensationOwner,
        expiresAt: e.compensationExpiresAt,
      },
    );
  return new BatonError(
    'EFFECT_NOT_COMPENSABLE',
    `effect ${e.id}: its compensation is ${e.compensationState}${e.compensationReason ? ` (${e.compensationReason})` : ''}`,
    { effectId: e.id, status: e.status, compensationState: e.compensationState },
  );
}

/** The compensation transitions over one backend. */
export class CompensationLedger {
  constructor(
    private readonly one: OneRow,
    private readonly now: () => number,
    private readonly cipher: RecordCipher = NO_ENCRYPTION,
  ) {}

  private row(r: Row): EffectRecord {
    return effectFromRow(r, this.cipher);
  }

  /** The compensation result as stored: sealed under the effect's key when encryption is on. */
  private async resultText(id: string, result: unknown): Promise<string | null> {
    const text = jsonText(result ?? null);
    if (!this.cipher.enabled) return text;
    const row = await this.one(BY_ID, [id]);
    return row
      ? sealValue(this.cipher, text, effectPlace(String(row.idempotency_key), 'compensation_result'))
      : text;
  }

  async getById(id: string): Promise<EffectRecord> {
    const row = await this.one(BY_ID, [id]);
    if (!row) throw effectIdNotFound(id);
    return this.row(row);
  }

  async claim(id: string, c: CompensationClaim): Promise<EffectRecord> {
    const now = this.now();
    const row = await this.one(CLAIM, [id, c.owner, now + c.ttlMs, c.version, now]);
    if (row) return this.row(row);
    throw notCompensable(await this.getById(id), now);
  }

  async finish(id: string, owner: string, o: CompensationOutcome): Promise<EffectRecord> {
    const state: CompensationState = o.ok ? 'compensated' : 'failed';
    const row = await this.one(FINISH, [
      id,
      owner,
      state,
      o.ok ? await this.resultText(id, o.result) : null,
      o.ok ? null : o.error,
      this.now(),
    ]);
    if (row) return this.row(row);
    const e = await this.getById(id);
    // a finish repeated by the same run (a retried call) is a no-op
    if (e.compensationOwner === owner && e.compensationState === state) return e;
    throw new BatonError(
      'CONFLICT',
      `effect ${id}: compensation run ${owner} no longer holds it (it is ${e.compensationState}${e.compensationOwner ? `, run ${e.compensationOwner}` : ''})`,
      { effectId: id, owner, compensationState: e.compensationState, holder: e.compensationOwner },
    );
  }

  async skip(id: string, by: string, reason: string): Promise<EffectRecord> {
    const now = this.now();
    const row = await this.one(SKIP, [id, by, reason, now]);
    if (row) return this.row(row);
    throw notCompensable(await this.getById(id), now);
  }

  async hold(id: string, reason: string): Promise<EffectRecord> {
    const row = await this.one(HOLD, [id, reason, this.now()]);
    if (row) return this.row(row);
    throw notCompensable(await this.getById(id), this.now());
  }
}
