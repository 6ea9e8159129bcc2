import pg from 'pg';
import { describe, it } from 'vitest';
import { PostgresStore } from '../src/postgres';
import { storeConformance } from './conformance.case';

const url = process.env.BATON_TEST_PG_URL;
const ci = process.env.CI === 'true';

if (!url && !ci) {
  console.warn('skipping the PostgreSQL store conformance suite: BATON_TEST_PG_URL is not set');
}

describe.skipIf(url || !ci)('store conformance: postgres (CI without a server)', () => {
  it('needs BATON_TEST_PG_URL under CI=true', () => {
    throw new Error('BATON_TEST_PG_URL is not set, and CI=true requires the PostgreSQL conformance run');
  });
});

describe.skipIf(!url)('store conformance: postgres', () => {
  if (!url) return;
  storeConformance('postgres', () => {
    const schema = `baton_test_${process.pid}_${Date.now().toString(36)}`;
    const raw = new pg.Pool({ connectionString: url, max: 2, options: `-c search_path=${schema}` });
    return {
      open: (opts) => PostgresStore.open(url, { ...opts, schema, poolSize: 4 }),
      rawQuery: async (sql) => (await raw.query(sql)).rows as Array<Record<string, unknown>>,
      rawExec: async (sql) => {
        await raw.query(sql);
      },
      childTarget: url,
      childOptions: { schema, poolSize: 2 },
      windowChoice: 'guess',
      teardown: async () => {
        await raw.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await raw.end();
      },
    };
  });
});
