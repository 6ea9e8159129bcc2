import { describe } from 'vitest';
import { openStore } from '@baton/store';
import { dropSchema, pgUrl, uniqueSchema } from './helpers';
import { forkCases } from './fork.case';

const url = pgUrl();

describe.skipIf(!url)('postgres', () => {
  forkCases('postgres', async () => {
    const schema = uniqueSchema('lg_fork');
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
