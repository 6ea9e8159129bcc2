/**
 * Crash recovery with real processes: a router child process is SIGKILLed and restarted on the
 * same store (and port). Run against SQLite and PostgreSQL by recovery.{sqlite,postgres}.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Pool } from 'undici';
import { expect } from 'vitest';
import { canonicalJson, sha256Hex, type VersionManifest } from '@baton/core';
import { openStore, type Store } from '@baton/store';
import { ADMIN, call, PG_URL, TOKENS, TRAFFIC } from './fixtures/harness';

const here = dirname(fileURLToPath(import.meta.url));

/** A store both the test and its children open: a SQLite file, or a PostgreSQL schema `baton_fx_*`. */
export interface RecoveryTarget {
  name: 'sqlite' | 'postgres';
  open(): Promise<{ store: Store; target: string; schema: string; cleanup(): Promise<void> }>;
}

export const sqliteRecovery: RecoveryTarget = {
  name: 'sqlite',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'baton-fx-'));
    const target = join(dir, 'baton.db');
    const store = await openStore(target);
    return {
      store,
      target,
      schema: '-',
      async cleanup() {
        await store.close().catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const postgresRecovery: RecoveryTarget = {
  name: 'postgres',
  async open() {
    if (!PG_URL) throw new Error('BATON_TEST_PG_URL is not set');
    const schema = `baton_fx_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
    const store = await openStore(PG_URL, { schema });
    return {
      store,
      target: PG_URL,
      schema,
      async cleanup() {
        await store.close().catch(() => undefined);
        const admin = new pg.Client({ connectionString: PG_URL });
        await admin.connect();
        try {
          await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        } finally {
          await admin.end();
        }
      },
    };
  },
};

interface Proc {
  child: ChildProcess;
  url: string;
}

/** Every child a case starts, killed (by its own pid) when the case ends. */
class Children {
  private readonly all: ChildProcess[] = [];

  private start(args: string[], env: Record<string, string>): Promise<{ child: ChildProcess; line: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.all.push(child);
    return new Promise((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.once('line', (line) => resolve({ child, line }));
      child.once('exit', (code) => reject(new Error(`${args[0]} exited early with ${code}`)));
    });
  }

  async router(
    t: { target: string; schema: string },
    port: number,
    env: Record<string, string>,
  ): Promise<Proc> {
    // a start that fails (the port briefly taken by a process outside the test) is tried again
    for (let attempt = 1; ; attempt++) {
      try {
        const { child, line } = await this.start(
          [join(here, 'fixtures', 'router-child.ts'), t.target, t.schema, String(port)],
          env,
        );
        return { child, url: (JSON.parse(line) as { url: string }).url };
      } catch (e) {
        if (attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  }

  async worker(
    serverUrl: string,
    env: Record<string, string>,
  ): Promise<Proc & { manifest: VersionManifest }> {
    const { child, line } = await this.start(
      [join(here, 'fixtures', 'worker-child.ts'), serverUrl, TOKENS.worker[0]!],
      env,
    );
    return { child, ...(JSON.parse(line) as { url: string; manifest: VersionManifest }) };
  }

  /** SIGKILL one child and wait for it to be gone. */
  async kill(c: ChildProcess): Promise<void> {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  }

  async killAll(): Promise<void> {
    for (const c of this.all) await this.kill(c);
  }
}

function randomPort(): number {
  return 48000 + Math.floor(Math.random() * 1000);
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

async function until(cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Run a recovery case with its store, a scratch directory and its children; everything is stopped after. */
async function withCase(
  target: RecoveryTarget,
  fn: (c: {
    store: Store;
    t: { target: string; schema: string };
    dir: string;
    kids: Children;
  }) => Promise<void>,
): Promise<void> {
  const t = await target.open();
  const dir = mkdtempSync(join(tmpdir(), 'baton-fx-files-'));
  const kids = new Children();
  try {
    await fn({ store: t.store, t, dir, kids });
  } finally {
    await kids.killAll();
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function createSession(http: Pool, key: string | null, body: unknown) {
  return call(http, 'POST', '/v1/agents/counter/sessions', {
    headers: { ...TRAFFIC, ...(key === null ? {} : { 'idempotency-key': key }) },
    body,
  });
}

/** A turn, retried while the session is busy (the dead router's lease) until it answers otherwise. */
async function turnWhenFree(http: Pool, id: string, headers: Record<string, string>, input: unknown) {
  const end = Date.now() + 30_000;
  for (;;) {
    const r = await call(http, 'POST', `/v1/sessions/${id}/turns`, { headers, body: { input } });
    if (r.body?.error?.code !== 'SESSION_BUSY' || Date.now() > end) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
}

/**
 * The router dies after the worker ran an effect and before the effect's commit reaches it; the
 * worker's commit retries across the restart and succeeds, and the client's retry of the turn
 * completes without EFFECT_IN_DOUBT. The effect executed once.
 */
export async function commitCutByRouterCrash(target: RecoveryTarget): Promise<void> {
  await withCase(target, async ({ store, t, dir, kids }) => {
    const effectFile = join(dir, 'effects.log');
    const port = randomPort();
    const env = { BATON_TEST_TURN_TIMEOUT_MS: '8000' };
    let router = await kids.router(t, port, env);
    let http = new Pool(router.url);
    const w = await kids.worker(router.url, {
      BATON_TEST_EFFECT_FILE: effectFile,
      BATON_TEST_COMMIT_DELAY_MS: '1200',
    });
    const reg = await call(http, 'POST', '/v1/workers', {
      headers: ADMIN,
      body: { url: w.url, manifest: w.manifest },
    });
    expect(reg.status).toBe(201);
    const created = await createSession(http, null, {});
    expect(created.status).toBe(201);
    const id = created.body.sessionId as string;
    const headers = { ...TRAFFIC, 'x-session-token': created.body.sessionToken, 'idempotency-key': 'turn-1' };

    const first = call(http, 'POST', `/v1/sessions/${id}/turns`, {
      headers,
      body: { input: { text: 'go' } },
    }).then(
      (r) => r,
      (e: unknown) => e,
    );
    // the effect ran; its commit is held back in the worker: kill the router now
    await until(() => lines(effectFile).length === 1);
    expect((await store.listEffects({ sessionId: id })).items[0]?.status).toBe('intent');
    await kids.kill(router.child);
    expect(await first).toBeInstanceOf(Error);
    await http.close().catch(() => undefined);

    router = await kids.router(t, port, env);
    http = new Pool(router.url);
    // the worker's commit, retried with backoff, reaches the restarted router
    await until(async () => (await store.listEffects({ sessionId: id })).items[0]?.status === 'committed');

    const retry = await turnWhenFree(http, id, headers, { text: 'go' });
    expect(retry.body?.error?.code).not.toBe('EFFECT_IN_DOUBT');
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ seq: 1, status: 'idle', output: { count: 1, version: 'v1' } });
    expect(lines(effectFile)).toEqual([`${id}#1`]);
    const effects = (await store.listEffects({ sessionId: id })).items;
    expect(effects).toHaveLength(1);
    expect(effects[0]).toMatchObject({ status: 'committed', result: { sent: `${id}#1` }, resolution: null });
    await http.close();
  });
}

/** A client retrying a session creation after a router crash, with the same key, gets the same session. */
export async function sessionCreationRetried(target: RecoveryTarget): Promise<void> {
  await withCase(target, async ({ store, t, kids }) => {
    const port = randomPort();
    const env = { BATON_TEST_INPROCESS: '1' };
    let router = await kids.router(t, port, env);
    let http = new Pool(router.url);
    const body = { tenant: 'acme', metadata: { channel: 'web' } };
    const first = await createSession(http, 'create-1', body);
    expect(first.status).toBe(201);
    await kids.kill(router.child);
    await http.close().catch(() => undefined);

    router = await kids.router(t, port, env);
    http = new Pool(router.url);
    const again = await createSession(http, 'create-1', body);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    // the token answered by the replay drives the session
    const turn = await call(http, 'POST', `/v1/sessions/${first.body.sessionId}/turns`, {
      headers: { ...TRAFFIC, 'x-session-token': again.body.sessionToken, 'idempotency-key': 'k' },
      body: { input: { effect: false } },
    });
    expect(turn.status).toBe(200);
    const other = await createSession(http, 'create-1', { tenant: 'other' });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_MISMATCH');
    expect((await store.listSessions({ agent: 'counter' })).items).toHaveLength(1);

    // a crash between the key's reservation and the session's creation: the retry creates it
    const reserved = `ses_fx_${randomBytes(4).toString('hex')}`;
    await store.reserveSessionKey({
      agent: 'counter',
      key: 'create-2',
      sessionId: reserved,
      bodyHash: sha256Hex(canonicalJson({ tenant: null, metadata: {} })),
    });
    const late = await createSession(http, 'create-2', {});
    expect(late.status).toBe(201);
    expect(late.body.sessionId).toBe(reserved);
    expect((await createSession(http, 'create-2', {})).body).toEqual(late.body);
    expect((await store.listSessions({ agent: 'counter' })).items).toHaveLength(2);
    await http.close();
  });
}

/**
 * Evaluations queued when a router with a slow evaluator is killed are scored by the next
 * process; each score is recorded exactly once (the evaluator call in flight is repeated).
 */
export async function evaluationsSurviveCrash(target: RecoveryTarget): Promise<void> {
  await withCase(target, async ({ store, t, dir, kids }) => {
    const calls = join(dir, 'evals.log');
    const port = randomPort();
    const env = { BATON_TEST_INPROCESS: '1', BATON_TEST_EVAL_FILE: calls, BATON_TEST_EVAL_CLAIM_MS: '1500' };
    const a = await kids.router(t, port, { ...env, BATON_TEST_EVAL_DELAY_MS: '600000' });
    const httpA = new Pool(a.url);
    const s = await createSession(httpA, null, {});
    const headers = { ...TRAFFIC, 'x-session-token': s.body.sessionToken };
    const turns = 4;
    for (let i = 0; i < turns; i++) {
      const r = await call(httpA, 'POST', `/v1/sessions/${s.body.sessionId}/turns`, {
        headers: { ...headers, 'idempotency-key': `t${i}` },
        body: { input: { effect: false } },
      });
      expect(r.status).toBe(200);
    }
    // one evaluation hangs in the slow evaluator, the others wait in the queue
    await until(async () => (await store.listEvaluations({ sessionId: s.body.sessionId })).length === turns);
    await until(() => lines(calls).length === 1);
    await kids.kill(a.child);
    await httpA.close().catch(() => undefined);
    expect(await store.listEvaluations({ status: 'done' })).toHaveLength(0);

    const b = await kids.router(t, port, { ...env, BATON_TEST_EVAL_DELAY_MS: '0' });
    await until(async () => (await store.listEvaluations({ status: 'done' })).length === turns);
    await new Promise((r) => setTimeout(r, 2000)); // the claim of the killed process expired meanwhile: nothing more happens
    const [agg] = await store.listSessionAggregates({ agent: 'counter' });
    expect(agg!.metrics['eval.slow']).toEqual({ sum: 0.5 * turns, count: turns });
    const jobs = await store.listEvaluations({ sessionId: s.body.sessionId });
    expect(jobs.every((j) => j.status === 'done' && j.recordedAt !== null)).toBe(true);
    // every turn was evaluated; only the one in flight at the crash was evaluated twice
    const seen = lines(calls);
    expect(new Set(seen).size).toBe(turns);
    expect(seen).toHaveLength(turns + 1);
    await kids.kill(b.child);
  });
}
