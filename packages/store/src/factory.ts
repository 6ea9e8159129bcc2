/** The one place that knows backend kinds: picks SQLite or PostgreSQL from the target string. */
import { ValidationError } from '@baton/core';
import type { Store } from './store';
import { SqliteStore } from './sqlite';
import type { SqliteStoreOptions } from './sqlite';

export type OpenStoreOptions = SqliteStoreOptions;

/**
 * `postgres://…` / `postgresql://…` → PostgreSQL; `sqlite:<path>`, `:memory:` or a plain file path → SQLite.
 */
export async function openStore(target: string, opts: OpenStoreOptions = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(target)) {
    throw new ValidationError('the PostgreSQL backend is not available yet');
  }
  return new SqliteStore(target, opts);
}
