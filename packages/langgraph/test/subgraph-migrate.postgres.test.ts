import { describe } from 'vitest';
import { pgUrl, postgresStore } from './helpers';
import { subgraphMigrateCases } from './subgraph-migrate.case';

const url = pgUrl();

describe.skipIf(!url)('postgres', () => {
  subgraphMigrateCases('postgres', postgresStore(url!, 'lg_subgraph'));
});
