import { sqliteStore } from './helpers';
import { workerCases } from './worker.case';

workerCases('sqlite', sqliteStore('baton-lg-worker-'));
