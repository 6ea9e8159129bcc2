/**
 * LangGraph's own checkpointer conformance suite (@langchain/langgraph-checkpoint-validation),
 * run unfiltered against BatonCheckpointSaver on a Baton PostgreSQL store (`store.graph`),
 * in a fresh schema per run.
 */
import { describe } from 'vitest';
import { validate } from '@langchain/langgraph-checkpoint-validation';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import type { GraphCheckpointStore } from '@baton/store/graph';
import { BatonCheckpointSaver } from '../src/saver';
import { dropSchema, pgUrl, uniqueSchema, wipeGraphStore } from './helpers';

const url = pgUrl();

describe.skipIf(!url)('postgres', () => {
  let store: Store;
  let graph: GraphCheckpointStore;
  const schema = uniqueSchema('lg_validate');

  validate<BatonCheckpointSaver>({
    checkpointerName: '@baton/langgraph (postgres)',
    async beforeAll() {
      store = await openStore(url!, { schema });
      graph = store.graph;
    },
    async afterAll() {
      await store.close();
      await dropSchema(url!, schema);
    },
    createCheckpointer: () => new BatonCheckpointSaver(graph),
    destroyCheckpointer: (saver) => wipeGraphStore(saver.graphStore),
  });
});
