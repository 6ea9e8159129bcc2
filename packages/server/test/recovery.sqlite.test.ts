import { describe, it } from 'vitest';
import {
  commitCutByRouterCrash,
  evaluationsSurviveCrash,
  sessionCreationRetried,
  sqliteRecovery,
} from './recovery.case';

describe('crash recovery on SQLite (router processes SIGKILLed and restarted)', () => {
  it('an effect whose commit was cut by a router crash completes on retry without EFFECT_IN_DOUBT', async () => {
    await commitCutByRouterCrash(sqliteRecovery);
  }, 90_000);
  it('a retried session creation with the same key returns the same session', async () => {
    await sessionCreationRetried(sqliteRecovery);
  }, 60_000);
  it('evaluations queued before a crash are scored after it, each recorded exactly once', async () => {
    await evaluationsSurviveCrash(sqliteRecovery);
  }, 60_000);
});
