import { describe, it } from 'vitest';
import { PG_URL } from './fixtures/harness';
import {
  commitCutByRouterCrash,
  evaluationsSurviveCrash,
  postgresRecovery,
  sessionCreationRetried,
} from './recovery.case';

const skip = !PG_URL && process.env.CI !== 'true';
if (skip) console.warn('BATON_TEST_PG_URL is not set: skipping the PostgreSQL crash-recovery tests');

function needsPg(): void {
  if (!PG_URL) throw new Error('CI=true requires BATON_TEST_PG_URL');
}

describe.skipIf(skip)('crash recovery on PostgreSQL (router processes SIGKILLed and restarted)', () => {
  it('an effect whose commit was cut by a router crash completes on retry without EFFECT_IN_DOUBT', async () => {
    needsPg();
    await commitCutByRouterCrash(postgresRecovery);
  }, 90_000);
  it('a retried session creation with the same key returns the same session', async () => {
    needsPg();
    await sessionCreationRetried(postgresRecovery);
  }, 60_000);
  it('evaluations queued before a crash are scored after it, each recorded exactly once', async () => {
    needsPg();
    await evaluationsSurviveCrash(postgresRecovery);
  }, 60_000);
});
