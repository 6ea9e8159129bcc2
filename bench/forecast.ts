/**
 * `npm run bench -- forecast [seeds=20] [patterns=all] [policies=all]`: the drain forecast made
 * before a rollout against what the real controller then does. Each run: a seeded fleet of
 * simulated users on `v1` (a real router, the real rollout controller and a SQLite file,
 * in-process workers, a simulated clock), a warm-up that builds the history the forecaster reads,
 * then `createRollout` (which stores the forecast) and the controller driven pass by pass on the
 * simulated clock until `drain-complete`. Compared per run: the steps phase (creation to
 * `drain-started`), the drain (`drain-started` to `drain-complete`) and the stragglers (open on
 * blue at the drain deadline, from the `drain-deadline` decision).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedClock, type Decision } from '@baton/core';
import { openStore, type Store } from '@baton/store';
import { defineAgent, InProcessWorker } from '@baton/sdk';
import {
  createRollout,
  createServer,
  EventHeap,
  RolloutController,
  StoreLedgerClient,
  type DrainForecast,
} from '@baton/server';
import { z } from 'zod';
import { atLeast, atMost, round, rng, table, type BenchFn, type Target } from './lib';

const MIN = 60_000;
const PASS_MS = 5000;
const AGENT = 'fc';

const state = z.object({ turns: z.number() });
const base = {
  name: AGENT,
  modelId: 'sim',
  schemaVersion: 1,
  state,
  initialState: () => ({ turns: 0 }),
};
function agent(version: string) {
  return defineAgent<{ turns: number }>({
    ...base,
    version,
    turn(ctx, input) {
      ctx.state.turns++;
      if (
        input.kind === 'message' &&
        typeof input.message === 'string' &&
        input.message.startsWith('wait:')
      ) {
        ctx.waitFor('cb', { timeout: Number(input.message.slice(5)) });
        ctx.reply('waiting');
        return;
      }
      ctx.reply(`ok ${ctx.state.turns}`);
    },
  });
}

// ---- simulated users ------------------------------------------------------------------------

type Act = { at: number; kind: 'turn' | 'wait' | 'callback' | 'end'; timeout?: number };
type R = () => number;
const exp = (r: R, mean: number) => -Math.log(1 - r()) * mean;
const uni = (r: R, a: number, b: number) => a + r() * (b - a);
const int = (r: R, a: number, b: number) => Math.floor(uni(r, a, b + 1));

/** A short chat: 3–12 turns ~20 s apart, then the user ends it. */
function shortChat(r: R): Act[] {
  const out: Act[] = [];
  let t = exp(r, 3000);
  const n = int(r, 3, 12);
  for (let i = 0; i < n; i++) {
    out.push({ at: t, kind: 'turn' });
    t += exp(r, 20_000);
  }
  out.push({ at: t - exp(r, 15_000) + exp(r, 5000), kind: 'end' });
  return fix(out);
}

/** A long chat: 4–12 turns, a quarter of the gaps are 5–25 min idle; 10% are abandoned. */
function longChat(r: R): Act[] {
  const out: Act[] = [];
  let t = exp(r, 3000);
  const n = int(r, 4, 12);
  const abandonAt = r() < 0.1 ? int(r, 2, n) : -1;
  for (let i = 0; i < n; i++) {
    if (i === abandonAt) return out;
    out.push({ at: t, kind: 'turn' });
    t += r() < 0.75 ? exp(r, 30_000) : uni(r, 5 * MIN, 25 * MIN);
  }
  out.push({ at: t - 20_000, kind: 'end' });
  return fix(out);
}

/** A session that waits on a callback (24 h timeout): 60% come back after ~20 min, the rest never. */
function callbackSession(r: R): Act[] {
  const out: Act[] = [];
  let t = exp(r, 3000);
  const n = int(r, 1, 3);
  for (let i = 0; i < n; i++) {
    out.push({ at: t, kind: 'turn' });
    t += exp(r, 20_000);
  }
  out.push({ at: t, kind: 'wait', timeout: 24 * 60 * MIN });
  if (r() < 0.6) {
    t += exp(r, 20 * MIN);
    out.push({ at: t, kind: 'callback' });
    t += exp(r, 15_000);
    out.push({ at: t, kind: 'turn' });
    t += exp(r, 10_000);
    out.push({ at: t, kind: 'end' });
  }
  return fix(out);
}

