import { describe, it } from 'vitest';
import { PG_URL, postgresTarget } from './fixtures/harness';
import { invariantCase } from './invariants.case';

const skip = !PG_URL && process.env.CI !== 'true';
if (skip) console.warn('BATON_TEST_PG_URL is not set: skipping the PostgreSQL invariant test');

describe.skipIf(skip)('invariants on PostgreSQL (two routers, one database)', () => {
  it('200 concurrent sessions with duplicate and racing turns: nothing lost, nothing applied twice', async () => {
    if (!PG_URL) throw new Error('CI=true requires BATON_TEST_PG_URL');
    await invariantCase(postgresTarget);
  });
});
