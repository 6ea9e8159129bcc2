import { describe } from 'vitest';
import { hostileCase } from './hostile.case';
import { openSqliteDumped } from './store-dump';

describe('hostile input on SQLite', () => {
  hostileCase(openSqliteDumped);
});
