/**
 * `npm run bench -- turns-vs-base [rounds] [seconds] [--base-dir DIR] [--budget SECS]`: the turns bench of this tree
 * against the turns bench of the commit before the history-log change, side by side in one run.
 *
 * `npm run bench -- vs-base --bench turns --base BASE_COMMIT` with those rounds (default 4) and seconds
 * (default 3; see bench/vs-base.ts): a worktree of BASE_COMMIT with `npm ci` (or `--base-dir`, an
 * existing checkout of it), each tree's own `bench/turns.ts` alternated, the memory step skipped in
 * both; turns/s new/base ≥ 1 − max(10 %, the base's spread) and router CPU per turn new/base ≤
 * 1 + max(10 %, the base's spread).
 */
import type { BenchFn } from './lib';
import vsBase from './vs-base';

export const BASE_COMMIT = '9747a6a623bf7a7bb2e51c161eb9860179d2258c';

const bench: BenchFn = (args) => {
  const valued = ['--base-dir', '--budget'];
  const positional = args.filter((a, i) => !a.startsWith('--') && !valued.includes(args[i - 1] ?? ''));
  const passed = args.flatMap((a, i) =>
    valued.includes(a) && args[i + 1] !== undefined ? [a, args[i + 1]!] : [],
  );
  const rounds = Math.max(2, Number(positional[0] ?? 4));
  const seconds = Math.max(2, Number(positional[1] ?? 3));
  return vsBase([
    '--bench',
    'turns',
    '--base',
    BASE_COMMIT,
    '--rounds',
    String(rounds),
    '--seconds',
    String(seconds),
    ...passed,
  ]);
};

export default bench;
