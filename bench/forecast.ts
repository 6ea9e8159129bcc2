/**
 * `npm run bench -- forecast [seeds=20] [pattern] [policy[,policy]] [processes]`: the drain forecast made
 * before a rollout against what the real controller then does. Each run: a seeded fleet of
 * simulated users on `v1` (a real router, the real rollout controller and a SQLite file,
 * in-process workers, a simulated clock), a warm-up that builds the history the forecaster reads,
 * then `createRollout` (which stores the forecast) and the controller driven pass by pass on the
 * simulated clock until `drain-complete`. Compared per run: the steps phase (creation to
 * `drain-started`), the drain (`drain-started` to `drain-complete`) and the stragglers (open on
 * blue at the drain deadline, from the `drain-deadline` decision).
 */
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { atLeast, atMost, round, table, type BenchFn, type Target } from './lib';
import { PATTERNS, POLICIES, type Pattern, type Policy } from './forecast/fleet';
import type { OracleRun } from './forecast/oracle';
import { run, type Reforecast } from './forecast/run';

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
  /** sha256 of the whole forecast: twins (same seed, same history) must match. */
  digest: string;
  /** The oracle's drain forecast on this run (see forecast/oracle.ts), where it applies. */
  oracle: OracleRow | null;
  /** The oracle at the rollout's start (the fleet then, the true process, the controller's rules). */
  oracleStart: OracleRow | null;
  /** The re-forecast closest to halfway through the actual drain, scored against it. */
  half: (Score & { elapsed: number }) | null;
}

interface OracleRow {
  p50: Score;
  best: Score;
  maxWithin: number;
  replayOk: number;
}

function oracleRow(o: OracleRun | null, actual: number, replayOk: boolean): OracleRow | null {
  return o
    ? {
        p50: score(o.p50, o.p90, actual),
        best: score(o.best, o.p90, actual),
        maxWithin: o.maxWithin,
        replayOk: replayOk ? 1 : 0,
      }
    : null;
}

/** The re-forecast made closest to halfway through a drain of `actual` ms (before it ends). */
function halfway(rs: Reforecast[], actual: number): (Score & { elapsed: number }) | null {
  let best: Reforecast | null = null;
  for (const x of rs)
    if (
      x.elapsed < actual &&
      (!best || Math.abs(x.elapsed - actual / 2) < Math.abs(best.elapsed - actual / 2))
    )
      best = x;
  return best ? { ...score(best.p50, best.p90, actual), elapsed: best.elapsed } : null;
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
    digest: createHash('sha256').update(JSON.stringify(fc)).digest('hex'),
    oracle: oracleRow(res.oracle, res.drainMs, res.oracle?.replay === res.drainMs),
    oracleStart: oracleRow(res.oracleStart, res.drainMs, res.oracleStart?.replaySteps === 1),
    half: halfway(res.reforecasts, res.drainMs),
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
    ...oracleCols(rows),
  };
}

/** The oracle's columns (a cell whose drain the users decide) and the halfway re-forecast's. */
function oracleCols(rows: RunRow[]): Record<string, unknown> {
  const o = rows.filter((r) => r.oracleStart).map((r) => r.oracleStart!);
  const d = rows.filter((r) => r.oracle).map((r) => r.oracle!);
  const h = rows.filter((r) => r.half).map((r) => r.half!);
  return {
    'oracle at start: drain err (p50 / best f)': o.length
      ? `${round(median(o.map((x) => x.p50.relErr)), 2)} / ${round(median(o.map((x) => x.best.relErr)), 2)}`
      : '-',
    'oracle at start: >p50': o.length ? round(mean(o.map((x) => x.p50.exceed)), 2) : '-',
    'oracle at start: <=p90': o.length ? round(mean(o.map((x) => x.p50.under90)), 2) : '-',
    'oracle at start: P(within 0.2)': o.length ? round(mean(o.map((x) => x.maxWithin)), 2) : '-',
    'oracle at drain-started: P(within 0.2)': d.length ? round(mean(d.map((x) => x.maxWithin)), 2) : '-',
    'halfway re-forecast err': h.length ? round(median(h.map((x) => x.relErr)), 2) : '-',
    'halfway re-forecast <=p90': h.length ? round(mean(h.map((x) => x.under90)), 2) : '-',
  };
}

/** A rate-change pattern's stationary twin: the same users and history, no change. */
function twinOf(p: Pattern): Pattern | undefined {
  return PATTERNS.find(
    (x) =>
      !x.slowdown &&
      x.user === p.user &&
      x.perMin === p.perMin &&
      x.warmupMin === p.warmupMin &&
      x.maxAgeMin === p.maxAgeMin &&
      x.onDeadline === p.onDeadline,
  );
}

/**
 * The indistinguishability bound for a rate-change pattern against its stationary twin: both
 * get the same forecast f (the store before the rollout is the same), their drains are A and kA,
 * and max(|f − A| / A, |f − kA| / kA) ≥ (k − 1) / (k + 1) for every f: where k > 1.5 no forecast
 * is within 0.20 of both.
 */
