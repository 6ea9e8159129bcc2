/**
 * `npm run bench -- long-session [--quick]`: what a long conversation costs, old against young,
 * side by side in one run (docs/benchmarks.md, "long-session").
 *
 * Processes (the layout of bench/turns.ts, helpers from bench/lib.ts): the router (this file,
 * role `router`: fastify + a SQLite file, no in-process agent), the agent in a separate
 * `baton worker --agent bench/agents/chat.ts` process (registered with the router over HTTP), and
 * the load generator (role `loadgen`, undici keep-alive) — so the router's CPU per turn is its
 * own (process.cpuUsage of the router process, as turns.ts measures it).
 *
 * 1. old vs young: one session seeded to 5,000 turns through the router over HTTP, one turn after
 *    the other (1 KB in, 1 KB out; the seeding rate is a figure), and young sessions of 10 turns.
 *    Then turns alternate one by one between the old session and a young one (order flipped every
 *    pair; each young session serves `block` turns, so "young" = 10 to 15 turns). Around every
 *    turn the router process is probed (its process.cpuUsage, its -wal file size): per group the
 *    p50 turn latency (load generator), the WAL bytes per turn (wal_autocheckpoint = 0 on the
 *    router's connection during the window, so the -wal file only grows: frames × page size), the
 *    router CPU per turn. With BATON_BENCH_PG_URL / BATON_TEST_PG_URL the same again on
 *    PostgreSQL (schema baton_bench_ls; bytes = the pg_current_wal_lsn() delta around each turn;
 *    the old session appended through the store up to 4,500 turns, the last 500 through the router).
 * 2. the old session continued to 20,000 turns: appended straight through the store API up to
 *    19,000 (the entries, state and context the chat agent writes; the router idle meanwhile),
 *    the last 1,000 through the router (errors counted). Then restarts: stop the router process
 *    and start it on the same file and port, the first turn on the 20,000-turn session or on a
 *    10-turn session (a different one each time), alternated, medians.
 * 3. 200 sessions at ages 480–500 against 200 at 10–30, seeded straight through the store
 *    (creation and seeding excluded): chunks of `chunk` turns per session, 200 concurrent clients
 *    (one per session, its turns sequential), old and young chunks alternated (ABBA); aggregate
 *    turns/s per group, 4 chunks of 5 turns each (an even count, so each group runs first as often).
 *    Both groups are seeded as the router leaves a session (`seedAsRouted`: ten checkpoints). Before
 *    the first chunk, WARM_CHUNKS chunks on 100 other sessions (half of each age) warm the router
 *    up, which part 2 has just restarted: the group that ran first used to carry the whole warm-up
 *    (its first chunk took 2.2 s against 0.7–1.0 s for the others).
 * 4. eager migration (batched path, driven as bench/migrate.ts drives it; in-process workers of
 *    bench/agents/chat.ts versions): 1,000 sessions with 1,000 turns of history (2,000 entries of
 *    `migText` characters, appended straight through the store API, 500 per append) against
 *    1,000 with 5 turns, seeded interleaved, batches alternated; v1 → v2 carries the context,
 *    v2 → v3 rebuilds it from the window (`rebuildContext` reads `history.window()`).
 * enc. encryption at rest on vs off: bench/long-session-encryption.ts (the store's side of a turn,
 *    old and young sessions, SQLite and PostgreSQL).
 * 5. the LangGraph savers comparison: bench/long-session-peers.ts (another module; see PEERS below).
 *
 * Flags: --quick (smaller), --smoke (a functional check), --parts 1,2,3,4,enc,peers, --set k=v,...
 *
 * With BATON_BENCH_PROFILE=<dir>, the router writes its CPU profile there and, beside it,
 * `marks.<pid>.json`: the monotonic time in µs (the profile's clock) of every probe, so a profile
 * can be cut into the windows the probes bracket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { encryptionPart, encryptionStores } from './long-session-encryption';
import { windowOf, type HistoryEntry, type HistoryPolicy } from '@baton/core';
import { DEFAULT_KEEP_CHECKPOINTS, openStore, type Store } from '@baton/store';
import { InProcessWorker } from '@baton/sdk';
import { createServer, eagerBatch, StoreLedgerClient } from '@baton/server';
import {
  ask,
  atLeast,
  atMost,
  forkChild,
  killChild,
  percentile,
  round,
  sqliteHandleOf,
  stopChild,
  track,
  truncateWal,
  type BenchFn,
  type Target,
} from './lib';
import {
  chat,
  chatAgent,
  chatAgentV2,
  nextContext,
  replyTo,
  WINDOW_ENTRIES,
  type ChatContext,
} from './agents/chat';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const CHAT_MODULE = join(here, 'agents', 'chat.ts');
const CLI = join(repo, 'packages', 'cli', 'bin', 'baton.mjs');
const TOKENS = { traffic: ['ls-traffic'], admin: ['ls-admin'], worker: ['ls-worker'] };
const AGENT = 'chat';
const MSG_BYTES = 1024;
const PG_SCHEMA = 'baton_bench_ls';
/** Part 3: chunks of warm-up turns before the measured ones (on sessions that are not measured). */
const WARM_CHUNKS = 2;
/** On PostgreSQL, the old session's last turns that are seeded through the router (the others through the store). */
const PG_HTTP_SEED = 500;

interface Plan {
  /** Part 1: age of the old session, of the young ones, turns per block, blocks per group. */
  oldTurns: number;
  youngTurns: number;
  block: number;
  blocks: number;
  /** Part 2: length of the long session, its last turns that go through the router, restarts per session kind. */
  longTurns: number;
  longHttp: number;
  restarts: number;
  /** Part 3: sessions per group, ages at the start, turns per session per chunk, chunks per group. */
  sessions: number;
  oldAge: number;
  youngAge: number;
  chunk: number;
  chunks: number;
  /** Part 4: sessions per group, turns of history of the old and young ones, characters per entry text. */
  migSessions: number;
  migOld: number;
  migYoung: number;
  migText: number;
  migBatch: number;
  migConcurrency: number;
  /** Part 4 runs this many times, each on a fresh store; the target takes the median run. */
  migRuns: number;
}

const FULL: Plan = {
  oldTurns: 5000,
  youngTurns: 10,
  block: 5,
  blocks: 80,
  longTurns: 20_000,
  longHttp: 1000,
  restarts: 5,
  sessions: 200,
  oldAge: 480,
  youngAge: 10,
  chunk: 5,
  chunks: 4,
  migSessions: 1000,
  migOld: 1000,
  migYoung: 5,
  migText: 100,
  migBatch: 100,
  migConcurrency: 8,
  migRuns: 3,
};

const QUICK: Plan = {
  ...FULL,
  oldTurns: 1000,
  blocks: 30,
  longTurns: 3000,
  longHttp: 300,
  restarts: 3,
  sessions: 40,
  oldAge: 480,
  migSessions: 200,
  migRuns: 1,
};

/** A functional check of every part (seconds, figures meaningless). */
const SMOKE: Plan = {
  ...QUICK,
  oldTurns: 60,
  blocks: 4,
  longTurns: 200,
  longHttp: 20,
  restarts: 1,
  sessions: 10,
  oldAge: 30,
  chunks: 2,
  migSessions: 20,
  migOld: 100,
};

