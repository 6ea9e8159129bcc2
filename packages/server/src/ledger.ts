/**
 * The effects ledger and step journal for in-process workers: a LedgerClient straight over the
 * store. Every call is made under a turn capability (`withCapability`, which the SDK uses for each
 * turn, or the `baton-capability` header on the worker API) and refused with CAPABILITY_INVALID
 * once that capability's lease expired or was taken over, so a worker still running a turn its
 * router gave up on (or died during) can record nothing for the session (invariants 2 and 3); an
 * effect whose late commit is refused stays in doubt for an operator to resolve. Commits and fails
 * are retried while the store is unavailable.
 */
import { BatonError, shadowHistoryBound } from '@baton/core';
import type {
  EffectIntentInput,
  EffectRecord,
  GraphCheckpointStore,
  HistoryPage,
  HistoryQuery,
  LedgerCallOptions,
  LedgerClient,
  TurnCapability,
} from '@baton/core';
import type { Store } from '@baton/store';
import type { Capabilities } from './capability';
import { CapabilityGraphStore } from './graph-capability';
import { readHistoryChecked } from './history';
import { leaseHolder } from './lease';

/** The rollout an effect belongs to: the agent's current rollout, if its route has one. */
export async function rolloutOf(store: Store, agent: string): Promise<string | null> {
  const route = await store.getRoute(agent);
  return route?.rolloutId ?? null;
}

/**
 * Whether the workers of `agent@version` speak protocol 1 and so cannot present a capability: their
 * calls without one are accepted only for a session of that version whose lease a turn holds now
 * (see `legacyOfSession`). They are fenced by the lease, not by the turn.
 */
export type LegacyWorkers = (agent: string, version: string) => boolean;

function refused(reason: string, sessionId: string): BatonError {
  return new BatonError('CAPABILITY_INVALID', `turn capability refused: ${reason}`, { reason, sessionId });
}

/** Same semantics as the worker API (`/v1/worker/*`), without HTTP. */
export class StoreLedgerClient implements LedgerClient {
  constructor(
    private readonly store: Store,
    private readonly caps: Capabilities,
    private readonly legacy: LegacyWorkers | null = null,
    private readonly capability: string | null = null,
  ) {}

  /** The same client, making every call under `capability` (what the SDK binds for each turn). */
  withCapability(capability: string): StoreLedgerClient {
    return new StoreLedgerClient(this.store, this.caps, this.legacy, capability);
  }

  /** The session's LangGraph checkpoints under this client's capability (as `/v1/worker/graph/*`). */
  get graph(): GraphCheckpointStore {
    return new CapabilityGraphStore(this.store.graph, this.caps, this.capability);
  }

  /**
   * Check this client's capability for a write (or journal read) of `sessionId`'s turn `turnId`:
   * live (its lease epoch is the session's live lease), for that turn, and not read-only. Without a
   * capability the call is refused, unless `legacy` says a protocol-1 worker may be making it.
   */
  private async authorize(
    sessionId: string,
    turnId: string,
    legacy: () => Promise<boolean>,
  ): Promise<TurnCapability | null> {
    if (this.capability === null && this.legacy !== null && (await legacy())) return null;
    const cap: TurnCapability = await this.caps.verify(this.capability ?? undefined, sessionId);
    if (cap.turnId !== turnId) throw refused('issued for another turn', sessionId);
    if (cap.epoch === null && !cap.compensation)
      throw refused('read-only (the call holds no lease)', sessionId);
    return cap;
  }

  /**
   * Whether a call without a capability is one a protocol-1 worker (which cannot send one) may be
   * making for `sessionId`: the session exists, a turn holds its live lease right now, the agent
   * and version the call claims are the session's (when it claims any), and that version's workers
   * speak protocol 1. Anything else — an idle, ended, unknown or other version's session — needs a
   * capability.
   */
  private legacyOfSession(
    sessionId: string,
    claimed?: { agent: string; version: string },
  ): () => Promise<boolean> {
    return async () => {
      if (this.legacy === null) return false;
      const s = await this.store.getSession(sessionId).catch((e: unknown) => {
        if (e instanceof BatonError && e.code === 'SESSION_NOT_FOUND') return null;
        throw e;
      });
      if (s === null) return false;
      if (claimed && (claimed.agent !== s.agent || claimed.version !== s.version)) return false;
      const live = leaseHolder(s, this.caps.now()) !== null;
      return live && this.legacy(s.agent, s.version);
    };
  }

