/**
 * The store's migration runner, one plan for both backends: each run in its migration transaction
 * (SQLite's `BEGIN IMMEDIATE`, PostgreSQL's under an advisory lock), it applies the rendered
 * migrations (`schema/`) the store has not recorded yet, each with its data step, and records them.
 */
import type { DataStep } from '../schema/migrations';
import type { RenderedMigration } from '../schema/render';
import { one, run, script } from './dialect';
import type { Plan } from './dialect';

export function* migrate(
  migrations: readonly RenderedMigration[],
  appliedAt: string,
  data: Record<DataStep, () => Plan<unknown>>,
): Plan<void> {
  yield* script(
    `CREATE TABLE IF NOT EXISTS baton_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ${appliedAt} NOT NULL)`,
  );
  const current = Number((yield* one('SELECT max(version) AS v FROM baton_schema_migrations'))?.v ?? 0);
  for (const m of migrations) {
    if (m.version <= current) continue;
    yield* script(m.sql);
    if (m.data) yield* data[m.data]();
    yield* run('INSERT INTO baton_schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
      m.version,
      m.name,
      Date.now(),
    ]);
  }
}
