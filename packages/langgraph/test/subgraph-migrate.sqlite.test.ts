import { sqliteStore } from './helpers';
import { subgraphMigrateCases } from './subgraph-migrate.case';

subgraphMigrateCases('sqlite', sqliteStore('baton-lg-subgraph-'));
