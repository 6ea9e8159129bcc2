/** Turns the portable schema (migrations.ts) into one dialect's DDL, migration by migration. */
import type { DataStep, Dialect, MigrationSpec, NativeObject } from './migrations';

/** The portable words (see migrations.ts) as each dialect spells them. */
const SPELLING = {
  INT: { sqlite: 'INTEGER', postgres: 'INTEGER' },
  BIGINT: { sqlite: 'INTEGER', postgres: 'BIGINT' },
  REAL: { sqlite: 'REAL', postgres: 'DOUBLE PRECISION' },
  BOOL: { sqlite: 'INTEGER', postgres: 'BOOLEAN' },
  FALSE: { sqlite: '0', postgres: 'false' },
  JSON: { sqlite: 'TEXT', postgres: 'JSONB' },
  // record bodies: SQLite stores their UTF-8 bytes
  BODY: { sqlite: 'BLOB', postgres: 'TEXT' },
  // SQLite's rowid
  SERIAL: { sqlite: 'INTEGER', postgres: 'BIGSERIAL' },
  CTEXT: { sqlite: 'TEXT', postgres: 'TEXT COLLATE "C"' },
} as const satisfies Record<string, Record<Dialect, string>>;

export interface SchemaDialect {
  name: Dialect;
  /** Whether a repeatable migration gets `IF NOT EXISTS` on its tables, indexes and columns. */
  repeatable: boolean;
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

const WORDS = new RegExp(`\\b(${Object.keys(SPELLING).join('|')})\\b`, 'g');
const CREATES = /\b(CREATE TABLE|CREATE INDEX|CREATE UNIQUE INDEX|ADD COLUMN) /g;

export function renderMigrations(specs: readonly MigrationSpec[], d: SchemaDialect): RenderedMigration[] {
  return specs
    .filter((m) => m.only === undefined || m.only === d.name)
    .map((m, i) => {
      let sql = m.sql.replace(WORDS, (w) => SPELLING[w as keyof typeof SPELLING][d.name]);
      if (m.repeatable && d.repeatable) sql = sql.replace(CREATES, '$1 IF NOT EXISTS ');
      for (const o of m.native ?? []) if (d.native[o]) sql += '\n' + d.native[o];
      return { version: i + 1, name: m.name, sql: sql.trim(), ...(m.data ? { data: m.data } : {}) };
    });
}
