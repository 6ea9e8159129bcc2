/**
 * The worker API for LangGraph checkpoints (`/v1/worker/graph/*`) over HTTP: a call reaches its
 * own session's thread only, reads with any valid capability of the session, writes under the
 * session's live lease or as a batched migration while no turn holds the session, never with a
 * dry run's capability, and no longer once the lease is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToWire } from '@baton/core';
import type { Store } from '@baton/store';
import { DRY_RUN_CALL, MIGRATE_CALL } from '../src/capability';
import { counterV1 } from './fixtures/agents';
import { call, newSession, sqliteTarget, startServer, stopServer, type Running } from './fixtures/harness';

const WORKER = { authorization: 'Bearer worker-token' };
let store: Store;
let cleanup: () => Promise<void>;
let r: Running;

beforeAll(async () => {
  const t = await sqliteTarget.open();
  store = t.store;
  cleanup = t.cleanup;
  r = await startServer(store, [counterV1]);
});
afterAll(async () => {
  await stopServer(r);
  await cleanup();
});

const cap = (sessionId: string, callId: string, epoch: number | null) =>
  r.server.ctx.capabilities.issue(sessionId, callId, epoch, 60_000);

function put(threadId: string, checkpointId: string, capability: string) {
  return call(r.http, 'POST', '/v1/worker/graph/put', {
    headers: { ...WORKER, 'baton-capability': capability },
    body: {
      record: {
        threadId,
        ns: '',
        checkpointId,
        parentId: null,
        checkpoint: { v: 4, id: checkpointId, channel_versions: { topic: 7 } },
        metadata: { step: 0 },
      },
      blobs: [{ channel: 'topic', version: '7', type: 'json', value: bytesToWire(Buffer.from('"hi"')) }],
    },
  });
}

function get(threadId: string, capability: string) {
  return call(r.http, 'POST', '/v1/worker/graph/get', {
    headers: { ...WORKER, 'baton-capability': capability },
    body: { threadId, ns: '' },
  });
}

describe('graph worker API', () => {
  it('writes under the live lease and reads the row back; refuses once the lease is gone', async () => {
    const s = await newSession(r.http, 'counter');
    const lease = await store.acquireLease(s.id, 'test:t1', 60_000);
    const live = await cap(s.id, 't1', lease.epoch);
    expect((await put(s.id, 'cp-1', live)).status).toBe(204);
    const row = await get(s.id, live);
    expect(row.status).toBe(200);
    expect(row.body.row).toMatchObject({ threadId: s.id, checkpointId: 'cp-1', metadata: { step: 0 } });
    expect(Buffer.from(row.body.row.blobs[0].value, 'base64').toString()).toBe('"hi"');
    await store.releaseLease(lease);
    const late = await put(s.id, 'cp-2', live);
    expect(late.status).toBe(403);
    expect(late.body.error.code).toBe('CAPABILITY_INVALID');
    expect(await store.graph.get(s.id, '', 'cp-2')).toBeNull();
  });

  it("a capability reaches its own session's thread only", async () => {
    const a = await newSession(r.http, 'counter');
    const b = await newSession(r.http, 'counter');
    const forA = await cap(a.id, `${DRY_RUN_CALL}0_1`, null);
    const other = await get(b.id, forA);
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('CAPABILITY_INVALID');
    expect((await get(a.id, forA)).status).toBe(200);
  });

  it("a dry run's capability never writes; a batched migration's writes while no turn holds the session", async () => {
    const s = await newSession(r.http, 'counter');
    const dry = await put(s.id, 'cp-dry', await cap(s.id, `${DRY_RUN_CALL}0_2`, null));
    expect(dry.status).toBe(403);
    expect(dry.body.error.code).toBe('CAPABILITY_INVALID');
    const batch = await cap(s.id, `${MIGRATE_CALL}0_2`, null);
    const lease = await store.acquireLease(s.id, 'test:turn', 60_000);
    const during = await put(s.id, 'cp-batch', batch);
    expect(during.status).toBe(403);
    await store.releaseLease(lease);
    expect((await put(s.id, 'cp-batch', batch)).status).toBe(204);
    expect((await store.graph.get(s.id, '', 'cp-batch'))?.checkpointId).toBe('cp-batch');
  });
});
