import { sqliteStore } from './helpers';
import { remoteCases } from './remote.case';

remoteCases('sqlite', sqliteStore('baton-lg-remote-'));
