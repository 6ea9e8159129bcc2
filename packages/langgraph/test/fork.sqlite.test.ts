import { sqliteStore } from './helpers';
import { forkCases } from './fork.case';

forkCases('sqlite', sqliteStore('baton-lg-fork-'));