// ---- messages between the bench and its children ---------------------------------------------------

interface Ses {
  id: string;
  token: string;
}
/** `n` turns on each session, numbered from `from` (idempotency keys and message texts). */
interface TurnsRun {
  cmd: 'turns';
  url: string;
  sessions: Array<Ses & { from: number; n: number }>;
  concurrency: number;
  latencies: boolean;
}
interface CreateRun {
  cmd: 'create';
  url: string;
  count: number;
}
/** One turn on a fresh connection after `/healthz` answers (the first turn after a restart). */
interface FirstRun {
  cmd: 'first';
  url: string;
  session: Ses & { from: number };
}
interface TurnsResult {
  ok: number;
  errors: number;
  firstError: string | null;
  seconds: number;
  lat: number[];
}
interface Probe {
  cpuUs: number;
  /** SQLite: bytes of the -wal file; PostgreSQL: null. */
  walBytes: number | null;
  pageSize: number | null;
  rss: number;
}

// ---- load generator (child process) -------------------------------------------------------------

/** A message of MSG_BYTES characters, different for every turn. */
function message(sessionId: string, turn: number): string {
  const head = `${sessionId} turn ${turn}: `;
  const words = ['please', 'check', 'order', 'status', 'refund', 'the', 'parcel', 'arrived', 'late', 'again'];
  let s = head;
  for (let i = turn; s.length < MSG_BYTES; i++) s += words[i % words.length] + ' ';
  return s.slice(0, MSG_BYTES);
}

