import { describe, it } from 'vitest';
import { PG_URL } from '../fixtures/harness';
import { openPostgresDumped } from '../hostile/store-dump';
import { shadowCases } from './shadow.case';

const skip = !PG_URL && process.env.CI !== 'true';
if (skip) console.warn('BATON_TEST_PG_URL is not set: skipping the PostgreSQL shadow test');

describe.skipIf(skip)('shadow stage (PostgreSQL)', () => {
  if (!PG_URL) {
    it('needs BATON_TEST_PG_URL under CI=true', () => {
      throw new Error('CI=true requires BATON_TEST_PG_URL');
    });
    return;
  }
  shadowCases(openPostgresDumped);
});
