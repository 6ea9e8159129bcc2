/**
 * The dialect layer under the shared store methods (src/sql): how a plan runs on each kind of
 * executor, the query builder, and that the two backends answer alike where their code is not the
 * same (the aggregate merge: TypeScript on SQLite, SQL on PostgreSQL).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { SessionAggregate } from '@baton/core';
import { PostgresStore } from '../src/postgres';
import { SqliteStore } from '../src/sqlite';
import { one, run, runAsync, runSync } from '../src/sql/dialect';
import { leaseFree } from '../src/sql/leases';
import type { Plan, Step } from '../src/sql/dialect';
import { Where } from '../src/sql/where';
import type { Store } from '../src/store';

const url = process.env.BATON_TEST_PG_URL;
const ci = process.env.CI === 'true';

/** A plan of two statements that catches the first one's error and answers what it saw. */
function* probe(): Plan<string> {
  let first: string;
  try {
    const row = yield* one('SELECT 1');
    first = `row ${String(row?.v)}`;
  } catch (e) {
    first = `caught ${(e as Error).message}`;
  }
  const n = yield* run('UPDATE t SET v = 1');
  return `${first}, changed ${n}`;
}

describe('plans', () => {
  it('run synchronously: each statement answered in order, a failing one thrown into the plan', () => {
    const seen: Step[] = [];
    const answer = runSync(probe(), (s) => {
      seen.push(s);
      if (s.kind === 'one') throw new Error('no such table');
      return 3;
    });
    expect(answer).toBe('caught no such table, changed 3');
    expect(seen.map((s) => s.kind)).toEqual(['one', 'run']);
  });

  it('run asynchronously the same way', async () => {
    const answer = await runAsync(probe(), async (s) => (s.kind === 'one' ? { v: 7 } : 2));
    expect(answer).toBe('row 7, changed 2');
  });

  it('an error the plan does not catch is the run error', async () => {
    function* failing(): Plan<void> {
      yield* run('DELETE FROM t');
    }
    expect(() =>
      runSync(failing(), () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    await expect(runAsync(failing(), () => Promise.reject(new Error('late boom')))).rejects.toThrow(
      'late boom',
    );
  });
});

describe('Where', () => {
  it('numbers parameters in the order they are added and leaves out filters not given', () => {
    const w = new Where();
    const set = `x = ${w.p('first')}`;
    w.eq('a', 1)
      .eq('b', undefined)
      .eq('c', null)
      .in('d', ['p', 'q'])
      .cmp('e', '<', 5)
      .cmp('f', '>', undefined);
    expect(`${set}${w.sql}`).toBe('x = $1 WHERE a = $2 AND d IN ($3, $4) AND e < $5');
    expect(w.args).toEqual(['first', 1, 'p', 'q', 5]);
  });

  it('has no WHERE without filters, and an empty IN list matches nothing', () => {
    expect(new Where().eq('a', undefined).sql).toBe('');
    expect(new Where().in('a', []).sql).toBe(' WHERE 1 = 0');
  });
});

/** A scratch directory for SQLite files and a PostgreSQL schema name, both removed after the suite. */
function scratch(name: string): { dir: string; schema: string } {
  const dir = mkdtempSync(join(tmpdir(), `baton-${name}-`));
  const schema = `baton_${name}_${process.pid}_${Date.now().toString(36)}`;
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    if (!url) return;
    const raw = new pg.Pool({ connectionString: url, max: 1 });
    await raw.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await raw.end();
  });
  return { dir, schema };
}

/** Every holder and expiry a session's lease row can have, against the lease rule in TypeScript. */
async function leaseCases(store: SqliteStore | PostgresStore, now: number): Promise<void> {
  const owners = [null, 'me', 'other'];
  const expiries = [null, now - 1, now, now + 1000];
  let i = 0;
  for (const leaseOwner of owners) {
    for (const leaseExpiresAt of expiries) {
      const id = `lease-${i++}`;
      await store.createSession({ id, agent: 'a', version: 'v1', tokenHash: 'h' });
      await store.runPlan(
        run('UPDATE sessions SET lease_owner = $1, lease_expires_at = $2 WHERE id = $3', [
          leaseOwner,
          leaseExpiresAt,
          id,
        ]),
      );
      const free = leaseFree({ leaseOwner, leaseExpiresAt }, 'me', now);
      const got = await store.acquireLease(id, 'me', 500).then(
        (l) => `taken until ${l.expiresAt}`,
        (e: { code?: string }) => String(e.code),
      );
      expect(got, JSON.stringify({ leaseOwner, leaseExpiresAt })).toBe(
        free ? `taken until ${now + 500}` : 'SESSION_BUSY',
      );
    }
  }
}

