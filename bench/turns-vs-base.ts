/**
 * `npm run bench -- turns-vs-base [rounds] [seconds] [--base-dir DIR] [--budget SECS]`: the turns bench of this tree
 * against the turns bench of the commit before the history-log change, side by side in one run.
 *
 * - Makes a git worktree of BASE_COMMIT in os.tmpdir() (`git worktree add --detach`), runs
 *   `npm ci` there (see `installBase`), and removes the worktree at the end (also on error). `--base-dir DIR` uses an
 *   existing checkout with its dependencies installed instead (left as it is).
 * - Runs each tree's own `bench/turns.ts` (its default export, `seconds` per contender) in a child
 *   process with the tree as working directory, ALTERNATED: base, new, base, new, … (up to
 *   `rounds` rounds, default 4, seconds default 3; no round is started that would end after
 *   `--budget` seconds of wall time, default 570, but 2 rounds always run), so load from other
 *   work on the machine falls on both alike.
 * - The turns bench's memory step (RSS after 10,000 more sessions) is skipped in both trees (a
 *   module hook sets its MEMORY_SESSIONS to 0): it is not compared, and it is half of a run.
 * - Reports new/base for the router's turns/s (medians over the rounds) and the base's spread
 *   against itself (the largest |run / median − 1| over its rounds). Target: new/base ≥ 1 − max(10 %,
 *   that spread); likewise router CPU per turn: new/base ≤ 1 + max(10 %, the base's spread).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { round, table, type BenchFn, type BenchResult, type Target } from './lib';

export const BASE_COMMIT = '9747a6a623bf7a7bb2e51c161eb9860179d2258c';
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
/** Longest one turns run may take before it is stopped (the whole bench stays bounded). */
const RUN_TIMEOUT_MS = 240_000;
const NPM_CI_TIMEOUT_MS = 360_000;
/** Wall-time budget of the whole bench: no round is started that would end past it (2 rounds at least). */
const BUDGET_SECS = 570;

/** Figures compared: [key in the turns bench's figures, label, higher is better]. */
const COMPARED: Array<[string, string, boolean]> = [
  ['router turns/s (synchronous=FULL)', 'router turns/s, synchronous=FULL', true],
  ['router turns/s (synchronous=NORMAL)', 'router turns/s, synchronous=NORMAL', true],
  ['2 router processes, one SQLite file: turns/s (NORMAL)', '2 routers turns/s, NORMAL', true],
  ['router CPU µs per turn (FULL)', 'router CPU µs per turn, FULL', false],
  ['router CPU µs per turn (NORMAL)', 'router CPU µs per turn, NORMAL', false],
];
/** The ones with a target: turns/s (the issue's), and CPU per turn (steadier on a busy machine). */
const JUDGED = new Set([
  'router turns/s (synchronous=FULL)',
  'router turns/s (synchronous=NORMAL)',
  'router CPU µs per turn (FULL)',
  'router CPU µs per turn (NORMAL)',
]);

/**
 * A module hook for the child: sets `MEMORY_SESSIONS` of the tree's bench/turns.ts to 0. The turns
 * bench ends its FULL run by creating 10,000 more sessions to read the router's RSS, about half of a
 * run's time on a busy machine; that figure is not compared here, so both trees skip it alike.
 */
const HOOK = `
export async function load(url, context, nextLoad) {
  const r = await nextLoad(url, context);
  let path = '';
  try { path = new URL(url).pathname; } catch {}
  if (!path.endsWith('/bench/turns.ts') || r.source == null) return r;
  const src = typeof r.source === 'string' ? r.source : Buffer.from(r.source).toString('utf8');
  const patched = src.replace(/(MEMORY_SESSIONS\\s*=\\s*)[^;,\\n]+/, '$10');
  if (patched === src) throw new Error('turns-vs-base: MEMORY_SESSIONS not found in ' + path);
  return { ...r, source: patched };
}
`;

/** The child: import `bench/turns.ts` of the tree it runs in and write its result to a file. */
const DRIVER = `
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { writeFileSync } from 'node:fs';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOK)}), import.meta.url);
const [file, out, seconds] = process.argv.slice(2);
const mod = await import(pathToFileURL(file).href);
const r = await mod.default([seconds]);
writeFileSync(out, JSON.stringify(r));
process.exit(0);
`;