function fix(acts: Act[]): Act[] {
  let last = 0;
  for (const a of acts) {
    a.at = Math.max(a.at, last + 1);
    last = a.at;
  }
  return acts;
}

interface Pattern {
  name: string;
  /** New sessions per minute. */
  perMin: number;
  warmupMin: number;
  user: (r: R) => Act[];
  maxAgeMin: number;
  onDeadline: 'wait' | 'mark-stuck';
  /** Multiply every user gap after the rollout starts (the turn rate changes during the drain). */
  slowdown?: number;
}

const PATTERNS: Pattern[] = [
  { name: 'short chats', perMin: 12, warmupMin: 12, user: shortChat, maxAgeMin: 2, onDeadline: 'wait' },
  {
    name: 'long chats, idle gaps',
    perMin: 1.2,
    warmupMin: 120,
    user: longChat,
    maxAgeMin: 30,
    onDeadline: 'mark-stuck',
  },
  {
    name: 'callbacks, 24h deadlines',
    perMin: 2,
    warmupMin: 180,
    user: callbackSession,
    maxAgeMin: 20,
    onDeadline: 'mark-stuck',
  },
  {
    name: 'mix',
    perMin: 2.5,
    warmupMin: 120,
    user: (r) => (r() < 0.5 ? shortChat(r) : r() < 0.6 ? longChat(r) : callbackSession(r)),
    maxAgeMin: 10,
    onDeadline: 'mark-stuck',
  },
  {
    name: 'short chats, 3x slower in the drain',
    perMin: 12,
    warmupMin: 12,
    user: shortChat,
    maxAgeMin: 2,
    onDeadline: 'wait',
    slowdown: 3,
  },
];
const POLICIES = ['at-boundary', 'finish-on-origin', 'max-age'] as const;
type Policy = (typeof POLICIES)[number];

function specOf(p: Pattern, policy: Policy) {
  return {
    agent: AGENT,
    to: 'v2',
    migration: { policy, eager: true, ...(policy === 'max-age' ? { maxAge: p.maxAgeMin * MIN } : {}) },
    drain: { deadline: '10m', onDeadline: p.onDeadline },
    onNoData: 'pass',
    steps: [
      { fill: 50, migrate: 0, verify: { minSessions: 20, interval: '30s', maxDuration: '2h' } },
      { fill: 100, migrate: 100 },
    ],
  };
}

// ---- one run --------------------------------------------------------------------------------

interface RunResult {
  forecast: DrainForecast;
  stepsMs: number;
  drainMs: number;
  stragglers: number;
  drainTotal: number;
  turns: number;
  passes: number;
  errors: number;
}

type UserEv = { user: number; act: Act };

