/**
 * Fleet mechanics on one SQLite file shared by two servers in this process: the worker pool's
 * sync with the store (registrations, removals, health recorded by another router), `/readyz`,
 * the presence lease of an instance id, the controller lock taken back by the same owner, and
 * `GET /v1/controller` on the leader and a follower. The same mechanics across real processes on
 * PostgreSQL: packages/cli/test/fleet-postgres.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BatonError, SimulatedClock, systemClock } from '@baton/core';
import { openStore, type Store } from '@baton/store';
import { createServer } from '../src/app';
import { startBaton, type RunningBaton } from '../src/baton';
import { Presence } from '../src/fleet';
import { CONTROLLER_LOCK_NAME, leadership } from '../src/rollout/leadership';

const TOKENS = { traffic: ['t'], admin: ['a'], worker: ['w'] };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dbFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'baton-fleet-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'baton.db');
}

async function store(file: string): Promise<Store> {
  const s = await openStore(file);
  cleanups.push(() => s.close());
  return s;
}

async function baton(
  file: string,
  instanceId: string,
  extra: Partial<Parameters<typeof startBaton>[0]> = {},
) {
  const b: RunningBaton = await startBaton({
    store: file,
    tokens: TOKENS,
    instanceId,
    limits: { workerSyncMs: 0, healthIntervalMs: 0 },
    controller: { intervalMs: 50 },
    ...extra,
  });
  cleanups.push(() => b.close({ deadlineMs: 1000 }));
  return b;
}

const worker = { agent: 'a', version: 'v1', url: 'http://127.0.0.1:9' } as const;

describe('the worker pool follows the store', () => {
  it('picks up registrations, removals and health changes recorded by another router', async () => {
    const file = dbFile();
    const other = await store(file);
    const clock = new SimulatedClock();
    const s = await store(file);
    const srv = createServer({
      store: s,
      clock,
      tokens: TOKENS,
      limits: { workerSyncMs: 0, healthIntervalMs: 0 },
    });
    cleanups.push(() => srv.close());
    await srv.pool.syncFromStore();
    expect(srv.pool.entries()).toEqual([]);

    await other.registerWorker({ id: 'wrk_1', ...worker, health: 'healthy' });
    await srv.pool.syncFromStore();
    expect(srv.pool.pick('a', 'v1').id).toBe('wrk_1');

    await other.updateWorker('wrk_1', { health: 'unhealthy' });
    await srv.pool.syncFromStore();
    expect(srv.pool.has('a', 'v1')).toBe(false);
    expect(() => srv.pool.pick('a', 'v1')).toThrow(/no healthy worker/);

    await other.updateWorker('wrk_1', { health: 'healthy' });
    await srv.pool.syncFromStore();
    expect(srv.pool.has('a', 'v1')).toBe(true);

    // this router's own view wins over a record it has already seen
    srv.pool.get('wrk_1')!.healthy = false;
    await srv.pool.syncFromStore();
    expect(srv.pool.has('a', 'v1')).toBe(false);

    await other.removeWorker('wrk_1');
    await srv.pool.syncFromStore();
    expect(srv.pool.get('wrk_1')).toBeUndefined();
    expect(srv.pool.entries()).toEqual([]);
  });

  it('/readyz: ready without workers, with availability per version; 503 NOT_READY once the view is stale', async () => {
    const file = dbFile();
    const clock = new SimulatedClock();
    const s = await store(file);
    await s.registerWorker({ id: 'wrk_1', ...worker, health: 'healthy' });
    await s.registerWorker({ id: 'wrk_2', ...worker, health: 'unhealthy' });
    const srv = createServer({
      store: s,
      clock,
      tokens: TOKENS,
      limits: { workerSyncMs: 0, healthIntervalMs: 0 },
    });
    cleanups.push(() => srv.close());
    await srv.listen(0);
    const ready = await srv.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({
      ok: true,
      store: 'sqlite',
      versions: [{ agent: 'a', version: 'v1', healthy: 1, workers: 2 }],
      workers: { ageMs: 0, maxAgeMs: 10_000 },
    });
    await clock.advance(10_001);
    const stale = await srv.app.inject({ method: 'GET', url: '/readyz' });
    expect(stale.statusCode).toBe(503);
    expect(stale.json().error.code).toBe('NOT_READY');
    await srv.pool.sync();
    expect((await srv.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});

describe('instance identity', () => {
  it('a second presence of a live identity is refused; a released one is free at once', async () => {
    const s = await store(dbFile());
    const first = await Presence.acquire(s, 'node-1', { clock: systemClock, ttlMs: 2000, renewMs: 100 });
    const err = await Presence.acquire(s, 'node-1', { clock: systemClock, ttlMs: 2000, waitMs: 300 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).code).toBe('INSTANCE_ID_IN_USE');
    // another identity is not affected
    const other = await Presence.acquire(s, 'node-2', { clock: systemClock, waitMs: 0 });
    await other.release();
    await first.release();
    const again = await Presence.acquire(s, 'node-1', { clock: systemClock, waitMs: 0 });
    await again.release();
  });

  it("a dead incarnation's presence lease is waited for, then taken", async () => {
    const s = await store(dbFile());
    await s.acquireLock('presence:node-1', 'node-1#dead', 300);
    const t0 = Date.now();
    const p = await Presence.acquire(s, 'node-1', { clock: systemClock, waitMs: 2000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    await p.release();
  });

  it('startBaton refuses an instance id that is not valid in owners', async () => {
    await expect(startBaton({ store: ':memory:', tokens: TOKENS, instanceId: 'a:b' })).rejects.toThrow(
      /not a valid instance id/,
    );
  });

  it('the same owner takes its live controller lock back at once; another owner cannot', async () => {
    const file = dbFile();
    const b = await baton(file, 'node-1', { controller: false });
    // a previous incarnation of node-1 holds the lock for another minute
    await b.store.acquireLock(CONTROLLER_LOCK_NAME, 'node-1', 60_000);
    const other = leadership({ ...b.ctx, instanceId: 'node-2' }, {});
    expect(await other.renew()).toBe(false);
    const same = leadership(b.ctx, {});
    expect(await same.renew()).toBe(true);
    expect(same.status()).toMatchObject({
      owner: 'node-1',
      leader: true,
      lockTtlMs: 3000,
      lockRenewMs: 1000,
    });
    await same.release();
    expect(await other.renew()).toBe(true);
    await other.release();
  });
});

describe('GET /v1/controller', () => {
  it('the leader and a follower show the same leader; the follower takes over when it stops', async () => {
    const file = dbFile();
    const a = await baton(file, 'node-a');
    await until(() => a.controller!.isLeader);
    const b = await baton(file, 'node-b');
    const get = async (x: RunningBaton) =>
      (
        await fetch(`${x.url}/v1/controller`, { headers: { authorization: 'Bearer a' } })
      ).json() as Promise<any>;
    await until(async () => (await get(b)).leader !== null);
    expect(await get(a)).toMatchObject({
      instanceId: 'node-a',
      role: 'leader',
      lock: { ttlMs: 3000, renewMs: 1000 },
      leader: { instanceId: 'node-a', self: true, url: a.url, pid: process.pid },
    });
    expect(await get(b)).toMatchObject({
      instanceId: 'node-b',
      role: 'follower',
      leader: { instanceId: 'node-a', self: false, url: a.url },
    });
    const unauth = await fetch(`${b.url}/v1/controller`);
    expect(unauth.status).toBe(401);
    await a.controller!.stop(); // releases the lock
    await until(async () => (await get(b)).role === 'leader');
    expect((await get(b)).leader).toMatchObject({ instanceId: 'node-b', self: true });
    expect(await get(a)).toMatchObject({ role: 'disabled', leader: { instanceId: 'node-b' } });
  });
});

async function until(f: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
