/** SQLite statements that refuse a NUL character in a bound value, as PostgreSQL does (`checkNoNul`). */
import type { Statement } from 'better-sqlite3';
import { checkNoNul } from './common';

/** A statement whose bound values are checked for NUL characters first (`checkNoNul`), as PostgreSQL would refuse them. */
export function guarded(s: Statement): Statement {
  const check = (a: unknown[]): void =>
    checkNoNul(a.length === 1 && typeof a[0] === 'object' && a[0] !== null ? Object.values(a[0]) : a);
  const fns: Record<string, (...a: unknown[]) => unknown> = {
    run: (...a) => (check(a), s.run(...a)),
    get: (...a) => (check(a), s.get(...a)),
    all: (...a) => (check(a), s.all(...a)),
    iterate: (...a) => (check(a), s.iterate(...a)),
  };
  return new Proxy(s, {
    get(t, k) {
      if (typeof k === 'string' && Object.hasOwn(fns, k)) return fns[k];
      const v: unknown = Reflect.get(t, k, t);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}
