/**
 * The dialect layer under the store's shared methods. A method that is the same on both backends is
 * written once, in one of the files beside this one, as a *plan*: a generator that yields the
 * statements it needs (`yield* one(sql, args)`) and gets their rows back, so its logic (what to run
 * next, what a missing row means, which error to throw) reads as ordinary code. A backend runs a
 * plan with its own driver:
 *
 * - SQLite (better-sqlite3, synchronous) feeds each statement's rows straight back (`runSync`): a
 *   plan runs to completion without yielding to the event loop, so nothing interleaves between its
 *   statements, and a plan run in a write transaction runs inside better-sqlite3's synchronous
 *   `db.transaction` as the code it replaces did.
 * - PostgreSQL (`pg`, asynchronous) awaits each statement (`runAsync`), on the pool or on one
 *   client inside `BEGIN … COMMIT`.
 *
 * Query text is written once with `$n` placeholders (a number may repeat); SQLite binds them
 * positionally. What else differs is in `Dialect` (row locks for queue claims, how a unique violation is told)
 * and in each backend's executor (SQLite binds booleans as 1/0). JSON is stored as text on
 * both (read with `readJson`, which also takes PostgreSQL's parsed `jsonb`); upserts are
 * `INSERT … ON CONFLICT … DO UPDATE` on both, and `RETURNING` works on both.
 *
 * The hot paths (a turn's begin and its checkpoint append) are not plans: they stay in each
 * backend's own file, where each can do what only it can (SQLite's synchronous group commit,
 * PostgreSQL's single-statement append).
 */
import type { RecordCipher } from '../cipher';
import type { Row } from '../common';

/**
 * One statement of a plan: `one` answers its first row, `all` its rows, `run` how many rows it
 * changed; a `script` is several statements without arguments (a migration's DDL), answering nothing.
 */
export interface Step {
  kind: 'one' | 'all' | 'run' | 'script';
  sql: string;
  args: unknown[];
  /** Worth preparing (PostgreSQL prepares it per connection; SQLite prepares every statement once). */
  prepare?: boolean;
}

/** A method's logic over one backend: yields statements, receives their results, returns the answer. */
export type Plan<T> = Generator<Step, T, unknown>;

export function* one(sql: string, args: unknown[] = [], prepare = false): Plan<Row | undefined> {
  return (yield { kind: 'one', sql, args, prepare }) as Row | undefined;
}

export function* all(sql: string, args: unknown[] = [], prepare = false): Plan<Row[]> {
  return (yield { kind: 'all', sql, args, prepare }) as Row[];
}

export function* run(sql: string, args: unknown[] = [], prepare = false): Plan<number> {
  return (yield { kind: 'run', sql, args, prepare }) as number;
}

export function* script(sql: string): Plan<void> {
  if (sql !== '') yield { kind: 'script', sql, args: [] };
}

/** A plan that runs nothing and returns `v`. */
// eslint-disable-next-line require-yield
export function* done<T>(v: T): Plan<T> {
  return v;
}

/** Run a plan with a synchronous executor (a statement's error is thrown into the plan, where it may be caught). */
export function runSync<T>(plan: Plan<T>, exec: (s: Step) => unknown): T {
  let r = plan.next();
  for (;;) {
    if (r.done) return r.value;
    let out: unknown;
    try {
      out = exec(r.value);
    } catch (e) {
      r = plan.throw(e);
      continue;
    }
    r = plan.next(out);
  }
}

/** Run a plan with an asynchronous executor, one statement at a time. */
export async function runAsync<T>(plan: Plan<T>, exec: (s: Step) => Promise<unknown>): Promise<T> {
  let r = plan.next();
  for (;;) {
    if (r.done) return r.value;
    let out: unknown;
    try {
      out = await exec(r.value);
    } catch (e) {
      r = plan.throw(e);
      continue;
    }
    r = plan.next(out);
  }
}

/** What a plan may ask of the backend's SQL beyond the text they share. */
export interface Dialect {
  readonly kind: 'sqlite' | 'postgres';
  /** Appended to a queue claim's inner `SELECT` so concurrent claimers skip each other's rows ('' on SQLite: one writer). */
  readonly skipLocked: string;
  /** Whether a driver error is a primary-key or unique violation. */
  isUniqueViolation(e: unknown): boolean;
}

/** What the shared plans need of the store running them. */
export interface SqlContext {
  readonly dialect: Dialect;
  readonly cipher: RecordCipher;
  now(): number;
}

/** How a backend runs plans. */
export interface PlanRunner {
  /**
   * Run a plan outside an explicit transaction: every statement is atomic on its own. On SQLite the
   * plan runs synchronously (nothing interleaves between its statements); on PostgreSQL each
   * statement may take another pooled connection.
   */
  runPlan<T>(plan: Plan<T>): Promise<T>;
  /** Run a plan in one write transaction named `op` (the fault-injection hook runs before its commit). */
  runInTx<T>(op: string, plan: Plan<T>): Promise<T>;
}

/** A JSON column as read: text on SQLite (and PostgreSQL `TEXT`), already parsed for PostgreSQL `jsonb`. */
export function readJson(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? JSON.parse(v) : v;
}
