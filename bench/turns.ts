/**
 * `npm run bench -- turns [seconds]`: turns per second and added latency through the router.
 *
 * - router: fastify + an in-process no-op worker + SQLite with durable commits (synchronous=FULL);
 * - baseline: a bare Node `http` reverse proxy in front of the same no-op agent served over HTTP
 *   (`serveWorker`, in its own process);
 * - load: 50 concurrent clients over keep-alive HTTP (undici), in a separate process so the
 *   client's CPU does not count against the server. Each client holds one session at a time and
 *   moves to a fresh session every TURNS_PER_SESSION turns (a conversation's length), so checkpoint
 *   bodies stay conversation-sized instead of growing for the whole run;
 * - memory: router RSS after 10,000 more sessions were created over HTTP.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { z } from 'zod';
import { defineAgent, httpLedgerClient, InProcessWorker, serveWorker } from '@baton/sdk';
import { openStore } from '@baton/store';
import { createServer, StoreLedgerClient } from '@baton/server';
import { atLeast, atMost, percentile, round, type BenchFn } from './lib';

const CONCURRENCY = 50;
const TURNS_PER_SESSION = 20;
const MEMORY_SESSIONS = 10_000;
const TOKENS = { traffic: ['bench-traffic'], admin: ['bench-admin'], worker: ['bench-worker'] };

const noop = defineAgent({
  name: 'noop',
  version: 'v1',
  schemaVersion: 1,
  state: z.object({}),
  initialState: () => ({}),
  modelId: 'none',
  turn: () => 'ok',
});

// ---- messages between the bench and its load generator ------------------------------------------

interface LoadRouter {
  kind: 'router';
  url: string;
  sessions: Array<{ id: string; token: string }>;
}
interface LoadProxy {
  kind: 'proxy';
  url: string;
}
interface LoadRun {
  cmd: 'load';
  target: LoadRouter | LoadProxy;
  warmupMs: number;
  durationMs: number;
}
interface CreateRun {
  cmd: 'create';
  url: string;
  count: number;
}
interface LoadResult {
  ok: number;
  errors: number;
  seconds: number;
  p50: number;
  p99: number;
  firstError: string | null;
}

// ---- load generator (child process) --------------------------------------------------------------

async function loadgen(): Promise<void> {
  process.on('message', (m: LoadRun | CreateRun) => {
    const job = m.cmd === 'load' ? runLoad(m) : createSessions(m);
    job.then(
      (r) => process.send!(r),
      (e: unknown) => process.send!({ error: String(e) }),
    );
  });
  process.send!({ ready: true });
}

async function runLoad(m: LoadRun): Promise<LoadResult> {
  const pool = new Pool(m.target.url, { connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 60_000 });
  const lat: number[] = [];
  let ok = 0;
  let errors = 0;
  let firstError: string | null = null;
  let measuring = false;
  let stop = false;
  let nextSession = 0;
  const t = m.target;
  const client = async (c: number): Promise<void> => {
    let turn = 0;
    let session = t.kind === 'router' ? t.sessions[nextSession++] : null;
    while (!stop) {
      if (t.kind === 'router' && turn > 0 && turn % TURNS_PER_SESSION === 0) {
        session = t.sessions[nextSession++ % t.sessions.length] ?? session;
      }
      turn++;
      const t0 = process.hrtime.bigint();
      let status: number;
      let text: string;
      try {
        if (t.kind === 'router') {
          const res = await pool.request({
            method: 'POST',
            path: `/v1/sessions/${session!.id}/turns`,
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${TOKENS.traffic[0]}`,
              'x-session-token': session!.token,
              'idempotency-key': `c${c}-t${turn}`,
            },
            body: JSON.stringify({ input: { text: 'hi' } }),
          });
          status = res.statusCode;
          text = await res.body.text();
        } else {
          const res = await pool.request({
            method: 'POST',
            path: '/v1/turn',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.worker[0]}` },
            body: JSON.stringify({
              session: { id: `ses_proxy_${c}`, agent: 'noop', version: 'v1', tenant: null },
              checkpoint: null,
              input: { kind: 'message', message: { text: 'hi' } },
              turnId: `turn_${c}_${turn}`,
              deadline: Date.now() + 30_000,
            }),
          });
          status = res.statusCode;
          text = await res.body.text();
        }
      } catch (e) {
        status = -1;
        text = String(e);
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (!measuring) continue;
      if (status === 200) {
        ok++;
        lat.push(ms);
      } else {
        errors++;
        firstError ??= `${status} ${text.slice(0, 200)}`;
      }
    }
  };
  const clients = Array.from({ length: CONCURRENCY }, (_, c) => client(c));
  await new Promise((r) => setTimeout(r, m.warmupMs));
  measuring = true;
  const start = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, m.durationMs));
  measuring = false;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  stop = true;
  await Promise.all(clients);
  await pool.close();
  lat.sort((a, b) => a - b);
  return { ok, errors, seconds, p50: percentile(lat, 50), p99: percentile(lat, 99), firstError };
}

async function createSessions(
  m: CreateRun,
): Promise<{ created: number; ids: Array<{ id: string; token: string }> }> {
  const pool = new Pool(m.url, { connections: CONCURRENCY });
  const ids: Array<{ id: string; token: string }> = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < m.count) {
      next++;
      const res = await pool.request({
        method: 'POST',
        path: '/v1/agents/noop/sessions',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.traffic[0]}` },
        body: '{}',
      });
      const body = (await res.body.json()) as { sessionId: string; sessionToken: string };
      if (res.statusCode !== 201)
        throw new Error(`create session: ${res.statusCode} ${JSON.stringify(body)}`);
      ids.push({ id: body.sessionId, token: body.sessionToken });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
  await pool.close();
  return { created: ids.length, ids };
}

// ---- the no-op worker served over HTTP (child process) -----------------------------------------------

async function workerProcess(): Promise<void> {
  const served = await serveWorker(noop, {
    port: 0,
    // The no-op agent never calls the ledger.
    ledger: httpLedgerClient('http://127.0.0.1:9', TOKENS.worker[0]!),
    token: TOKENS.worker[0]!,
  });
  process.send!({ url: served.url });
}

// ---- the bench (parent) --------------------------------------------------------------------------

function child(arg: string): Promise<{ proc: ChildProcess; first: any }> {
  const proc = fork(fileURLToPath(import.meta.url), [arg], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    proc.once('message', (first) => resolve({ proc, first }));
    proc.once('exit', (code) => reject(new Error(`${arg} process exited with ${code}`)));
  });
}

function ask<T>(proc: ChildProcess, msg: LoadRun | CreateRun): Promise<T> {
  return new Promise((resolve, reject) => {
    proc.once('message', (r: any) => (r && r.error ? reject(new Error(r.error)) : resolve(r as T)));
    proc.send(msg);
  });
}

/** A bare reverse proxy: forwards each request to `upstream` over keep-alive and pipes the answer back. */
function startProxy(upstream: string): Promise<{ url: string; close(): Promise<void> }> {
  const up = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });
  const server = http.createServer((req, res) => {
    const preq = http.request(
      { host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers, agent },
      (pres) => {
        res.writeHead(pres.statusCode ?? 502, pres.headers);
        pres.pipe(res);
      },
    );
    preq.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(preq);
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
            agent.destroy();
          }),
      });
    });
  });
}

