/** The one place where errors become HTTP responses: a status and `{error: {code, message, details?}}`. */
import { BatonError, HTTP_STATUS, type ErrorCode } from '@baton/core';
import { ZodError } from 'zod';

export interface WireError {
  status: number;
  body: { error: { code: ErrorCode; message: string; details?: Record<string, unknown> } };
  retryAfterSeconds?: number;
  /** True when the error is unexpected and should be logged. */
  internal: boolean;
}

function wire(
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown>,
  internal = false,
): WireError {
  return {
    status: HTTP_STATUS[code],
    body: { error: details === undefined ? { code, message } : { code, message, details } },
    internal,
  };
}

/** Map any thrown value to the wire form. Never leaks internal messages of unexpected errors. */
export function toWireError(err: unknown): WireError {
  if (err instanceof BatonError) {
    const w = wire(err.code, err.message, err.details);
    if (err.code === 'SESSION_BUSY') {
      const ms = typeof err.details?.retryAfterMs === 'number' ? err.details.retryAfterMs : 1000;
      w.retryAfterSeconds = Math.max(1, Math.ceil(ms / 1000));
    }
    w.internal = err.code === 'INTERNAL';
    return w;
  }
  if (err instanceof ZodError) {
    return wire('VALIDATION', 'request validation failed', {
      issues: err.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    });
  }
  const e = err as { code?: unknown; statusCode?: unknown; message?: unknown; validation?: unknown };
  if (typeof e?.code === 'string' && e.code.startsWith('FST_')) {
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return wire('PAYLOAD_TOO_LARGE', 'request body too large');
    if (e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      return wire('VALIDATION', 'request body is not valid JSON');
    }
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return wire('VALIDATION', 'unsupported content type (send application/json)');
    }
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return wire('VALIDATION', typeof e.message === 'string' ? e.message : 'bad request');
    }
  }
  if (e?.validation !== undefined) {
    return wire('VALIDATION', typeof e.message === 'string' ? e.message : 'request validation failed');
  }
  if (err instanceof SyntaxError && (e as { statusCode?: number }).statusCode === 400) {
    return wire('VALIDATION', 'request body is not valid JSON');
  }
  return wire('INTERNAL', 'internal error', undefined, true);
}