describe('the lease rule: the SQL of acquireLease takes a lease exactly when leaseFree says it is free', () => {
  const { dir, schema } = scratch('lease');

  it('sqlite', async () => {
    const store = new SqliteStore(join(dir, 'baton.db'), { now: () => 10_000 });
    try {
      await leaseCases(store, 10_000);
    } finally {
      await store.close();
    }
  });

  it.skipIf(!url)('postgres', async () => {
    const store = await PostgresStore.open(url!, { schema, poolSize: 2, now: () => 10_000 });
    try {
      await leaseCases(store, 10_000);
    } finally {
      await store.close();
    }
  });
});

/** The same writes on a store: two turns and evaluator metrics under names a worker chooses. */
async function aggregateOf(store: Store): Promise<SessionAggregate[]> {
  await store.createSession({ id: 's-merge', agent: 'a', version: 'v1', tokenHash: 'h' });
  const names = JSON.parse('{"__proto__": 1, "constructor": 2, "tool ü": 3}') as Record<string, number>;
  for (const [i, at] of [100, 200].entries()) {
    await store.recordTurnTelemetry({
      sessionId: 's-merge',
      agent: 'a',
      version: 'v1',
      turnId: `t${i}`,
      seq: i + 1,
      at,
      latencyMs: 10.5 + i,
      toolCalls: { ...names, search: i + 1 },
      reasoningSteps: 2,
      tokensIn: 5,
      tokensOut: 7,
      contextUtilization: 0.25 * (i + 1),
      metrics: { score: 0.5, toString: 1 },
      signals: ['thumbs_down', 'constructor'],
      ...(i === 1 ? { error: 'x' } : {}),
    });
  }
  await store.recordSessionMetrics('s-merge', 'v1', {
    metrics: JSON.parse('{"score": 0.25, "__proto__": 0.75}') as Record<string, number>,
    signals: { escalation: 2, constructor: 1 },
  });
  await store.recordSessionMetrics('s-merge', 'v2', { metrics: { other: 4 } });
  return store.listSessionAggregates({ agent: 'a' });
}

describe.skipIf(url || !ci)('the aggregate merge (CI without a server)', () => {
  it('needs BATON_TEST_PG_URL under CI=true', () => {
    throw new Error('BATON_TEST_PG_URL is not set, and CI=true requires the PostgreSQL comparison');
  });
});

describe.skipIf(!url)('the aggregate merge: SQLite (TypeScript) and PostgreSQL (SQL) agree', () => {
  const { dir, schema } = scratch('dialect');

  it('on counts, sums and maxima, under keys like __proto__ and constructor', async () => {
    const now = () => 50;
    const sqlite = new SqliteStore(join(dir, 'baton.db'), { now });
    const postgres = await PostgresStore.open(url!, { schema, poolSize: 2, now });
    try {
      const a = await aggregateOf(sqlite);
      const b = await aggregateOf(postgres);
      expect(a).toHaveLength(2);
      expect(a[0]!.toolMix).toEqual(
        JSON.parse('{"__proto__": 2, "constructor": 4, "tool ü": 6, "search": 3}'),
      );
      expect(Object.keys(a[0]!.metrics).sort()).toEqual(['__proto__', 'score', 'toString']);
      expect(a[0]!.metrics.score).toEqual({ sum: 1.25, count: 3 });
      expect(a[0]!.signals).toEqual({ thumbs_down: 2, constructor: 3, escalation: 2 });
      expect(b).toEqual(a);
    } finally {
      await sqlite.close();
      await postgres.close();
    }
  });
});
