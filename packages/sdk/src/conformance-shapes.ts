/**
 * What the conformance probes send and how they judge the answers, for protocol 1 and 2.
 * Part hashes are computed as the store does: sha256 hex of the part's JSON text.
 */
import { CHECKPOINT_PARTS, sha256Hex, turnResponseSchema } from '@baton/core';
import type {
  CheckpointPart,
  CheckpointView,
  HistoryEntry,
  PartHashes,
  StoredHistoryEntry,
  TurnResponse,
  Wait,
} from '@baton/core';

/** A checkpoint the probes build from a turn's answer, in the shape of either protocol. */
export interface ProbeCheckpoint {
  seq: number;
  schemaVersion: number;
  state: unknown;
  context: unknown;
  waits: Wait[];
  memory?: unknown;
  /** The whole history so far (protocol 1 sends all of it; protocol 2 a window of it). */
  history: HistoryEntry[];
}

/** sha256 hex of a value's JSON text (a missing value, from a broken answer, as null). */
export function hashOf(v: unknown): string {
  return sha256Hex(JSON.stringify(v ?? null));
}

export function hashesOf(cp: Pick<ProbeCheckpoint, 'state' | 'context' | 'memory'>): PartHashes {
  return {
    state: hashOf(cp.state),
    context: hashOf(cp.context ?? null),
    memory: cp.memory === undefined ? null : hashOf(cp.memory),
  };
}

/**
 * Protocol 2: the checkpoint as a view, and a window of its history that starts `offset` entries
 * into the log (as if that many older entries existed and were not sent).
 */
export function viewOf(
  cp: ProbeCheckpoint,
  offset: number,
): { view: CheckpointView; window: StoredHistoryEntry[] } {
  const view: CheckpointView = {
    seq: cp.seq,
    schemaVersion: cp.schemaVersion,
    state: cp.state,
    context: cp.context ?? null,
    waits: cp.waits,
    hashes: hashesOf(cp),
    historyLength: offset + cp.history.length,
  };
  if (cp.memory !== undefined) view.memory = cp.memory;
  return { view, window: cp.history.map((e, i) => ({ ...e, index: offset + i })) };
}

/** Protocol 1: the checkpoint with its body and the whole history in it. */
export function bodyOf(cp: ProbeCheckpoint): unknown {
  const body: Record<string, unknown> = {
    state: cp.state,
    history: cp.history,
    context: cp.context ?? null,
    waits: cp.waits,
  };
  if (cp.memory !== undefined) body.memory = cp.memory;
  return { seq: cp.seq, schemaVersion: cp.schemaVersion, body };
}

/**
 * What is wrong with a turn answer, or null: its shape is judged by the protocol's schema (the one
 * the router checks answers with), then what the schema cannot say.
 */
export function turnShapeProblem(r: unknown, schemaVersion: number, protocol: 1 | 2): string | null {
  if (!r || typeof r !== 'object') return 'body is not an object';
  const marks = (r as { unchanged?: { state?: unknown } }).unchanged;
  if (!('state' in r) && !(protocol === 2 && typeof marks?.state === 'string')) return 'missing state';
  const shape = turnResponseSchema.safeParse(r);
  if (!shape.success) {
    const first = shape.error.issues[0];
    return `${first?.path.join('.') || '(root)'}: ${first?.message ?? 'invalid'}`;
  }
  const t = shape.data;
  if (t.history.length === 0) return 'history must list the entries of this turn';
  if (t.status === 'waiting' && t.waits.length === 0) return 'status waiting without waits';
  if (t.schemaVersion !== schemaVersion)
    return `schemaVersion ${t.schemaVersion} differs from health (${schemaVersion})`;
  return null;
}

/**
 * Protocol 2: every part named in `unchanged` carries the hash it was sent with, and every part
 * the answer sends back equal (as JSON text) to what was sent is named there.
 */
export function unchangedProblem(
  sent: ProbeCheckpoint,
  answer: { state?: unknown; context?: unknown; memory?: unknown; unchanged?: unknown },
): string | null {
  const hashes = hashesOf(sent);
  const marks = (answer.unchanged ?? {}) as Partial<Record<CheckpointPart, unknown>>;
  if (typeof marks !== 'object' || marks === null) return 'unchanged must be an object';
  const sentValues: Record<CheckpointPart, unknown> = {
    state: sent.state,
    context: sent.context ?? null,
    memory: sent.memory,
  };
  for (const part of CHECKPOINT_PARTS) {
    const mark = marks[part];
    if (mark !== undefined) {
      if (mark !== hashes[part])
        return `unchanged.${part} is ${JSON.stringify(mark)}, not the hash it was sent`;
      continue;
    }
    const value = answer[part];
    if (
      value !== undefined &&
      sentValues[part] !== undefined &&
      JSON.stringify(value) === JSON.stringify(sentValues[part])
    )
      return `${part} came back as it was sent but is not marked unchanged`;
  }
  return null;
}

/** The part values of an answer, with those marked unchanged taken from what was sent. */
export function partsAfter(
  sent: ProbeCheckpoint | null,
  r: TurnResponse,
): Pick<ProbeCheckpoint, 'state' | 'context' | 'memory'> {
  const u = r.unchanged ?? {};
  const out: Pick<ProbeCheckpoint, 'state' | 'context' | 'memory'> = {
    state: u.state !== undefined ? sent?.state : r.state,
    context: u.context !== undefined ? sent?.context : (r.context ?? null),
  };
  const memory = u.memory !== undefined ? sent?.memory : r.memory;
  if (memory !== undefined) out.memory = memory;
  return out;
}
