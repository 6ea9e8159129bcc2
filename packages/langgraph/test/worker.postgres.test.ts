import { describe } from 'vitest';
import { pgUrl, postgresStore } from './helpers';
import { workerCases } from './worker.case';

const url = pgUrl();

describe.skipIf(!url)('postgres', () => {
  workerCases('postgres', postgresStore(url!, 'lg_worker'));
});
