/** The pure parts of the edge: the JSON walk's depth bound, opaque cursors, quoting a path. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatonError } from '@baton/core';
import { checkJsonBody, shownPath } from '../../src/edge';
import { decodeCursor, encodeCursor } from '../../src/paging';

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { k: v };
  return v;
}

function codeOf(fn: () => void): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    return e instanceof BatonError ? e.code : 'not a BatonError';
  }
}

describe('edge: JSON bodies', () => {
  it('accepts exactly the depth limit and refuses one level more, without recursion', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), (limit) => {
        expect(codeOf(() => checkJsonBody(nested(limit), limit))).toBeNull();
        expect(codeOf(() => checkJsonBody(nested(limit + 1), limit))).toBe('JSON_TOO_DEEP');
      }),
    );
    expect(codeOf(() => checkJsonBody(nested(200_000), 64))).toBe('JSON_TOO_DEEP');
  });

  it('refuses a __proto__ key anywhere, naming its path; other keys named after Object members pass', () => {
    const body = JSON.parse('{"a":[{"b":{"__proto__":{"x":1}}}]}') as unknown;
    expect(() => checkJsonBody(body, 64)).toThrow(
      expect.objectContaining({ code: 'JSON_KEY_REFUSED', details: { path: 'a[0].b.__proto__' } }),
    );
    expect(
      codeOf(() => checkJsonBody({ constructor: { prototype: 1 }, toString: 'x', hasOwnProperty: 2 }, 64)),
    ).toBeNull();
  });
});

describe('edge: cursors', () => {
  it('a cursor decodes to the position it was made from, for its own list only', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 100 }).filter((s) => !s.includes('\0')),
        (pos) => {
          const c = encodeCursor('sessions', pos)!;
          expect(decodeCursor('sessions', c)).toBe(pos);
          expect(codeOf(() => decodeCursor('effects', c))).toBe('INVALID_CURSOR');
        },
      ),
    );
    expect(encodeCursor('effects', null)).toBeNull();
    expect(decodeCursor('effects', undefined)).toBeNull();
  });

  it('anything else is INVALID_CURSOR', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (raw) => {
        let decoded: string | null;
        try {
          decoded = decodeCursor('sessions', raw);
        } catch (e) {
          expect((e as BatonError).code).toBe('INVALID_CURSOR');
          return;
        }
        // accepted only when it is exactly the encoding of what it decodes to
        expect(encodeCursor('sessions', decoded)).toBe(raw);
      }),
    );
  });
});

describe('edge: quoting a path', () => {
  it('quotes at most 100 printable ASCII characters and never the query', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 500 }), (p) => {
        const shown = shownPath(`/${p}?token=secret`);
        expect(shown.length).toBeLessThanOrEqual(101);
        expect(shown).toMatch(/^[\x20-\x7e]*…?$/);
        expect(shown.includes('secret') && !p.includes('secret')).toBe(false);
      }),
    );
  });
});
