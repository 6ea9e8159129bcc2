/**
 * The store's records under the record cipher: where each kind of record sits (its additional
 * data) and what a failure to open means for it. Hashes and the history chain are over the
 * plaintext, so they are checked after opening and do not change when a record is re-encrypted.
 *
 * - a checkpoint part: session + its content hash (parts are content-addressed and shared by checkpoints)
 * - a checkpoint's waits: session + seq
 * - a history entry: session + index
 * - an effect's args / result / compensation result: the effect's idempotency key + the column
 * - a stored turn result (replayed for a retried idempotency key): session + key
 * - a step-journal result: session + turn + index
 *
 * A checkpoint part, waits or entry that does not authenticate is a corrupt checkpoint (the session
 * is quarantined, never loaded wrong); a key that is not configured is ENCRYPTION_KEY_MISSING.
 */
import { BatonError, CheckpointCorruptError } from '@baton/core';
import type { CheckpointPart } from '@baton/core';
import { RecordAuthError } from './cipher';
import type { RecordCipher } from './cipher';
import type { RecordPlace } from './cipher';

export const partPlace = (sessionId: string, hash: string): RecordPlace => ({
  kind: 'part',
  owner: sessionId,
  at: hash,
});
export const waitsPlace = (sessionId: string, seq: number): RecordPlace => ({
  kind: 'waits',
  owner: sessionId,
  at: seq,
});
export const entryPlace = (sessionId: string, index: number): RecordPlace => ({
  kind: 'history',
  owner: sessionId,
  at: index,
});
export const effectPlace = (key: string, column: EffectColumn): RecordPlace => ({
  kind: 'effect',
  owner: key,
  at: column,
});

export type EffectColumn = 'args' | 'result' | 'compensation_result';
export const EFFECT_COLUMNS: readonly EffectColumn[] = ['args', 'result', 'compensation_result'];

/** Seal bytes for a BLOB column: the same bytes when encryption is off. */
export function sealBytes(c: RecordCipher, bytes: Buffer, place: RecordPlace): Buffer {
  return c.enabled ? Buffer.from(c.seal(bytes, place), 'utf8') : bytes;
}

/** Seal text (or null) for a TEXT column at `place`: the same value when encryption is off. */
export function sealValue<T extends string | null>(c: RecordCipher, text: T, place: RecordPlace): T {
  return text === null || !c.enabled ? text : (c.seal(text, place) as T);
}

/** `open()`, with a failed authentication (`RecordAuthError`) turned into `fail`'s error. */
function opened<T>(open: () => T, fail: (e: RecordAuthError) => Error): T {
  try {
    return open();
  } catch (e) {
    throw e instanceof RecordAuthError ? fail(e) : e;
  }
}

/** Open a checkpoint record (part, waits or entry): a failed authentication is a corrupt checkpoint. */
export function openCheckpointRecord(
  c: RecordCipher,
  raw: unknown,
  place: RecordPlace,
  seq: number,
  what: CheckpointPart | 'waits' | `history[${number}]`,
): Buffer | string {
  if (typeof raw === 'string' && !raw.startsWith('benc1:')) return raw;
  return opened(
    () => c.open(raw as Uint8Array | string, place),
    (e) =>
      new CheckpointCorruptError(place.owner, seq, `sealed under key ${e.keyId}`, 'unauthenticated', what),
  );
}

/** Open an effect row's sealed columns in place (a copy); a failed authentication is EFFECT_CORRUPT. */
export function openEffectRow<R extends Record<string, unknown>>(c: RecordCipher, row: R): R {
  let out: R | null = null;
  for (const col of EFFECT_COLUMNS) {
    const v = row[col];
    if (typeof v !== 'string' || !v.startsWith('benc1:')) continue;
    out ??= { ...row };
    const key = String(row.idempotency_key);
    (out as Record<string, unknown>)[col] = opened(
      () => c.openText(v, effectPlace(key, col)),
      (e) =>
        new BatonError('EFFECT_CORRUPT', `effect ${key}: its ${col} ${e.message}`, {
          idempotencyKey: row.idempotency_key,
          column: col,
          keyId: e.keyId,
        }),
    );
  }
  return out ?? row;
}

/** A stored turn result (what a retried idempotency key replays): session + key. */
export const turnResultPlace = (sessionId: string, key: string): RecordPlace => ({
  kind: 'turn-result',
  owner: sessionId,
  at: key,
});
/** A step-journal entry: session + turn + index. */
export const stepPlace = (sessionId: string, turnId: string, index: number): RecordPlace => ({
  kind: 'step',
  owner: sessionId,
  at: `${turnId}/${index}`,
});

/** Open a nullable TEXT column value stored at `place`; a failed authentication is CHECKPOINT_CORRUPT. */
export function openValue(c: RecordCipher, raw: unknown, place: RecordPlace): unknown {
  if (typeof raw !== 'string' || !raw.startsWith('benc1:')) return raw;
  return opened(
    () => c.openText(raw, place),
    (e) =>
      new BatonError(
        'CHECKPOINT_CORRUPT',
        `${place.kind} of session ${place.owner} (${place.at}): ${e.message}`,
        {
          sessionId: place.owner,
          part: place.kind,
          keyId: e.keyId,
        },
      ),
  );
}
