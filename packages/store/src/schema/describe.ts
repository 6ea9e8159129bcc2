/**
 * The store's schema described once, independent of the backend: tables, columns, indexes and
 * migration steps as data. `render.ts` writes them out as one dialect's DDL (`sqlite.ts`,
 * `postgres.ts` hold what each dialect calls a type and the objects only it has).
 */

export type Dialect = 'sqlite' | 'postgres';

/**
 * A column's type as the schema names it; each dialect maps it to its own:
 * `text`; `key` (a text id that keyset paging compares bytewise); `int` (32-bit); `bigint`
 * (timestamps in epoch ms and other 64-bit counts); `real`; `bool`; `body` (a stored record body:
 * bytes on SQLite, text on PostgreSQL); `json`; `serial` (an auto-increment row id).
 */
export type ColumnType = 'text' | 'key' | 'int' | 'bigint' | 'real' | 'bool' | 'body' | 'json' | 'serial';

export interface Column {
  name: string;
  type: ColumnType;
  nullable: boolean;
  /** SQL text of the default; `true`/`false` on a `bool` column are written as the dialect spells booleans. */
  default?: string;
  primaryKey: boolean;
  unique: boolean;
}

/** Objects each dialect writes in its own syntax (or not at all): see `SchemaDialect.native`. */
export type NativeObject = 'aggregate merge functions' | 'refuse legacy checkpoints';

/** What a data step upgrades; each backend runs its own code for it, in the migration's transaction. */
export type DataStep = 'legacy checkpoints' | 'wait digests';

export type Step =
  | { kind: 'table'; name: string; columns: Column[]; primaryKey?: string }
  | { kind: 'column'; table: string; column: Column }
  | {
      kind: 'index';
      name: string;
      table: string;
      columns: string;
      unique: boolean;
      /** Another column list or a partial-index condition on one dialect. */
      on?: Partial<Record<Dialect, { columns: string; where?: string }>>;
    }
  /** Compress these `table.column`s where the dialect can (PostgreSQL TOAST with lz4). */
  | { kind: 'compress'; columns: string[] }
  /** The same SQL on every dialect. */
  | { kind: 'sql'; sql: string }
  | { kind: 'native'; object: NativeObject };

export interface MigrationSpec {
  name: string;
  /** A migration one dialect has and the others do not (it takes a version number there only). */
  only?: Dialect;
  /** Written so that a half-applied run can be repeated (`IF NOT EXISTS` where the dialect has it). */
  repeatable?: boolean;
  /** A data upgrade run right after the DDL, in the same transaction. */
  data?: DataStep;
  steps: Step[];
}

/**
 * Columns from a compact list: `name type[?] [=default] [pk] [unique]`, comma-separated. A column
 * is NOT NULL unless its type ends in `?` (a primary key column is written without NOT NULL).
 */
export function columns(list: string): Column[] {
  return list
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '')
    .map((c) => {
      const [name, type, ...flags] = c.split(/\s+/);
      const base = type?.replace(/\?$/, '');
      if (!name || !isType(base)) throw new Error(`bad column ${JSON.stringify(c)}`);
      const col: Column = { name, type: base, nullable: type !== base, primaryKey: false, unique: false };
      for (const f of flags) {
        if (f === 'pk') col.primaryKey = true;
        else if (f === 'unique') col.unique = true;
        else if (f.startsWith('=')) col.default = f.slice(1);
        else throw new Error(`bad column flag ${JSON.stringify(f)} in ${JSON.stringify(c)}`);
      }
      return col;
    });
}

const TYPES: readonly ColumnType[] = [
  'text',
  'key',
  'int',
  'bigint',
  'real',
  'bool',
  'body',
  'json',
  'serial',
];

function isType(t: string | undefined): t is ColumnType {
  return TYPES.includes(t as ColumnType);
}

/** A table; `primaryKey` lists the columns of a composite key (a single one is marked `pk`). */
export function table(name: string, cols: string, primaryKey?: string): Step {
  return { kind: 'table', name, columns: columns(cols), ...(primaryKey ? { primaryKey } : {}) };
}

/** Columns added to an existing table, one `ALTER TABLE … ADD COLUMN` each, in order. */
export function addColumns(tableName: string, cols: string): Step[] {
  return columns(cols).map((column) => ({ kind: 'column', table: tableName, column }));
}

export function index(
  name: string,
  tableName: string,
  cols: string,
  opts: { unique?: boolean; on?: Extract<Step, { kind: 'index' }>['on'] } = {},
): Step {
  return { kind: 'index', name, table: tableName, columns: cols, unique: opts.unique ?? false, on: opts.on };
}

export function sql(text: string): Step {
  return { kind: 'sql', sql: text.trim() };
}

export function native(object: NativeObject): Step {
  return { kind: 'native', object };
}

export function compress(...cols: string[]): Step {
  return { kind: 'compress', columns: cols };
}
