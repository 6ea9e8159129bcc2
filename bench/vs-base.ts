/**
 * `npm run bench -- vs-base --bench store|store-langgraph|turns --base REV [--rounds N]
 * [--budget SECS] [--base-dir DIR] [--full | --seconds S | --args "ARGS"]`: a bench of this tree
 * against the same bench of the base commit, side by side in one run.
 *
 * - The base: `--base REV` (any commit name git knows), else the environment's BATON_BENCH_BASE;
 *   there is no default (which commit a change is measured against is the caller's to say). A git
 *   worktree of it is made in os.tmpdir() (`git worktree add --detach`), `npm ci` run there, and the
 *   worktree removed at the end (also on error). `--base-dir DIR` uses an existing checkout with its
 *   dependencies installed instead (left as it is; REV, if given, must be its HEAD).
 * - Each tree's own bench module (`bench/NAME.ts`, its default export) runs in a child process with
 *   the tree as working directory, ALTERNATED with rotating order: base, new; new, base; base, new …
 *   (a bench run in parts alternates part by part; up to `--rounds` rounds, default 4, an even
 *   number so that each tree goes first as often; no round is started that would end after
 *   `--budget` seconds of wall time, default 570, but 2 rounds always run), so load from other work
 *   on the machine falls on both alike.
 * - Quick by default (see `SPECS`: the bench's own `--quick`, for store in two parts, 3 s per
 *   contender for turns); `--full` runs the bench's default workload; `--seconds S` sets the turns
 *   bench's seconds; `--args "ARGS"` passes ARGS to the module in both trees instead.
 * - Every figure of a rate or a cost is compared (vs-base/compare.ts): new/base of the medians, the
 *   base's spread against itself. One target per judged figure: a rate new/base ≥ 1 − max(5 %,
 *   spread), a cost new/base ≤ 1 + max(5 %, spread); 10 % for turns.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { round, table, type BenchFn, type Target } from './lib';
import { killRuns, runBench } from './vs-base/child';
import { compareRuns, directionOf, mayStartRound, median, roundOrder } from './vs-base/compare';
import { SPECS } from './vs-base/specs';
import { addBaseTree, baseCommit, removeBaseTree } from './vs-base/tree';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const BUDGET_SECS = 570;
/** Longest one run may take before it is stopped (at least; a larger budget allows longer runs). */
const RUN_TIMEOUT_SECS = 240;

const USAGE =
  'usage: npm run bench -- vs-base --bench store|store-langgraph|turns --base REV [--rounds N] [--budget SECS] [--base-dir DIR] [--full | --seconds S | --args "ARGS"]';

interface Options {
  bench: string;
  base: string | undefined;
  baseDir: string | undefined;
  rounds: number;
  budgetSecs: number;
  full: boolean;
  seconds: number | undefined;
  /** `--args "…"`: the module's arguments, one part, instead of the quick or full ones. */
  args: string[] | undefined;
}

function parse(args: string[]): Options {
  const valued = new Set(['--bench', '--base', '--base-dir', '--rounds', '--budget', '--seconds', '--args']);
  const opts: Record<string, string> = {};
  const flags = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (valued.has(a)) {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      opts[a] = v;
    } else if (a === '--full') flags.add(a);
    else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  const bench = opts['--bench'];
  if (!bench || !(bench in SPECS))
    throw new Error(`--bench must be one of ${Object.keys(SPECS).join(', ')}\n${USAGE}`);
  const num = (k: string, dflt: number, min: number): number => {
    const v = opts[k] === undefined ? dflt : Number(opts[k]);
    if (!Number.isFinite(v) || v < min) throw new Error(`${k} must be a number >= ${min}\n${USAGE}`);
    return v;
  };
  return {
    bench,
    base: opts['--base'] ?? process.env.BATON_BENCH_BASE,
    baseDir: opts['--base-dir'] === undefined ? undefined : resolve(opts['--base-dir']),
    rounds: Math.floor(num('--rounds', 4, 2)),
    budgetSecs: num('--budget', BUDGET_SECS, 1),
    full: flags.has('--full'),
    seconds: opts['--seconds'] === undefined ? undefined : num('--seconds', 0, 1),
    args: opts['--args'] === undefined ? undefined : opts['--args'].split(/\s+/).filter(Boolean),
  };
}

/** A run's value for the tables: whole numbers from 100 up, else 2 decimals. */
function show(x: number): number {
  return round(x, Math.abs(x) >= 100 ? 0 : 2);
}

