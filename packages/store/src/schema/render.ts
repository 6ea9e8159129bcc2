/** Writes the schema description (describe.ts) out as one dialect's DDL, migration by migration. */
import type { Column, ColumnType, DataStep, Dialect, MigrationSpec, NativeObject, Step } from './describe';

/** What a dialect calls things, and the objects only it has. */
export interface SchemaDialect {
  name: Dialect;
  types: Record<ColumnType, string>;
  /** How a boolean literal is written. */
  bool(v: boolean): string;
  /** Whether a repeatable migration gets `IF NOT EXISTS` on its tables, indexes and columns. */
  repeatable: boolean;
  /** The statement that compresses these `table.column`s; empty where the dialect cannot. */
  compress(columns: string[]): string;
  /** Each native object in this dialect's syntax; empty where the dialect has no such object. */
  native: Record<NativeObject, string>;
}

/** One migration as a backend applies it: its version there, its DDL, and its data step if any. */
export interface RenderedMigration {
  version: number;
  name: string;
  sql: string;
  data?: DataStep;
}

export function renderMigrations(specs: readonly MigrationSpec[], d: SchemaDialect): RenderedMigration[] {
  return specs
    .filter((m) => m.only === undefined || m.only === d.name)
    .map((m, i) => {
      const ine = m.repeatable && d.repeatable ? ' IF NOT EXISTS' : '';
      const statements = m.steps.map((s) => renderStep(s, d, ine)).filter((s) => s !== '');
      const sql = statements.map((s) => s + ';\n').join('');
      return { version: i + 1, name: m.name, sql, ...(m.data ? { data: m.data } : {}) };
    });
}

/** The version of the migration whose data step is `data`. */
export function dataVersion(migrations: readonly RenderedMigration[], data: DataStep): number {
  const m = migrations.find((x) => x.data === data);
  if (!m) throw new Error(`no migration has the data step ${data}`);
  return m.version;
}

function renderStep(s: Step, d: SchemaDialect, ine: string): string {
  switch (s.kind) {
    case 'table': {
      const cols = s.columns.map((c) => renderColumn(c, d));
      if (s.primaryKey) cols.push(`PRIMARY KEY (${s.primaryKey})`);
      return `CREATE TABLE${ine} ${s.name} (\n  ${cols.join(',\n  ')}\n)`;
    }
    case 'column':
      return `ALTER TABLE ${s.table} ADD COLUMN${ine} ${renderColumn(s.column, d)}`;
    case 'index': {
      const on = s.on?.[d.name];
      const where = on?.where ? ` WHERE ${on.where}` : '';
      const unique = s.unique ? 'UNIQUE ' : '';
      return `CREATE ${unique}INDEX${ine} ${s.name} ON ${s.table} (${on?.columns ?? s.columns})${where}`;
    }
    case 'compress':
      return d.compress(s.columns);
    case 'sql':
      return s.sql;
    case 'native':
      return d.native[s.object].trim();
  }
}

function renderColumn(c: Column, d: SchemaDialect): string {
  let out = `${c.name} ${d.types[c.type]}`;
  if (c.primaryKey) return out + ' PRIMARY KEY';
  if (!c.nullable) out += ' NOT NULL';
  if (c.default !== undefined) {
    const bool = c.type === 'bool' && (c.default === 'true' || c.default === 'false');
    out += ` DEFAULT ${bool ? d.bool(c.default === 'true') : c.default}`;
  }
  if (c.unique) out += ' UNIQUE';
  return out;
}