const bench: BenchFn = async (args) => {
  const seconds = Number(args[0] ?? 6);
  const durationMs = seconds * 1000;
  const warmupMs = 1500;
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-turns-'));
  const store = await openStore(join(dir, 'baton.db'), {
    synchronous: (process.env.BATON_BENCH_SYNC as 'FULL' | 'NORMAL' | undefined) ?? 'FULL',
  });
  const server = createServer({ store, tokens: TOKENS, logger: false });
  await server.pool.addInProcess(new InProcessWorker(noop, new StoreLedgerClient(store)), noop.manifest());
  const routerUrl = await server.listen(0);
  const load = await child('loadgen');
  const worker = await child('worker');
  const proxy = await startProxy((worker.first as { url: string }).url);
  try {
    // enough sessions for every client to move on after TURNS_PER_SESSION turns
    const needed = Math.ceil(((seconds + warmupMs / 1000 + 2) * 8000) / TURNS_PER_SESSION) + CONCURRENCY;
    const { ids } = await ask<{ ids: Array<{ id: string; token: string }> }>(load.proc, {
      cmd: 'create',
      url: routerUrl,
      count: needed,
    });

    const viaProxy = await ask<LoadResult>(load.proc, {
      cmd: 'load',
      target: { kind: 'proxy', url: proxy.url },
      warmupMs,
      durationMs,
    });
    const viaRouter = await ask<LoadResult>(load.proc, {
      cmd: 'load',
      target: { kind: 'router', url: routerUrl, sessions: ids },
      warmupMs,
      durationMs,
    });
    if (viaRouter.errors > 0 || viaProxy.errors > 0) {
      console.error('errors:', viaRouter.firstError ?? viaProxy.firstError);
    }
    const routerRate = viaRouter.ok / viaRouter.seconds;
    const proxyRate = viaProxy.ok / viaProxy.seconds;

    const rssBefore = process.memoryUsage().rss;
    await ask(load.proc, { cmd: 'create', url: routerUrl, count: MEMORY_SESSIONS });
    const rssAfter = process.memoryUsage().rss;

    return {
      figures: {
        'router turns/s': round(routerRate, 0),
        'router p50 ms': round(viaRouter.p50, 2),
        'router p99 ms': round(viaRouter.p99, 2),
        'router errors': viaRouter.errors,
        'bare proxy requests/s': round(proxyRate, 0),
        'bare proxy p50 ms': round(viaProxy.p50, 2),
        'bare proxy p99 ms': round(viaProxy.p99, 2),
        'bare proxy errors': viaProxy.errors,
        'router / proxy rate': round(routerRate / proxyRate, 3),
        'added p50 ms': round(viaRouter.p50 - viaProxy.p50, 2),
        'added p99 ms': round(viaRouter.p99 - viaProxy.p99, 2),
        'concurrent clients': CONCURRENCY,
        'turns per session': TURNS_PER_SESSION,
        'seconds measured': seconds,
        'sqlite synchronous': 'FULL',
        'router RSS MB before 10k sessions': round(rssBefore / 2 ** 20, 1),
        'router RSS MB after 10k sessions': round(rssAfter / 2 ** 20, 1),
      },
      targets: [
        atLeast('router turns/s', routerRate, 3000),
        atLeast('router rate / bare proxy rate', routerRate / proxyRate, 0.3),
        atMost('router RSS after 10,000 sessions (MB)', rssAfter / 2 ** 20, 200),
      ],
    };
  } finally {
    load.proc.kill();
    worker.proc.kill();
    await proxy.close();
    await server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

export default bench;

const role = process.argv[2];
if (process.argv[1] === fileURLToPath(import.meta.url) && (role === 'loadgen' || role === 'worker')) {
  await (role === 'loadgen' ? loadgen() : workerProcess());
}
