/** Request validation with zod: schemas are built once, at module load. */
import { BatonError, ValidationError } from '@baton/core';
import type { z } from 'zod';

export function parse<T extends z.ZodType>(schema: T, value: unknown, what = 'request body'): z.output<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new ValidationError(`invalid ${what}`, {
    issues: r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
  });
}

/** A single header value (first of repeated headers), or undefined. */
export function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The error for a NUL character where the store keeps the value in its own column. */
export function nulError(where: string): BatonError {
  return new BatonError('INVALID_CHARACTER', `${where} contains a NUL character (U+0000)`, { where });
}

/** The first key of a flat object (path params, a query) whose value, or one of its values, has a NUL. */
export function findNul(o: unknown): string | undefined {
  if (typeof o !== 'object' || o === null) return undefined;
  for (const [k, v] of Object.entries(o)) {
    if (k.includes('\0')) return JSON.stringify(k);
    const vs = Array.isArray(v) ? v : [v];
    if (vs.some((x) => typeof x === 'string' && x.includes('\0'))) return k;
  }
  return undefined;
}
