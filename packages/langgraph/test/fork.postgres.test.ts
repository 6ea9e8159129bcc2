import { describe } from 'vitest';
import { pgUrl, postgresStore } from './helpers';
import { forkCases } from './fork.case';

const url = pgUrl();

describe.skipIf(!url)('postgres', () => {
  forkCases('postgres', postgresStore(url!, 'lg_fork'));
});
