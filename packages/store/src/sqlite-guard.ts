/** SQLite statements that refuse a NUL character in a bound value, as PostgreSQL does (`checkNoNul`). */
import type { Statement } from 'better-sqlite3';
import { checkNoNul } from './common';

/** What the store calls on a statement. */
export type GuardedStatement = Pick<Statement, 'run' | 'get' | 'all' | 'iterate'>;

/**
 * A statement whose bound values are checked for NUL characters first (`checkNoNul`), as PostgreSQL
 * would refuse them. A plain object with the four methods (no proxy: every turn runs a dozen of them).
 */
export function guarded(s: Statement): GuardedStatement {
  const check = (a: unknown[]): void =>
    checkNoNul(a.length === 1 && typeof a[0] === 'object' && a[0] !== null ? Object.values(a[0]) : a);
  return {
    run: (...a: unknown[]) => (check(a), s.run(...a)),
    get: (...a: unknown[]) => (check(a), s.get(...a)),
    all: (...a: unknown[]) => (check(a), s.all(...a)),
    iterate: (...a: unknown[]) => (check(a), s.iterate(...a)),
  };
}
