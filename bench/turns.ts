/**
 * `npm run bench -- turns [seconds]`: turns per second and added latency through the router.
 *
 * - router (own process): fastify + an in-process no-op worker + a SQLite file with durable commits
 *   (synchronous=FULL, the target), and again with synchronous=NORMAL (durable against process
 *   crashes, not power loss) for comparison, and as two router processes sharing one SQLite file
 *   (routers are stateless; clients split between them as behind an L4 balancer);
 * - baseline: a bare Node `http` reverse proxy (own process) in front of the same no-op agent served
 *   over HTTP (`serveWorker`, own process);
 * - load: 50 concurrent clients over keep-alive HTTP (undici), in a separate process so the
 *   client's CPU does not count against the server. Each client holds one session at a time and
 *   moves to a fresh session every TURNS_PER_SESSION turns (a conversation's length), so checkpoint
 *   bodies stay conversation-sized instead of growing for the whole run;
 * - memory: router RSS after 10,000 more sessions were created over HTTP;
 * - router CPU per turn: the router process's CPU time (all its threads), from the end of the
 *   warm-up to the end of the load, over the turns measured in that window; "with the warm-up"
 *   counts from before it over all its turns, so it also holds V8 compiling the router's code as it
 *   warms up, which a router pays once.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { z } from 'zod';
import { defineAgent, httpLedgerClient, InProcessWorker, serveWorker } from '@baton/sdk';
import { openStore } from '@baton/store';
import { createServer, StoreLedgerClient } from '@baton/server';
import { ask, atLeast, atMost, forkChild, percentile, round, stopChild, type BenchFn } from './lib';

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
  /** Routers sharing one store; client `c` talks to `urls[c % urls.length]`. */
  urls: string[];
  sessions: Array<{ id: string; token: string }>;
}
interface LoadProxy {
  kind: 'proxy';
  urls: string[];
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
  /** Successful requests including warm-up and drain (for CPU per request). */
  total: number;
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
  const pools = m.target.urls.map(
    (u) =>
      new Pool(u, {
        connections: Math.ceil(CONCURRENCY / m.target.urls.length),
        pipelining: 1,
        keepAliveTimeout: 60_000,
      }),
  );
  const lat: number[] = [];
  let ok = 0;
  let total = 0;
  let errors = 0;
  let firstError: string | null = null;
  let measuring = false;
  let stop = false;
  let nextSession = 0;
  const t = m.target;
  const client = async (c: number): Promise<void> => {
    let turn = 0;
    const pool = pools[c % pools.length]!;
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
      if (status === 200) total++;
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
  await Promise.all(pools.map((p) => p.close()));
  lat.sort((a, b) => a - b);
  return { ok, total, errors, seconds, p50: percentile(lat, 50), p99: percentile(lat, 99), firstError };
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

// ---- servers (child processes) ---------------------------------------------------------------------

async function workerProcess(): Promise<void> {
  const served = await serveWorker(noop, {
    port: 0,
    // The no-op agent never calls the ledger.
    ledger: httpLedgerClient('http://127.0.0.1:9', TOKENS.worker[0]!),
    token: TOKENS.worker[0]!,
  });
  process.send!({ url: served.url });
}

/** A bare reverse proxy: forwards each request to `upstream` over keep-alive and pipes the answer back. */
async function proxyProcess(upstream: string): Promise<void> {
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.send!({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

/** A router: fastify, an in-process no-op worker, the SQLite file `file`. Answers `rss` queries. */
async function routerProcess(sync: 'FULL' | 'NORMAL', file: string): Promise<void> {
  const store = await openStore(file, { synchronous: sync });
  const server = createServer({ store, tokens: TOKENS, logger: false });
  await server.pool.addInProcess(
    new InProcessWorker(noop, new StoreLedgerClient(store, server.ctx.capabilities)),
    noop.manifest(),
  );
  const url = await server.listen(0);
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'rss') process.send!({ rss: process.memoryUsage().rss });
    if (m.cmd === 'cpu') {
      const u = process.cpuUsage();
      process.send!({ cpuUs: u.user + u.system });
    }
  });
  process.on('disconnect', () => {
    void server
      .close()
      .then(() => store.close())
      .finally(() => process.exit(0));
  });
  process.send!({ url });
}

// ---- the bench (parent) --------------------------------------------------------------------------

/** A role of this file in its own process (`router`, `worker`, `proxy`, `loadgen`). */
function child(...args: string[]): Promise<{ proc: ChildProcess; url: string }> {
  // BATON_BENCH_PROFILE=<dir> writes a CPU profile of the router process there.
  return forkChild(fileURLToPath(import.meta.url), args, { profile: args[0] === 'router' });
}

async function routerRun(
  load: ChildProcess,
  sync: 'FULL' | 'NORMAL',
  warmupMs: number,
  durationMs: number,
  measureMemory: boolean,
  routerCount = 1,
): Promise<{
  result: LoadResult;
  rssBefore: number;
  rssAfter: number;
  cpuUsPerTurn: number;
  cpuUsPerTurnWithWarmup: number;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-turns-'));
  const file = join(dir, 'baton.db');
  // one after the other: the first creates the schema
  const routers = [await child('router', sync, file)];
  for (let i = 1; i < routerCount; i++) routers.push(await child('router', sync, file));
  const router = routers[0]!;
  try {
    // enough sessions for every client to move on after TURNS_PER_SESSION turns
    const needed = Math.ceil((((warmupMs + durationMs) / 1000 + 2) * 6000) / TURNS_PER_SESSION) + CONCURRENCY;
    const { ids } = await ask<{ ids: Array<{ id: string; token: string }> }>(load, {
      cmd: 'create',
      url: router.url,
      count: needed,
    });
    const cpu = async (): Promise<number> => {
      let sum = 0;
      for (const x of routers) sum += (await ask<{ cpuUs: number }>(x.proc, { cmd: 'cpu' })).cpuUs;
      return sum;
    };
    const cpu0 = await cpu();
    const running = ask<LoadResult>(load, {
      cmd: 'load',
      target: { kind: 'router', urls: routers.map((x) => x.url), sessions: ids },
      warmupMs,
      durationMs,
    });
    // CPU per turn in the steady state: from the end of the warm-up (the load generator starts it
    // when this message arrives) to the end of the load, over the turns measured in that window (the
    // CPU of the up to CONCURRENCY turns still in flight when the window closes counts too)
    await new Promise((r) => setTimeout(r, warmupMs));
    const cpuWarm = await cpu();
    const result = await running;
    const cpuEnd = await cpu();
    const perTurn = (cpuEnd - cpuWarm) / Math.max(1, result.ok);
    const perTurnWithWarmup = (cpuEnd - cpu0) / Math.max(1, result.total);
    let rssBefore = NaN;
    let rssAfter = NaN;
    if (measureMemory) {
      rssBefore = (await ask<{ rss: number }>(router.proc, { cmd: 'rss' })).rss;
      await ask(load, { cmd: 'create', url: router.url, count: MEMORY_SESSIONS });
      rssAfter = (await ask<{ rss: number }>(router.proc, { cmd: 'rss' })).rss;
    }
    return { result, rssBefore, rssAfter, cpuUsPerTurn: perTurn, cpuUsPerTurnWithWarmup: perTurnWithWarmup };
  } finally {
    for (const x of routers) await stopChild(x.proc);
    rmSync(dir, { recursive: true, force: true });
  }
}

const bench: BenchFn = async (args) => {
  const seconds = Number(args[0] ?? 6);
  const durationMs = seconds * 1000;
  const warmupMs = 1500;
  const load = await child('loadgen');
  try {
    const worker = await child('worker');
    const proxy = await child('proxy', worker.url);
    let viaProxy: LoadResult;
    try {
      viaProxy = await ask<LoadResult>(load.proc, {
        cmd: 'load',
        target: { kind: 'proxy', urls: [proxy.url] },
        warmupMs,
        durationMs,
      });
    } finally {
      proxy.proc.kill();
      worker.proc.kill();
    }
    const full = await routerRun(load.proc, 'FULL', warmupMs, durationMs, true);
    const normal = await routerRun(load.proc, 'NORMAL', warmupMs, durationMs, false);
    const normal2 = await routerRun(load.proc, 'NORMAL', warmupMs, durationMs, false, 2);
    for (const [what, r] of [
      ['proxy', viaProxy],
      ['router FULL', full.result],
      ['router NORMAL', normal.result],
      ['2 routers NORMAL', normal2.result],
    ] as const) {
      if (r.errors > 0) console.error(`${what}: ${r.errors} errors, first: ${r.firstError}`);
    }
    const proxyRate = viaProxy.ok / viaProxy.seconds;
    const fullRate = full.result.ok / full.result.seconds;
    const normalRate = normal.result.ok / normal.result.seconds;
    const normal2Rate = normal2.result.ok / normal2.result.seconds;
    const mb = (b: number): number => round(b / 2 ** 20, 1);
    return {
      figures: {
        'router turns/s (synchronous=FULL)': round(fullRate, 0),
        'router p50 / p99 ms (FULL)': `${round(full.result.p50, 2)} / ${round(full.result.p99, 2)}`,
        'router turns/s (synchronous=NORMAL)': round(normalRate, 0),
        'router p50 / p99 ms (NORMAL)': `${round(normal.result.p50, 2)} / ${round(normal.result.p99, 2)}`,
        'router CPU µs per turn (FULL)': round(full.cpuUsPerTurn, 0),
        'router CPU µs per turn (NORMAL)': round(normal.cpuUsPerTurn, 0),
        'router CPU µs per turn (2 routers, NORMAL)': round(normal2.cpuUsPerTurn, 0),
        'router CPU µs per turn with the warm-up (FULL)': round(full.cpuUsPerTurnWithWarmup, 0),
        'router CPU µs per turn with the warm-up (NORMAL)': round(normal.cpuUsPerTurnWithWarmup, 0),
        '2 router processes, one SQLite file: turns/s (NORMAL)': round(normal2Rate, 0),
        '2 router processes: p50 / p99 ms (NORMAL)': `${round(normal2.result.p50, 2)} / ${round(normal2.result.p99, 2)}`,
        'bare proxy requests/s': round(proxyRate, 0),
        'bare proxy p50 / p99 ms': `${round(viaProxy.p50, 2)} / ${round(viaProxy.p99, 2)}`,
        'router / proxy rate (FULL)': round(fullRate / proxyRate, 3),
        'router / proxy rate (NORMAL)': round(normalRate / proxyRate, 3),
        'added p50 / p99 ms (FULL)': `${round(full.result.p50 - viaProxy.p50, 2)} / ${round(full.result.p99 - viaProxy.p99, 2)}`,
        'added p50 / p99 ms (NORMAL)': `${round(normal.result.p50 - viaProxy.p50, 2)} / ${round(normal.result.p99 - viaProxy.p99, 2)}`,
        errors: viaProxy.errors + full.result.errors + normal.result.errors + normal2.result.errors,
        'concurrent clients': CONCURRENCY,
        'turns per session': TURNS_PER_SESSION,
        'seconds measured per run': seconds,
        'router RSS MB before 10k sessions': mb(full.rssBefore),
        'router RSS MB after 10k sessions': mb(full.rssAfter),
        'load average (1 min) at end': round(loadavg()[0]!, 2),
      },
      targets: [
        atLeast('router turns/s (synchronous=FULL: fsync per commit)', fullRate, 3000),
        atLeast('router rate / bare proxy rate (FULL)', fullRate / proxyRate, 0.3),
        atLeast('router turns/s (synchronous=NORMAL, the store default)', normalRate, 3000),
        atLeast('router rate / bare proxy rate (NORMAL)', normalRate / proxyRate, 0.3),
        atLeast('2 router processes turns/s (NORMAL)', normal2Rate, 3000),
        atMost('router RSS after 10,000 sessions (MB)', full.rssAfter / 2 ** 20, 200),
      ],
    };
  } finally {
    load.proc.kill();
  }
};

export default bench;

const role = process.argv[2];
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (role === 'loadgen') await loadgen();
  else if (role === 'worker') await workerProcess();
  else if (role === 'proxy') await proxyProcess(process.argv[3]!);
  else if (role === 'router') {
    await routerProcess(process.argv[3] === 'NORMAL' ? 'NORMAL' : 'FULL', process.argv[4]!);
  }
}
