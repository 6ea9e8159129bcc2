/**
 * Exit codes scripts can rely on, and the one-line error format on stderr:
 * `error CODE: message`.
 */
import { BatonError, type ErrorCode } from '@baton/core';

export const ExitCode = {
  OK: 0,
  /** Anything not covered below (internal errors, worker errors). */
  OTHER: 1,
  /** Bad usage or invalid input: unknown option, invalid spec, failed validation or pre-flight. */
  USAGE: 2,
  NOT_FOUND: 3,
  /** A conflict with the current state: rollout already active, wrong phase, session busy. */
  CONFLICT: 4,
  /** The server could not be reached (or its store is unavailable). */
  UNREACHABLE: 5,
  /** Missing or wrong token. */
  AUTH: 6,
  /** `rollout watch`: the rollout ended aborted. */
  ABORTED: 10,
  /** `rollout watch`: the rollout ended failed. */
  FAILED: 11,
  /** `demo`: an invariant was violated. */
  INVARIANT: 12,
  /** `rollout wait`: the timeout passed before the rollout reached the point waited for. */
  TIMEOUT: 13,
} as const;

/** The exit code of each error code a server (or this process) reports. */
const EXIT_BY_CODE = {
  VALIDATION: ExitCode.USAGE,
  INVALID_CHARACTER: ExitCode.USAGE,
  JSON_TOO_DEEP: ExitCode.USAGE,
  JSON_KEY_REFUSED: ExitCode.USAGE,
  INVALID_CURSOR: ExitCode.USAGE,
  BAD_URL: ExitCode.USAGE,
  MALFORMED_REQUEST: ExitCode.USAGE,
  REQUEST_TIMEOUT: ExitCode.OTHER,
  PARAM_TOO_LONG: ExitCode.OTHER,
  HEADERS_TOO_LARGE: ExitCode.OTHER,
  UNAUTHORIZED: ExitCode.AUTH,
  FORBIDDEN: ExitCode.AUTH,
  CAPABILITY_INVALID: ExitCode.OTHER,
  NOT_FOUND: ExitCode.NOT_FOUND,
  SESSION_NOT_FOUND: ExitCode.NOT_FOUND,
  VERSION_NOT_FOUND: ExitCode.NOT_FOUND,
  WORKER_NOT_FOUND: ExitCode.NOT_FOUND,
  ROLLOUT_NOT_FOUND: ExitCode.NOT_FOUND,
  CHECKPOINT_NOT_FOUND: ExitCode.NOT_FOUND,
  EFFECT_NOT_FOUND: ExitCode.NOT_FOUND,
  WAIT_NOT_FOUND: ExitCode.NOT_FOUND,
  SESSION_BUSY: ExitCode.CONFLICT,
  SEQUENCE_CONFLICT: ExitCode.CONFLICT,
  CONFLICT: ExitCode.CONFLICT,
  LEASE_LOST: ExitCode.CONFLICT,
  IDEMPOTENCY_CONFLICT: ExitCode.CONFLICT,
  IDEMPOTENCY_MISMATCH: ExitCode.USAGE,
  VERSION_CONFLICT: ExitCode.CONFLICT,
  ROLLOUT_ACTIVE: ExitCode.CONFLICT,
  ROLLOUT_STATE: ExitCode.CONFLICT,
  SESSION_CLOSED: ExitCode.CONFLICT,
  SESSION_QUARANTINED: ExitCode.CONFLICT,
  WAIT_RESOLVED: ExitCode.CONFLICT,
  PREFLIGHT_FAILED: ExitCode.USAGE,
  MIGRATION_FAILED: ExitCode.USAGE,
  STATE_INVALID: ExitCode.USAGE,
  PAYLOAD_TOO_LARGE: ExitCode.USAGE,
  CHECKPOINT_TOO_LARGE: ExitCode.USAGE,
  CHECKPOINT_CORRUPT: ExitCode.OTHER,
  NO_WORKER: ExitCode.OTHER,
  WORKER_ERROR: ExitCode.OTHER,
  TURN_TIMEOUT: ExitCode.OTHER,
  TURN_FAILED: ExitCode.OTHER,
  EFFECT_FAILED: ExitCode.OTHER,
  EFFECT_IN_DOUBT: ExitCode.CONFLICT,
  EFFECT_NOT_COMPENSABLE: ExitCode.CONFLICT,
  COMPENSATION_UNDECLARED: ExitCode.USAGE,
  COMPENSATION_FAILED: ExitCode.OTHER,
  SHADOW_DIVERGED: ExitCode.USAGE,
  SHADOW_UNSUPPORTED: ExitCode.CONFLICT,
  STORE_UNAVAILABLE: ExitCode.UNREACHABLE,
  ENCRYPTION_KEY_MISSING: ExitCode.OTHER,
  EFFECT_CORRUPT: ExitCode.OTHER,
  NOT_READY: ExitCode.OTHER,
  INSTANCE_ID_IN_USE: ExitCode.CONFLICT,
  UNREACHABLE: ExitCode.UNREACHABLE,
  INTERNAL: ExitCode.OTHER,
} as const satisfies Record<ErrorCode, number>;

/** A CLI-level error with a code printed as is (e.g. `USAGE`) and an explicit exit code. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof CliError) return e.exitCode;
  if (!(e instanceof BatonError)) return ExitCode.OTHER;
  return EXIT_BY_CODE[e.code];
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, '; ').trim();
}

/** `error CODE: message` on one line. */
export function formatError(e: unknown): string {
  if (e instanceof CliError || e instanceof BatonError) return `error ${e.code}: ${oneLine(e.message)}`;
  const msg = e instanceof Error ? e.message : String(e);
  return `error INTERNAL: ${oneLine(msg)}`;
}
