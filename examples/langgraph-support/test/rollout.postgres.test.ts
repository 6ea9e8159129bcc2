import { describe } from 'vitest';
import { pgUrl, postgresStore } from './helpers';
import { rolloutCases } from './rollout.case';

const url = pgUrl();

describe.skipIf(!url)('postgres', () => {
  rolloutCases('postgres', postgresStore(url!, 'lg_e2e'));
});
