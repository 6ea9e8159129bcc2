/**
 * What a store process remembers of the history log and checkpoints it wrote or verified, so a
 * turn does not read and re-hash the same window on every turn:
 * - the newest entries of a session's log (their stored size and text, or the value parsed from it),
 *   valid only for the exact (length, head) of the log they end at: a write by another process
 *   changes the head and the entry is dropped, so what is served is always what this process
 *   verified or wrote;
 * - what an append needs of a checkpoint (part hashes and sizes, history length and head), by
 *   (session, seq): a committed checkpoint never changes, so that entry is never stale.
 * Both are bounded LRU maps. Changes made inside a write transaction are queued and applied only
 * once it commits (`Deferred`), so a rolled-back write leaves nothing behind.
 */
import type { StoredHistoryEntry } from '@baton/core';
import type { PreviousCheckpoint } from './common';

/**
 * A verified entry of the log as stored: index, stored size and its JSON text until it is parsed
 * (then only the parsed value is kept). Its hash and chain are not kept: a window is served only for
 * the exact head it was verified up to.
 */
export interface CachedEntry {
  index: number;
  size: number;
  text: string | undefined;
  /** The entry parsed from `text`, once, deep-frozen: what every window served from the cache shares. */
  parsed: StoredHistoryEntry | undefined;
}

/**
 * A cached entry of the stored text, with every field from the start: a field added later would
 * give each of the (many) cached entries an out-of-object property array.
 */
export function cachedEntry(index: number, size: number, text: string): CachedEntry {
  return { index, size, text, parsed: undefined };
}

interface Window {
  length: number;
  head: string;
  /** The lowest index the log still holds (a retention marker moves it up). */
  floor: number;
  /** Contiguous entries ending at `length - 1` (owned by the cache: extended in place). */
  entries: CachedEntry[];
  /** The stored sizes of `entries`, summed. */
  bytes: number;
}

/** A map that forgets its least recently used keys beyond `max`. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: string, v: V, onEvict?: (v: V) => void): void {
    this.map.delete(k);
    this.map.set(k, v);
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next().value as string;
      const gone = this.map.get(oldest);
      this.map.delete(oldest);
      if (gone !== undefined) onEvict?.(gone);
    }
  }
  delete(k: string): V | undefined {
    const v = this.map.get(k);
    this.map.delete(k);
    return v;
  }
  /** The least recently used key. */
  oldest(): string | undefined {
    const it = this.map.keys().next();
    return it.done ? undefined : it.value;
  }
}

export interface LogCacheLimits {
  /** Sessions whose newest entries are kept (default 4,096). */
  sessions: number;
  /** Entries kept per session (default 1,000: the largest window). */
  entries: number;
  /** Stored bytes of the entries kept, in all (default 64 MiB). */
  bytes: number;
}

export const DEFAULT_LOG_CACHE: LogCacheLimits = { sessions: 4096, entries: 1000, bytes: 64 * 1024 * 1024 };

export class LogCache {
  private readonly windows: Lru<Window>;
  private readonly metas: Lru<PreviousCheckpoint>;
  private bytes = 0;

  constructor(private readonly limits: LogCacheLimits = DEFAULT_LOG_CACHE) {
    this.windows = new Lru(limits.sessions);
    this.metas = new Lru(limits.sessions * 2);
  }

  /** What an append needs of checkpoint `seq` of `sid`, if this process wrote or read it. */
  previous(sid: string, seq: number): PreviousCheckpoint | undefined {
    return this.metas.get(`${sid}\0${seq}`);
  }

  rememberPrevious(sid: string, seq: number, p: PreviousCheckpoint): void {
    this.metas.set(`${sid}\0${seq}`, p);
  }

  /**
   * The cached entries [from, length) of a log whose length and head are exactly these, or
   * undefined when this process does not hold all of them.
   */
  window(
    sid: string,
    length: number,
    head: string,
    from: number,
  ): { entries: CachedEntry[]; floor: number } | undefined {
    const w = this.windows.get(sid);
    if (!w) return undefined;
    if (w.length !== length || w.head !== head) {
      this.drop(sid);
      return undefined;
    }
    const start = Math.max(from, w.floor);
    const first = w.entries[0]?.index ?? length;
    if (first > start) return undefined;
    return { entries: w.entries.slice(start - first), floor: w.floor };
  }

