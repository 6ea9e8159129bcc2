import { describe, expect, it } from 'vitest';
import { LogCache, parseEntries, type CachedEntry } from '../src/log-cache';

const entry = (index: number, content: unknown): CachedEntry => {
  const text = JSON.stringify({ role: 'user', content, turnId: `t${index}`, at: index });
  return { index, size: text.length, hash: `h${index}`, chain: `c${index}`, text };
};

describe('LogCache windows', () => {
  it('parses each cached entry once and hands out frozen values, equal to the stored text', () => {
    const cache = new LogCache();
    cache.put('s', 2, 'c1', 0, [entry(0, { parts: ['a'] }), entry(1, 'b')]);
    const first = parseEntries(cache.window('s', 2, 'c1', 0)!.entries);
    const second = parseEntries(cache.window('s', 2, 'c1', 0)!.entries);
    expect(first).toEqual([
      { index: 0, role: 'user', content: { parts: ['a'] }, turnId: 't0', at: 0 },
      { index: 1, role: 'user', content: 'b', turnId: 't1', at: 1 },
    ]);
    expect(second[0]).toBe(first[0]);
    expect(Object.isFrozen(first[0])).toBe(true);
    const content = first[0]!.content as { parts: string[] };
    expect(Object.isFrozen(content.parts)).toBe(true);
    // a caller cannot change what the next turn is served
    expect(() => content.parts.push('x')).toThrow(TypeError);
    expect(parseEntries(cache.window('s', 2, 'c1', 0)!.entries)[0]!.content).toEqual({ parts: ['a'] });
  });

  it('serves nothing for another head: a write by another process drops the window', () => {
    const cache = new LogCache();
    cache.put('s', 1, 'c0', 0, [entry(0, 'a')]);
    expect(cache.window('s', 1, 'other', 0)).toBeUndefined();
    expect(cache.window('s', 1, 'c0', 0)).toBeUndefined();
  });
});
