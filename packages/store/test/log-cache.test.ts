import { describe, expect, it } from 'vitest';
import { LogCache, cachedEntry, parseEntries, type CachedEntry } from '../src/log-cache';

const entry = (index: number, content: unknown): CachedEntry => {
  const text = JSON.stringify({ role: 'user', content, turnId: `t${index}`, at: index });
  return cachedEntry(index, text.length, text);
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

describe('parseEntries', () => {
  it('parses the entries of consecutive turns to their own values, once; a cached entry has every field from its start', () => {
    const text = (index: number, turnId: string) =>
      JSON.stringify({ role: index % 2 ? 'agent' : 'user', content: index, turnId, at: index });
    const rows = [0, 1, 2, 3].map((i) => cachedEntry(i, 10, text(i, `turn_${Math.floor(i / 2)}`)));
    // made with every field (none added when it is parsed)
    expect(Object.keys(rows[0]!)).toEqual(['index', 'size', 'text', 'parsed']);
    const parsed = parseEntries(rows);
    expect(parsed.map((e) => [e.index, e.role, e.content, e.turnId])).toEqual([
      [0, 'user', 0, 'turn_0'],
      [1, 'agent', 1, 'turn_0'],
      [2, 'user', 2, 'turn_1'],
      [3, 'agent', 3, 'turn_1'],
    ]);
    expect(rows.every((r) => r.text === undefined && r.parsed !== undefined)).toBe(true);
    expect(parseEntries(rows)[1]).toBe(parsed[1]);
  });
});

describe('LogCache extension after an append', () => {
  const sized = (index: number, size: number): CachedEntry =>
    cachedEntry(
      index,
      size,
      JSON.stringify({ role: 'user', content: index, turnId: `t${index}`, at: index }),
    );

  it('extends the window in place, keeping the newest entries within the per-session limit', () => {
    const cache = new LogCache({ sessions: 4, entries: 3, bytes: 1_000 });
    cache.extend('s', 0, 'g', 2, 'h2', undefined, [sized(0, 10), sized(1, 10)]);
    cache.extend('s', 2, 'h2', 4, 'h4', undefined, [sized(2, 10), sized(3, 10)]);
    expect(cache.window('s', 4, 'h4', 1)!.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(cache.window('s', 4, 'h4', 2)!.entries.map((e) => e.index)).toEqual([2, 3]);
    // a window reaching before what is held is not served (it is read from the store)
    expect(cache.window('s', 4, 'h4', 0)).toBeUndefined();
    // an append on another head than the one held drops the window
    cache.extend('s', 4, 'other', 5, 'h5', undefined, [sized(4, 10)]);
    expect(cache.window('s', 5, 'h5', 0)).toBeUndefined();
  });

  it('counts stored bytes across extensions and forgets the least recently used window over budget', () => {
    const cache = new LogCache({ sessions: 4, entries: 100, bytes: 100 });
    cache.extend('a', 0, 'g', 1, 'a1', undefined, [sized(0, 40)]);
    cache.extend('b', 0, 'g', 1, 'b1', undefined, [sized(0, 40)]);
    expect(cache.window('a', 1, 'a1', 0)).toBeDefined(); // a is now the most recently used
    cache.extend('b', 1, 'b1', 2, 'b2', undefined, [sized(1, 40)]); // 120 bytes: a window must go
    expect(cache.window('a', 1, 'a1', 0)).toBeUndefined();
    expect(cache.window('b', 2, 'b2', 0)!.entries.map((e) => e.index)).toEqual([0, 1]);
    // dropping b gives its bytes back: a new window of 80 bytes fits again
    cache.drop('b');
    cache.extend('c', 0, 'g', 2, 'c2', undefined, [sized(0, 40), sized(1, 40)]);
    expect(cache.window('c', 2, 'c2', 0)!.entries).toHaveLength(2);
  });

  it('counts only the entries it keeps of a new window longer than the per-session limit', () => {
    const cache = new LogCache({ sessions: 4, entries: 2, bytes: 100 });
    cache.extend('a', 0, 'g', 3, 'a3', undefined, [sized(0, 40), sized(1, 40), sized(2, 40)]);
    expect(cache.window('a', 3, 'a3', 1)!.entries.map((e) => e.index)).toEqual([1, 2]); // 80 bytes
    cache.extend('b', 0, 'g', 1, 'b1', undefined, [sized(0, 40)]); // 120 bytes: a goes
    expect(cache.window('a', 3, 'a3', 1)).toBeUndefined();
    expect(cache.window('b', 1, 'b1', 0)).toBeDefined();
  });

  it('drops the entries a retention cut removed', () => {
    const cache = new LogCache({ sessions: 4, entries: 100, bytes: 1_000 });
    cache.extend('s', 0, 'g', 3, 'h3', undefined, [sized(0, 1), sized(1, 1), sized(2, 1)]);
    cache.extend('s', 3, 'h3', 4, 'h4', 2, [sized(3, 1)]);
    const w = cache.window('s', 4, 'h4', 0)!;
    expect(w.floor).toBe(2);
    expect(w.entries.map((e) => e.index)).toEqual([2, 3]);
  });
});
