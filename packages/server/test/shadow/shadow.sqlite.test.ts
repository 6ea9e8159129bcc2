import { describe } from 'vitest';
import { openSqliteDumped } from '../hostile/store-dump';
import { shadowCases } from './shadow.case';

describe('shadow stage (SQLite)', () => shadowCases(openSqliteDumped));