  /**
   * A commit or fail of an effect's intent: a live capability of its turn — or, from the attempt
   * that recorded the intent (`attemptId`) while the effect is still `intent`, an authentic and
   * unexpired capability of that turn whose lease was lost. That attempt ran the effect (no other
   * can have: a retry finds the intent and stops, in doubt), so its settle records what happened
   * instead of leaving the effect in doubt when a router crash or a store restart outlasted the
   * lease. The settle itself is a compare-and-set from `intent` (an operator's resolution wins).
   */
  private async authorizeSettle(idempotencyKey: string, attemptId: string | undefined): Promise<void> {
    const e = await this.store.getEffect(idempotencyKey);
    try {
      await this.authorize(e.sessionId, e.turnId, this.legacyOfSession(e.sessionId, e));
    } catch (err) {
      const own = attemptId !== undefined && e.status === 'intent' && e.attemptId === attemptId;
      if (!own || !(err instanceof BatonError && err.code === 'CAPABILITY_INVALID')) throw err;
      const cap = await this.caps.verify(this.capability ?? undefined, e.sessionId, { live: false });
      if (cap.turnId !== e.turnId || cap.epoch === null) throw err;
    }
  }

  async intent(input: EffectIntentInput): Promise<{ effect: EffectRecord; existing: boolean }> {
    const cap = await this.authorize(
      input.sessionId,
      input.turnId,
      this.legacyOfSession(input.sessionId, input),
    );
    const rolloutId = await rolloutOf(this.store, input.agent);
    // what an effect compensates comes from the capability, never from the caller
    const { compensates: _claimed, ...rest } = input;
    const compensates = cap?.compensation?.effectId;
    return this.store.recordEffectIntent({ ...rest, rolloutId, ...(compensates ? { compensates } : {}) });
  }
  /** Retried while the store is unavailable (e.g. PostgreSQL restarting), for up to 30 s or the deadline. */
  async commit(idempotencyKey: string, result: unknown, opts?: LedgerCallOptions): Promise<EffectRecord> {
    return settle(async () => {
      await this.authorizeSettle(idempotencyKey, opts?.attemptId);
      return this.store.commitEffect(idempotencyKey, result);
    }, opts);
  }
  async fail(idempotencyKey: string, error: string, opts?: LedgerCallOptions): Promise<EffectRecord> {
    return settle(async () => {
      await this.authorizeSettle(idempotencyKey, opts?.attemptId);
      return this.store.failEffect(idempotencyKey, error);
    }, opts);
  }
  async steps(
    sessionId: string,
    turnId: string,
  ): Promise<Array<{ index: number; name: string; result: unknown }>> {
    await this.authorize(sessionId, turnId, this.legacyOfSession(sessionId));
    return this.store.listSteps(sessionId, turnId);
  }
  async putStep(
    sessionId: string,
    turnId: string,
    index: number,
    name: string,
    result: unknown,
  ): Promise<void> {
    await this.authorize(sessionId, turnId, this.legacyOfSession(sessionId));
    return this.store.putStep(sessionId, turnId, index, name, result);
  }
  /** A page of the session's history, for the holder of a live turn capability of that session. */
  async history(capability: string, sessionId: string, q: HistoryQuery): Promise<HistoryPage> {
    const cap = await this.caps.verify(capability, sessionId);
    // a shadow turn sees the history as it was before the turn it replays, never what came after
    const bound = shadowHistoryBound(cap.turnId);
    if (bound !== null) q = { ...q, before: Math.min(q.before ?? bound, bound) };
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