async function loadgen(): Promise<void> {
  const pools = new Map<string, Pool>();
  const poolFor = (url: string): Pool => {
    let p = pools.get(url);
    if (!p) {
      p = new Pool(url, { connections: 256, pipelining: 1, keepAliveTimeout: 60_000 });
      pools.set(url, p);
    }
    return p;
  };
  const turn = async (pool: Pool, s: Ses, n: number): Promise<{ ms: number; error: string | null }> => {
    const t0 = process.hrtime.bigint();
    try {
      const res = await pool.request({
        method: 'POST',
        path: `/v1/sessions/${s.id}/turns`,
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${TOKENS.traffic[0]}`,
          'x-session-token': s.token,
          'idempotency-key': `${s.id}-t${n}`,
        },
        body: JSON.stringify({ input: { text: message(s.id, n) } }),
      });
      const text = await res.body.text();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (res.statusCode !== 200) return { ms, error: `${res.statusCode} ${text.slice(0, 300)}` };
      const out = JSON.parse(text) as { output?: { text?: string } };
      if (typeof out.output?.text !== 'string' || out.output.text.length !== MSG_BYTES)
        return { ms, error: `unexpected answer ${text.slice(0, 300)}` };
      return { ms, error: null };
    } catch (e) {
      return { ms: Number(process.hrtime.bigint() - t0) / 1e6, error: String(e) };
    }
  };
  const runTurns = async (m: TurnsRun): Promise<TurnsResult> => {
    const pool = poolFor(m.url);
    const lat: number[] = [];
    let ok = 0;
    let errors = 0;
    let firstError: string | null = null;
    let next = 0;
    const client = async (): Promise<void> => {
      while (next < m.sessions.length) {
        const s = m.sessions[next++]!;
        let sessionErrors = 0;
        for (let k = 0; k < s.n; k++) {
          const r = await turn(pool, s, s.from + k);
          if (r.error === null) {
            ok++;
            if (m.latencies) lat.push(r.ms);
          } else {
            errors++;
            firstError ??= `${s.id} turn ${s.from + k}: ${r.error}`;
            // a session that keeps failing is given up (its turns would fail the same way)
            if (++sessionErrors >= 20) break;
          }
        }
      }
    };
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: Math.min(m.concurrency, m.sessions.length) }, () => client()));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { ok, errors, firstError, seconds, lat };
  };
  const create = async (m: CreateRun): Promise<{ ids: Ses[] }> => {
    const pool = poolFor(m.url);
    const ids: Ses[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < m.count) {
        next++;
        const res = await pool.request({
          method: 'POST',
          path: `/v1/agents/${AGENT}/sessions`,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS.traffic[0]}` },
          body: '{}',
        });
        const body = (await res.body.json()) as { sessionId: string; sessionToken: string };
        if (res.statusCode !== 201)
          throw new Error(`create session: ${res.statusCode} ${JSON.stringify(body)}`);
        ids.push({ id: body.sessionId, token: body.sessionToken });
      }
    };
    await Promise.all(Array.from({ length: Math.min(32, m.count) }, () => worker()));
    return { ids };
  };
  const first = async (m: FirstRun): Promise<{ ms: number; error: string | null }> => {
    // the router was restarted: its old connections are gone
    await pools.get(m.url)?.destroy();
    pools.delete(m.url);
    const pool = poolFor(m.url);
    for (let i = 0; ; i++) {
      try {
        const res = await pool.request({ method: 'GET', path: '/healthz' });
        await res.body.text();
        if (res.statusCode === 200) break;
      } catch (e) {
        if (i > 100) throw e;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return turn(pool, m.session, m.session.from);
  };
  process.on('message', (m: TurnsRun | CreateRun | FirstRun) => {
    const job: Promise<unknown> = m.cmd === 'turns' ? runTurns(m) : m.cmd === 'create' ? create(m) : first(m);
    job.then(
      (r) => process.send!(r),
      (e: unknown) => process.send!({ error: String(e) }),
    );
  });
  process.on('disconnect', () => {
    void Promise.all([...pools.values()].map((p) => p.destroy())).finally(() => process.exit(0));
  });
  process.send!({ ready: true });
}

// ---- router (child process) ---------------------------------------------------------------------

/**
 * A router on `target` (a SQLite file or a PostgreSQL URL), listening on 127.0.0.1:`port`, with
 * no agent of its own: the remote `baton worker` registers with it (or is found in the store after
 * a restart). Answers `probe` (CPU, WAL size, RSS) and `wal` (auto-checkpoint on/off, truncate).
 */
async function routerProcess(target: string, port: number): Promise<void> {
  const pg = /^postgres(ql)?:\/\//i.test(target);
  // SQLite: the WAL is checkpointed by the store's own connection (`walCheckpoint: 'inline'`), so
  // that turning its auto-checkpoint off during a window leaves every frame in the -wal file. The
  // store has no option for the auto-checkpoint itself: the bench sets it on the store's connection.
  const store = await openStore(target, pg ? { schema: PG_SCHEMA } : { walCheckpoint: 'inline' });
  const db = pg ? null : sqliteHandleOf(store, 'wal_autocheckpoint');
  const server = createServer({ store, tokens: TOKENS, logger: false });
  const url = await server.listen(port);
  const walFile = `${target}-wal`;
  /** With BATON_BENCH_PROFILE: the monotonic time (µs) of every probe, to split the CPU profile by window. */
  const marks: number[] = [];
  process.on('message', (m: { cmd: string; autocheckpoint?: number; truncate?: boolean }) => {
    try {
      if (m.cmd === 'probe') {
        if (process.env.BATON_BENCH_PROFILE) marks.push(Number(process.hrtime.bigint() / 1000n));
        const u = process.cpuUsage();
        const p: Probe = {
          cpuUs: u.user + u.system,
          walBytes: db ? (existsSync(walFile) ? statSync(walFile).size : 0) : null,
          pageSize: db ? (db.pragma('page_size', { simple: true }) as number) : null,
          rss: process.memoryUsage().rss,
        };
        process.send!(p);
      } else if (m.cmd === 'wal') {
        if (db && m.truncate) db.pragma('wal_checkpoint(TRUNCATE)');
        if (db && m.autocheckpoint !== undefined) db.pragma(`wal_autocheckpoint = ${m.autocheckpoint}`);
        process.send!({ ok: true });
      } else process.send!({ error: `unknown command ${m.cmd}` });
    } catch (e) {
      process.send!({ error: String(e) });
    }
  });
  process.on('disconnect', () => {
    if (marks.length)
      writeFileSync(
        join(process.env.BATON_BENCH_PROFILE!, `marks.${process.pid}.json`),
        JSON.stringify(marks),
      );
    void server
      .close()
      .then(() => store.close())
      .finally(() => process.exit(0));
  });
  process.send!({ url });
}

// ---- the deployment: router + worker (parent side) ----------------------------------------------------

function child(...args: string[]): Promise<{ proc: ChildProcess; url: string }> {
  return forkChild(fileURLToPath(import.meta.url), args, { profile: args[0] === 'router' });
}

/** `baton worker --agent bench/agents/chat.ts`, registered with `server`; resolves when registered. */
async function startWorker(server: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = track(
    spawn(
      process.execPath,
      [
        CLI,
        'worker',
        '--agent',
        CHAT_MODULE,
        '--server',
        server,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--worker-token',
        TOKENS.worker[0]!,
        '--json',
      ],
      { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  return new Promise((resolve, reject) => {
    const exited = (code: number | null): void => reject(new Error(`baton worker exited with ${code}`));
    proc.once('exit', exited);
    const lines = createInterface({ input: proc.stdout! });
    lines.once('line', (line) => {
      proc.off('exit', exited);
      try {
        const j = JSON.parse(line) as { url: string; workerId: string | null };
        if (!j.workerId) throw new Error('not registered');
        resolve({ proc, url: j.url });
      } catch (e) {
        reject(new Error(`baton worker: unexpected first line ${line}: ${String(e)}`));
      }
    });
  });
}

class Deployment {
  router!: ChildProcess;
  url = '';
  port = 0;
  worker: ChildProcess | null = null;

  constructor(readonly target: string) {}

  /**
   * Start the router, then the worker (which registers the chat version through the admin API).
   * With `registerWindow`, the version is first registered straight in the store with the history
   * policy its manifest declares (POST /v1/workers drops it: see docs/benchmarks.md, long-session).
   */
  async start(registerWindow = false): Promise<void> {
    if (registerWindow) {
      const store = await openStore(this.target, /^postgres/i.test(this.target) ? { schema: PG_SCHEMA } : {});
      try {
        const m = chat.manifest();
        const { history, ...fields } = m;
        await store.registerVersion({ ...fields, metadata: history ? { history } : {} });
      } finally {
        await store.close();
      }
    }
    await this.startRouter();
    this.worker = (await startWorker(this.url)).proc;
  }

  /** The history window the router sends the chat version's workers (from the registered version). */
  async registeredWindow(): Promise<string> {
    const res = await fetch(`${this.url}/v1/versions?agent=${AGENT}`, {
      headers: { authorization: `Bearer ${TOKENS.admin[0]}` },
    });
    const body = (await res.json()) as {
      items: Array<{ label: string; metadata: { history?: HistoryPolicy } }>;
    };
    const v = body.items.find((x) => x.label === chat.version);
    const w = windowOf(v?.metadata.history);
    const declared = windowOf(chat.manifest().history);
    const same = w.entries === declared.entries && w.bytes === declared.bytes;
    return `${w.entries} entries / ${w.bytes} bytes (${same ? 'as declared' : `declared: ${declared.entries} entries / ${declared.bytes} bytes`})`;
  }

  async startRouter(): Promise<number> {
    const t0 = performance.now();
    const r = await child('router', this.target, String(this.port));
    this.router = r.proc;
    this.url = r.url;
    this.port = Number(new URL(r.url).port);
    return performance.now() - t0;
  }

  /** Stop the router process and start it again on the same store and port. Returns the start's ms. */
  async restartRouter(): Promise<number> {
    await stopChild(this.router);
    return this.startRouter();
  }

  probe(): Promise<Probe> {
    return ask<Probe>(this.router, { cmd: 'probe' });
  }

  wal(m: { autocheckpoint?: number; truncate?: boolean }): Promise<unknown> {
    return ask(this.router, { cmd: 'wal', ...m });
  }

  async stop(): Promise<void> {
    // the worker first: it unregisters through the router
    if (this.worker) await killChild(this.worker);
    if (this.router) await stopChild(this.router);
  }
}

// ---- helpers ---------------------------------------------------------------------------------------

const t00 = performance.now();
/** Progress on stderr (the bench runs for minutes). */
function progress(msg: string): void {
  console.error(`long-session [${Math.round((performance.now() - t00) / 1000)} s] ${msg}`);
}

const median = (xs: number[]): number =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const ms2 = (x: number): number => round(x, 2);

interface Sess extends Ses {
  /** Turns committed so far (the next turn's number). */
  turns: number;
}

async function create(load: ChildProcess, url: string, count: number): Promise<Sess[]> {
  const { ids } = await ask<{ ids: Ses[] }>(load, { cmd: 'create', url, count } satisfies CreateRun);
  return ids.map((s) => ({ ...s, turns: 0 }));
}

/** Run `n` turns on each of `sessions` (sequential within a session) and advance their counts. */
async function turns(
  load: ChildProcess,
  url: string,
  sessions: Sess[],
  n: number,
  concurrency: number,
  latencies = false,
): Promise<TurnsResult> {
  const r = await ask<TurnsResult>(load, {
    cmd: 'turns',
    url,
    sessions: sessions.map((s) => ({ id: s.id, token: s.token, from: s.turns, n })),
    concurrency,
    latencies,
  } satisfies TurnsRun);
  for (const s of sessions) s.turns += n;
  return r;
}

function checkErrors(what: string, r: TurnsResult, errors: { count: number; first: string | null }): void {
  if (r.errors > 0) {
    errors.count += r.errors;
    errors.first ??= `${what}: ${r.firstError}`;
    console.error(`long-session: ${what}: ${r.errors} errors, first: ${r.firstError}`);
  }
}

/**
 * Bytes written to the write-ahead log: `mark()` before a measured block (given the router's probe
 * taken then), `since(mark, probe)` after it. SQLite: frames appended to the -wal file (its size
 * delta; the file only grows while auto-checkpoint is off) × page size. PostgreSQL: the
 * `pg_current_wal_lsn()` delta (cluster-wide: other activity on the server is counted too).
 */
interface WalMeter {
  mark(p: Probe): Promise<unknown>;
  since(mark: unknown, p: Probe): Promise<number>;
}

const sqliteWal: WalMeter = {
  mark: (p) => Promise.resolve(p.walBytes),
  since(mark, p) {
    const page = p.pageSize!;
    const frames = (b: number): number => (b <= 32 ? 0 : (b - 32) / (page + 24));
    return Promise.resolve((frames(p.walBytes!) - frames(mark as number)) * page);
  },
};

function postgresWal(client: { query(sql: string, v?: unknown[]): Promise<{ rows: unknown[] }> }): WalMeter {
  return {
    async mark() {
      return ((await client.query('SELECT pg_current_wal_lsn()::text AS l')).rows[0] as { l: string }).l;
    },
    async since(mark) {
      const r = await client.query('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8 AS d', [
        mark,
      ]);
      return (r.rows[0] as { d: number }).d;
    },
  };
}

// ---- part 1: old vs young, alternated --------------------------------------------------------------

interface GroupStats {
  lat: number[];
  cpuUs: number;
  bytes: number;
  turns: number;
}

async function oldVsYoung(
  load: ChildProcess,
  dep: Deployment,
  plan: Plan,
  meter: WalMeter,
  errors: { count: number; first: string | null },
  label: string,
  /** Turns of the old session appended straight through the store first (the rest go through the router). */
  storeSeed = 0,
): Promise<{ old: Sess; young: Sess[]; seedRate: number; o: GroupStats; y: GroupStats }> {
  const [old] = await create(load, dep.url, 1);
  const young = await create(load, dep.url, plan.blocks);
  if (storeSeed > 0) {
    progress(`${label}: appending ${storeSeed} turns of the old session through the store`);
    const seeder = await openStore(dep.target, /^postgres/i.test(dep.target) ? { schema: PG_SCHEMA } : {});
    try {
      await seedThroughStore(seeder, old!.id, -1, storeSeed, MSG_BYTES, 100);
    } finally {
      await seeder.close();
    }
    old!.turns = storeSeed;
  }
  // seeding: the old session through the router, one turn after the other
  progress(`${label}: seeding the old session to ${plan.oldTurns} turns through the router`);
  const seed = await turns(load, dep.url, [old!], plan.oldTurns - old!.turns, 1);
  checkErrors(`${label} seeding the old session`, seed, errors);
  const seedRate = seed.ok / seed.seconds;
  checkErrors(
    `${label} seeding the young sessions`,
    await turns(load, dep.url, young, plan.youngTurns, 16),
    errors,
  );
  progress(`${label}: old vs young, ${plan.blocks * plan.block} turns each, alternated`);
  await dep.wal({ truncate: true, autocheckpoint: 0 });
  const o: GroupStats = { lat: [], cpuUs: 0, bytes: 0, turns: 0 };
  const y: GroupStats = { lat: [], cpuUs: 0, bytes: 0, turns: 0 };
  try {
    // turn by turn: old, young, young, old, ... (each young session serves `block` turns, then the next)
    for (let i = 0; i < plan.blocks * plan.block; i++) {
      const order: Array<[GroupStats, Sess]> = [
        [o, old!],
        [y, young[Math.floor(i / plan.block)]!],
      ];
      if (i % 2 === 1) order.reverse();
      for (const [g, s] of order) {
        const p0 = await dep.probe();
        const m0 = await meter.mark(p0);
        const r = await turns(load, dep.url, [s], 1, 1, true);
        const p1 = await dep.probe();
        checkErrors(`${label} old vs young`, r, errors);
        g.lat.push(...r.lat);
        g.cpuUs += p1.cpuUs - p0.cpuUs;
        g.bytes += await meter.since(m0, p1);
        g.turns += r.ok;
      }
    }
  } finally {
    await dep.wal({ autocheckpoint: 1000, truncate: true });
  }
  return { old: old!, young, seedRate, o, y };
}

// ---- part 4: eager migration (in this process, as bench/migrate.ts) ----------------------------------

/** Entries of turn `t` of a seeded session: a user message and the agent's reply, `chars` characters each. */
function seededTurn(sessionNo: number, t: number, chars: number): HistoryEntry[] {
  const text = message(`s${sessionNo}`, t).slice(0, chars);
  const at = 1_767_225_600_000 + t * 1000;
  return [
    { role: 'user', content: { text }, turnId: `trn_seed_${sessionNo}_${t}`, at },
    {
      role: 'agent',
      content: { text: replyTo(text, t + 1) },
      turnId: `trn_seed_${sessionNo}_${t}`,
      at: at + 1,
    },
  ];
}

/**
 * Append `turnCount` turns to a session straight through the store API, `perAppend` turns per
 * checkpoint, continuing from its latest checkpoint: the history entries (a user message and the
 * agent's reply of `chars` characters each), the chat agent's state (`{turns}`) and the context it
 * would have built from its window at that point (bench/agents/chat.ts `nextContext`).
 */
async function seedThroughStore(
  store: Store,
  sessionId: string,
  sessionNo: number,
  turnCount: number,
  chars: number,
  perAppend: number,
): Promise<void> {
  const latest = await store.getLatestCheckpoint(sessionId);
  let seq = latest?.seq ?? 0;
  let length = latest?.historyLength ?? 0;
  let context = (latest?.body.context as ChatContext | null | undefined) ?? null;
  const first = (latest?.body.state as { turns?: number } | undefined)?.turns ?? 0;
  const schemaVersion = latest?.schemaVersion ?? 1;
  const writtenBy = latest?.writtenBy ?? 'v1';
  for (let t = first; t < first + turnCount; t += perAppend) {
    const n = Math.min(perAppend, first + turnCount - t);
    const history: HistoryEntry[] = [];
    for (let k = t; k < t + n; k++) history.push(...seededTurn(sessionNo, k, chars));
    const seen = history.slice(-WINDOW_ENTRIES);
    const base = length + history.length - seen.length;
    context = nextContext(
      context,
      seen.map((e, i) => ({ ...e, index: base + i })),
    );
    const meta = await store.appendCheckpoint({
      sessionId,
      expectedSeq: seq,
      schemaVersion,
      writtenBy,
      body: { state: { turns: t + n }, context, waits: [] },
      history,
      session: { status: 'idle' },
    });
    seq = meta.seq;
    length = meta.historyLength;
  }
}

/**
 * Seed a session of `age` turns (1 KB each way) as the router leaves one: its older turns 40 per
 * checkpoint, its last DEFAULT_KEEP_CHECKPOINTS turns one per checkpoint, then compacted to those. So an
 * old session and a young one both hold DEFAULT_KEEP_CHECKPOINTS checkpoints and both compact on every
 * turn, as after real turns (seeded 40 per checkpoint, a 10-turn session had one checkpoint and
 * compacted nothing for its next ten turns, a 480-turn one had twelve).
 */
async function seedAsRouted(store: Store, sessionId: string, sessionNo: number, age: number): Promise<void> {
  const last = Math.min(age, DEFAULT_KEEP_CHECKPOINTS);
  if (age > last) await seedThroughStore(store, sessionId, sessionNo, age - last, MSG_BYTES, 40);
  await seedThroughStore(store, sessionId, sessionNo, last, MSG_BYTES, 1);
  await store.compactCheckpoints(sessionId, DEFAULT_KEEP_CHECKPOINTS);
}

interface MigrationFigures {
  seedSeconds: number;
  dbBytes: number;
  carry: { old: number; young: number };
  rebuild: { old: number; young: number };
  failed: number;
  left: number;
  firstFailure: string | null;
  /** Per-batch rates, min / median / max. */
  batches: { carry: { old: string; young: string }; rebuild: { old: string; young: string } };
}

async function migration(plan: Plan, dir: string, run: number): Promise<MigrationFigures> {
  const file = join(dir, `migrate-${run}.db`);
  const store = await openStore(file);
  const server = createServer({
    store,
    tokens: { traffic: ['t'], admin: ['a'], worker: ['w'] },
    limits: { healthIntervalMs: 0 },
    logger: false,
  });
  try {
    const ledger = new StoreLedgerClient(store, server.ctx.capabilities);
    const groups = [
      { name: 'chat-long', turns: plan.migOld },
      { name: 'chat-short', turns: plan.migYoung },
    ];
    // migrated before each phase, not measured: the first batches of a process run cold code
    const warm = { name: 'chat-warm', turns: plan.migYoung };
    for (const g of [...groups, warm]) {
      for (const def of [
        chatAgent(g.name, 'v1'),
        chatAgentV2(g.name, 'v2'),
        chatAgentV2(g.name, 'v3', true),
      ] as const) {
        await server.pool.addInProcess(new InProcessWorker(def as never, ledger), def.manifest());
      }
    }
    const t0 = performance.now();
    let no = 0;
    // interleaved (a long session, a short one, ...), so both groups' rows are spread alike in the file
    for (let i = 0; i < plan.migSessions; i++) {
      for (const g of groups) {
        const s = await store.createSession({ agent: g.name, version: 'v1', tokenHash: 'x', status: 'idle' });
        // 250 turns (500 entries) per append: four checkpoints for a 1,000-turn session
        await seedThroughStore(store, s.id, no++, g.turns, plan.migText, 250);
      }
    }
    for (let i = 0; i < 2 * plan.migBatch; i++) {
      const s = await store.createSession({
        agent: warm.name,
        version: 'v1',
        tokenHash: 'x',
        status: 'idle',
      });
      await seedThroughStore(store, s.id, no++, warm.turns, plan.migText, 250);
    }
    const seedSeconds = (performance.now() - t0) / 1000;
    // The seeding wrote most of the file (about 900 MB) through the WAL: checkpoint and truncate it
    // before measuring, so that the store's WAL checkpointer is not copying it during the batches.
    await truncateWal(sqliteHandleOf(store, 'wal_checkpoint'));
    progress('part 4: migrating (v1 → v2 carry, then v2 → v3 rebuild), batches alternated');

    let failed = 0;
    let firstFailure: string | null = null;
    const batchRates: Record<string, number[]> = {};
    const phase = async (from: string, to: string): Promise<{ old: number; young: number }> => {
      for (let more = true, after: string | null = null; more;) {
        const r = await eagerBatch(server.ctx, {
          agent: warm.name,
          rolloutId: 'bench',
          from,
          to,
          percent: 100,
          policy: 'at-boundary',
          maxAgeMs: null,
          deadlinePassed: false,
          batch: plan.migBatch,
          concurrency: plan.migConcurrency,
          after,
          batched: true,
        });
        more = r.more;
        after = r.next;
      }
      const state = groups.map(() => ({ after: null as string | null, more: true, migrated: 0, ms: 0 }));
      for (let round = 0; state.some((s) => s.more); round++) {
        const order = round % 2 === 0 ? [0, 1] : [1, 0];
        for (const gi of order) {
          const st = state[gi]!;
          if (!st.more) continue;
          const t = performance.now();
          const r = await eagerBatch(server.ctx, {
            agent: groups[gi]!.name,
            rolloutId: 'bench',
            from,
            to,
            percent: 100,
            policy: 'at-boundary',
            maxAgeMs: null,
            deadlinePassed: false,
            batch: plan.migBatch,
            concurrency: plan.migConcurrency,
            after: st.after,
            batched: true,
          });
          const ms = performance.now() - t;
          st.ms += ms;
          st.migrated += r.migrated;
          if (r.migrated > 0) (batchRates[`${to} ${gi}`] ??= []).push((r.migrated * 1000) / ms);
          failed += r.failed;
          firstFailure ??= r.failures[0]?.reason ?? null;
          st.after = r.next;
          st.more = r.more;
        }
      }
      return {
        old: (state[0]!.migrated * 1000) / state[0]!.ms,
        young: (state[1]!.migrated * 1000) / state[1]!.ms,
      };
    };
    const carry = await phase('v1', 'v2');
    const rebuild = await phase('v2', 'v3');
    let left = 0;
    for (const g of groups) {
      const c = (await store.countSessions({ agent: g.name })) as Record<string, Record<string, number>>;
      for (const [v, byStatus] of Object.entries(c)) if (v !== 'v3') left += sum(Object.values(byStatus));
    }
    const dbBytes = ['', '-wal'].reduce(
      (a, x) => a + (existsSync(file + x) ? statSync(file + x).size : 0),
      0,
    );
    const spread = (k: string): string => {
      const xs = [...(batchRates[k] ?? [])].sort((a, b) => a - b);
      return `${round(xs[0] ?? NaN, 0)} / ${round(median(xs), 0)} / ${round(xs[xs.length - 1] ?? NaN, 0)}`;
    };
    const batches = {
      carry: { old: spread('v2 0'), young: spread('v2 1') },
      rebuild: { old: spread('v3 0'), young: spread('v3 1') },
    };
    return { seedSeconds, dbBytes, carry, rebuild, failed, left, firstFailure, batches };
  } finally {
    await server.close();
    await store.close();
    for (const x of ['', '-wal', '-shm']) rmSync(file + x, { force: true });
  }
}

// ---- PEERS: the LangGraph savers comparison -------------------------------------------------------------
//
// The fifth line of the issue's list (LangGraph's SqliteSaver / PostgresSaver holding the same
// conversation as a `messages` channel, seeded to 4,990 turns, 10 timed puts: bytes written per
// turn <= 0.05x theirs, p50 append time <= 0.2x theirs) is measured by bench/long-session-peers.ts.
// Its default export is a PeersFn; its figures and targets are appended to this bench's result.

export interface PeersContext {
  quick: boolean;
  /** A temp directory of this run (removed at the end). */
  dir: string;
  /** Part 1's SQLite figures for Baton at the old session's age, if a peer wants to quote them. */
  baton: { oldTurns: number; bytesPerTurnOld: number; p50MsOld: number };
}
export type PeersFn = (
  args: string[],
  ctx: PeersContext,
) => Promise<{ figures: Record<string, number | string>; targets: Target[] }>;

async function peers(
  args: string[],
  ctx: PeersContext,
): Promise<{ figures: Record<string, number | string>; targets: Target[] }> {
  const file = join(here, 'long-session-peers.ts');
  if (args.includes('--no-peers'))
    return { figures: { 'LangGraph savers comparison': 'skipped (--no-peers)' }, targets: [] };
  if (!existsSync(file)) {
    const missing = (what: string, target: string): Target => ({ what, value: NaN, target, met: false });
    return {
      figures: { 'LangGraph savers comparison': 'not run (bench/long-session-peers.ts is not there yet)' },
      targets: [
        missing(
          'vs LangGraph savers at 4,990 turns: bytes written per turn / theirs (not measured)',
          '<= 0.05x',
        ),
        missing('vs LangGraph savers at 4,990 turns: p50 append time / theirs (not measured)', '<= 0.2x'),
      ],
    };
  }
  const mod = (await import(file)) as { default: PeersFn };
  return mod.default(args, ctx);
}

// ---- the bench (parent) ------------------------------------------------------------------------------

const bench: BenchFn = async (args) => {
  const quick = args.includes('--quick');
  const plan: Plan = { ...(args.includes('--smoke') ? SMOKE : quick ? QUICK : FULL) };
  // --set key=value,... overrides the plan (for experiments), e.g. --set blocks=10,block=50
  const si = args.indexOf('--set');
  for (const kv of si >= 0 ? (args[si + 1] ?? '').split(',') : []) {
    const [k, v] = kv.split('=');
    if (!k || !(k in plan) || !Number.isFinite(Number(v))) throw new Error(`--set: unknown or invalid ${kv}`);
    plan[k as keyof Plan] = Number(v);
  }
  // --parts 1,2,3,4,peers (default: all; part 2 continues part 1's old session, so it runs part 1)
  const pi = args.indexOf('--parts');
  const parts = new Set((pi >= 0 ? (args[pi + 1] ?? '') : '1,2,3,4,enc,peers').split(','));
  if (parts.has('2')) parts.add('1');
  if (args.includes('--no-peers')) parts.delete('peers');
  const registerWindow = args.includes('--register-window');
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-long-session-'));
  const pgUrl = process.env.BATON_BENCH_PG_URL ?? process.env.BATON_TEST_PG_URL;
  const errors = { count: 0, first: null as string | null };
  const figures: Record<string, number | string> = {
    plan: `${args.includes('--smoke') ? 'smoke' : quick ? 'quick' : 'full'}${si >= 0 ? ` (--set ${args[si + 1]})` : ''}, parts ${[...parts].join(',')}${registerWindow ? ', --register-window' : ''}`,
  };
  const targets: Target[] = [];
  const loadP = child('loadgen');
  let load: ChildProcess | null = null;
  const deps: Deployment[] = [];
  const stat = (g: GroupStats) => ({
    p50: median(g.lat),
    p99: percentile(
      [...g.lat].sort((x, y) => x - y),
      99,
    ),
    bytes: g.bytes / Math.max(1, g.turns),
    cpu: g.cpuUs / Math.max(1, g.turns),
  });
  let baton1: PeersContext['baton'] = { oldTurns: plan.oldTurns, bytesPerTurnOld: NaN, p50MsOld: NaN };
  try {
    load = (await loadP).proc;
    const dep = new Deployment(join(dir, 'baton.db'));
    if (parts.has('1') || parts.has('3')) {
      deps.push(dep);
      progress('starting the router and the baton worker (SQLite)');
      await dep.start(registerWindow);
      figures['history window the router sends (registered version)'] = await dep.registeredWindow();
    }

    // ---- 1. old vs young (SQLite) ----
    if (parts.has('1')) {
      const p1 = await oldVsYoung(load, dep, plan, sqliteWal, errors, 'sqlite');
      const so = stat(p1.o);
      const sy = stat(p1.y);
      baton1 = { oldTurns: plan.oldTurns, bytesPerTurnOld: so.bytes, p50MsOld: so.p50 };
      Object.assign(figures, {
        [`seeding the old session to ${plan.oldTurns} turns through the router (sequential): turns/s`]: round(
          p1.seedRate,
          0,
        ),
        [`old session (${plan.oldTurns}→${plan.oldTurns + plan.blocks * plan.block} turns): p50 / p99 turn ms`]: `${ms2(so.p50)} / ${ms2(so.p99)}`,
        [`young sessions (${plan.youngTurns}→${plan.youngTurns + plan.block} turns): p50 / p99 turn ms`]: `${ms2(sy.p50)} / ${ms2(sy.p99)}`,
        'old / young: WAL bytes per turn (SQLite)': `${round(so.bytes, 0)} / ${round(sy.bytes, 0)}`,
        'old / young: router CPU µs per turn': `${round(so.cpu, 0)} / ${round(sy.cpu, 0)}`,
        'old vs young: turns measured per group (alternated turn by turn)': `${p1.o.turns} (young: ${plan.blocks} sessions, ${plan.block} turns each)`,
      });
      targets.push(
        atMost(
          `p50 turn latency, ${plan.oldTurns}-turn session / 10-turn session`,
          so.p50 / sy.p50,
          1.25,
          'x',
        ),
        atMost(
          'bytes written per turn (SQLite WAL frames × page size), old / young',
          so.bytes / sy.bytes,
          1.5,
          'x',
        ),
        atMost('router CPU per turn, old / young', so.cpu / sy.cpu, 1.25, 'x'),
      );

      // ---- 2. the long session, restarts ----
      if (parts.has('2')) {
        const old = p1.old;
        // most of the way straight through the store (the router idle meanwhile), the last
        // `longHttp` turns through the router
        progress(`part 2: the old session to ${plan.longTurns} turns, then ${plan.restarts * 2} restarts`);
        const t2 = performance.now();
        const bulk = Math.max(0, plan.longTurns - plan.longHttp - old.turns);
        const seeder = await openStore(dep.target);
        try {
          await seedThroughStore(seeder, old.id, -1, bulk, MSG_BYTES, 100);
        } finally {
          await seeder.close();
        }
        await dep.wal({ truncate: true });
        const bulkSeconds = (performance.now() - t2) / 1000;
        const seededFrom = old.turns;
        old.turns += bulk;
        const from = old.turns;
        const rest = Math.max(0, plan.longTurns - old.turns);
        const long = await turns(load, dep.url, [old], rest, 1);
        checkErrors(`continuing the old session to ${plan.longTurns} turns`, long, errors);
        figures[`long session: turns ${seededFrom}→${from} appended through the store, s`] = round(
          bulkSeconds,
          1,
        );
        const restartYoung = await create(load, dep.url, plan.restarts);
        checkErrors('seeding the restart sessions', await turns(load, dep.url, restartYoung, 10, 8), errors);
        const firstLong: number[] = [];
        const firstYoung: number[] = [];
        const startMs: number[] = [];
        let restartErrors = 0;
        for (let r = 0; r < plan.restarts; r++) {
          const order: Array<[number[], Sess]> = [
            [firstLong, old],
            [firstYoung, restartYoung[r]!],
          ];
          if (r % 2 === 1) order.reverse();
          for (const [xs, s] of order) {
            startMs.push(await dep.restartRouter());
            const f = await ask<{ ms: number; error: string | null }>(load, {
              cmd: 'first',
              url: dep.url,
              session: { id: s.id, token: s.token, from: s.turns },
            } satisfies FirstRun);
            s.turns++;
            if (f.error) {
              restartErrors++;
              errors.count++;
              errors.first ??= `first turn after restart: ${f.error}`;
              console.error(`long-session: first turn after restart: ${f.error}`);
            } else xs.push(f.ms);
          }
        }
        Object.assign(figures, {
          [`long session: turns ${from}→${plan.longTurns} through the router (sequential): turns/s`]: round(
            long.ok / long.seconds,
            0,
          ),
          [`long session: errors over ${plan.longTurns} turns`]: long.errors,
          'restarts (router process stopped and started on the same file and port)': plan.restarts * 2,
          'router process start to listening, ms (median)': ms2(median(startMs)),
          [`first turn after restart, ${plan.longTurns}-turn session, ms (median; all)`]: `${ms2(median(firstLong))}; ${firstLong.map(ms2).join(', ')}`,
          'first turn after restart, 10-turn sessions, ms (median; all)': `${ms2(median(firstYoung))}; ${firstYoung.map(ms2).join(', ')}`,
        });
        targets.push(
          {
            what: `a session of ${plan.longTurns} turns through the router: errors`,
            value: long.errors + restartErrors,
            target: '= 0',
            met: long.errors + restartErrors === 0 && long.ok === rest,
          },
          atMost(
            `first turn after a restart, ${plan.longTurns}-turn / 10-turn session (medians)`,
            median(firstLong) / median(firstYoung),
            2,
            'x',
          ),
        );
      }
    }

    // ---- 3. 200 sessions at 480–500 vs 200 at 10–30 ----
    if (parts.has('3')) {
      progress(`part 3: ${plan.sessions} old and ${plan.sessions} young sessions, seeding through the store`);
      const olds = await create(load, dep.url, plan.sessions);
      const youngs = await create(load, dep.url, plan.sessions);
      // the router's warm-up (its code compiled, its caches' paths taken), on sessions of both ages
      // that are not measured: whichever group ran first would otherwise carry it alone
      const warm = await create(load, dep.url, Math.max(2, Math.round(plan.sessions / 2)));
      // seeded straight through the store (a second connection on the router's file, the router
      // idle meanwhile): the entries, state and context the chat agent would have written, 1 KB each way
      const t3 = performance.now();
      const seeder = await openStore(dep.target);
      try {
        // interleaved (an old session, a young one, ...), so both groups' rows are spread alike in the file
        for (let i = 0; i < plan.sessions; i++) {
          for (const [sess, age] of [
            [olds[i]!, plan.oldAge],
            [youngs[i]!, plan.youngAge],
          ] as const) {
            await seedAsRouted(seeder, sess.id, 2 * i + (age === plan.oldAge ? 0 : 1), age);
            sess.turns = age;
          }
        }
        for (let i = 0; i < warm.length; i++) {
          const age = i % 2 === 0 ? plan.oldAge : plan.youngAge;
          await seedAsRouted(seeder, warm[i]!.id, 2 * plan.sessions + i, age);
          warm[i]!.turns = age;
        }
      } finally {
        await seeder.close();
      }
      const seed3 = (performance.now() - t3) / 1000;
      for (let k = 0; k < WARM_CHUNKS; k++) {
        checkErrors(
          'concurrent warm-up sessions',
          await turns(load, dep.url, warm, plan.chunk, warm.length),
          errors,
        );
      }
      await dep.wal({ truncate: true });
      const g3 = {
        o: { turns: 0, seconds: 0, lat: [] as number[], cpuUs: 0 },
        y: { turns: 0, seconds: 0, lat: [] as number[], cpuUs: 0 },
      };
      for (let c = 0; c < plan.chunks; c++) {
        // ABBA: old, young, young, old, ...
        const order = c % 2 === 0 ? (['o', 'y'] as const) : (['y', 'o'] as const);
        for (const k of order) {
          const p0 = await dep.probe();
          const r = await turns(load, dep.url, k === 'o' ? olds : youngs, plan.chunk, plan.sessions, true);
          const p1b = await dep.probe();
          checkErrors(`concurrent ${k === 'o' ? 'old' : 'young'} sessions`, r, errors);
          g3[k].turns += r.ok;
          g3[k].seconds += r.seconds;
          g3[k].lat.push(...r.lat);
          g3[k].cpuUs += p1b.cpuUs - p0.cpuUs;
        }
      }
      const rateO = g3.o.turns / g3.o.seconds;
      const rateY = g3.y.turns / g3.y.seconds;
      const ages = (a: number) => `${a}–${a + plan.chunks * plan.chunk}`;
      Object.assign(figures, {
        [`concurrent: seeding ${plan.sessions}×${plan.oldAge} + ${plan.sessions}×${plan.youngAge} turns through the store, s`]:
          round(seed3, 1),
        [`concurrent: ${plan.sessions} sessions at ${ages(plan.oldAge)} turns: turns/s, p50 ms, router CPU µs/turn`]: `${round(rateO, 0)}, ${ms2(median(g3.o.lat))}, ${round(g3.o.cpuUs / Math.max(1, g3.o.turns), 0)}`,
        [`concurrent: ${plan.sessions} sessions at ${ages(plan.youngAge)} turns: turns/s, p50 ms, router CPU µs/turn`]: `${round(rateY, 0)}, ${ms2(median(g3.y.lat))}, ${round(g3.y.cpuUs / Math.max(1, g3.y.turns), 0)}`,
      });
      targets.push(
        atLeast(
          `aggregate turns/s, ${plan.sessions} sessions at ${ages(plan.oldAge)} / ${plan.sessions} at ${ages(plan.youngAge)} turns`,
          rateO / rateY,
          0.8,
          'x',
        ),
      );
    }
    if (deps.includes(dep)) {
      figures['router RSS MB at the end (SQLite)'] = round((await dep.probe()).rss / 2 ** 20, 1);
      await dep.stop();
    }

    // ---- 1 again on PostgreSQL, when configured ----
    if (parts.has('1') && pgUrl) {
      const pg = (await import('pg')).default;
      const admin = new pg.Client({ connectionString: pgUrl });
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS ${PG_SCHEMA} CASCADE`);
        const pdep = new Deployment(pgUrl);
        deps.push(pdep);
        progress('part 1 on PostgreSQL');
        await pdep.start(registerWindow);
        figures['postgres: history window the router sends'] = await pdep.registeredWindow();
        // the first turns straight through the store (the router path was seeded over HTTP on SQLite
        // above), the last PG_HTTP_SEED through the router: keeps the bench bounded
        const pgStoreSeed = Math.max(0, plan.oldTurns - PG_HTTP_SEED);
        const q = await oldVsYoung(load, pdep, plan, postgresWal(admin), errors, 'postgres', pgStoreSeed);
        const qo = stat(q.o);
        const qy = stat(q.y);
        Object.assign(figures, {
          [`postgres: old session appended through the store to ${pgStoreSeed} turns, then through the router to ${plan.oldTurns} (sequential): turns/s`]:
            round(q.seedRate, 0),
          'postgres: old / young p50 turn ms': `${ms2(qo.p50)} / ${ms2(qy.p50)}`,
          'postgres: old / young WAL bytes per turn (pg_current_wal_lsn delta, server-wide)': `${round(qo.bytes, 0)} / ${round(qy.bytes, 0)}`,
          'postgres: old / young router CPU µs per turn': `${round(qo.cpu, 0)} / ${round(qy.cpu, 0)}`,
        });
        targets.push(
          atMost('postgres: p50 turn latency, old / young', qo.p50 / qy.p50, 1.25, 'x'),
          atMost(
            'postgres: bytes written per turn (WAL LSN delta), old / young',
            qo.bytes / qy.bytes,
            1.5,
            'x',
          ),
          atMost('postgres: router CPU per turn, old / young', qo.cpu / qy.cpu, 1.25, 'x'),
        );
        await pdep.stop();
      } finally {
        await admin.query(`DROP SCHEMA IF EXISTS ${PG_SCHEMA} CASCADE`).catch(() => undefined);
        await admin.end();
      }
    } else if (parts.has('1')) figures['postgres'] = 'not run (set BATON_BENCH_PG_URL or BATON_TEST_PG_URL)';

    await stopChild(load);

    // ---- 4. eager migration ----
    if (parts.has('4')) {
      progress(`part 4: eager migration, seeding ${2 * plan.migSessions} sessions through the store`);
      // 1,000 migrations a group take well under a second: a run's ratio moves with what else the
      // process does meanwhile (a GC, the JIT), so part 4 runs migRuns times and the median run counts
      const runs: MigrationFigures[] = [];
      for (let r = 0; r < plan.migRuns; r++) {
        if (r > 0) progress(`part 4: run ${r + 1} of ${plan.migRuns}`);
        runs.push(await migration(plan, dir, r));
      }
      const carried = (x: MigrationFigures): number => x.carry.old / x.carry.young;
      const m = [...runs].sort((a, b) => carried(a) - carried(b))[(runs.length - 1) >> 1]!;
      const failed = sum(runs.map((x) => x.failed));
      const left = sum(runs.map((x) => x.left));
      Object.assign(figures, {
        'migration: runs (fresh store each; the median run is shown)': runs.length,
        [`migration (context carried): ${plan.migOld}-turn / ${plan.migYoung}-turn rate in each run`]: runs
          .map((x) => round(carried(x), 3))
          .join(', '),
        [`migration: seeding ${plan.migSessions} + ${plan.migSessions} sessions through the store, s`]: round(
          m.seedSeconds,
          1,
        ),
        'migration: characters of each history entry text (user and agent)': plan.migText,
        'migration: store file MB (main + WAL) at the end': round(m.dbBytes / 2 ** 20, 0),
        [`migration (context carried): migrations/s, ${plan.migOld}-turn / ${plan.migYoung}-turn sessions`]: `${round(m.carry.old, 0)} / ${round(m.carry.young, 0)}`,
        [`migration (rebuildContext reads the window): migrations/s, ${plan.migOld}-turn / ${plan.migYoung}-turn sessions`]: `${round(m.rebuild.old, 0)} / ${round(m.rebuild.young, 0)}`,
        'migration: failed / left unmigrated (all runs)': `${failed} / ${left}`,
        [`migration (carried): per-batch migrations/s min / median / max, ${plan.migOld}-turn; ${plan.migYoung}-turn`]: `${m.batches.carry.old}; ${m.batches.carry.young}`,
        [`migration (rebuild): per-batch migrations/s min / median / max, ${plan.migOld}-turn; ${plan.migYoung}-turn`]: `${m.batches.rebuild.old}; ${m.batches.rebuild.young}`,
      });
      const firstFailure = runs.find((x) => x.firstFailure)?.firstFailure;
      if (firstFailure) figures['migration: first failure'] = firstFailure;
      targets.push(
        atLeast(
          `eager migrations/s (context carried), ${plan.migSessions} sessions of ${plan.migOld} turns / of ${plan.migYoung} turns (median of ${runs.length} runs)`,
          failed + left > 0 ? 0 : carried(m),
          0.8,
          'x',
        ),
      );
    }

    // ---- enc. encryption at rest on vs off (bench/long-session-encryption.ts) ----
    if (parts.has('enc')) {
      const ep = {
        oldTurns: plan.oldTurns,
        youngTurns: 10,
        turns: Math.max(20, plan.blocks * plan.block),
        window: 40,
      };
      progress(
        `part enc: encryption on vs off, ${ep.oldTurns}-turn vs 10-turn sessions, ${ep.turns} turns per group`,
      );
      const backends: Array<[string, Parameters<typeof encryptionStores>[0]]> = [['sqlite', { dir }]];
      if (pgUrl) backends.push(['postgres', { pgUrl, schema: `${PG_SCHEMA}_enc` }]);
      for (const [name, where] of backends) {
        const admin =
          'pgUrl' in where
            ? new (await import('pg')).default.Pool({ connectionString: where.pgUrl, max: 1 })
            : null;
        try {
          const e = await encryptionPart(encryptionStores(where), ep);
          Object.assign(figures, {
            [`encryption (${name}): store side of a turn, p50 ms off / on, ${ep.oldTurns}-turn session`]: `${ms2(e['off old p50 ms']!)} / ${ms2(e['on old p50 ms']!)}`,
            [`encryption (${name}): store side of a turn, p50 ms off / on, 10-turn sessions`]: `${ms2(e['off young p50 ms']!)} / ${ms2(e['on young p50 ms']!)}`,
            [`encryption (${name}): p50 on / off, old; young`]: `${round(e['old on/off']!, 2)}; ${round(e['young on/off']!, 2)}`,
          });
        } finally {
          if (admin && 'schema' in where) {
            for (const x of ['on', 'off'])
              await admin.query(`DROP SCHEMA IF EXISTS ${where.schema}_${x} CASCADE`).catch(() => undefined);
            await admin.end();
          }
        }
      }
    }

    // ---- 5. PEERS (bench/long-session-peers.ts) ----
    if (parts.has('peers')) {
      progress('peers: bench/long-session-peers.ts');
      const pr = await peers(args, { quick, dir, baton: baton1 });
      Object.assign(figures, pr.figures);
      targets.push(...pr.targets);
    }

    figures['errors (all parts)'] = errors.count;
    if (errors.first) figures['first error'] = errors.first;
    figures['seconds (whole bench)'] = round((performance.now() - started) / 1000, 0);
    figures['load average (1 min) at end'] = round(os.loadavg()[0]!, 2);
    return { figures, targets };
  } finally {
    for (const d of deps) await d.stop().catch(() => undefined);
    if (load) await stopChild(load);
    else void loadP.then((l) => stopChild(l.proc)).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
};

export default bench;

const role = process.argv[2];
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (role === 'loadgen') await loadgen();
  else if (role === 'router') await routerProcess(process.argv[3]!, Number(process.argv[4] ?? 0));
}
