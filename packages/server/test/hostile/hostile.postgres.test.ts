import { describe } from 'vitest';
import { PG_URL } from '../fixtures/harness';
import { hostileCase } from './hostile.case';
import { openPostgresDumped } from './store-dump';

const skip = !PG_URL && process.env.CI !== 'true';
if (skip) console.warn('BATON_TEST_PG_URL is not set: skipping the PostgreSQL hostile-input suite');

describe.skipIf(skip)('hostile input on PostgreSQL', () => {
  hostileCase(openPostgresDumped);
});
