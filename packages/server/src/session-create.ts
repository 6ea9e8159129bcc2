/**
 * Session creation with an optional `Idempotency-Key` (a client retrying after a crash gets the
 * same session), and the session token.
 *
 * The token is derived, never stored: HMAC-SHA256 over the session id with a secret every router
 * of the store shares (`sharedSecret('session-token')`), base64url. The store keeps only its
 * SHA-256 as before, and a replay of the creation answers the same token, computed again. The same
 * key with a different body is 422 IDEMPOTENCY_MISMATCH; keys are per agent.
 */
import { createHmac } from 'node:crypto';
import { BatonError, canonicalJson, newId, sha256Hex } from '@baton/core';
import type { Clock, RouteRecord } from '@baton/core';
import type { Store } from '@baton/store';

const SECRET_NAME = 'session-token';

export interface CreateSessionOptions {
  tenant?: string | null;
  metadata?: Record<string, unknown>;
}

export interface CreatedSession {
  sessionId: string;
  sessionToken: string;
  version: string;
  /** True when an earlier request with the same key created it (the answer is that request's). */
  replayed: boolean;
}

export class SessionCreator {
  private key: Promise<Buffer> | null = null;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    /** The version a new session of the route is pinned to (deterministic in the session id). */
    private readonly versionFor: (route: RouteRecord, sessionId: string) => string,
  ) {}

  private secret(): Promise<Buffer> {
    this.key ??= this.store.sharedSecret(SECRET_NAME).catch((e: unknown) => {
      this.key = null;
      throw e;
    });
    return this.key;
  }

  /** The session's token: derived from the session id, so a replay answers the same one. */
  async token(sessionId: string): Promise<string> {
    return createHmac('sha256', await this.secret())
      .update(sessionId)
      .digest('base64url');
  }

  async create(agent: string, opts: CreateSessionOptions, idempotencyKey?: string): Promise<CreatedSession> {
    const route = await this.store.getRoute(agent);
    if (!route) throw new BatonError('NOT_FOUND', `unknown agent ${agent}`, { agent });
    let id = newId('ses', this.clock.now());
    const tenant = opts.tenant ?? null;
    const metadata = opts.metadata ?? {};
    if (idempotencyKey !== undefined) {
      const bodyHash = sha256Hex(canonicalJson({ tenant, metadata }));
      const r = await this.store.reserveSessionKey({ agent, key: idempotencyKey, sessionId: id, bodyHash });
      if (r.bodyHash !== bodyHash)
        throw new BatonError(
          'IDEMPOTENCY_MISMATCH',
          'this Idempotency-Key was used to create a session with a different body',
          { agent, sessionId: r.sessionId },
        );
      id = r.sessionId;
      if (!r.reserved) {
        const earlier = await this.existing(id);
        if (earlier) return earlier;
      }
    }
    const version = this.versionFor(route, id);
    const token = await this.token(id);
    try {
      await this.store.createSession({ id, agent, version, tenant, tokenHash: sha256Hex(token), metadata });
    } catch (e) {
      // A concurrent request with the same key created it between our reservation and now.
      const earlier = idempotencyKey === undefined ? null : await this.existing(id);
      if (earlier) return earlier;
      throw e;
    }
    return { sessionId: id, sessionToken: token, version, replayed: false };
  }

  /** The session a reservation stands for, if it was created (a crash may have come in between). */
  private async existing(id: string): Promise<CreatedSession | null> {
    try {
      const s = await this.store.getSession(id);
      return { sessionId: id, sessionToken: await this.token(id), version: s.version, replayed: true };
    } catch (e) {
      if (e instanceof BatonError && e.code === 'SESSION_NOT_FOUND') return null;
      throw e;
    }
  }
}