async function run(p: Pattern, policy: Policy, seed: number, dir: string): Promise<RunResult> {
  const r = rng(seed * 7919 + 17);
  const t0 = Date.UTC(2026, 0, 1);
  const clock = new SimulatedClock(t0);
  const file = join(dir, `run-${seed}-${policy}.db`);
  const store: Store = await openStore(file, { now: () => clock.now() });
  const server = createServer({
    store,
    tokens: { traffic: ['t'], admin: ['a'], worker: ['w'] },
    limits: { healthIntervalMs: 0 },
    clock,
  });
  const ledger = new StoreLedgerClient(store);
  const v1 = agent('v1');
  const v2 = agent('v2');
  await server.pool.addInProcess(new InProcessWorker(v1, ledger, { clock }), v1.manifest());
  await server.pool.addInProcess(new InProcessWorker(v2, ledger, { clock }), v2.manifest());
  const ctx = server.ctx;
  let errors = 0;
  const ctl = new RolloutController(ctx, {
    owner: 'bench',
    intervalMs: PASS_MS,
    eagerBudgetMs: 60_000,
    onError: () => errors++,
  });
  try {
    const heap = new EventHeap<UserEv | { user: -1; act: null }>();
    const sessionOf: string[] = [];
    const tokenOf = new Map<number, string>();
    let nextUser = 0;
    // arrivals: a Poisson process over the whole run (the heap holds the next one)
    const perMs = p.perMin / MIN;
    heap.push(t0 + exp(r, 1 / perMs), { user: -1, act: null });
    let rolloutAt = Infinity;
    let turns = 0;
    const stretch = (at: number) =>
      p.slowdown && at > rolloutAt ? rolloutAt + (at - rolloutAt) * p.slowdown : at;
    const doEvent = async (e: UserEv | { user: -1; act: null }, t: number): Promise<void> => {
      if (e.user === -1) {
        const u = nextUser++;
        const s = await ctx.router.createSession(AGENT);
        sessionOf[u] = s.sessionId;
        const k = p.slowdown && t >= rolloutAt ? p.slowdown : 1;
        for (const a of p.user(r)) heap.push(t + a.at * k, { user: u, act: a });
        heap.push(t + exp(r, 1 / perMs), { user: -1, act: null });
        return;
      }
      const sid = sessionOf[e.user]!;
      const a = e.act;
      if (!a) return;
      try {
        if (a.kind === 'end') {
          const s = await store.getSession(sid);
          if (s.status !== 'completed') await ctx.router.end(s);
        } else if (a.kind === 'callback') {
          const token = tokenOf.get(e.user);
          if (token) {
            turns++;
            await ctx.router.callback(token, { ok: true });
          }
        } else {
          turns++;
          const msg = a.kind === 'wait' ? `wait:${a.timeout}` : `hello ${turns}`;
          const res = await ctx.router.turn(sid, { kind: 'message', message: msg }, `k${turns}`);
          const w = (res as { waits?: Array<{ token: string }> }).waits?.[0];
          if (w) tokenOf.set(e.user, w.token);
        }
      } catch {
        errors++;
      }
    };
    const advanceTo = async (t: number) => {
      if (t > clock.now()) await clock.advance(t - clock.now());
    };
    // warm-up: users only; a controller pass a minute fires wait deadlines
    const warmEnd = t0 + p.warmupMin * MIN;
    let nextWarmPass = t0 + MIN;
    for (;;) {
      const top = heap.pop()!;
      if (top.t >= warmEnd) {
        heap.push(top.t, top.v);
        break;
      }
      while (nextWarmPass <= top.t) {
        await advanceTo(nextWarmPass);
        await ctl.pass();
        nextWarmPass += MIN;
      }
      await advanceTo(top.t);
      await doEvent(top.v, top.t);
    }
    await advanceTo(warmEnd);
    // the forecast, made by createRollout before anything moves, and stored with the rollout
    rolloutAt = warmEnd;
    if (p.slowdown) {
      // users slow down from now on: re-time what is already scheduled
      const pending: Array<{ t: number; v: UserEv | { user: -1; act: null } }> = [];
      for (let x = heap.pop(); x; x = heap.pop()) pending.push(x);
      for (const x of pending) heap.push(x.v.user === -1 ? x.t : stretch(x.t), x.v);
    }
    const out = await createRollout(ctx, specOf(p, policy), { passMs: PASS_MS });
    const id = out.created!.id;
    const forecast = out.forecast;
    // the controller, pass by pass on a grid from the creation; quiet stretches are skipped
    let passes = 0;
    let lastPass = rolloutAt;
    let quiet = 0;
    let dirty = true;
    let fp = '';
    const cap = rolloutAt + 6 * 60 * MIN;
    let done = false;
    while (!done && clock.now() < cap) {
      const top = heap.pop();
      const u = top ? top.t : Infinity;
      const nextPass = lastPass + PASS_MS;
      if (top && u <= nextPass) {
        await advanceTo(u);
        await doEvent(top.v, u);
        dirty = true;
        continue;
      }
      if (top) heap.push(top.t, top.v);
      const rec = await store.getRollout(id);
      const st = rec.state as {
        stage: string;
        step: number;
        lastEvalAt: number | null;
        stepStartedAt: number | null;
        drain: {
          deadline: number | null;
          deadlinePassed: boolean;
          completedAt: number | null;
          snapshot: { remaining: number } | null;
        };
        migrations: { done: number };
      };
      const wake = Math.min(
        st.stage === 'steps' ? (st.lastEvalAt ?? st.stepStartedAt ?? 0) + 30_000 : Infinity,
        st.drain.deadline !== null && !st.drain.deadlinePassed ? st.drain.deadline : Infinity,
        u,
      );
      if (!dirty && quiet >= 2 && nextPass < wake) {
        // nothing can change before `wake`: jump to the last grid point before it
        lastPass = nextPass + Math.max(0, Math.floor((wake - nextPass) / PASS_MS) - 1) * PASS_MS;
        if (!Number.isFinite(wake)) break;
        continue;
      }
      await advanceTo(nextPass);
      await ctl.pass();
      passes++;
      lastPass = nextPass;
      dirty = false;
      const after = await store.getRollout(id);
      const s2 = after.state as typeof st & { phase?: string };
      const f2 = JSON.stringify([
        after.phase,
        s2.stage,
        s2.step,
        s2.drain.snapshot?.remaining,
        s2.migrations.done,
        s2.drain.deadlinePassed,
        s2.drain.completedAt,
      ]);
      quiet = f2 === fp ? quiet + 1 : 0;
      fp = f2;
      done = s2.drain.completedAt !== null && after.phase === 'promoted';
    }
    const ds: Decision[] = await store.listDecisions(id, { afterSeq: 0, limit: 1000 });
    const at = (k: string) => ds.find((d) => d.kind === k)?.at ?? Infinity;
    const started = at('drain-started');
    // the drain closes with drain-complete, or (mark-stuck) with sessions-stuck at the deadline
    const complete = Math.min(at('drain-complete'), at('sessions-stuck'));
    const dl = ds.find((d) => d.kind === 'drain-deadline');
    const snap = (dl?.evidence as { snapshot?: { remaining?: number } } | undefined)?.snapshot;
    const finalRec = await store.getRollout(id);
    return {
      forecast,
      stepsMs: started - out.created!.createdAt,
      drainMs: complete - started,
      stragglers: dl ? (snap?.remaining ?? 0) : 0,
      drainTotal: (finalRec.state as { drain: { initial: number | null } }).drain.initial ?? 0,
      turns,
      passes,
      errors,
    };
  } finally {
    await ctl.stop();
    await server.close();
    await store.close();
    rmSync(file, { force: true });
    rmSync(`${file}-wal`, { force: true });
    rmSync(`${file}-shm`, { force: true });
  }
}

