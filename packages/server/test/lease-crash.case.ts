/**
 * The lease crash case, with real processes (shared by the SQLite and PostgreSQL tests): router A
 * is SIGKILLed while its worker (another process) runs two turns; router B, already running on the
 * same store (the worker's ledger URL, as with `baton worker --server B`), takes the sessions once
 * the short lease expires and retries the turns with the same Idempotency-Key; the old worker's
 * late step write and effect commit are refused (403 CAPABILITY_INVALID); every effect ran at most
 * once, and the one whose commit was cut stays in doubt (invariants 2 and 3). With `sameIdentity`,
 * A is restarted instead (same port, same instance id) and reclaims its leases at once (the lease
 * is made long so an expiry cannot explain it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { expect } from 'vitest';
import type { Store } from '@baton/store';
import { DEFAULT_LIMITS } from '@baton/server';
import { ADMIN, TOKENS, call, newSession } from './fixtures/harness';

const here = dirname(fileURLToPath(import.meta.url));

export interface LeaseCrashTarget {
  name: string;
  /** Env for the router processes (BATON_TEST_STORE, BATON_TEST_SCHEMA). */
  env: Record<string, string>;
  /** Open the store in this process (after the routers are stopped, for SQLite). */
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

export interface LeaseCrashResult {
  /**
   * From the SIGKILL to the start of the first retry the new router accepted (the session was free
   * then; the attempt before it, 50 ms earlier, was still busy), in ms.
   */
  freeAfterMs: number;
  /** From the SIGKILL to the end of that retry (the turn ran to completion on router B), in ms. */
  completedAfterMs: number;
  /** The Retry-After values the new router answered while the session was busy. */
  retryAfter: string[];
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** Waits for `cond`; generous, since process starts on a loaded machine are slow (nothing here is timed). */
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`not reached in time: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A free port in 47000-47999. */
async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 47000 + Math.floor(Math.random() * 1000);
    const ok = await new Promise<boolean>((resolve) => {
      const s = createNetServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port in 47000-47999');
}

function spawnChild<T>(
  children: ChildProcess[],
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ child: ChildProcess; info: T }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'fixtures', script), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) =>
      resolve({ child, info: JSON.parse(line) as T }),
    );
    child.once('exit', (code, sig) => reject(new Error(`${script} exited early (${code ?? sig})`)));
  });
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, signal);
  await gone;
}

/**
 * A crashed router's sessions are free within a few short leases (3 s each, renewed every second),
 * far below the turn deadline (30 s) the lease used to last: the bound the tests assert.
 */
export const SHORT_LEASE_BOUND_MS = 3 * DEFAULT_LIMITS.leaseMs;

export async function leaseCrashCase(
  target: LeaseCrashTarget,
  opts: { sameIdentity: boolean },
): Promise<LeaseCrashResult> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-lease-crash-'));
  const children: ChildProcess[] = [];
  const pools: Pool[] = [];
  const portA = await freePort();
  // the router the worker's ledger calls go to: B (fleet), or A itself restarted
  const portB = opts.sameIdentity ? portA : await freePort();
  const identity: Record<string, string> = opts.sameIdentity
    ? { BATON_TEST_INSTANCE_ID: `rtr_lease_${process.pid}`, BATON_TEST_LEASE_MS: '20000' }
    : {};
  const routerEnv = (port: number) => ({ ...target.env, ...identity, BATON_TEST_PORT: String(port) });
  try {
    const a = await spawnChild<{ url: string; instanceId: string }>(
      children,
      'lease-router-child.ts',
      [],
      routerEnv(portA),
    );
    const w = await spawnChild<{ url: string; manifest: unknown }>(
      children,
      'lease-worker-child.ts',
      [`http://127.0.0.1:${portB}`, TOKENS.worker[0]!],
      { BATON_TEST_DIR: dir },
    );
    let http = new Pool(a.info.url, { connections: 8 });
    pools.push(http);
    const reg = await call(http, 'POST', '/v1/workers', {
      headers: ADMIN,
      body: { url: w.info.url, manifest: w.info.manifest },
    });
    expect(reg.status).toBe(201);
    const startB = () =>
      spawnChild<{ url: string; instanceId: string }>(
        children,
        'lease-router-child.ts',
        [],
        routerEnv(portB),
      );
    // fleet: B runs before the crash (it reads the registered worker at startup)
    const warmB = opts.sameIdentity ? null : await startB();

    // two turns in flight on router A: one hangs in a step, one inside an effect before its commit
    const s1 = await newSession(http, 'fenced');
    const s2 = await newSession(http, 'fenced');
    const turn = (s: typeof s1, mode: string, pool: Pool) =>
      call(pool, 'POST', `/v1/sessions/${s.id}/turns`, {
        headers: { ...s.headers, 'idempotency-key': `key-${s.id}` },
        body: { input: { mode } },
      });
    const inflight = [turn(s1, 'step', http).catch(() => null), turn(s2, 'effect', http).catch(() => null)];
    const effects = join(dir, 'effects.log');
    await until('both turns hang', () => {
      const l = lines(effects);
      return l.includes(`${s1.id} charge`) && l.includes(`${s2.id} email`);
    });
    await until('the first effects committed', async () => {
      const e = await call(http, 'GET', `/v1/effects?session=${s1.id}&status=committed`, { headers: ADMIN });
      return e.body.items?.length === 1;
    });

    // router A dies mid-turn; its worker goes on running both turns
    await stop(a.child, 'SIGKILL');
    const killedAt = performance.now();
    await Promise.all(inflight);
    await http.close();
    const b = warmB ?? (await startB());
    expect(b.info.instanceId === a.info.instanceId).toBe(opts.sameIdentity);
    http = new Pool(b.info.url, { connections: 8 });
    pools.push(http);

    // retry the same keys on router B until the sessions are free
    const retryAfter: string[] = [];
    let attemptAt: number;
    let r1;
    for (;;) {
      attemptAt = performance.now();
      r1 = await turn(s1, 'step', http);
      if (r1.status !== 409 || r1.body.error?.code !== 'SESSION_BUSY') break;
      retryAfter.push(String(r1.headers['retry-after']));
      await new Promise((r) => setTimeout(r, 50));
    }
    const freeAfterMs = attemptAt - killedAt;
    const completedAfterMs = performance.now() - killedAt;
    expect(r1.status).toBe(200);
    expect(r1.body).toMatchObject({ seq: 1, output: { n: 1 } });
    let r2;
    for (;;) {
      r2 = await turn(s2, 'effect', http);
      if (r2.status !== 409 || r2.body.error?.code !== 'SESSION_BUSY') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // the email of s2 may or may not have been sent: not run again, in doubt (§5)
    expect(r2.status).toBe(409);
    expect(r2.body.error.code).toBe('EFFECT_IN_DOUBT');
    if (opts.sameIdentity) expect(retryAfter).toEqual([]);

    // the old worker wakes up: its late writes are refused
    writeFileSync(join(dir, 'go'), '');
    const ledger = join(dir, 'ledger.log');
    await until('the late writes are refused', () => {
      const l = lines(ledger);
      return (
        l.includes(`putStep ${s1.id} CAPABILITY_INVALID`) &&
        l.some((x) => x.startsWith(`commit ${s2.id}:`) && x.endsWith(' CAPABILITY_INVALID'))
      );
    });
    const runs = lines(effects);
    expect(runs.filter((x) => x === `${s1.id} charge`)).toHaveLength(1);
    expect(runs.filter((x) => x === `${s1.id} email`)).toHaveLength(1);
    expect(runs.filter((x) => x === `${s2.id} charge`)).toHaveLength(1);
    expect(runs.filter((x) => x === `${s2.id} email`)).toHaveLength(1);

    await stop(b.child, 'SIGTERM');
    await stop(w.child, 'SIGTERM');
    const store = await target.open();
    try {
      const e1 = (await store.listEffects({ sessionId: s1.id })).items;
      expect(e1.map((e) => [e.name, e.status]).sort()).toEqual([
        ['charge', 'committed'],
        ['email', 'committed'],
      ]);
      const e2 = (await store.listEffects({ sessionId: s2.id })).items;
      expect(e2.map((e) => [e.name, e.status]).sort()).toEqual([
        ['charge', 'committed'],
        ['email', 'intent'],
      ]);
      const t1 = e1[0]!.turnId;
      expect(await store.listSteps(s1.id, t1)).toEqual([]); // the late step never landed
      const sess1 = await store.getSession(s1.id);
      expect(sess1.seq).toBe(1);
      expect(sess1.leaseOwner).toBeNull();
      expect((await store.getSession(s2.id)).seq).toBe(0);
    } finally {
      await store.close();
    }
    return { freeAfterMs, completedAfterMs, retryAfter };
  } finally {
    for (const p of pools) await p.close().catch(() => undefined);
    for (const c of children) await stop(c, 'SIGKILL').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
