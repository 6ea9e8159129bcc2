import pg from 'pg';
import { describe } from 'vitest';
import { openStore } from '@baton/store';
import { remoteCases } from './remote.case';

const url = process.env.BATON_TEST_PG_URL;
if (!url && process.env.CI === 'true') throw new Error('BATON_TEST_PG_URL must be set when CI=true');
if (!url) console.warn('BATON_TEST_PG_URL is not set: skipping the PostgreSQL tests');

describe.skipIf(!url)('postgres', () => {
  remoteCases('postgres', async () => {
    const schema = `lg_remote_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
    const store = await openStore(url!, { schema });
    return {
      store,
      async dispose() {
        await store.close();
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        } finally {
          await client.end();
        }
      },
    };
  });
});
