/** The effects ledger and step journal for in-process workers: a LedgerClient straight over the store. */
import type { EffectIntentInput, EffectRecord, HistoryPage, HistoryQuery, LedgerClient } from '@baton/core';
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
  commit(idempotencyKey: string, result: unknown): Promise<EffectRecord> {
    return this.store.commitEffect(idempotencyKey, result);
  }
  fail(idempotencyKey: string, error: string): Promise<EffectRecord> {
    return this.store.failEffect(idempotencyKey, error);
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
