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
import { oracleCols, oracleTargets, twinBound } from './forecast/bounds';
import { run } from './forecast/run';
import { halfway, mean, median, oracleRow, score, type RunRow } from './forecast/score';
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