  /** Remember entries [from, length) read and verified, ending at the log's head. */
  put(sid: string, length: number, head: string, floor: number, entries: CachedEntry[]): void {
    const keep = entries.slice(Math.max(0, entries.length - this.limits.entries));
    const cur = this.windows.get(sid);
    // a cached window of the same log that reaches further back is worth keeping
    if (cur && cur.length === length && cur.head === head && cur.entries.length >= keep.length) return;
    this.store(sid, { length, head, floor, entries: keep, bytes: 0 });
  }

  /**
   * After an append committed entries on top of (prevLength, prevHead): extend the cached window
   * if it ended there (or start one for a new log); otherwise forget the session's window.
   */
  extend(
    sid: string,
    prevLength: number,
    prevHead: string,
    length: number,
    head: string,
    /** The log's new lowest index when retention removed entries in this append. */
    trimmedTo: number | undefined,
    added: CachedEntry[],
  ): void {
    const w = this.windows.get(sid);
    if (length === prevLength && head === prevHead) {
      if (w && w.length === length && w.head === head && trimmedTo !== undefined)
        this.trim(sid, w, trimmedTo);
      return;
    }
    if (w && w.length === prevLength && w.head === prevHead) {
      // the window this process holds ends where the append began: extend it in place
      w.length = length;
      w.head = head;
      for (const e of added) {
        w.entries.push(e);
        w.bytes += e.size;
        this.bytes += e.size;
      }
      if (trimmedTo !== undefined) this.trim(sid, w, trimmedTo);
      else this.bound(w);
      this.overBudget();
    } else if (prevLength === 0) {
      const floor = trimmedTo ?? 0;
      this.store(sid, { length, head, floor, entries: added.filter((e) => e.index >= floor), bytes: 0 });
    } else {
      this.drop(sid);
    }
  }

  drop(sid: string): void {
    const w = this.windows.delete(sid);
    if (w) this.bytes -= w.bytes;
  }

  private trim(sid: string, w: Window, floor: number): void {
    this.store(
      sid,
      Object.assign({}, w, { floor, entries: w.entries.filter((e) => e.index >= floor), bytes: 0 }),
    );
  }

  /** At most `limits.entries` entries in a counted window: the oldest go first. */
  private bound(w: Window): void {
    const over = w.entries.length - this.limits.entries;
    if (over <= 0) return;
    for (const e of w.entries.splice(0, over)) {
      w.bytes -= e.size;
      this.bytes -= e.size;
    }
  }

  private store(sid: string, w: Window): void {
    this.drop(sid);
    // not counted yet: cut to the limit without touching the totals
    const over = w.entries.length - this.limits.entries;
    if (over > 0) w.entries = w.entries.slice(over);
    let bytes = 0;
    for (const e of w.entries) bytes += e.size;
    w.bytes = bytes;
    this.bytes += bytes;
    this.windows.set(sid, w, (gone) => {
      this.bytes -= gone.bytes;
    });
    this.overBudget();
  }

  /** Over the byte budget: forget the least recently used windows (the one just used last). */
  private overBudget(): void {
    while (this.bytes > this.limits.bytes) {
      const victim = this.windows.oldest();
      if (victim === undefined) break;
      this.drop(victim);
    }
  }
}

/**
 * Entries of a log as the store returns them, parsed from their stored text at most once per entry
 * (a turn's window is mostly the previous turn's window). The values are shared between turns, so
 * they are frozen: a caller that tried to change one would change the log it was given.
 */
export function parseEntries(entries: CachedEntry[]): StoredHistoryEntry[] {
  let prior: StoredHistoryEntry | undefined;
  return entries.map((e) => (prior = e.parsed ??= parsedEntry(e, prior)));
}

/** One entry parsed; the turn id is the previous entry's string when equal (a turn's entries share one). */
function parsedEntry(e: CachedEntry, prior: StoredHistoryEntry | undefined): StoredHistoryEntry {
  const v = JSON.parse(e.text!) as Omit<StoredHistoryEntry, 'index'>;
  e.text = undefined; // parsed once: the text is not needed again
  const turnId = prior !== undefined && prior.turnId === v.turnId ? prior.turnId : v.turnId;
  return deepFreeze({ index: e.index, role: v.role, content: v.content, turnId, at: v.at });
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

/** Cache changes queued inside a write transaction, applied when it commits. */
export class Deferred {
  private queue: Array<() => void> = [];
  add(fn: () => void): void {
    this.queue.push(fn);
  }
  mark(): number {
    return this.queue.length;
  }
  /** Forget what was queued since `mark` (a refused item, a rolled-back transaction). */
  rollback(mark = 0): void {
    this.queue.length = Math.min(this.queue.length, mark);
  }
  commit(): void {
    const q = this.queue;
    this.queue = [];
    for (const fn of q) fn();
  }
}
