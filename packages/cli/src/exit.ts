/**
 * Exit codes scripts can rely on, and the one-line error format on stderr:
 * `error CODE: message`.
 */
import { BatonError, ErrorCodes } from '@baton/core';

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
  switch (e.code) {
    case 'UNREACHABLE':
    case 'STORE_UNAVAILABLE':
      return ExitCode.UNREACHABLE;
    case 'UNAUTHORIZED':
    case 'FORBIDDEN':
      return ExitCode.AUTH;
    default:
      break;
  }
  const status = ErrorCodes[e.code];
  if (status === 400 || status === 413 || status === 422) return ExitCode.USAGE;
  if (status === 404) return ExitCode.NOT_FOUND;
  if (status === 409) return ExitCode.CONFLICT;
  return ExitCode.OTHER;
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
