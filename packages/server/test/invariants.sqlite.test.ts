import { describe, it } from 'vitest';
import { sqliteTarget } from './fixtures/harness';
import { invariantCase } from './invariants.case';

describe('invariants on SQLite (two routers, one file)', () => {
  it('200 concurrent sessions with duplicate and racing turns: nothing lost, nothing applied twice', async () => {
    await invariantCase(sqliteTarget);
  });
});
