/**
 * The two versions as a worker process serves them (`baton worker --agent
 * @baton/example-langgraph-support/worker --export v1 --server URL`, with BATON_WORKER_TOKEN):
 * no store here; each turn and migration reads and writes its thread's graph checkpoints through
 * the Baton server's worker API, under the turn capability.
 */
import { supportV1, supportV2 } from './index';

export const v1 = supportV1().definition;
export const v2 = supportV2().definition;
