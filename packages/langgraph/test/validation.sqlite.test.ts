/**
 * LangGraph's own checkpointer conformance suite (@langchain/langgraph-checkpoint-validation),
 * run unfiltered against BatonCheckpointSaver on a SQLite store file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { validate } from '@langchain/langgraph-checkpoint-validation';
import { SqliteGraphCheckpointStore } from '@baton/store';
import { BatonCheckpointSaver } from '../src/saver';
import { wipeGraphStore } from './helpers';

let dir: string;
let db: Database.Database;
let graph: SqliteGraphCheckpointStore;

validate<BatonCheckpointSaver>({
  checkpointerName: '@baton/langgraph (sqlite)',
  beforeAll() {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-lg-validate-'));
    db = new Database(path.join(dir, 'store.db'));
    db.pragma('journal_mode = WAL');
    graph = new SqliteGraphCheckpointStore(db);
  },
  afterAll() {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  },
  createCheckpointer: () => new BatonCheckpointSaver(graph),
  destroyCheckpointer: (saver) => wipeGraphStore(saver.graphStore),
});
