/**
 * PostgreSQL: the settings of the store's connections. The schema is the search path, options the
 * URL gives are kept, and JIT is off: a group commit of router turns (telemetry, waits, a turn result:
 * the statement built append by append) crossed `jit_above_cost`, and compiling it took longer than
 * running it by a factor of 100.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore, connectionConfig } from '../src/postgres';
import type { AppendCheckpointInput } from '../src/store';

const url = process.env.BATON_TEST_PG_URL;

describe('postgres connection options', () => {
  it('add the search path and JIT off after the options the URL gives', () => {
    expect(connectionConfig('postgres://u@h/db', undefined)).toEqual({
      connectionString: 'postgres://u@h/db',
      options: '-c jit=off',
    });
    expect(connectionConfig('postgres://u@h/db', 'tenant_a')).toEqual({
      connectionString: 'postgres://u@h/db',
      options: '-c search_path=tenant_a -c jit=off',
    });
    const given = connectionConfig(
      'postgres://u:p%40ss@h:5433/db?options=-c%20statement_timeout%3D5000&sslmode=disable',
      'x',
    );
    expect(given.options).toBeUndefined();
    const back = new URL(given.connectionString);
    expect(back.searchParams.get('options')).toBe('-c statement_timeout=5000 -c search_path=x -c jit=off');
    expect(back.searchParams.get('sslmode')).toBe('disable');
    expect([back.username, back.password, back.host, back.pathname]).toEqual([
      'u',
      'p%40ss',
      'h:5433',
      '/db',
    ]);
  });
});

describe.skipIf(!url)('postgres: the store connections', () => {
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  const schemas: string[] = [];
  afterAll(async () => {
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await admin.end();
  });

  it('run with JIT off, the schema as search path and the URL options kept', async () => {
    const schema = `baton_test_conn_${process.pid}`;
    schemas.push(schema);
    const withOptions = `${url}${url!.includes('?') ? '&' : '?'}options=${encodeURIComponent('-c statement_timeout=54321')}`;
    const store = await PostgresStore.open(withOptions, { schema, poolSize: 2 });
    try {
      const show = async (name: string) =>
        Object.values((await store.pool.query(`SHOW ${name}`)).rows[0] as Record<string, string>)[0];
      expect(await show('jit')).toBe('off');
      expect(await show('statement_timeout')).toBe('54321ms');
      expect(await show('search_path')).toBe(schema);
    } finally {
      await store.close();
    }
  });

  it('commits a group of 50 router turn commits (telemetry, waits, a turn result) in one call', async () => {
    const schema = `baton_test_conn_batch_${process.pid}`;
    schemas.push(schema);
    const store = await PostgresStore.open(url!, { schema, poolSize: 4 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 50; i++)
        ids.push((await store.createSession({ agent: 'a', version: 'v1', tokenHash: 'x' })).id);
      const turn = (sessionId: string, seq: number): AppendCheckpointInput => ({
        sessionId,
        expectedSeq: seq,
        schemaVersion: 1,
        writtenBy: 'v1',
        body: { state: { n: seq }, context: { c: `context ${seq}` }, waits: [] },
        history: [
          { role: 'user', content: `q${seq}`, turnId: `t${seq}`, at: 1000 + seq },
          { role: 'agent', content: `a${seq}`, turnId: `t${seq}`, at: 1001 + seq },
        ],
        waits: [],
        turnResult: { key: `k${seq}`, result: { output: `a${seq}` } },
        telemetry: {
          sessionId,
          agent: 'a',
          version: 'v1',
          turnId: `t${seq}`,
          at: 1001 + seq,
          latencyMs: 2,
          toolCalls: {},
          reasoningSteps: 0,
          tokensIn: 3,
          tokensOut: 4,
          contextUtilization: 0.1,
          metrics: {},
          signals: [],
        },
      });
      for (let seq = 0; seq < 12; seq++) {
        const res = await store.appendCheckpoints(ids.map((id) => turn(id, seq)));
        expect(res.filter((r) => !r.ok)).toEqual([]);
      }
      for (const id of ids) {
        expect((await store.getSession(id)).seq).toBe(12);
        expect((await store.readHistory(id)).total).toBe(24);
      }
      const agg = await admin.query(`SELECT sum(turns)::int AS t FROM "${schema}".session_aggregates`);
      expect(agg.rows[0].t).toBe(600);
      const tel = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".turn_telemetry`);
      expect(tel.rows[0].n).toBe(600);
    } finally {
      await store.close();
    }
  });

  it('a connection the server drops while a transaction holds it fails that call, and the process lives on', () => {
    const schema = `baton_test_conn_drop_${process.pid}`;
    schemas.push(schema);
    const app = `baton_drop_${process.pid}`;
    const target = `${url}${url!.includes('?') ? '&' : '?'}application_name=${app}`;
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./pg-drop-child.ts', import.meta.url)), target, schema],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8', timeout: 60_000 },
    );
    expect(child.stderr).not.toMatch(/Unhandled 'error' event|ECONNRESET/);
    expect(child.status).toBe(0);
    const lines = child.stdout.trim().split('\n');
    expect(lines[0]).toBe('dropped 1');
    expect(lines[1]).toMatch(/^refused: /);
    expect(lines[2]).toBe('then committed seq 1');
  });
});
