/**
 * Remote LangGraph workers: `baton worker --agent` child processes given only the server URL and
 * the worker token (no store connection, no admin token) serve v1 and v2 of the example. Turns,
 * approval callbacks and the eager migration of a rollout all run in those processes, and every
 * graph checkpoint they read or write crosses the worker API under the call's turn capability.
 * And: the graph worker API refuses calls without a valid capability.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { Store } from '@baton/store';
import { startBaton, type RunningBaton } from '@baton/server';
import { GRAPH_VERSION_KEY, MIGRATED_FROM_KEY } from '@baton/langgraph';
import { AGENT, supportV1, supportV2 } from '../src/index';
import { call, openThreads, resumeAll, waitFor, type OpenStore } from './helpers';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(REPO, 'packages/cli/bin/baton.mjs');

const MODULE = '@baton/example-langgraph-support/worker';

/** The environment of a child: none of this process's BATON_* variables, plus `extra`. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { NO_COLOR: '1' };
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BATON_')) env[k] = v;
  return { ...env, ...extra };
}

/** One `baton` command to its end. */
function runCli(
  args: string[],
  extra: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO,
    env: childEnv(extra),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

interface WorkerProcess {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

/** `baton worker` for one export of the example's worker module, with only URL + worker token. */
function startWorker(version: 'v1' | 'v2', server: string, workerToken: string): Promise<WorkerProcess> {
  const env = childEnv({ BATON_WORKER_TOKEN: workerToken });
  const args = [BIN, 'worker', '--agent', MODULE, '--export', version];
  args.push('--server', server, '--port', '0', '--no-register', '--json');
  const child = spawn(process.execPath, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${version} did not start: ${err}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`worker ${version} exited with ${code}: ${err}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      const ready = JSON.parse(line) as { url: string };
      resolve({ child, url: ready.url, stderr: () => err });
    });
  });
}

function stopWorker(w: WorkerProcess): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return Promise.resolve();
  const done = new Promise<void>((r) => w.child.once('exit', () => r()));
  process.kill(w.child.pid!, 'SIGTERM');
  return done;
}

export function remoteCases(backend: string, open: OpenStore): void {
  describe(`remote LangGraph workers with only the server URL and the worker token (${backend})`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    let baton: RunningBaton | null = null;
    const workers: WorkerProcess[] = [];

    beforeEach(async () => {
      ({ store, dispose } = await open());
    });
    afterEach(async () => {
      for (const w of workers.splice(0)) await stopWorker(w);
      await baton?.close({ deadlineMs: 2000 });
      baton = null;
      await dispose();
    });

    test('turns, callbacks and the eager migration of a rollout run in worker processes', async () => {
      baton = await startBaton({ store, agents: [], controller: { intervalMs: 100 } });
      const b = baton;
      const admin = b.tokens.admin[0]!;
      const worker = b.tokens.worker[0]!;
      // the operator registers the versions and their workers (the workers hold no admin token)
      for (const version of ['v1', 'v2'] as const) {
        const reg = await runCli(['versions', 'register', MODULE, '--export', version, '--server', b.url], {
          BATON_ADMIN_TOKEN: admin,
        });
        expect(reg.stderr).toBe('');
        expect(reg.code).toBe(0);
        const w = await startWorker(version, b.url, worker);
        workers.push(w);
        const added = await call('POST', `${b.url}/v1/workers`, admin, { url: w.url });
        expect(added.status).toBe(201);
        expect(added.body.version).toBe(version);
      }

      const threads = await openThreads(b, 6, (i) => i % 2 === 0);
      // the graph state is in the server's store, written through the worker API
      const onV1 = supportV1(store);
      for (const t of threads) {
        const snap = await onV1.graph.getState({ configurable: { thread_id: t.sessionId } });
        expect(snap.metadata?.[GRAPH_VERSION_KEY]).toBe('v1');
        expect((snap.values as Record<string, unknown>).orderId).toBe(t.order);
      }

      const spec = {
        agent: AGENT,
        from: 'v1',
        to: 'v2',
        migration: { policy: 'at-boundary', eager: true, batch: 50 },
        steps: [{ fill: 100, migrate: 100 }],
      };
      const created = await call('POST', `${b.url}/v1/rollouts`, admin, spec);
      expect(created.status).toBe(201);
      const local = supportV2(store);
      await waitFor('every session on v2', async () => {
        const counts = await store.countSessions({ agent: AGENT });
        return Object.values(counts.v1 ?? {}).reduce((a, n) => a + n, 0) === 0;
      });
      // the v2 worker process migrated each thread's channels at once, interrupts included
      for (const t of threads) {
        const snap = await local.graph.getState({ configurable: { thread_id: t.sessionId } });
        const values = snap.values as Record<string, unknown>;
        expect(values.orderRef).toBe(t.order);
        expect('orderId' in values).toBe(false);
        expect(snap.metadata?.[MIGRATED_FROM_KEY]).toBe('v1');
        expect(snap.next).toEqual(t.refund ? ['approval'] : []);
        expect(snap.tasks.some((k) => k.interrupts.length > 0)).toBe(t.refund);
      }

      await resumeAll(b, threads, 'v2', 3);
      for (const t of threads) {
        const snap = await local.graph.getState({ configurable: { thread_id: t.sessionId } });
        expect(snap.metadata?.[GRAPH_VERSION_KEY]).toBe('v2');
        expect((snap.values as Record<string, unknown>).surveySent).toBe(true);
      }
      for (const w of workers) expect(w.stderr()).toBe('');
    });

    test('the graph worker API refuses a call without a valid turn capability', async () => {
      baton = await startBaton({ store, agents: [], controller: false });
      const b = baton;
      const worker = b.tokens.worker[0]!;
      const get = { threadId: 's_anything', ns: '' };
      const none = await call('POST', `${b.url}/v1/worker/graph/get`, worker, get);
      expect(none.status).toBe(403);
      expect(none.body.error.code).toBe('CAPABILITY_INVALID');
      const forged = await call('POST', `${b.url}/v1/worker/graph/get`, worker, get, {
        'baton-capability': 'eyJ4Ijp0cnVlfQ.bm90LWEtbWFj',
      });
      expect(forged.status).toBe(403);
      expect(forged.body.error.code).toBe('CAPABILITY_INVALID');
      // no worker token, no call; and a listing is of one thread only
      const anonymous = await call('POST', `${b.url}/v1/worker/graph/get`, 'not-a-token', get);
      expect(anonymous.status).toBe(401);
      const all = await call('POST', `${b.url}/v1/worker/graph/list`, worker, {});
      expect(all.status).toBe(400);
      expect(all.body.error.code).toBe('VALIDATION');
    });
  });
}