function twinBound(
  label: string,
  slow: RunRow[],
  all: RunRow[],
  figures: Record<string, number | string>,
): Target[] {
  const pairs: Array<{ seed: number; equal: boolean; k: number; bound: number }> = [];
  for (const r of slow) {
    const p = PATTERNS.find((x) => x.name === r.pattern)!;
    const tw = twinOf(p);
    const t = tw && all.find((x) => x.pattern === tw.name && x.policy === r.policy && x.seed === r.seed);
    if (!t) continue;
    const k = r.a.drain / t.a.drain;
    pairs.push({ seed: r.seed, equal: r.digest === t.digest, k, bound: (k - 1) / (k + 1) });
  }
  if (!pairs.length) return [];
  const eq = pairs.filter((x) => x.equal).length;
  const possible = pairs.filter((x) => x.bound <= 0.2).length;
  figures[`${label} forecasts equal to the stationary twin's`] = `${eq}/${pairs.length}`;
  figures[`${label} k = actual drain / the twin's, per seed`] = pairs.map((x) => round(x.k, 2)).join(', ');
  figures[`${label} k, median (min)`] =
    `${round(median(pairs.map((x) => x.k)), 2)} (${round(Math.min(...pairs.map((x) => x.k)), 2)})`;
  figures[`${label} (k - 1) / (k + 1), median (min)`] =
    `${round(median(pairs.map((x) => x.bound)), 2)} (${round(Math.min(...pairs.map((x) => x.bound)), 2)})`;
  return [
    atLeast(
      `${label} premise: forecast equal to the stationary twin's (share of seeds)`,
      eq / pairs.length,
      1,
    ),
    {
      what:
        `${label} IMPOSSIBLE: seeds with k <= 1.5, where one forecast can be within 0.2 of both twins ` +
        `(elsewhere every forecast misses one twin by >= (k-1)/(k+1))`,
      value: round(possible / pairs.length),
      target: '>= 0.5 (needed to meet 0.2 on both twins)',
      met: possible / pairs.length >= 0.5,
    },
  ];
}

/** The oracle bound on a set of runs: no forecaster's expected share within 0.20 exceeds it. */
function oracleTargets(label: string, rows: RunRow[]): Target[] {
  const out: Target[] = [];
  for (const [which, pick] of [
    ['at the rollout start', (r: RunRow) => r.oracleStart],
    ['at drain-started (knows more)', (r: RunRow) => r.oracle],
  ] as const) {
    const o = rows.map(pick).filter((x): x is OracleRow => x !== null);
    if (!o.length) continue;
    const within = mean(o.map((x) => x.maxWithin));
    out.push(
      atLeast(
        `${label} oracle ${which}, premise: its rules replay the actual drain from the real lives`,
        mean(o.map((x) => x.replayOk)),
        1,
      ),
      atLeast(
        `${label} oracle ${which}, premise: its p90 covers (calibrated)`,
        mean(o.map((x) => x.p50.under90)),
        0.85,
      ),
      {
        what:
          `${label} oracle ${which}: best chance of a forecast within 0.2 of the drain, mean over runs ` +
          `(IMPOSSIBLE for any forecaster when < 0.5)`,
        value: round(within),
        target: '>= 0.5 (needed for median error <= 0.2)',
        met: within >= 0.5,
      },
      atMost(
        `${label} oracle ${which}: median abs(p50 - actual) / actual`,
        median(o.map((x) => x.p50.relErr)),
        0.2,
      ),
      atLeast(`${label} oracle ${which}: runs with actual <= p90`, mean(o.map((x) => x.p50.under90)), 0.85),
    );
  }
  return out;
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
  const pols =
    args[2] && args[2] !== 'all' ? POLICIES.filter((x) => args[2]!.split(',').includes(x)) : [...POLICIES];
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
  const halves = changed.filter((r) => r.half);
  return {
    figures,
    targets: [
      ...(stationary.length ? targetsFor('stationary patterns,', stationary) : []),
      ...(bySessions.length
        ? targetsFor('stationary, drain decided by the users,', bySessions).slice(0, 4)
        : []),
      ...oracleTargets('stationary, drain decided by the users,', bySessions),
      ...pols.flatMap((pol) =>
        oracleTargets(
          `short chats / ${pol},`,
          bySessions.filter((r) => r.policy === pol),
        ).filter((t) => t.what.includes('at the rollout start: best chance')),
      ),
      ...(changed.length ? targetsFor('rate change in the drain,', changed) : []),
      ...twinBound(
        'rate change in the drain,',
        changed.filter((r) => r.policy !== 'at-boundary'),
        rows,
        figures,
      ),
      ...(halves.length
        ? [
            atMost(
              'rate change in the drain, re-forecast halfway through the drain: median abs(p50 - actual) / actual',
              median(halves.map((r) => r.half!.relErr)),
              0.2,
            ),
            atLeast(
              'rate change in the drain, re-forecast halfway through the drain: runs with actual <= p90',
              mean(halves.map((r) => r.half!.under90)),
              0.85,
            ),
          ]
        : []),
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