function sh(cmd: string, args: string[], cwd: string, timeoutMs: number): void {
  const r = spawnSync(cmd, args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} (in ${cwd}) failed: ${r.error?.message ?? `exit ${r.status}`}\n${(r.stderr ?? '').slice(-2000)}`,
    );
  }
}

/**
 * `npm ci` in the base worktree. better-sqlite3 is the only dependency with a native build, and
 * building it from source takes minutes on a busy machine: when both lockfiles pin the same
 * version, install with `--ignore-scripts` and copy this tree's compiled addon (esbuild, the other
 * package with an install script, works without it: its binary is an optional dependency).
 */
function installBase(base: string): void {
  const addon = join('node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
  const version = (root: string): string | undefined => {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
      packages?: Record<string, { version?: string }>;
    };
    return lock.packages?.['node_modules/better-sqlite3']?.version;
  };
  const same =
    version(base) !== undefined && version(base) === version(repo) && existsSync(join(repo, addon));
  sh(
    'npm',
    ['ci', '--no-audit', '--no-fund', '--prefer-offline', ...(same ? ['--ignore-scripts'] : [])],
    base,
    NPM_CI_TIMEOUT_MS,
  );
  if (same) {
    mkdirSync(dirname(join(base, addon)), { recursive: true });
    copyFileSync(join(repo, addon), join(base, addon));
  }
}

/** Kill a child's whole process group (it was started detached: its PID is the group's). */
function killGroup(proc: ChildProcess): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const running = new Set<ChildProcess>();

/** One turns run of the tree at `root`: its figures. */
function turnsRun(
  root: string,
  driver: string,
  seconds: number,
  tag: string,
): Promise<Record<string, unknown>> {
  const out = join(dirname(driver), `result-${tag}.json`);
  rmSync(out, { force: true });
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', driver, join(root, 'bench', 'turns.ts'), out, String(seconds)],
    {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  running.add(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(proc);
      reject(new Error(`turns run ${tag} took over ${RUN_TIMEOUT_MS / 1000} s; stopped`));
    }, RUN_TIMEOUT_MS);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      running.delete(proc);
      killGroup(proc); // anything of its group still alive
      if (code !== 0 || !existsSync(out)) reject(new Error(`turns run ${tag} exited with ${code}`));
      else resolve((JSON.parse(readFileSync(out, 'utf8')) as Pick<BenchResult, 'figures'>).figures);
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const bench: BenchFn = async (args) => {
  const flagAt = args.indexOf('--base-dir');
  const givenBase = flagAt >= 0 ? args[flagAt + 1] : undefined;
  const positional = args.filter(
    (a, i) => !a.startsWith('--') && !['--base-dir', '--budget'].includes(args[i - 1] ?? ''),
  );
  const rounds = Math.max(2, Number(positional[0] ?? 4));
  const seconds = Math.max(2, Number(positional[1] ?? 3));
  const budgetAt = args.indexOf('--budget');
  const budgetSecs = budgetAt >= 0 ? Number(args[budgetAt + 1]) : BUDGET_SECS;
  const work = mkdtempSync(join(tmpdir(), 'baton-bench-vs-base-'));
  const driver = join(work, 'driver.mjs');
  writeFileSync(driver, DRIVER);
  const base = givenBase ?? join(work, 'base');
  const started = Date.now();
  const onSignal = () => {
    for (const p of running) killGroup(p);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let setupSecs = 0;
    if (!givenBase) {
      const t0 = Date.now();
      console.log(`worktree of ${BASE_COMMIT.slice(0, 7)} in ${base}; npm ci …`);
      sh('git', ['worktree', 'add', '--detach', base, BASE_COMMIT], repo, 60_000);
      installBase(base);
      setupSecs = (Date.now() - t0) / 1000;
    }
    const runs: Record<'base' | 'new', Array<Record<string, unknown>>> = { base: [], new: [] };
    // rounds until `rounds`, or until another round would end past the budget (at least 2)
    let done = 0;
    const roundsStart = Date.now();
    while (done < rounds) {
      const perRound = done ? (Date.now() - roundsStart) / done : 0;
      if (done >= 2 && Date.now() - started + perRound > budgetSecs * 1000) break;
      for (const which of ['base', 'new'] as const) {
        console.log(`round ${done + 1}/${rounds}: ${which}`);
        runs[which].push(await turnsRun(which === 'base' ? base : repo, driver, seconds, `${which}-${done}`));
      }
      done++;
    }

    const figures: Record<string, number | string> = {
      'base commit': BASE_COMMIT.slice(0, 12),
      'rounds (base, new alternated)': done,
      'seconds measured per contender per run': seconds,
    };
    const targets: Target[] = [];
    const rows: Array<Record<string, unknown>> = [];
    for (const [key, label, higher] of COMPARED) {
      const b = runs.base.map((f) => Number(f[key]));
      const n = runs.new.map((f) => Number(f[key]));
      if (b.some((x) => !Number.isFinite(x)) || n.some((x) => !Number.isFinite(x))) continue;
      const ratio = median(n) / median(b);
      // how far a base run strays from the base's own median
      const mb = median(b);
      const spread = Math.max(...b.map((x) => Math.abs(x / mb - 1)));
      const allowed = Math.max(0.1, spread);
      rows.push({
        figure: label,
        'base runs': b.map((x) => Math.round(x)).join(', '),
        'new runs': n.map((x) => Math.round(x)).join(', '),
        'new / base (medians)': round(ratio, 3),
        'base spread (max |run / median - 1|)': round(spread, 3),
      });
      figures[`${label}: base runs`] = b.map((x) => Math.round(x)).join(', ');
      figures[`${label}: new runs`] = n.map((x) => Math.round(x)).join(', ');
      figures[`${label}: new / base`] = round(ratio, 3);
      figures[`${label}: base spread against itself`] = round(spread, 3);
      if (JUDGED.has(key)) {
        const bound = higher ? 1 - allowed : 1 + allowed;
        targets.push({
          what: `${label}: new / base (within 10 % or the base's spread, ${round(spread * 100, 1)} %)`,
          value: round(ratio, 3),
          target: `${higher ? '>=' : '<='} ${round(bound, 3)}`,
          met: higher ? ratio >= bound : ratio <= bound,
        });
      }
    }
    const errors = [...runs.base, ...runs.new].reduce((a, f) => a + Number(f['errors'] ?? 0), 0);
    figures['errors (all runs)'] = errors;
    if (setupSecs) figures['worktree + npm ci seconds'] = round(setupSecs, 0);
    figures['wall seconds'] = round((Date.now() - started) / 1000, 0);
    figures['load average (1 min) at end'] = round(loadavg()[0]!, 2);
    console.log(`\n${table(rows)}`);
    return { figures, targets };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const p of running) killGroup(p);
    if (!givenBase && existsSync(base)) {
      spawnSync('git', ['worktree', 'remove', '--force', base], { cwd: repo, stdio: 'ignore' });
      rmSync(base, { recursive: true, force: true });
      spawnSync('git', ['worktree', 'prune'], { cwd: repo, stdio: 'ignore' });
    }
    rmSync(work, { recursive: true, force: true });
  }
};

export default bench;
