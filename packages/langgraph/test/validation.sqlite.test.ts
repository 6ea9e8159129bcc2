/**
 * LangGraph's own checkpointer conformance suite (@langchain/langgraph-checkpoint-validation),
 * run unfiltered against BatonCheckpointSaver on a Baton SQLite store file (`store.graph`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validate } from '@langchain/langgraph-checkpoint-validation';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import type { GraphCheckpointStore } from '@baton/store/graph';
import { BatonCheckpointSaver } from '../src/saver';
import { wipeGraphStore } from './helpers';

let dir: string;
let store: Store;
let graph: GraphCheckpointStore;

validate<BatonCheckpointSaver>({
  checkpointerName: '@baton/langgraph (sqlite)',
  async beforeAll() {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-lg-validate-'));
    store = await openStore(path.join(dir, 'store.db'));
    graph = store.graph;
  },
  async afterAll() {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  },
  createCheckpointer: () => new BatonCheckpointSaver(graph),
  destroyCheckpointer: (saver) => wipeGraphStore(saver.graphStore),
});
