import { describe } from 'vitest';
import { pgUrl, postgresStore } from './helpers';
import { remoteCases } from './remote.case';

const url = pgUrl();

describe.skipIf(!url)('postgres', () => {
  remoteCases('postgres', postgresStore(url!, 'lg_remote'));
});
