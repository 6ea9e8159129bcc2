/** The effects ledger and step journal for in-process workers: a LedgerClient straight over the store. */
import type {
  EffectIntentInput,
  EffectRecord,
  HistoryPage,
  HistoryQuery,
  LedgerCallOptions,
  LedgerClient,
} from '@baton/core';
import { BatonError } from '@baton/core';
import type { Store } from '@baton/store';
import type { Capabilities } from './capability';
import { readHistoryChecked } from './history';

/** The rollout an effect belongs to: the agent's current rollout, if its route has one. */
export async function rolloutOf(store: Store, agent: string): Promise<string | null> {
  const route = await store.getRoute(agent);
  return route?.rolloutId ?? null;
}

/** Same semantics as the worker API (`/v1/worker/*`), without HTTP. */
export class StoreLedgerClient implements LedgerClient {
  constructor(
    private readonly store: Store,
    private readonly caps: Capabilities,
  ) {}

  async intent(input: EffectIntentInput): Promise<{ effect: EffectRecord; existing: boolean }> {
    const rolloutId = await rolloutOf(this.store, input.agent);
    return this.store.recordEffectIntent({ ...input, rolloutId });
  }
  /** Retried while the store is unavailable (e.g. PostgreSQL restarting), for up to 30 s or the deadline. */
  commit(idempotencyKey: string, result: unknown, opts?: LedgerCallOptions): Promise<EffectRecord> {
    return settle(() => this.store.commitEffect(idempotencyKey, result), opts);
  }
  fail(idempotencyKey: string, error: string, opts?: LedgerCallOptions): Promise<EffectRecord> {
    return settle(() => this.store.failEffect(idempotencyKey, error), opts);
  }
  steps(sessionId: string, turnId: string): Promise<Array<{ index: number; name: string; result: unknown }>> {
    return this.store.listSteps(sessionId, turnId);
  }
  putStep(sessionId: string, turnId: string, index: number, name: string, result: unknown): Promise<void> {
    return this.store.putStep(sessionId, turnId, index, name, result);
  }
  /** A page of the session's history, for the holder of a live turn capability of that session. */
  async history(capability: string, sessionId: string, q: HistoryQuery): Promise<HistoryPage> {
    await this.caps.verify(capability, sessionId);
    return readHistoryChecked(this.store, sessionId, q);
  }
}

/** How long an in-process commit or fail keeps retrying a store that is unavailable. */
const SETTLE_MS = 30_000;

/**
 * Run a commit or fail (idempotent), retrying with backoff while the store answers
 * STORE_UNAVAILABLE, until 30 s passed or the call's deadline: an effect that ran is not left in
 * doubt by a store restart.
 */
async function settle<T>(op: () => Promise<T>, opts: LedgerCallOptions | undefined): Promise<T> {
  const until = Math.min(Date.now() + SETTLE_MS, opts?.deadline ?? Infinity);
  for (let i = 1; ; i++) {
    try {
      return await op();
    } catch (e) {
      const wait = Math.min(1000, 50 * 2 ** i);
      if (!(e instanceof BatonError && e.code === 'STORE_UNAVAILABLE') || Date.now() + wait >= until) throw e;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
