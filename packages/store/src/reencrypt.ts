/**
 * Re-encryption under the current key, for both backends: every sealed column of every table is
 * read in key order, a page at a time; the values not under the current key (plaintext included)
 * are opened where they belong and sealed again under the current key, and written back with a
 * compare-and-set on the old value, one transaction per page. Idempotent (values already under the
 * current key are left alone) and resumable (a stopped run is finished by running it again). The
 * plaintext does not change, so neither do the hashes or the history chain.
 */
import { BatonError } from '@baton/core';
import { RecordAuthError, RecordCipher } from './cipher';
import type { RecordPlace } from './cipher';
import type { Row } from './common';
import {
  EFFECT_COLUMNS,
  effectPlace,
  entryPlace,
  partPlace,
  stepPlace,
  turnResultPlace,
  waitsPlace,
} from './sealed';
import { all, run } from './sql/dialect';
import type { Plan, PlanRunner } from './sql/dialect';
import type { ReencryptProgress } from './store';

interface TableSpec {
  table: string;
  /** Columns read (key, place inputs, sealed columns). */
  select: string;
  /** The key columns, in order (keyset paging). */
  key: string[];
  /** Sealed columns and where a value of each belongs. */
  columns: Array<{ name: string; place: (r: Row) => RecordPlace }>;
  /** Rows to consider. */
  where?: string;
}

const TABLES: readonly TableSpec[] = [
  {
    table: 'checkpoint_parts',
    select: 'id, session_id, hash, body',
    key: ['id'],
    columns: [{ name: 'body', place: (r) => partPlace(String(r.session_id), String(r.hash)) }],
  },
  {
    table: 'checkpoints',
    select: 'session_id, seq, body',
    key: ['session_id', 'seq'],
    where: 'format = 2',
    columns: [{ name: 'body', place: (r) => waitsPlace(String(r.session_id), Number(r.seq)) }],
  },
  {
    table: 'history',
    select: 'id, session_id, idx, body',
    key: ['id'],
    columns: [{ name: 'body', place: (r) => entryPlace(String(r.session_id), Number(r.idx)) }],
  },
  {
    table: 'effects',
    select: 'id, idempotency_key, args, result, compensation_result',
    key: ['id'],
    columns: EFFECT_COLUMNS.map((name) => ({
      name,
      place: (r: Row) => effectPlace(String(r.idempotency_key), name),
    })),
  },
  {
    table: 'turn_results',
    select: 'session_id, key, result',
    key: ['session_id', 'key'],
    columns: [{ name: 'result', place: (r) => turnResultPlace(String(r.session_id), String(r.key)) }],
  },
  {
    table: 'steps',
    select: 'session_id, turn_id, idx, result',
    key: ['session_id', 'turn_id', 'idx'],
    columns: [
      { name: 'result', place: (r) => stepPlace(String(r.session_id), String(r.turn_id), Number(r.idx)) },
    ],
  },
];

function pageSql(t: TableSpec, after: boolean, limit: number): string {
  const k = t.key;
  const cond: string[] = [];
  if (t.where) cond.push(t.where);
  if (after) cond.push(`(${k.join(', ')}) > (${k.map((_, i) => `$${i + 1}`).join(', ')})`);
  return `SELECT ${t.select} FROM ${t.table}${cond.length ? ' WHERE ' + cond.join(' AND ') : ''}
    ORDER BY ${k.join(', ')} LIMIT ${limit}`;
}

export interface ReencryptResult {
  scanned: number;
  rewritten: number;
  /** Records that failed their authentication (left as they are). */
  unreadable: string[];
}

/** Updates in one transaction: the number of rows they changed. */
function* updates(stmts: Array<{ sql: string; args: unknown[] }>): Plan<number> {
  let n = 0;
  for (const s of stmts) n += yield* run(s.sql, s.args);
  return n;
}

export async function reencrypt(
  db: PlanRunner,
  cipher: RecordCipher,
  opts: { batch?: number; onProgress?: (p: ReencryptProgress) => void } = {},
): Promise<ReencryptResult> {
  const current = cipher.currentKeyId;
  if (current === null) {
    throw new BatonError(
      'VALIDATION',
      're-encryption needs a current key: set BATON_ENCRYPTION_KEYS or BATON_ENCRYPTION_KEY_FILE',
    );
  }
  const batch = Math.max(1, Math.floor(opts.batch ?? 200));
  let scanned = 0;
  let rewritten = 0;
  const unreadable: string[] = [];
  for (const t of TABLES) {
    let after: unknown[] | null = null;
    let tScanned = 0;
    let tRewritten = 0;
    for (;;) {
      const rows: Row[] = await db.runPlan(all(pageSql(t, after !== null, batch), after ?? []));
      if (rows.length === 0) {
        opts.onProgress?.({ table: t.table, scanned: tScanned, rewritten: tRewritten, done: true });
        break;
      }
      const stmts: Array<{ sql: string; args: unknown[] }> = [];
      for (const r of rows) {
        for (const c of t.columns) {
          const v = r[c.name];
          if (v === null || v === undefined) continue;
          const stored = v as string | Uint8Array;
          if (RecordCipher.keyIdOf(stored) === current) continue;
          const place = c.place(r);
          let plain: Buffer;
          try {
            plain = cipher.open(stored, place);
          } catch (e) {
            // a record that does not authenticate is corruption: left as it is (reading it
            // quarantines its session or fails its effect), reported, and the run goes on
            if (!(e instanceof RecordAuthError)) throw e;
            unreadable.push(`${t.table} ${place.kind} ${place.owner}/${place.at}`);
            continue;
          }
          const sealed = cipher.seal(plain, place);
          const next = typeof v === 'string' ? sealed : Buffer.from(sealed, 'utf8');
          const n = t.key.length;
          stmts.push({
            sql: `UPDATE ${t.table} SET ${c.name} = $${n + 1} WHERE ${t.key
              .map((k, i) => `${k} = $${i + 1}`)
              .join(' AND ')} AND ${c.name} = $${n + 2}`,
            args: [...t.key.map((k) => r[k]), next, v],
          });
        }
      }
      const changed = stmts.length ? await db.runInTx('reencrypt', updates(stmts)) : 0;
      tScanned += rows.length;
      tRewritten += changed;
      const last = rows[rows.length - 1]!;
      after = t.key.map((k) => last[k]);
      opts.onProgress?.({
        table: t.table,
        scanned: tScanned,
        rewritten: tRewritten,
        done: rows.length < batch,
      });
      if (rows.length < batch) break;
    }
    scanned += tScanned;
    rewritten += tRewritten;
  }
  return { scanned, rewritten, unreadable };
}
