/**
 * Store migration: wait tokens become digests in place. Before it, the waits table, the waits of
 * every checkpoint and the stored turn results held wait tokens (callback capabilities) as they
 * were issued; after it they hold `waitDigest(token)` (the waits table, checkpoints) or nothing
 * (turn results list waits without tokens). A checkpoint's hash covers its waits, so each
 * rewritten checkpoint gets its hash recomputed the way it was computed when written.
 * Left as they are: history entries (a callback's entry names the token of a wait it resolved,
 * which resumes nothing any more) and agent state (a LangGraph pointer written before digests
 * names its open interrupts by token until its next turn rewrites it).
 */
import { HISTORY_GENESIS, sha256Hex, waitDigest } from '@baton/core';
import { FORMAT_LEGACY, checkpointHash } from './common';
import { all, run } from './sql/dialect';
import type { Plan } from './sql/dialect';

type Json = Record<string, unknown>;

function digestList(waits: unknown): unknown[] | null {
  if (!Array.isArray(waits) || waits.length === 0) return null;
  let changed = false;
  const out = waits.map((w: unknown) => {
    if (w === null || typeof w !== 'object' || typeof (w as Json).token !== 'string') return w;
    changed = true;
    return { ...(w as Json), token: waitDigest((w as Json).token as string) };
  });
  return changed ? out : null;
}

export interface CheckpointWaitsRow {
  format: number;
  body: string;
  hash: string;
  size: number;
  state_hash: string | null;
  context_hash: string | null;
  memory_hash: string | null;
  history_length: number;
  history_head: string | null;
}

/** The hash a checkpoint row with this body has (format 1: of the whole body; 2: of its manifest). */
function rowHash(r: CheckpointWaitsRow, body: string): string {
  if (Number(r.format) === FORMAT_LEGACY) return sha256Hex(body);
  return checkpointHash(
    { state: r.state_hash ?? '', context: r.context_hash ?? '', memory: r.memory_hash },
    Number(r.history_length),
    r.history_head ?? HISTORY_GENESIS,
    sha256Hex(body),
  );
}

/**
 * A checkpoint row with its waits' tokens digested: new body, hash and size; null when it names no
 * wait, or when it does not verify (a corrupt checkpoint is kept as it was, never re-hashed).
 */
export function digestCheckpointRow(
  r: CheckpointWaitsRow,
): { body: string; hash: string; size: number } | null {
  if (rowHash(r, r.body) !== r.hash) return null;
  let body: string;
  if (Number(r.format) === FORMAT_LEGACY) {
    const whole = JSON.parse(r.body) as Json;
    const waits = digestList(whole.waits);
    if (!waits) return null;
    body = JSON.stringify({ ...whole, waits });
  } else {
    const waits = digestList(JSON.parse(r.body));
    if (!waits) return null;
    body = JSON.stringify(waits);
  }
  const size = Number(r.size) + Buffer.byteLength(body) - Buffer.byteLength(r.body);
  return { body, hash: rowHash(r, body), size };
}

/** A stored turn result without its waits' tokens; null when it has none. */
export function stripTurnResult(text: string): string | null {
  const r = JSON.parse(text) as Json | null;
  if (r === null || typeof r !== 'object' || !Array.isArray(r.waits)) return null;
  if (!r.waits.some((w: unknown) => w !== null && typeof w === 'object' && 'token' in (w as Json)))
    return null;
  const waits = r.waits.map((w: unknown) => {
    if (w === null || typeof w !== 'object') return w;
    const { token: _t, ...rest } = w as Json;
    return rest;
  });
  return JSON.stringify({ ...r, waits });
}

/** Rows whose `column` names a token (case-insensitive on SQLite: a row without one is left alone). */
const naming = (column: string) => `WHERE CAST(${column} AS TEXT) LIKE '%"token"%'`;

/**
 * The data step (a plan, inside the migration's transaction; SQLite's caller turns `secure_delete`
 * on around it, so the overwritten tokens do not linger in free space of the file).
 */
export function* digestWaitTokens(): Plan<void> {
  for (const w of yield* all('SELECT token FROM waits')) {
    const token = w.token as string;
    yield* run('UPDATE waits SET token = $1 WHERE token = $2', [waitDigest(token), token]);
  }
  const cps = yield* all(
    `SELECT session_id, seq, format, body, hash, size, state_hash, context_hash, memory_hash, history_length,
       history_head FROM checkpoints ${naming('body')}`,
  );
  for (const r of cps) {
    const stored = r.body as Buffer | string;
    const next = digestCheckpointRow({ ...(r as unknown as CheckpointWaitsRow), body: stored.toString() });
    if (!next) continue;
    // the body column keeps its storage class (a blob stays a blob)
    const body = Buffer.isBuffer(stored) ? Buffer.from(next.body) : next.body;
    yield* run('UPDATE checkpoints SET body = $1, hash = $2, size = $3 WHERE session_id = $4 AND seq = $5', [
      body,
      next.hash,
      next.size,
      r.session_id,
      r.seq,
    ]);
  }
  for (const r of yield* all(`SELECT session_id, key, result FROM turn_results ${naming('result')}`)) {
    const next = stripTurnResult(String(r.result));
    if (next !== null)
      yield* run('UPDATE turn_results SET result = $1 WHERE session_id = $2 AND key = $3', [
        next,
        r.session_id,
        r.key,
      ]);
  }
}
