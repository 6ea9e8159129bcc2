/**
 * The history window a turn's worker receives: its version's (`history.window`), remembered per
 * session so that the session's next turn reads that window with its start (`beginTurn`).
 */
import {
  BatonError,
  DEFAULT_HISTORY_WINDOW,
  type Checkpoint,
  type HistoryWindow,
  type SessionRecord,
  type StoredHistoryEntry,
} from '@baton/core';
import type { WindowChoice } from '@baton/store';
import type { ServerContext } from './context';
import { historyWindowOf } from './versions';

/** History entries read with a turn's start, and the window they were read for. */
export interface ReadWindow {
  entries: StoredHistoryEntry[];
  for: HistoryWindow;
}

/** Sessions whose history window is remembered (the oldest is forgotten first). */
const WINDOWS_KEPT = 10_000;

export class TurnWindows {
  private readonly known = new Map<string, HistoryWindow>();

  constructor(private readonly ctx: Pick<ServerContext, 'versions' | 'store'>) {}

  /**
   * The window to read with the turn's start: the session record's version's, else the one last
   * seen, else a choice the store makes from the session it reads (its version's window when that
   * version is cached here, else the default), so a session's first turn here reads its own window
   * rather than the default's 100 entries (a backend that cannot ask reads the default).
   */
  async guess(sessionId: string, session: SessionRecord | undefined): Promise<HistoryWindow | WindowChoice> {
    if (session) return this.windowFor(session.agent, session.version);
    return this.known.get(sessionId) ?? this.choice;
  }

  private readonly choice: WindowChoice = {
    guess: DEFAULT_HISTORY_WINDOW,
    of: (s) => {
      const v = this.ctx.versions.peek(s.agent, s.version);
      return v ? historyWindowOf(v) : undefined;
    },
  };

  /**
   * The newest history entries within the session's version's window: those read with the
   * checkpoint when they were read for that window, else read now (a callback's session on a
   * version with its own window, a session's first turn here).
   */
  async entries(
    session: SessionRecord,
    cp: Checkpoint | null,
    have: ReadWindow | undefined,
  ): Promise<StoredHistoryEntry[]> {
    const w = await this.windowFor(session.agent, session.version);
    this.learn(session.id, w);
    if (!cp || cp.historyLength === 0 || w.entries === 0) return [];
    if (have && have.for.entries === w.entries && have.for.bytes === w.bytes) return have.entries;
    const page = await this.ctx.store.readHistory(session.id, { limit: w.entries, maxBytes: w.bytes });
    return page.entries;
  }

  private learn(sessionId: string, w: HistoryWindow): void {
    if (this.known.size >= WINDOWS_KEPT && !this.known.has(sessionId)) {
      const oldest = this.known.keys().next();
      if (!oldest.done) this.known.delete(oldest.value);
    }
    this.known.set(sessionId, w);
  }

  /** The history window a version's workers receive (the default for a version not registered here). */
  private async windowFor(agent: string, version: string): Promise<HistoryWindow> {
    try {
      return historyWindowOf(await this.ctx.versions.get(agent, version));
    } catch (e) {
      if (e instanceof BatonError && e.code === 'VERSION_NOT_FOUND') return DEFAULT_HISTORY_WINDOW;
      throw e;
    }
  }
}
