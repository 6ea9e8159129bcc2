/**
 * A worker in a real child process is killed with SIGKILL in the middle of a turn, after the turn's
 * effect committed. The client's retry with the same Idempotency-Key completes the turn on another
 * worker and the effect is not executed again (executions are counted in a file).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import type { VersionManifest } from '@baton/core';
import { counterV1 } from './fixtures/agents';
import {
  call,
  newSession,
  sqliteTarget,
  startServer,
  stopServer,
  TOKENS,
  ADMIN,
  type Running,
} from './fixtures/harness';

const here = dirname(fileURLToPath(import.meta.url));
const children: ChildProcess[] = [];

interface Child {
  child: ChildProcess;
  url: string;
  /** As computed in the child: function text (part of the code hash) depends on the TS transform. */
  manifest: VersionManifest;
}

function spawnWorker(serverUrl: string, env: Record<string, string>): Promise<Child> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'fixtures', 'worker-child.ts'), serverUrl, TOKENS.worker[0]!],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (line) => resolve({ child, ...(JSON.parse(line) as Omit<Child, 'child'>) }));
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
  });
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

async function until(cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('worker crash mid-turn', () => {
  it('retries the turn on another worker without re-running the committed effect', async () => {
    const t = await sqliteTarget.open();
    const dir = mkdtempSync(join(tmpdir(), 'baton-crash-'));
    const effectFile = join(dir, 'effects.log');
    let r: Running | undefined;
    try {
      r = await startServer(t.store, [], { limits: { turnTimeoutMs: 15_000, healthIntervalMs: 0 } });
      const w1 = await spawnWorker(r.url, { BATON_TEST_BLOCK: '1', BATON_TEST_EFFECT_FILE: effectFile });
      await r.server.pool.addRemote(w1.url, w1.manifest);
      const s = await newSession(r.http, 'counter');
      const headers = { ...s.headers, 'idempotency-key': 'the-key' };

      const first = call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
        headers,
        body: { input: { text: 'go', block: true } },
      });
      // the effect ran and committed; the turn now hangs inside the worker
      await until(async () => {
        const effects = await t.store.listEffects({ sessionId: s.id });
        return effects.items.length === 1 && effects.items[0]!.status === 'committed';
      });
      expect(lines(effectFile)).toHaveLength(1);
      const busy = await call(r.http, 'GET', `/v1/sessions/${s.id}`, { headers: s.headers });
      expect(busy.body.status).toBe('running');

      const w2 = await spawnWorker(r.url, { BATON_TEST_BLOCK: '0', BATON_TEST_EFFECT_FILE: effectFile });
      // the second worker is registered over the admin API; registering the URL again keeps its id
      const reg = await call(r.http, 'POST', '/v1/workers', {
        headers: ADMIN,
        body: { url: w2.url, manifest: w2.manifest },
      });
      expect(reg.status).toBe(201);
      expect(reg.body).toMatchObject({ agent: 'counter', version: 'v1', url: w2.url, health: 'healthy' });
      const again = await call(r.http, 'POST', '/v1/workers', { headers: ADMIN, body: { url: w2.url } });
      expect(again.body.id).toBe(reg.body.id);
      w1.child.kill('SIGKILL');
      const failed = await first;
      expect(failed.status).toBe(502);
      expect(failed.body.error.code).toBe('WORKER_ERROR');
      expect((await t.store.getSession(s.id)).seq).toBe(0);

      const retry = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
        headers,
        body: { input: { text: 'go', block: true } },
      });
      expect(retry.status).toBe(200);
      expect(retry.body).toMatchObject({ seq: 1, status: 'idle', output: { count: 1, version: 'v1' } });
      expect(lines(effectFile)).toEqual([`${s.id}#1`]);
      const after = await t.store.listEffects({ sessionId: s.id });
      expect(after.items).toHaveLength(1);
      expect(after.items[0]!.status).toBe('committed');
      // health checks keep the dead worker out and the live one in
      await r.server.pool.checkHealth();
      const workers = await t.store.listWorkers({ agent: 'counter' });
      expect(workers.find((w) => w.url === w1.url)?.health).toBe('unhealthy');
      expect(workers.find((w) => w.url === w2.url)?.health).toBe('healthy');
    } finally {
      if (r) await stopServer(r);
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets a turn through once the lease of a crashed router expires', async () => {
    const t = await sqliteTarget.open();
    let r: Running | undefined;
    try {
      r = await startServer(t.store, [counterV1]);
      const s = await newSession(r.http, 'counter');
      // a router that took the lease and died: its lease is all that is left
      await t.store.acquireLease(s.id, 'rtr_dead:turn', 300);
      const busy = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
        headers: { ...s.headers, 'idempotency-key': 'k' },
        body: { input: {} },
      });
      expect(busy.body.error.code).toBe('SESSION_BUSY');
      await new Promise((res) => setTimeout(res, 350));
      const ok = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
        headers: { ...s.headers, 'idempotency-key': 'k' },
        body: { input: {} },
      });
      expect(ok.status).toBe(200);
      expect(ok.body.seq).toBe(1);
    } finally {
      if (r) await stopServer(r);
      await t.cleanup();
    }
  });
});
