/**
 * A LedgerClient over plain Maps, for the SDK's own unit tests only. The ledger is the SDK's
 * external collaborator; the product's effect-once guarantee is proven against the real store.
 * Its `history` pages an in-memory log per session (what the router's history endpoint serves).
 */
import { BatonError, initialCompensationFields } from '@baton/core';
import type {
  EffectIntentInput,
  EffectRecord,
  HistoryEntry,
  HistoryPage,
  HistoryQuery,
  HistoryTrim,
  LedgerClient,
  StoredHistoryEntry,
} from '@baton/core';

export class MapLedger implements LedgerClient {
  readonly effects = new Map<string, EffectRecord>();
  readonly journal = new Map<string, Map<number, { name: string; result: unknown }>>();
  /** Effect and step calls (history reads are counted in `historyCalls`). */
  calls = 0;
  /** When set, the next `commit` throws (simulates a crash between run and commit). */
  crashOnCommit = false;
  /** Each session's history log; an entry's index is its position. */
  readonly logs = new Map<string, StoredHistoryEntry[]>();
  /** Retention markers: entries below `before` were removed. */
  readonly trims = new Map<string, HistoryTrim>();
  readonly historyCalls: Array<{ capability: string; sessionId: string; q: HistoryQuery }> = [];
  /** When set, a history page holds at most this many entries (the newest asked for), like a router with a size cap. */
  pageCap: number | null = null;

  /** Sets a session's log (indexes from 0, in order). */
  setHistory(sessionId: string, entries: readonly HistoryEntry[]): void {
    this.logs.set(
      sessionId,
      entries.map((e, index) => ({ role: e.role, content: e.content, turnId: e.turnId, at: e.at, index })),
    );
  }

  async history(capability: string, sessionId: string, q: HistoryQuery): Promise<HistoryPage> {
    this.historyCalls.push({ capability, sessionId, q: { ...q } });
    const log = this.logs.get(sessionId) ?? [];
    const trimmed = this.trims.get(sessionId) ?? null;
    const limit = q.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new BatonError('VALIDATION', 'limit must be an integer from 1 to 1000');
    const lowest = trimmed?.before ?? 0;
    const below = log.filter((e) => e.index >= lowest && e.index < (q.before ?? log.length));
    const entries = below.slice(-Math.min(limit, this.pageCap ?? limit));
    return {
      sessionId,
      entries: structuredClone(entries),
      total: log.length,
      nextBefore: entries.length > 0 && entries[0]!.index > lowest ? entries[0]!.index : null,
      trimmed: trimmed ? { ...trimmed } : null,
    };
  }

  async intent(input: EffectIntentInput): Promise<{ effect: EffectRecord; existing: boolean }> {
    this.calls++;
    const found = this.effects.get(input.idempotencyKey);
    if (found) return { effect: structuredClone(found), existing: true };
    const effect: EffectRecord = {
      id: `eff_${this.effects.size}`,
      idempotencyKey: input.idempotencyKey,
      sessionId: input.sessionId,
      agent: input.agent,
      version: input.version,
      rolloutId: null,
      turnId: input.turnId,
      name: input.name,
      args: input.args,
      status: 'intent',
      result: null,
      error: null,
      compensation: input.compensation,
      compensationResult: null,
      ...initialCompensationFields(input.compensation),
      compensates: input.compensates ?? null,
      createdAt: 0,
      updatedAt: 0,
    };
    this.effects.set(input.idempotencyKey, effect);
    return { effect: structuredClone(effect), existing: false };
  }
  private get(key: string): EffectRecord {
    const e = this.effects.get(key);
    if (!e) throw new BatonError('EFFECT_NOT_FOUND', key);
    return e;
  }
  async commit(key: string, result: unknown): Promise<EffectRecord> {
    this.calls++;
    if (this.crashOnCommit) {
      this.crashOnCommit = false;
      throw new Error('worker crashed before commit');
    }
    const e = this.get(key);
    e.status = 'committed';
    e.result = structuredClone(result);
    return structuredClone(e);
  }
  async fail(key: string, error: string): Promise<EffectRecord> {
    this.calls++;
    const e = this.get(key);
    e.status = 'failed';
    e.error = error;
    return structuredClone(e);
  }
  async steps(
    sessionId: string,
    turnId: string,
  ): Promise<Array<{ index: number; name: string; result: unknown }>> {
    this.calls++;
    const m = this.journal.get(`${sessionId}:${turnId}`) ?? new Map();
    return [...m.entries()].map(([index, v]) => ({ index, name: v.name, result: structuredClone(v.result) }));
  }
  async putStep(
    sessionId: string,
    turnId: string,
    index: number,
    name: string,
    result: unknown,
  ): Promise<void> {
    this.calls++;
    const k = `${sessionId}:${turnId}`;
    let m = this.journal.get(k);
    if (!m) this.journal.set(k, (m = new Map()));
    if (!m.has(index)) m.set(index, { name, result: structuredClone(result) });
  }
}
