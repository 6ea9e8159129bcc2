import { sqliteStore } from './helpers';
import { rolloutCases } from './rollout.case';

rolloutCases('sqlite', sqliteStore('baton-lg-e2e-'));
