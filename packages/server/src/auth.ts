/**
 * Bearer-token authentication with four scopes (traffic, admin, worker, read) and per-session
 * tokens. Each scope accepts several tokens (rotation: add the new one, move clients, remove the
 * old one). Tokens are kept only as SHA-256 digests; a presented token is hashed and looked up.
 * docs/security.md lists what each scope may call.
 */
import { timingSafeEqual } from 'node:crypto';
import { BatonError, sha256Hex } from '@baton/core';

export type Scope = 'traffic' | 'admin' | 'worker' | 'read';

export const SCOPES: readonly Scope[] = ['traffic', 'admin', 'worker', 'read'];

/** The scopes that may call the read-only operator endpoints (rollout status, metrics, lists). */
export const READ_SCOPES = ['admin', 'read'] as const;

export interface TokenConfig {
  traffic: string[];
  admin: string[];
  worker: string[];
  /** Read-only tokens (scrapers, verdict readers); none by default. */
  read?: string[];
}

export interface Auth {
  /** The scopes a bearer token grants (empty when unknown). */
  scopesOf(authorization: string | undefined): ReadonlySet<Scope>;
  /** Throws UNAUTHORIZED (no or unknown token) or FORBIDDEN (valid token, wrong scope). */
  require(authorization: string | undefined, ...scopes: Scope[]): Scope;
  /** Throws FORBIDDEN unless `token` hashes to `tokenHash`. */
  checkSessionToken(tokenHash: string, token: string | string[] | undefined): void;
}

const NONE: ReadonlySet<Scope> = new Set();

export function bearerOf(authorization: string | undefined): string | null {
  if (!authorization) return null;
  if (authorization.length < 8 || authorization.slice(0, 7).toLowerCase() !== 'bearer ') return null;
  const t = authorization.slice(7).trim();
  return t.length > 0 ? t : null;
}

export function createAuth(tokens: TokenConfig): Auth {
  const byHash = new Map<string, Set<Scope>>();
  for (const scope of SCOPES) {
    for (const t of tokens[scope] ?? []) {
      if (typeof t !== 'string' || t.length === 0) {
        throw new BatonError('VALIDATION', `empty ${scope} token in server configuration`);
      }
      const h = sha256Hex(t);
      let s = byHash.get(h);
      if (!s) byHash.set(h, (s = new Set()));
      s.add(scope);
    }
  }
  function scopesOf(authorization: string | undefined): ReadonlySet<Scope> {
    const t = bearerOf(authorization);
    if (t === null) return NONE;
    return byHash.get(sha256Hex(t)) ?? NONE;
  }
  return {
    scopesOf,
    require(authorization, ...scopes) {
      const have = scopesOf(authorization);
      if (have.size === 0) {
        throw new BatonError('UNAUTHORIZED', 'missing or unknown bearer token');
      }
      for (const s of scopes) if (have.has(s)) return s;
      throw new BatonError('FORBIDDEN', `this endpoint needs a token with scope ${scopes.join(' or ')}`);
    },
    checkSessionToken(tokenHash, token) {
      const t = Array.isArray(token) ? token[0] : token;
      if (typeof t !== 'string' || t.length === 0) {
        throw new BatonError('FORBIDDEN', 'missing X-Session-Token');
      }
      const a = Buffer.from(sha256Hex(t), 'latin1');
      const b = Buffer.from(tokenHash, 'latin1');
      if (a.length !== b.length || !timingSafeEqual(a, b)) {
        throw new BatonError('FORBIDDEN', 'wrong session token');
      }
    },
  };
}
