/**
 * What both backends share for crash recovery: in-doubt effect resolution, session-creation
 * idempotency keys and the durable evaluation queue (row mapping, encodings and errors).
 */
import { BatonError, NotFoundError } from '@baton/core';
import type { EffectRecord, EffectResolution, EffectResolutionInput } from '@baton/core';
import { jsonText, parseJson } from './common';
import type { Row } from './common';
import type { EvaluationJob } from './store';

/** The column values an operator's resolution writes. */
export function resolutionColumns(
  r: EffectResolutionInput,
  at: number,
): { status: 'committed' | 'failed'; result: string | null; error: string | null; resolution: string } {
  const resolution: EffectResolution = { status: r.status, by: r.by, reason: r.reason, at };
  return r.status === 'committed'
    ? {
        status: 'committed',
        result: jsonText(r.result ?? null),
        error: null,
        resolution: jsonText(resolution)!,
      }
    : { status: 'failed', result: null, error: r.error, resolution: jsonText(resolution)! };
}

export function effectIdNotFound(id: string): NotFoundError {
  return new NotFoundError('EFFECT_NOT_FOUND', `effect ${id} not found`, { effectId: id });
}

/** A resolution lost its compare-and-set: the effect is no longer in doubt. */
export function notInDoubt(e: EffectRecord): BatonError {
  return new BatonError(
    'CONFLICT',
    `effect ${e.id} is ${e.status}, not in doubt: ${e.resolution ? `resolved by ${e.resolution.by}` : 'its attempt completed it'}`,
    { effectId: e.id, idempotencyKey: e.idempotencyKey, status: e.status, resolution: e.resolution ?? null },
  );
}

/** A worker's late commit or fail of an effect an operator already resolved. */
export function resolvedConflict(e: EffectRecord, op: string): BatonError {
  return new BatonError(
    'CONFLICT',
    `cannot ${op} effect ${e.idempotencyKey}: an operator resolved it as ${e.status}`,
    {
      idempotencyKey: e.idempotencyKey,
      op,
      status: e.status,
      resolution: e.resolution ?? null,
    },
  );
}

export function evaluationNotFound(id: string): NotFoundError {
  return new NotFoundError('NOT_FOUND', `evaluation ${id} not found`, { evaluationId: id });
}

export function evaluationFromRow(r: Row): EvaluationJob {
  return {
    id: r.id as string,
    sessionId: r.session_id as string,
    version: r.version as string,
    turn: parseJson(r.turn),
    status: r.status as EvaluationJob['status'],
    attempts: Number(r.attempts),
    createdAt: Number(r.created_at),
    recordedAt: r.recorded_at === null || r.recorded_at === undefined ? null : Number(r.recorded_at),
  };
}

/** A retried intent of the same attempt that finds its own record still at `intent`: not in doubt. */
export function ownIntent(e: EffectRecord, attemptId: string | undefined): boolean {
  return e.status === 'intent' && attemptId !== undefined && attemptId !== '' && e.attemptId === attemptId;
}