// ---- scoring --------------------------------------------------------------------------------

interface Score {
  relErr: number;
  /** 1 when actual > p50, 0.5 on a tie, 0 below. */
  exceed: number;
  under90: number;
}

function score(p50: number | null, p90: number | null, actual: number): Score {
  if (!Number.isFinite(actual)) return { relErr: Infinity, exceed: 1, under90: 0 };
  const f50 = p50 ?? Infinity;
  const f90 = p90 ?? Infinity;
  return {
    relErr: actual > 0 ? Math.abs(f50 - actual) / actual : f50 === 0 ? 0 : Infinity,
    exceed: actual > f50 ? 1 : actual === f50 ? 0.5 : 0,
    under90: actual <= f90 ? 1 : 0,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** One run, reduced to what the report needs (sent from a child process). */
interface RunRow {
  pattern: string;
  policy: Policy;
  seed: number;
  open: number;
  low: boolean;
  steps: Score;
  drain: Score;
  stragWithin: number;
  a: { steps: number; drain: number; strag: number };
  f: { steps: number; drain: number; strag: number; drainP90: number };
  turns: number;
  errors: number;
}

async function runRow(p: Pattern, policy: Policy, seed: number, dir: string): Promise<RunRow> {
  const res = await run(p, policy, seed, dir);
  const fc = res.forecast;
  if (process.env.BATON_FORECAST_DEBUG)
    console.error(
      JSON.stringify({ pattern: p.name, policy, seed, res: { ...res, forecast: undefined }, fc }),
    );
  const tol = Math.max(5, 0.1 * Math.max(res.drainTotal, fc.openOnBlue));
  return {
    pattern: p.name,
    policy,
    seed,
    open: fc.openOnBlue,
    low: fc.confidence === 'low',
    steps: score(fc.steps.p50, fc.steps.p90, res.stepsMs),
    drain: score(fc.drain.p50, fc.drain.p90, res.drainMs),
    stragWithin: Math.abs((fc.sessions.stragglers.p50 ?? Infinity) - res.stragglers) <= tol ? 1 : 0,
    a: { steps: res.stepsMs, drain: res.drainMs, strag: res.stragglers },
    f: {
      steps: fc.steps.p50 ?? NaN,
      drain: fc.drain.p50 ?? NaN,
      strag: fc.sessions.stragglers.p50 ?? NaN,
      drainP90: fc.drain.p90 ?? NaN,
    },
    turns: res.turns,
    errors: res.errors,
  };
}

/** Child process: run the given (pattern, policy, seed) jobs and send each row back. */
async function child(): Promise<void> {
  const jobs = JSON.parse(process.env.BATON_FORECAST_JOBS ?? '[]') as Array<[string, Policy, number]>;
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-forecast-'));
  try {
    for (const [name, policy, seed] of jobs) {
      const p = PATTERNS.find((x) => x.name === name)!;
      process.send!(await runRow(p, policy, seed, dir));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function inChildren(
  jobs: Array<[string, Policy, number]>,
  n: number,
  onRow: (r: RunRow) => void,
): Promise<void> {
  const here = fileURLToPath(import.meta.url);
  const parts: Array<Array<[string, Policy, number]>> = Array.from({ length: n }, () => []);
  jobs.forEach((j, i) => parts[i % n]!.push(j));
  return Promise.all(
    parts
      .filter((x) => x.length > 0)
      .map(
        (part) =>
          new Promise<void>((resolve, reject) => {
            const c = fork(here, [], {
              env: { ...process.env, BATON_FORECAST_CHILD: '1', BATON_FORECAST_JOBS: JSON.stringify(part) },
            });
            c.on('message', (m) => onRow(m as RunRow));
            c.on('error', reject);
            c.on('exit', (code) =>
              code === 0 ? resolve() : reject(new Error(`bench child exited with ${code}`)),
            );
          }),
      ),
  ).then(() => undefined);
}

function cellRow(rows: RunRow[]): Record<string, unknown> {
  const r0 = rows[0]!;
  const s = (k: 'steps' | 'drain' | 'strag', src: 'a' | 'f') => median(rows.map((r) => r[src][k]));
  return {
    pattern: r0.pattern,
    policy: r0.policy,
    runs: rows.length,
    open: Math.round(median(rows.map((r) => r.open))),
    'steps s (actual / p50)': `${round(s('steps', 'a') / 1000, 0)} / ${round(s('steps', 'f') / 1000, 0)}`,
    'steps err': round(median(rows.map((r) => r.steps.relErr)), 2),
    'steps >p50': round(mean(rows.map((r) => r.steps.exceed)), 2),
    'steps <=p90': round(mean(rows.map((r) => r.steps.under90)), 2),
    'drain s (actual / p50)': `${round(s('drain', 'a') / 1000, 0)} / ${round(s('drain', 'f') / 1000, 0)}`,
    'drain err': round(median(rows.map((r) => r.drain.relErr)), 2),
    'drain >p50': round(mean(rows.map((r) => r.drain.exceed)), 2),
    'drain <=p90': round(mean(rows.map((r) => r.drain.under90)), 2),
    'stragglers (actual / p50)': `${s('strag', 'a')} / ${s('strag', 'f')}`,
    'stragglers ok': round(mean(rows.map((r) => r.stragWithin)), 2),
    'low conf': rows.filter((r) => r.low).length,
  };
}

function targetsFor(label: string, rows: RunRow[]): Target[] {
  const ex = (k: 'steps' | 'drain') => mean(rows.map((r) => r[k].exceed));
  return [
    atMost(`${label} drain: median abs(p50 - actual) / actual`, median(rows.map((r) => r.drain.relErr)), 0.2),
    atLeast(`${label} drain: runs with actual > p50 (ties 1/2)`, ex('drain'), 0.3),
    atMost(`${label} drain: runs with actual > p50 (ties 1/2) `, ex('drain'), 0.7),
    atLeast(`${label} drain: runs with actual <= p90`, mean(rows.map((r) => r.drain.under90)), 0.85),
    atMost(`${label} steps: median abs(p50 - actual) / actual`, median(rows.map((r) => r.steps.relErr)), 0.2),
    atLeast(`${label} steps: runs with actual > p50 (ties 1/2)`, ex('steps'), 0.3),
    atMost(`${label} steps: runs with actual > p50 (ties 1/2) `, ex('steps'), 0.7),
    atLeast(`${label} steps: runs with actual <= p90`, mean(rows.map((r) => r.steps.under90)), 0.85),
    atLeast(
      `${label} stragglers within max(10% of sessions, 5) of p50: runs`,
      mean(rows.map((r) => r.stragWithin)),
      0.9,
    ),
  ];
}

const bench: BenchFn = async (args) => {
  const seeds = Number(args[0] ?? 20);
  const pats = args[1] && args[1] !== 'all' ? PATTERNS.filter((p) => p.name.startsWith(args[1]!)) : PATTERNS;
  const pols = args[2] && args[2] !== 'all' ? POLICIES.filter((x) => x === args[2]) : [...POLICIES];
  const procs = Math.max(1, Math.min(Number(args[3] ?? os.cpus().length), 8));
  const started = performance.now();
  const jobs: Array<[string, Policy, number]> = [];
  for (const p of pats)
    for (const policy of pols) for (let seed = 1; seed <= seeds; seed++) jobs.push([p.name, policy, seed]);
  // longest patterns first, spread over the processes
  const rows: RunRow[] = [];
  await inChildren(jobs, procs, (r) => {
    rows.push(r);
    if (rows.length % 20 === 0)
      console.error(
        `${rows.length} of ${jobs.length} runs (${round((performance.now() - started) / 1000, 0)} s)`,
      );
  });
  const cells: Array<Record<string, unknown>> = [];
  for (const p of pats)
    for (const policy of pols) {
      const rs = rows
        .filter((r) => r.pattern === p.name && r.policy === policy)
        .sort((a, b) => a.seed - b.seed);
      if (rs.length) cells.push(cellRow(rs));
    }
  console.log(`\nper cell (pattern x policy), ${seeds} seeds each:\n`);
  console.log(table(cells));
  const stationary = rows.filter((r) => !PATTERNS.find((p) => p.name === r.pattern)?.slowdown);
  const changed = rows.filter((r) => PATTERNS.find((p) => p.name === r.pattern)?.slowdown);
  const figures: Record<string, number | string> = {
    patterns: pats.length,
    policies: pols.length,
    'seeds per cell': seeds,
    runs: rows.length,
    'turns driven (all runs)': rows.reduce((a, r) => a + r.turns, 0),
    'request errors (all runs)': rows.reduce((a, r) => a + r.errors, 0),
    'child processes': procs,
    'wall seconds': round((performance.now() - started) / 1000, 1),
    'load average (1 min) at end': round(os.loadavg()[0]!, 2),
  };
  for (const c of cells)
    figures[`cell ${String(c.pattern)} / ${String(c.policy)}`] = Object.entries(c)
      .slice(3)
      .map(([k, v]) => `${k}: ${String(v)}`)
      .join('; ');
  // cells whose drain the users decide: not closed by the deadline (mark-stuck), nor by two eager passes
  const bySessions = stationary.filter((r) => {
    const p = PATTERNS.find((x) => x.name === r.pattern)!;
    return p.onDeadline === 'wait' && r.policy !== 'at-boundary';
  });
  return {
    figures,
    targets: [
      ...(stationary.length ? targetsFor('stationary patterns,', stationary) : []),
      ...(bySessions.length
        ? targetsFor('stationary, drain decided by the users,', bySessions).slice(0, 4)
        : []),
      ...(changed.length ? targetsFor('rate change in the drain,', changed) : []),
    ],
  };
};

if (process.env.BATON_FORECAST_CHILD === '1') {
  child().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}

export default bench;
