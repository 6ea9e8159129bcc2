/**
 * Turn capabilities (see `@baton/core` capability.ts): issued with every turn and migrate call
 * the router dispatches, checked on every call a worker makes back. Signed with a secret kept in
 * the store, so every router of a fleet accepts the capabilities any of them issued.
 */
import {
  BatonError,
  compensationTurnId,
  openCapability,
  signCapability,
  type TurnCapability,
} from '@baton/core';
import type { Clock } from '@baton/core';
import type { Store } from '@baton/store';
import { leaseHolder } from './lease';

const SECRET_NAME = 'turn-capability';

/** Call-id prefixes of the capabilities of migrate calls: a dry run's (writes nothing), a real one's. */
export const DRY_RUN_CALL = 'dryrun_';
export const MIGRATE_CALL = 'migrate_';

function invalid(reason: string, sessionId?: string): BatonError {
  return new BatonError('CAPABILITY_INVALID', `turn capability refused: ${reason}`, {
    reason,
    ...(sessionId ? { sessionId } : {}),
  });
}

export class Capabilities {
  private key: Promise<Buffer> | null = null;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** The clock capabilities are checked against (ms). */
  now(): number {
    return this.clock.now();
  }

  private secret(): Promise<Buffer> {
    this.key ??= this.store.sharedSecret(SECRET_NAME).catch((e: unknown) => {
      this.key = null;
      throw e;
    });
    return this.key;
  }

  /** A capability for one call: `epoch` is the lease it runs under (null: read-only, no lease). */
  async issue(sessionId: string, turnId: string, epoch: number | null, ttlMs: number): Promise<string> {
    return signCapability(
      { sessionId, turnId, epoch, expiresAt: this.clock.now() + ttlMs },
      await this.secret(),
    );
  }

  /** Whether a live lease holds the session now (a turn or a leased migration runs). */
  async leased(sessionId: string): Promise<boolean> {
    const s = await this.store.getSession(sessionId);
    return leaseHolder(s, this.clock.now()) !== null;
  }

  /**
   * A compensation run's capability: names the effect it compensates and the run's owner; its
   * calls are fenced by the effect's compensation state (`running`, held by `owner`), not a lease.
   */
  async issueCompensation(
    effect: { id: string; sessionId: string },
    owner: string,
    ttlMs: number,
  ): Promise<string> {
    return signCapability(
      {
        sessionId: effect.sessionId,
        turnId: compensationTurnId(effect.id),
        epoch: null,
        expiresAt: this.clock.now() + ttlMs,
        compensation: { effectId: effect.id, owner },
      },
      await this.secret(),
    );
  }

  /**
   * The capability `token` grants for `sessionId`, or CAPABILITY_INVALID: malformed or forged, for
   * another session, expired, or revoked — its lease epoch is no longer the session's live lease
   * (the turn committed and released it, or the lease expired or was taken over). With
   * `live: false` a revoked capability is still returned (authentic, for that session, unexpired).
   */
  async verify(
    token: string | undefined,
    sessionId: string,
    opts: { live?: boolean } = {},
  ): Promise<TurnCapability> {
    if (!token) throw invalid('missing (send it in the baton-capability header)', sessionId);
    const cap = openCapability(token, await this.secret());
    if (!cap) throw invalid('malformed or not issued by this store', sessionId);
    if (cap.sessionId !== sessionId) throw invalid('issued for another session', sessionId);
    const now = this.clock.now();
    if (cap.expiresAt <= now) throw invalid('expired', sessionId);
    if (cap.compensation && opts.live !== false) {
      const e = await this.store.getEffectById(cap.compensation.effectId);
      const held =
        e.compensationState === 'running' &&
        e.compensationOwner === cap.compensation.owner &&
        (e.compensationExpiresAt ?? 0) > now;
      if (!held || e.sessionId !== sessionId)
        throw invalid('revoked: the compensation run ended or another run took it over', sessionId);
    } else if (cap.epoch !== null && opts.live !== false) {
      const s = await this.store.getSession(sessionId);
      const live = leaseHolder(s, now) !== null;
      if (!live || s.leaseEpoch !== cap.epoch)
        throw invalid('revoked: the turn committed or its lease was lost', sessionId);
    }
    return cap;
  }
}
