import { describe } from 'vitest';
import { openStore } from '@baton/store';
import { dropSchema, pgUrl, uniqueSchema } from './helpers';
import { workerCases } from './worker.case';

const url = pgUrl();

describe.skipIf(!url)('postgres', () => {
  workerCases('postgres', async () => {
    const schema = uniqueSchema('lg_worker');
    const store = await openStore(url!, { schema });
    return {
      store,
      async close() {
        await store.close();
        await dropSchema(url!, schema);
      },
    };
  });
});
