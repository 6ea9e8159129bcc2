/** Request validation with zod: schemas are built once, at module load. */
import { ValidationError } from '@baton/core';
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
