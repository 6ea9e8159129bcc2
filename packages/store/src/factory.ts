/** The one place that knows backend kinds: picks SQLite or PostgreSQL from the target string. */
import type { Store } from './store';
import { SqliteStore } from './sqlite';
import type { SqliteStoreOptions } from './sqlite';
import type { PostgresStoreOptions } from './postgres';

/** Options of either backend; each ignores the other's. */
export type OpenStoreOptions = SqliteStoreOptions &
  Omit<PostgresStoreOptions, 'hooks'> & {
    hooks?: { beforeCommit?: (op: string) => void | Promise<void> };
  };

/**
 * `postgres://…` / `postgresql://…` → PostgreSQL; `sqlite:<path>`, `:memory:` or a plain file path → SQLite.
 */
export async function openStore(target: string, opts: OpenStoreOptions = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(target)) {
    const { PostgresStore } = await import('./postgres');
    return PostgresStore.open(target, opts);
  }
  const { hooks, ...rest } = opts;
  const sqliteOpts: SqliteStoreOptions = { ...rest };
  const before = hooks?.beforeCommit;
  if (before) sqliteOpts.hooks = { beforeCommit: (op) => void before(op) };
  return new SqliteStore(target, sqliteOpts);
}
