/**
 * Reading a session's history from a worker (protocol 2): a turn receives only a window of the
 * newest entries; anything older is paged through `LedgerClient.history` with the turn
 * capability. A protocol-1 request carries the whole history, and is paged from memory.
 */
import { BatonError, ValidationError, historyEntryText } from '@baton/core';
import type { HistoryPage, HistoryQuery, HistoryWindow, LedgerClient, StoredHistoryEntry } from '@baton/core';

/** What an agent may ask for when it pages the history (the router's endpoint takes these two). */
export type HistoryPageQuery = Pick<HistoryQuery, 'before' | 'limit'>;

/** Pages one session's stored history log (ascending entries, newest `limit` below `before`). */
export type HistoryPager = (q: HistoryPageQuery) => Promise<HistoryPage>;

/**
 * The history as migrations and `rebuildContext` see it. Nothing is fetched until one of the
 * methods is called; each call pages through the router (the turn capability authorizes it).
 */
export interface HistoryReader {
  /** Entries in the session's log (indexes run from 0 to length - 1; retention may have removed the oldest). */
  readonly length: number;
  /** The newest entries, per the agent's history window (`defineAgent({history: {window}})`), oldest first. */
  window(): Promise<StoredHistoryEntry[]>;
  /** One page: the newest `limit` (default 100, at most 1000) entries with index below `before`. */
  page(q?: HistoryPageQuery): Promise<HistoryPage>;
  /** Every kept entry, oldest first, fetched in pages of 1000. Costs O(history) reads: use sparingly. */
  all(): AsyncIterable<StoredHistoryEntry>;
}

/** Entries per page of `HistoryReader.all()` (the router's maximum page). */
export const ALL_PAGE = 1000;
const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 100;

function checkQuery(q: HistoryPageQuery): void {
  if (q.before !== undefined && (!Number.isInteger(q.before) || q.before < 0))
    throw new ValidationError('history before must be a non-negative integer', { before: q.before });
  if (q.limit !== undefined && (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > MAX_LIMIT))
    throw new ValidationError(`history limit must be an integer from 1 to ${MAX_LIMIT}`, { limit: q.limit });
}

/** A pager over the ledger client's `history` method, with the capability of the call in progress. */
export function ledgerPager(
  ledger: LedgerClient | undefined,
  capability: string,
  sessionId: string,
): HistoryPager {
  return async (q) => {
    checkQuery(q);
    if (typeof ledger?.history !== 'function')
      throw new BatonError(
        'INTERNAL',
        'this worker’s ledger client cannot read history: protocol 2 pages history through ' +
          'LedgerClient.history(capability, sessionId, query) (httpLedgerClient implements it)',
      );
    return ledger.history(capability, sessionId, q);
  };
}

/** A pager over a history held in memory (a protocol-1 request, which carries all of it). */
export function memoryPager(entries: readonly StoredHistoryEntry[], sessionId: string): HistoryPager {
  return async (q) => {
    checkQuery(q);
    const before = Math.min(q.before ?? entries.length, entries.length);
    const from = Math.max(0, before - (q.limit ?? DEFAULT_LIMIT));
    const page = entries.slice(from, before).map((e) => ({ ...e }));
    return {
      sessionId,
      entries: page,
      total: entries.length,
      nextBefore: page.length > 0 && from > 0 ? from : null,
      trimmed: null,
    };
  };
}

/** The newest entries of `entries` (ascending) whose serialized size fits in `bytes`. */
export function fitWindow(entries: StoredHistoryEntry[], bytes: number): StoredHistoryEntry[] {
  let total = 0;
  let from = entries.length;
  while (from > 0) {
    const size = Buffer.byteLength(historyEntryText(entries[from - 1]!), 'utf8');
    if (total + size > bytes) break;
    total += size;
    from--;
  }
  return from === 0 ? entries : entries.slice(from);
}

/**
 * A reader over `pager`. Errors of the pager (the router unreachable, a revoked capability) are
 * kept in `failure`, so a caller can tell them from an error of the agent's own code.
 */
export function historyReader(
  length: number,
  pager: HistoryPager,
  window: HistoryWindow,
): HistoryReader & { readonly failure: unknown } {
  let failure: unknown;
  let windowed: Promise<StoredHistoryEntry[]> | null = null;
  const page = async (q: HistoryPageQuery = {}): Promise<HistoryPage> => {
    try {
      return await pager(q);
    } catch (e) {
      failure ??= e;
      throw e;
    }
  };
  return {
    length,
    get failure() {
      return failure;
    },
    page,
    window() {
      const n = Math.min(window.entries, length, MAX_LIMIT);
      windowed ??=
        n === 0 ? Promise.resolve([]) : page({ limit: n }).then((p) => fitWindow(p.entries, window.bytes));
      return windowed.then((w) => w.map((e) => ({ ...e })));
    },
    all() {
      return allEntries(length, page);
    },
  };
}

/**
 * Every kept entry of a log of `total` entries, ascending, in segments of ALL_PAGE. A segment the
 * router answers only in part (a size cap of its own) is completed with further pages below it.
 */
async function* allEntries(total: number, page: HistoryPager): AsyncGenerator<StoredHistoryEntry> {
  let start = 0;
  while (start < total) {
    const segmentEnd = Math.min(total, start + ALL_PAGE);
    const chunks: StoredHistoryEntry[][] = [];
    let end = segmentEnd;
    let trimmedTo = 0;
    while (end > start) {
      const p = await page({ before: end, limit: end - start });
      trimmedTo = Math.max(trimmedTo, p.trimmed?.before ?? 0);
      const got = p.entries.filter((e) => e.index >= start && e.index < end);
      if (got.length > 0) {
        chunks.unshift(got);
        end = got[0]!.index;
      }
      if (p.nextBefore === null || end <= start) break;
      if (got.length === 0)
        throw new BatonError(
          'INTERNAL',
          `history page below ${end} came back empty though older entries exist`,
        );
    }
    for (const c of chunks) yield* c;
    start = Math.max(segmentEnd, trimmedTo);
  }
}
