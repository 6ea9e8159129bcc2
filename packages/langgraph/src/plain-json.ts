/**
 * Reading values LangGraph's default serializer wrote, without its reviver when there is nothing
 * to revive. `JsonPlusSerializer.loadsTyped('json', …)` parses the text, then walks every value
 * (one promise per object and array) to revive LangChain objects, `undefined`, `Set`, `Map` and
 * the like; each of those is encoded as an object with an `"lc"` key. A text without `"lc"` (and
 * without escapes or a `__proto__` key, which could spell or bend one) parses to what the reviver
 * would return, so it is only parsed. Any other serializer, and any other text, goes through
 * `loadsTyped` as before.
 *
 * Writing likewise: the serializer stringifies through a replacer (and a walk for cycles) so that
 * those values get their encodings; a value made only of strings, finite numbers, booleans, null,
 * arrays and plain objects has none, and `JSON.stringify` gives the same text.
 */
import { JsonPlusSerializer, type SerializerProtocol } from '@langchain/langgraph-checkpoint';

const dec = new TextDecoder();
const enc = new TextEncoder();

/** Plain JSON data only, and not deeper than `depth` (a cycle or a deep value takes the serializer). */
export function isPlainJson(v: unknown, depth = 64): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v !== 'object' || depth === 0) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!isPlainJson(v[i], depth - 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  for (const k in v) {
    if (k === '__proto__' || !isPlainJson((v as Record<string, unknown>)[k], depth - 1)) return false;
  }
  return true;
}

/** LangGraph's own serializer, as it ships (not a subclass, no method replaced). */
export function isDefaultSerde(serde: SerializerProtocol): boolean {
  const s = serde as unknown as Record<string, unknown>;
  const proto = JsonPlusSerializer.prototype as unknown as Record<string, unknown>;
  return (
    s.constructor === (JsonPlusSerializer as unknown) &&
    s.loadsTyped === proto.loadsTyped &&
    s._loads === proto._loads &&
    s.dumpsTyped === proto.dumpsTyped &&
    s._dumps === proto._dumps
  );
}

/** True when `text` cannot hold anything the default serializer's reviver would change. */
export function nothingToRevive(text: string): boolean {
  return !text.includes('"lc"') && !text.includes('\\u') && !text.includes('"__proto__"');
}

/** What `parsedTyped` gives for a value only the serializer can read. */
export const NEEDS_SERDE: unique symbol = Symbol('needs the serializer');

/**
 * The value `serde.loadsTyped(type, value)` would give, parsed here when that is the same thing
 * (`byDefault`: `serde` is LangGraph's default serializer), else `NEEDS_SERDE`. Synchronous, so
 * a read whose values are all plain JSON makes no promise per value.
 */
export function parsedTyped(byDefault: boolean, type: string, value: Uint8Array | string): unknown {
  if (type !== 'json' || !byDefault) return NEEDS_SERDE;
  const text = typeof value === 'string' ? value : dec.decode(value);
  if (!nothingToRevive(text)) return NEEDS_SERDE;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // not JSON: let the serializer say so, as it would have
    return NEEDS_SERDE;
  }
}

/** `serde.loadsTyped(type, value)`, for a value `parsedTyped` left to the serializer. */
export function loadBySerde(
  serde: SerializerProtocol,
  byDefault: boolean,
  type: string,
  value: Uint8Array | string,
): Promise<unknown> {
  // the default serializer reads JSON as text
  const text = byDefault && type === 'json' && typeof value !== 'string' ? dec.decode(value) : value;
  return serde.loadsTyped(type, text);
}

/** `serde.loadsTyped(type, value)`, parsed directly when that is the same thing. */
export function loadTyped(
  serde: SerializerProtocol,
  type: string,
  value: Uint8Array | string,
): Promise<unknown> {
  const byDefault = isDefaultSerde(serde);
  const v = parsedTyped(byDefault, type, value);
  return v !== NEEDS_SERDE ? Promise.resolve(v) : loadBySerde(serde, byDefault, type, value);
}

/** `serde.dumpsTyped(value)`, stringified directly when that gives the same bytes. */
export function dumpTyped(serde: SerializerProtocol, value: unknown): Promise<[string, Uint8Array]> {
  if (isDefaultSerde(serde) && isPlainJson(value))
    return Promise.resolve(['json', enc.encode(JSON.stringify(value))]);
  return serde.dumpsTyped(value);
}
