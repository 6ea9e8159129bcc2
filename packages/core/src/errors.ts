/**
 * Error classes with stable codes. The HTTP edge maps `BatonError.status` and
 * `code` to `{error: {code, message, details?}}` in one place.
 */
export const ErrorCodes = {
  VALIDATION: 400,
  /** A NUL character (U+0000) in a value the store keeps in its own column (an id, tenant, name, key, filter). */
  INVALID_CHARACTER: 400,
  /** A JSON body nested deeper than the server's limit (`limits.jsonDepth`). */
  JSON_TOO_DEEP: 400,
  /** A JSON body with an object key named `__proto__`. */
  JSON_KEY_REFUSED: 400,
  /** A paging `cursor` that is not one this endpoint handed out. */
  INVALID_CURSOR: 400,
  /** A URL whose percent-escapes do not decode. */
  BAD_URL: 400,
  /** An HTTP request the server cannot parse (framing, headers, missing Host). */
  MALFORMED_REQUEST: 400,
  /** The request (headers and body) did not arrive within `limits.requestTimeoutMs`. */
  REQUEST_TIMEOUT: 408,
  /** A path segment longer than `limits.maxParamLength`. */
  PARAM_TOO_LONG: 414,
  /** Request headers larger than the server accepts. */
  HEADERS_TOO_LARGE: 431,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  /** A turn capability that is malformed, not for this session, expired, or revoked (turn committed, lease lost). */
  CAPABILITY_INVALID: 403,
  NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  WORKER_NOT_FOUND: 404,
  ROLLOUT_NOT_FOUND: 404,
  CHECKPOINT_NOT_FOUND: 404,
  EFFECT_NOT_FOUND: 404,
  WAIT_NOT_FOUND: 404,
  SESSION_BUSY: 409,
  SEQUENCE_CONFLICT: 409,
  CONFLICT: 409,
  LEASE_LOST: 409,
  IDEMPOTENCY_CONFLICT: 409,
  /** An `Idempotency-Key` used again with a different request body. */
  IDEMPOTENCY_MISMATCH: 422,
  VERSION_CONFLICT: 409,
  ROLLOUT_ACTIVE: 409,
  ROLLOUT_STATE: 409,
  SESSION_CLOSED: 409,
  SESSION_QUARANTINED: 409,
  WAIT_RESOLVED: 409,
  PREFLIGHT_FAILED: 422,
  MIGRATION_FAILED: 422,
  STATE_INVALID: 422,
  PAYLOAD_TOO_LARGE: 413,
  CHECKPOINT_TOO_LARGE: 413,
  CHECKPOINT_CORRUPT: 500,
  NO_WORKER: 503,
  WORKER_ERROR: 502,
  TURN_TIMEOUT: 504,
  /** The agent's turn handler threw; nothing was committed and the turn may be retried. */
  TURN_FAILED: 500,
  /** An effect's `run` threw (or a retry replays that recorded failure). */
  EFFECT_FAILED: 500,
  /** An effect's intent was recorded but never committed or failed (crash mid-run); not re-run unless declared idempotent. */
  EFFECT_IN_DOUBT: 409,
  /** A compensation asked of an effect that is not committed (or whose compensation is done or running). */
  EFFECT_NOT_COMPENSABLE: 409,
  /** No registered version declares the compensation an effect names (or its workers cannot run compensations). */
  COMPENSATION_UNDECLARED: 422,
  /** A compensation threw (or its worker was lost mid-run); the effect's compensation is `failed`, retryable. */
  COMPENSATION_FAILED: 500,
  /** A shadow turn's effect or tool call did not match blue's recording, and the agent declared `onDivergence: fail`. */
  SHADOW_DIVERGED: 422,
  /** No worker of the version honours shadow turns (its health reports no `shadow`): it is refused, not trusted. */
  SHADOW_UNSUPPORTED: 409,
  STORE_UNAVAILABLE: 503,
  /** A record is encrypted at rest with a key this process is not configured with. */
  ENCRYPTION_KEY_MISSING: 503,
  /** An effect's encrypted args or result failed authentication (altered or moved between effects). */
  EFFECT_CORRUPT: 500,
  /** The router's view of the workers is too old to route by (`/readyz`). */
  NOT_READY: 503,
  /** Another live process holds the presence lease of this instance id (`baton serve --instance-id`). */
  INSTANCE_ID_IN_USE: 409,
  UNREACHABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class BatonError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;
  constructor(
    code: ErrorCode,
    message: string,
    details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BatonError';
    this.code = code;
    this.status = ErrorCodes[code];
    this.details = details;
  }
  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export class ValidationError extends BatonError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('VALIDATION', message, details);
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends BatonError {
  constructor(
    code:
      | 'NOT_FOUND'
      | 'SESSION_NOT_FOUND'
      | 'VERSION_NOT_FOUND'
      | 'WORKER_NOT_FOUND'
      | 'ROLLOUT_NOT_FOUND'
      | 'CHECKPOINT_NOT_FOUND'
      | 'EFFECT_NOT_FOUND'
      | 'WAIT_NOT_FOUND',
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, details);
    this.name = 'NotFoundError';
  }
}

/** A live lease is held by someone else. `retryAfterMs` says when it expires at the latest. */
export class SessionBusyError extends BatonError {
  readonly retryAfterMs: number;
  constructor(sessionId: string, retryAfterMs: number) {
    super('SESSION_BUSY', `session ${sessionId} is running a turn`, { sessionId, retryAfterMs });
    this.name = 'SessionBusyError';
    this.retryAfterMs = retryAfterMs;
  }
}

/** Compare-and-set on a checkpoint sequence failed: the writer is stale. */
export class SequenceConflictError extends BatonError {
  constructor(sessionId: string, expectedSeq: number, actualSeq: number) {
    super('SEQUENCE_CONFLICT', `session ${sessionId}: expected seq ${expectedSeq}, store has ${actualSeq}`, {
      sessionId,
      expectedSeq,
      actualSeq,
    });
    this.name = 'SequenceConflictError';
  }
}

/** A stored checkpoint body does not match its SHA-256. Never loaded. */
export class CheckpointCorruptError extends BatonError {
  /**
   * `part` names what failed when it is not the checkpoint's manifest: `state`, `context`,
   * `memory`, or `history[<index>]` for an entry of the history log (then `seq` is the checkpoint
   * the read started from).
   */
  constructor(sessionId: string, seq: number, expectedHash: string, actualHash: string, part?: string) {
    super(
      'CHECKPOINT_CORRUPT',
      part === undefined
        ? `checkpoint ${sessionId}#${seq} failed its hash check`
        : `checkpoint ${sessionId}#${seq}: ${part} failed its hash check`,
      part === undefined
        ? { sessionId, seq, expectedHash, actualHash }
        : { sessionId, seq, part, expectedHash, actualHash },
    );
    this.name = 'CheckpointCorruptError';
  }
}

export class MigrationError extends BatonError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('MIGRATION_FAILED', message, details);
    this.name = 'MigrationError';
  }
}

export function isBatonError(e: unknown): e is BatonError {
  return e instanceof BatonError;
}

/** Rebuild a BatonError from its wire form `{code, message, details}` (unknown codes become INTERNAL). */
export function errorFromWire(body: unknown, fallbackMessage = 'request failed'): BatonError {
  const err = (body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } })
    ?.error;
  const code = err?.code && err.code in ErrorCodes ? (err.code as ErrorCode) : 'INTERNAL';
  const e = new BatonError(code, err?.message ?? fallbackMessage, err?.details);
  return e;
}
