/**
 * Building blocks of the HTTP API's shapes: names, integers in query strings and paths, paging
 * parameters and comma-separated filters. Query values arrive as strings, so their schemas parse
 * strings (`limit=0x10`, `1e2`, `" 10"`, `-1` are refused).
 */
import { z } from 'zod';

/** An agent, version label, tenant or other name the store keeps in a column: 1-200 characters. */
export const nameSchema = z.string().min(1).max(200);

/** A decimal integer in a query string or path: no signs, spaces, exponents or hex. */
export const queryInt = z
  .string()
  .regex(/^\d{1,15}$/, 'must be a decimal integer')
  .transform(Number);

/** `limit=` of a list endpoint: 1..max. */
export function limitParam(max = 1000) {
  return queryInt.pipe(z.number().min(1).max(max)).optional();
}

/** An integer position (`before`, `beforeSeq`, `afterSeq`) at least `min`. */
export function positionParam(min = 0) {
  return queryInt.pipe(z.number().min(min));
}

/** A comma-separated list of values of `values` (`status=idle,waiting`); empty items are dropped. */
export function commaList<const T extends readonly [string, ...string[]]>(values: T) {
  return z
    .string()
    .transform((s) => s.split(',').filter(Boolean))
    .pipe(z.array(z.enum(values)));
}

/** The `{items}` envelope of a list. */
export function listOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item) });
}

/** A page of a list: `nextCursor` is opaque, null on the last page. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}
