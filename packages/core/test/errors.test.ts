/**
 * Error codes in core: what each means and whether it is retryable, with no HTTP status on the
 * error classes (the HTTP edges map codes to statuses through one table).
 */
import { describe, expect, it } from 'vitest';
import {
  BatonError,
  ERROR_CODES,
  HTTP_STATUS,
  SessionBusyError,
  errorFromWire,
  httpStatus,
  isRetryable,
  type ErrorCode,
} from '../src';

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

describe('error codes', () => {
  it('marks exactly the transient codes retryable', () => {
    expect(CODES.filter(isRetryable).sort()).toEqual(
      [
        'COMPENSATION_FAILED',
        'LEASE_LOST',
        'NOT_READY',
        'NO_WORKER',
        'REQUEST_TIMEOUT',
        'SEQUENCE_CONFLICT',
        'SESSION_BUSY',
        'STORE_UNAVAILABLE',
        'TURN_TIMEOUT',
        'UNREACHABLE',
        'WORKER_ERROR',
      ].sort(),
    );
  });

  it('gives every error its code’s retryability, and no status', () => {
    expect(new SessionBusyError('s', 10).retryable).toBe(true);
    expect(new BatonError('VALIDATION', 'x').retryable).toBe(false);
    expect('status' in new BatonError('SESSION_NOT_FOUND', 'x')).toBe(false);
  });

  it('rebuilds an error from its wire form with its retryability; unknown codes are INTERNAL', () => {
    const busy = errorFromWire({ error: { code: 'SESSION_BUSY', message: 'busy', details: { a: 1 } } });
    expect([busy.code, busy.message, busy.details, busy.retryable]).toEqual([
      'SESSION_BUSY',
      'busy',
      { a: 1 },
      true,
    ]);
    for (const code of ['NOPE', 'toString', 'constructor', '__proto__']) {
      expect(errorFromWire({ error: { code, message: 'm' } }).code).toBe('INTERNAL');
    }
  });

  it('has one HTTP status per code, a 4xx or 5xx', () => {
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...CODES].sort());
    for (const code of CODES) {
      expect(httpStatus(code), code).toBeGreaterThanOrEqual(400);
      expect(httpStatus(code), code).toBeLessThan(600);
    }
  });
});
