/** What a turn answers and streams, and the options a caller runs it with. */
import { sha256Hex, type SessionRecord, type SessionStatus } from '@baton/core';
import type { PublicWait } from './waits';

/** The response of a turn; stored with the checkpoint so a retried key returns it unchanged. */
export interface TurnResult {
  turnId: string;
  output: unknown;
  version: string;
  seq: number;
  status: SessionStatus;
  waits: PublicWait[];
  migrated?: { from: string; to: string; seq: number };
}

export type TurnEvent =
  | { event: 'started'; data: { sessionId: string; turnId: string; version: string } }
  | { event: 'migrated'; data: { from: string; to: string; seq: number } }
  | { event: 'output'; data: { output: unknown } }
  | { event: 'done'; data: TurnResult }
  | { event: 'error'; data: { error: { code: string; message: string; details?: Record<string, unknown> } } };

export interface TurnOptions {
  /** The session record when the caller just read it (saves a read). */
  session?: SessionRecord;
  /**
   * The session token the client presented (X-Session-Token): checked by `beginTurn` before the
   * lease is taken (FORBIDDEN otherwise, and nothing changes). Omit for turns the server starts.
   */
  sessionToken?: { presented: string | string[] | undefined };
  /** Wait tokens this turn resolves (callbacks, timeouts). */
  resolvedWaits?: string[];
  onEvent?: (ev: TurnEvent) => void;
}

/** `turnId` is deterministic from (session, idempotency key): a retry finds its effects and steps. */
export function turnIdOf(sessionId: string, key: string): string {
  return `turn_${sha256Hex(`${sessionId}\0${key}`).slice(0, 32)}`;
}
