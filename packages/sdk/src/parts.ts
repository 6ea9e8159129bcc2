/**
 * Which checkpoint parts a turn or migration left unchanged (protocol 2): a part whose JSON text
 * after the call equals its JSON text as received is answered with the hash it was received with,
 * so the router never rewrites it.
 */
import { CHECKPOINT_PARTS } from '@baton/core';
import type { CheckpointPart } from '@baton/core';
import type { ReceivedCheckpoint } from './request';

/** The JSON text of a value (undefined for undefined). Throws when it cannot be serialized. */
export function jsonText(v: unknown): string | undefined {
  return v === undefined ? undefined : JSON.stringify(v);
}

/** The received parts' JSON texts (memory undefined when absent); context null when missing. */
export function receivedTexts(cp: ReceivedCheckpoint): Record<CheckpointPart, string | undefined> {
  return { state: jsonText(cp.state), context: jsonText(cp.context ?? null), memory: jsonText(cp.memory) };
}

/** A detached copy of a value from its JSON text (undefined for undefined). */
export function fromText<T = unknown>(text: string | undefined): T | undefined {
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

/**
 * The parts of `after` (JSON texts) equal to those received, with their received hashes. Nothing
 * is unchanged without hashes (protocol 1, or a first turn), and an absent memory never is.
 * `received` is the received parts' texts where the caller has them already (`receivedTexts`).
 */
export function unchangedParts(
  cp: ReceivedCheckpoint | null,
  after: Record<CheckpointPart, string | undefined>,
  received?: Record<CheckpointPart, string | undefined>,
): Partial<Record<CheckpointPart, string>> {
  const out: Partial<Record<CheckpointPart, string>> = {};
  if (!cp?.hashes) return out;
  const before = received ?? receivedTexts(cp);
  for (const part of CHECKPOINT_PARTS) {
    const hash = cp.hashes[part];
    if (typeof hash === 'string' && after[part] !== undefined && after[part] === before[part])
      out[part] = hash;
  }
  return out;
}
