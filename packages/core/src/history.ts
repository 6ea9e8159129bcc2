/**
 * The session history log: an append-only, hash-chained list of entries beside the checkpoints.
 * Each entry is stored as its JSON text; its hash covers those bytes, and the chain links every
 * entry to the one before it, so a corrupt, dropped or reordered entry is detected on read.
 */
import { sha256Hex } from './hash';
import { MAX_HISTORY_WINDOW } from './history-limits';
import type { z } from 'zod';
import type { HistoryEntry } from './types';
import type {
  historyPageSchema,
  historyPolicySchema,
  historyRetentionSchema,
  historyTrimSchema,
  historyWindowSchema,
} from './wire/shapes';

/** The chain value before the first entry. */
export const HISTORY_GENESIS = '0'.repeat(64);

/** The stored text of an entry: the four fields in a fixed order (what its hash covers). */
export function historyEntryText(e: HistoryEntry): string {
  const text = JSON.stringify({ role: e.role, content: e.content, turnId: e.turnId, at: e.at });
  if (text === undefined) throw new TypeError('history entry is not serializable');
  return text;
}

/** The chain value after an entry whose hash is `entryHash`, given the value before it. */
export function historyChain(prev: string, entryHash: string): string {
  return sha256Hex(`${prev}${entryHash}`);
}

/** Which recent entries a worker receives with a turn: the last `entries`, at most `bytes` in all. */
export type HistoryWindow = z.infer<typeof historyWindowSchema>;

export const DEFAULT_HISTORY_WINDOW: HistoryWindow = { entries: 100, bytes: 1024 * 1024 };
/** Largest window an agent may declare. */
export { MAX_HISTORY_WINDOW };

/**
 * Optional retention of the history log: entries beyond the newest `maxEntries`, or older than
 * `maxAgeMs`, are removed when a turn commits. A removal is never silent: the log keeps a marker
 * saying how many entries were removed, when and why (`HistoryPage.trimmed`).
 */
export type HistoryRetention = z.infer<typeof historyRetentionSchema>;

/** What an agent version declares about its history (in its manifest). */
export type HistoryPolicy = z.infer<typeof historyPolicySchema>;

/** Entries with index below `before` were removed by retention. */
export type HistoryTrim = z.infer<typeof historyTrimSchema>;

/** One page of a session's history, in ascending index order. */
export type HistoryPage = z.infer<typeof historyPageSchema>;

export interface HistoryQuery {
  /** Only entries with index below this (exclusive); default: the newest. */
  before?: number;
  /** 1..1000, default 100. */
  limit?: number;
  /**
   * At most this many bytes of entries (the newest kept); default unbounded. A page holds at least
   * the newest entry below `before` even when it alone is larger, so paging always makes progress.
   */
  maxBytes?: number;
}

/** The window of a version's policy, with defaults and caps applied. */
export function windowOf(policy: HistoryPolicy | undefined | null): HistoryWindow {
  const w = policy?.window ?? {};
  return {
    entries: Math.min(MAX_HISTORY_WINDOW.entries, Math.max(0, w.entries ?? DEFAULT_HISTORY_WINDOW.entries)),
    bytes: Math.min(MAX_HISTORY_WINDOW.bytes, Math.max(0, w.bytes ?? DEFAULT_HISTORY_WINDOW.bytes)),
  };
}
