/**
 * The store's one query builder: parameters numbered in the order they are added (`$1`, `$2`, …,
 * as `dialect.ts` expects) and a `WHERE` made of the optional filters that were given.
 */

/** A statement's parameters: `p(v)` adds one and answers its placeholder. */
export class Params {
  readonly args: unknown[] = [];

  p(v: unknown): string {
    this.args.push(v);
    return `$${this.args.length}`;
  }
}

/** Optional filters joined by AND; `sql` is empty without any. */
export class Where extends Params {
  private readonly clauses: string[] = [];

  /** `col = v`, left out when `v` is undefined or null (no filter). */
  eq(col: string, v: unknown): this {
    return v === undefined || v === null ? this : this.add(`${col} = ${this.p(v)}`);
  }

  /** `col <op> v` (a comparison), left out when `v` is undefined or null. */
  cmp(col: string, op: '<' | '<=' | '>' | '>=', v: unknown): this {
    return v === undefined || v === null ? this : this.add(`${col} ${op} ${this.p(v)}`);
  }

  /** `col IN (…)`, left out when `vs` is undefined; an empty list matches nothing. */
  in(col: string, vs: readonly unknown[] | undefined): this {
    if (!vs) return this;
    return this.add(vs.length === 0 ? '1 = 0' : `${col} IN (${vs.map((v) => this.p(v)).join(', ')})`);
  }

  add(clause: string): this {
    this.clauses.push(clause);
    return this;
  }

  get sql(): string {
    return this.clauses.length ? ' WHERE ' + this.clauses.join(' AND ') : '';
  }
}
