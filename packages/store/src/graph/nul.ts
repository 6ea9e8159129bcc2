/**
 * PostgreSQL's jsonb cannot hold U+0000, while a LangGraph checkpoint document or its metadata
 * may contain one in any string. A document with a NUL is stored escaped and flagged; every other
 * document is stored exactly as given. In a flagged document every string and key has U+0000
 * written as U+E000 "0" and U+E000 itself as U+E000 U+E000, which reads back unambiguously.
 */
const FLAG = '__batonNulEscaped';
const ESC = '\uE000';

type Json = unknown;

function mapStrings(v: Json, f: (s: string) => string): Json {
  if (typeof v === 'string') return f(v);
  if (Array.isArray(v)) return v.map((x) => mapStrings(x, f));
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      Object.defineProperty(out, f(k), {
        value: mapStrings(x, f),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return v;
}

const escape = (s: string): string =>
  s.includes('\u0000') || s.includes(ESC) ? s.replaceAll(ESC, ESC + ESC).replaceAll('\u0000', `${ESC}0`) : s;
const unescape = (s: string): string =>
  s.includes(ESC) ? s.replace(/\uE000([0\uE000])/g, (_m, c: string) => (c === '0' ? '\u0000' : ESC)) : s;

/** JSON text of a document for a jsonb column: as is, or escaped and flagged when it holds a NUL. */
export function graphJson(doc: Record<string, unknown>): string {
  const text = JSON.stringify(doc);
  if (!text.includes('\\u0000')) return text;
  return JSON.stringify({ ...(mapStrings(doc, escape) as Record<string, unknown>), [FLAG]: 1 });
}

/** A metadata filter for `@>` against stored documents (escaped the same way when it holds a NUL). */
export function graphFilter(filter: Record<string, unknown>): string {
  const text = JSON.stringify(filter);
  return text.includes('\\u0000') ? JSON.stringify(mapStrings(filter, escape)) : text;
}

/** A document read from a jsonb column, unescaped when it was stored flagged. */
export function fromGraphJson(doc: Record<string, unknown>): Record<string, unknown> {
  if (!Object.hasOwn(doc, FLAG)) return doc;
  const { [FLAG]: _flag, ...rest } = doc;
  return mapStrings(rest, unescape) as Record<string, unknown>;
}