const bench: BenchFn = async (args) => {
  const opts = parse(args);
  const spec = SPECS[opts.bench]!;
  const commit = baseCommit(repo, opts.base, opts.baseDir, USAGE);
  const parts = opts.args ? [opts.args] : spec.parts({ quick: !opts.full, seconds: opts.seconds });
  const described = parts.map((p) => [opts.bench, ...p].join(' ')).join(' + ');
  const work = mkdtempSync(join(tmpdir(), 'baton-bench-vs-base-'));
  const base = opts.baseDir ?? join(work, 'base');
  const started = Date.now();
  const loadAtStart = loadavg()[0]!;
  const onSignal = (): void => {
    killRuns();
    if (!opts.baseDir) removeBaseTree(repo, base);
    rmSync(work, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let setupSecs = 0;
    if (!opts.baseDir) {
      console.log(`worktree of ${commit.slice(0, 12)} in ${base}; npm ci …`);
      addBaseTree(repo, commit, base);
      setupSecs = (Date.now() - started) / 1000;
    }
    const runs: Record<'base' | 'new', Array<Record<string, number | string>>> = { base: [], new: [] };
    const roundsStart = Date.now();
    const timeoutMs = Math.max(RUN_TIMEOUT_SECS, opts.budgetSecs) * 1000;
    let done = 0;
    while (
      mayStartRound(done, opts.rounds, Date.now() - started, Date.now() - roundsStart, opts.budgetSecs * 1000)
    ) {
      // part by part, both trees, the order rotating over parts and rounds alike
      const round_: Record<'base' | 'new', Record<string, number | string>> = { base: {}, new: {} };
      for (const [i, args] of parts.entries()) {
        for (const which of roundOrder(done + i)) {
          console.log(`round ${done + 1}/${opts.rounds}: ${which} (${[opts.bench, ...args].join(' ')})`);
          const part = await runBench({
            root: which === 'base' ? base : repo,
            module: spec.module,
            args,
            patches: spec.patches,
            work,
            tag: `${which}-${done}-${i}`,
            timeoutMs,
          });
          Object.assign(round_[which], part);
        }
      }
      runs.base.push(round_.base);
      runs.new.push(round_.new);
      done++;
    }

    const figures: Record<string, number | string> = {
      bench: described,
      workload: opts.args
        ? 'as --args gives'
        : opts.seconds !== undefined
          ? `${opts.seconds} s per contender`
          : opts.full
            ? 'the bench default'
            : spec.quick,
      'base commit': commit.slice(0, 12),
      'rounds (base and new alternated, order rotating)': done,
    };
    const targets: Target[] = [];
    const rows: Array<Record<string, unknown>> = [];
    const controls: number[] = [];
    let widened = 0;
    const keys = [...new Set(runs.base.flatMap((f) => Object.keys(f)))];
    for (const key of keys) {
      const role = spec.role(key);
      const direction = directionOf(key);
      if (!role || !direction) continue;
      const b = runs.base.map((f) => Number(f[key]));
      const n = runs.new.map((f) => Number(f[key]));
      const c = compareRuns(b, n, direction, spec.tolerance);
      if (!c) {
        figures[`${key}: not compared`] = 'missing or zero in a run';
        continue;
      }
      const runsText = `${b.map(show).join(', ')} | ${n.map(show).join(', ')}`;
      rows.push({
        figure: key,
        role,
        'base runs': b.map(show).join(', '),
        'new runs': n.map(show).join(', '),
        'new / base': round(c.ratio, 3),
        'base spread': round(c.spread, 3),
        wanted: role === 'judged' ? `${direction === 'higher' ? '>=' : '<='} ${round(c.bound, 3)}` : '',
        met: role === 'judged' ? c.met : '',
      });
      figures[`${key}: runs (base | new)`] = runsText;
      figures[`${key}: new / base`] = round(c.ratio, 3);
      if (role === 'control') controls.push(Math.abs(c.ratio - 1));
      if (role === 'judged') {
        if (c.spread > spec.tolerance) widened++;
        targets.push({
          what: `${key}: new / base (within ${round(spec.tolerance * 100, 1)} % or the base's spread, ${round(c.spread * 100, 1)} %)`,
          value: round(c.ratio, 3),
          target: `${direction === 'higher' ? '>=' : '<='} ${round(c.bound, 3)}`,
          met: c.met,
        });
      }
    }
    if (targets.length === 0) throw new Error(`no figure of ${opts.bench} could be compared`);
    figures['judged figures within their bound'] =
      `${targets.filter((t) => t.met).length} of ${targets.length}`;
    // a bound widened by the base's own spread says how noisy the run was, not how close the trees are
    figures[`judged figures whose bound the base's spread widened past ${round(spec.tolerance * 100, 1)} %`] =
      `${widened} of ${targets.length}`;
    if (controls.length) {
      figures['control figures (not Baton code): median |new / base - 1|'] = round(median(controls), 3);
    }
    const errors = [...runs.base, ...runs.new].reduce((a, f) => a + (Number(f['errors']) || 0), 0);
    if (runs.base.some((f) => 'errors' in f)) figures['errors (all runs)'] = errors;
    if (setupSecs) figures['worktree + npm ci seconds'] = round(setupSecs, 0);
    figures['wall seconds'] = round((Date.now() - started) / 1000, 0);
    figures['load average (1 min) at start / end'] = `${round(loadAtStart, 2)} / ${round(loadavg()[0]!, 2)}`;
    console.log(`\n${table(rows)}`);
    return { figures, targets };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    killRuns();
    if (!opts.baseDir) removeBaseTree(repo, base);
    rmSync(work, { recursive: true, force: true });
  }
};

export default bench;
