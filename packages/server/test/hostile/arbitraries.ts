/** What the hostile-input suite sends: fast-check arbitraries and builders of hostile bodies and paths. */
import fc from 'fast-check';
import { CONTENT, type RouteSpec } from './routes';

/** A string with at least one NUL character somewhere in it. */
export const withNul = fc
  .tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }))
  .map(([a, b]) => `${a}\u0000${b}`);

/** Query values for `limit` that are not a plain decimal integer in 1..1000. */
export const badLimit = fc.oneof(
  fc.constantFrom('0x10', '1e2', ' 10', '10 ', '+5', '-1', '0', '1.5', '1001', '', 'ten', '0b11', '1_000'),
  fc.string({ maxLength: 6 }).filter((x) => !/^\d{1,15}$/.test(x) && !x.includes('\0')),
  fc.integer({ min: 1001, max: 2 ** 40 }).map(String),
);

/** Text that is not JSON (and not empty, which means "no body"). */
export const notJson = fc
  .oneof(
    fc.constantFrom('{', '{"a":}', "{'a':1}", '[1,]', '{"a":1}x', 'nul', 'undefined', '{"a":1,}'),
    fc.string({ minLength: 1, maxLength: 20 }),
  )
  .filter((t) => {
    if (t.trim() === '') return false;
    try {
      JSON.parse(t);
      return false;
    } catch {
      return true;
    }
  });

/** A JSON body that is valid JSON but not an object (null is "no body" for optional bodies). */
export const notAnObject = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 10 }).filter((x) => !x.includes('\0')),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 3 }),
);

/** JSON text nested `depth` levels deep, mixing arrays and objects. */
export function deepJson(depth: number, shape: boolean[]): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    const arr = shape[i % shape.length];
    open += arr ? '[' : '{"k":';
    close = (arr ? ']' : '}') + close;
  }
  return `${open}1${close}`;
}

/** Object nesting of `depth` levels around a `__proto__` key. */
export function protoJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}{"__proto__":{"polluted":true}}${'}'.repeat(depth)}`;
}

/** The body's JSON text with `content` (JSON text) where CONTENT was, or added as a top-level key. */
export function bodyWith(spec: RouteSpec, content: string): string {
  const text = JSON.stringify(spec.body!());
  const marker = JSON.stringify(CONTENT);
  return text.includes(marker) ? text.replace(marker, content) : `${text.slice(0, -1)},"extra":${content}}`;
}

export function withField(
  body: Record<string, unknown>,
  path: string,
  value: unknown,
): Record<string, unknown> {
  const out = structuredClone(body);
  const keys = path.split('.');
  let o = out;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[keys.at(-1)!] = value;
  return out;
}

export function fillPath(url: string, params: Record<string, string>): string {
  return url.replace(/:([A-Za-z]+)/g, (_m, p: string) => encodeURIComponent(params[p] ?? 'x'));
}
