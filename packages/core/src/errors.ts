/**
 * Error classes with stable codes. The HTTP edge maps `code` to a status and to
 * `{error: {code, message, details?}}` in one place (the server's error mapper); the CLI maps it
 * to an exit code. Here each code says only what it means and whether it is retryable: the same
 * request, sent again unchanged (with the same idempotency key), may succeed once the condition
 * passes, and the attempt that failed committed nothing.
 */
export const ERROR_CODES = {
  VALIDATION: { retryable: false },
  /** A NUL character (U+0000) in a value the store keeps in its own column (an id, tenant, name, key, filter). */
  INVALID_CHARACTER: { retryable: false },
  /** A JSON body nested deeper than the server's limit (`limits.jsonDepth`). */
  JSON_TOO_DEEP: { retryable: false },
  /** A JSON body with an object key named `__proto__`. */
  JSON_KEY_REFUSED: { retryable: false },
  /** A paging `cursor` that is not one this endpoint handed out. */
  INVALID_CURSOR: { retryable: false },
  /** A URL whose percent-escapes do not decode. */
  BAD_URL: { retryable: false },
  /** An HTTP request the server cannot parse (framing, headers, missing Host). */
  MALFORMED_REQUEST: { retryable: false },
  /** The request (headers and body) did not arrive within `limits.requestTimeoutMs`. */
  REQUEST_TIMEOUT: { retryable: true },
  /** A path segment longer than `limits.maxParamLength`. */
  PARAM_TOO_LONG: { retryable: false },
  /** Request headers larger than the server accepts. */
  HEADERS_TOO_LARGE: { retryable: false },
  UNAUTHORIZED: { retryable: false },
  FORBIDDEN: { retryable: false },
  /** A turn capability that is malformed, not for this session, expired, or revoked (turn committed, lease lost). */
  CAPABILITY_INVALID: { retryable: false },
  NOT_FOUND: { retryable: false },
  SESSION_NOT_FOUND: { retryable: false },
  VERSION_NOT_FOUND: { retryable: false },
  WORKER_NOT_FOUND: { retryable: false },
  ROLLOUT_NOT_FOUND: { retryable: false },
  CHECKPOINT_NOT_FOUND: { retryable: false },
  EFFECT_NOT_FOUND: { retryable: false },
  WAIT_NOT_FOUND: { retryable: false },
  SESSION_BUSY: { retryable: true },
  SEQUENCE_CONFLICT: { retryable: true },
  CONFLICT: { retryable: false },
  LEASE_LOST: { retryable: true },
  IDEMPOTENCY_CONFLICT: { retryable: false },
  /** An `Idempotency-Key` used again with a different request body. */
  IDEMPOTENCY_MISMATCH: { retryable: false },
  VERSION_CONFLICT: { retryable: false },
  ROLLOUT_ACTIVE: { retryable: false },
  ROLLOUT_STATE: { retryable: false },
  SESSION_CLOSED: { retryable: false },
  SESSION_QUARANTINED: { retryable: false },
  WAIT_RESOLVED: { retryable: false },
  PREFLIGHT_FAILED: { retryable: false },
  MIGRATION_FAILED: { retryable: false },
  STATE_INVALID: { retryable: false },
  PAYLOAD_TOO_LARGE: { retryable: false },
  CHECKPOINT_TOO_LARGE: { retryable: false },
  CHECKPOINT_CORRUPT: { retryable: false },
  NO_WORKER: { retryable: true },
  WORKER_ERROR: { retryable: true },
  TURN_TIMEOUT: { retryable: true },
  /**
   * The agent's turn handler threw; nothing was committed and the turn may be retried with the same
   * key, which runs the handler again (not marked retryable: the failure is the agent's own).
   */
  TURN_FAILED: { retryable: false },
  /** An effect's `run` threw (or a retry replays that recorded failure). */
  EFFECT_FAILED: { retryable: false },
  /** An effect's intent was recorded but never committed or failed (crash mid-run); not re-run unless declared idempotent. */
  EFFECT_IN_DOUBT: { retryable: false },
  /** A compensation asked of an effect that is not committed (or whose compensation is done or running). */
  EFFECT_NOT_COMPENSABLE: { retryable: false },
  /** No registered version declares the compensation an effect names (or its workers cannot run compensations). */
  COMPENSATION_UNDECLARED: { retryable: false },
  /** A compensation threw (or its worker was lost mid-run); the effect's compensation is `failed`, retryable. */
  COMPENSATION_FAILED: { retryable: true },
  /** A shadow turn's effect or tool call did not match blue's recording, and the agent declared `onDivergence: fail`. */
  SHADOW_DIVERGED: { retryable: false },
  /** No worker of the version honours shadow turns (its health reports no `shadow`): it is refused, not trusted. */
  SHADOW_UNSUPPORTED: { retryable: false },
  STORE_UNAVAILABLE: { retryable: true },
  /** A record is encrypted at rest with a key this process is not configured with. */
  ENCRYPTION_KEY_MISSING: { retryable: false },
  /** An effect's encrypted args or result failed authentication (altered or moved between effects). */
  EFFECT_CORRUPT: { retryable: false },
  /** The router's view of the workers is too old to route by (`/readyz`). */
  NOT_READY: { retryable: true },
  /** Another live process holds the presence lease of this instance id (`baton serve --instance-id`). */
  INSTANCE_ID_IN_USE: { retryable: false },
  UNREACHABLE: { retryable: true },
  INTERNAL: { retryable: false },
} as const satisfies Record<string, { retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Whether an error of this code is worth retrying unchanged (see `ERROR_CODES`). */
export function isRetryable(code: ErrorCode): boolean {
  return ERROR_CODES[code].retryable;
}

export class BatonError extends Error {
  readonly code: ErrorCode;
  /** Retrying the same request unchanged may succeed (`ERROR_CODES`, by code). */
  readonly retryable: boolean;
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
    this.retryable = isRetryable(code);
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
  const code = err?.code && Object.hasOwn(ERROR_CODES, err.code) ? (err.code as ErrorCode) : 'INTERNAL';
  const e = new BatonError(code, err?.message ?? fallbackMessage, err?.details);
  return e;
}
