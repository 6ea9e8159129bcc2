/**
 * LangGraph's own checkpointer conformance suite (@langchain/langgraph-checkpoint-validation),
 * run unfiltered against BatonCheckpointSaver on PostgreSQL (a fresh schema per run).
 */
import pg from 'pg';
import { describe } from 'vitest';
import { validate } from '@langchain/langgraph-checkpoint-validation';
import { PostgresGraphCheckpointStore } from '@baton/store';
import { BatonCheckpointSaver } from '../src/saver';
import { pgUrl, uniqueSchema, wipeGraphStore } from './helpers';

const url = pgUrl();

describe.skipIf(!url)('postgres', () => {
  let pool: pg.Pool;
  let graph: PostgresGraphCheckpointStore;
  const schema = uniqueSchema('lg_validate');

  validate<BatonCheckpointSaver>({
    checkpointerName: '@baton/langgraph (postgres)',
    async beforeAll() {
      pool = new pg.Pool({ connectionString: url, max: 4 });
      graph = new PostgresGraphCheckpointStore(pool, { schema });
      await graph.migrate();
    },
    async afterAll() {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
    createCheckpointer: () => new BatonCheckpointSaver(graph),
    destroyCheckpointer: (saver) => wipeGraphStore(saver.graphStore),
  });
});
