/**
 * The base tree of a side-by-side run: a git worktree of the base commit with its dependencies
 * installed, made before the rounds and removed after them (also on error).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

const NPM_CI_TIMEOUT_MS = 360_000;

/** Run a command to its end; throws with the tail of its stderr when it fails. Returns its stdout. */
export function sh(cmd: string, args: string[], cwd: string, timeoutMs: number): string {
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
  return r.stdout;
}

/** The full commit id of `rev` in the repository at `repo` (throws when it names no commit). */
export function resolveCommit(repo: string, rev: string): string {
  return sh('git', ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], repo, 30_000).trim();
}

/**
 * The commit of the base tree: `base` (a name git knows for a commit of `repo`), checked against
 * `baseDir`'s HEAD when both are given; `baseDir`'s HEAD alone (or 'unknown' when it is no git
 * checkout) when only it is.
 */
export function baseCommit(
  repo: string,
  base: string | undefined,
  baseDir: string | undefined,
  usage: string,
): string {
  const named = (rev: string): string => {
    try {
      return resolveCommit(repo, rev);
    } catch {
      throw new Error(`--base ${rev}: not a commit of this repository`);
    }
  };
  if (!baseDir) {
    if (!base) throw new Error(`no base commit: pass --base REV or set BATON_BENCH_BASE\n${usage}`);
    return named(base);
  }
  let head: string | undefined;
  try {
    head = sh('git', ['rev-parse', 'HEAD'], baseDir, 30_000).trim();
  } catch {
    head = undefined; // not a git checkout: labelled by --base, if given
  }
  const given = base ? named(base) : undefined;
  if (given && head && given !== head) {
    throw new Error(`--base ${base} is ${given.slice(0, 12)}, but --base-dir is at ${head.slice(0, 12)}`);
  }
  return given ?? head ?? 'unknown';
}

/**
 * `npm ci` in the base worktree. better-sqlite3 is the only dependency with a native build, and
 * building it from source takes minutes on a busy machine: when both lockfiles pin the same
 * version, install with `--ignore-scripts` and copy this tree's compiled addon (esbuild, the other
 * package with an install script, works without it: its binary is an optional dependency).
 */
export function installBase(base: string, repo: string): void {
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

/** A detached worktree of `commit` at `dir`, dependencies installed. */
export function addBaseTree(repo: string, commit: string, dir: string): void {
  sh('git', ['worktree', 'add', '--detach', dir, commit], repo, 60_000);
  installBase(dir, repo);
}

/** Remove the worktree made by `addBaseTree` (quietly: also after a failed or partial setup). */
export function removeBaseTree(repo: string, dir: string): void {
  if (existsSync(dir)) {
    spawnSync('git', ['worktree', 'remove', '--force', dir], { cwd: repo, stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
  spawnSync('git', ['worktree', 'prune'], { cwd: repo, stdio: 'ignore' });
}
