/** Benchmark harness shared by every `bench/<name>.ts`. */
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';

export interface Target {
  what: string;
  value: number;
  target: string;
  met: boolean;
}

export interface BenchResult {
  name: string;
  machine: { cpus: number; cpuModel: string; memGiB: number; node: string; platform: string };
  figures: Record<string, number | string>;
  targets: Target[];
}

export type BenchFn = (args: string[]) => Promise<Omit<BenchResult, 'machine' | 'name'>>;

export function machine(): BenchResult['machine'] {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
  };
}

/** `value >= min` as a target entry. */
export function atLeast(what: string, value: number, min: number, unit = ''): Target {
  return { what, value: round(value), target: `>= ${min}${unit}`, met: value >= min };
}

/** `value <= max` as a target entry. */
export function atMost(what: string, value: number, max: number, unit = ''): Target {
  return { what, value: round(value), target: `<= ${max}${unit}`, met: value <= max };
}

/** A seeded pseudo-random generator in [0, 1), so runs compare the same workload. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Run `fn` repeatedly for about `ms` milliseconds (at least `minOps` times); returns ops/s. */
export async function rate(
  fn: (i: number) => unknown,
  opts: { ms?: number; minOps?: number } = {},
): Promise<number> {
  const ms = opts.ms ?? 2000;
  const minOps = opts.minOps ?? 100;
  const start = process.hrtime.bigint();
  let i = 0;
  for (;;) {
    await fn(i++);
    const el = Number(process.hrtime.bigint() - start) / 1e6;
    if (el >= ms && i >= minOps) return (i * 1000) / el;
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function table(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]!);
  const cells = rows.map((r) => cols.map((c) => fmt(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[]) => '| ' + vals.map((v, i) => v.padEnd(widths[i]!)).join(' | ') + ' |';
  return [line(cols), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...cells.map(line)].join(
    '\n',
  );
}

function fmt(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 0 : 3);
  if (typeof v === 'boolean') return v ? 'yes' : 'NO';
  return String(v ?? '');
}

// ---- child processes -----------------------------------------------------------------------------

/** Every child started by `forkChild`/`track` and not yet exited: killed by PID if the bench exits early. */
const live = new Set<ChildProcess>();
let exitHook = false;

/** Remember `proc` so that it is killed (SIGKILL, by PID) if the bench process exits before stopping it. */
export function track(proc: ChildProcess): ChildProcess {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const p of live) if (p.pid !== undefined && p.exitCode === null) process.kill(p.pid, 'SIGKILL');
    });
  }
  return proc;
}

/**
 * Fork `module` (a bench file, run through tsx) with `args` and an IPC channel; resolves with the
 * process and the `url` of its first message (empty when it sends none), rejects if it exits
 * first. With `profile` and BATON_BENCH_PROFILE=<dir>, the child writes a CPU profile there;
 * `cwd`, `env` and `execPath` (e.g. a wrapper that runs node under valgrind) go to `fork`.
 */
export function forkChild(
  module: string,
  args: string[],
  opts: { profile?: boolean; cwd?: string; env?: NodeJS.ProcessEnv; execPath?: string } = {},
): Promise<{ proc: ChildProcess; url: string }> {
  const prof = process.env.BATON_BENCH_PROFILE;
  const proc = track(
    fork(module, args, {
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.execPath ? { execPath: opts.execPath } : {}),
      execArgv: [
        '--import',
        'tsx',
        ...(prof && opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  return new Promise((resolve, reject) => {
    const exited = (code: number | null): void => reject(new Error(`${args[0]} process exited with ${code}`));
    proc.once('exit', exited);
    proc.once('message', (first: { url?: string }) => {
      proc.off('exit', exited);
      resolve({ proc, url: first.url ?? '' });
    });
  });
}

/** Send `msg` to a child and wait for its next message (a message with `error` rejects). */
export function ask<T>(proc: ChildProcess, msg: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const exited = (code: number | null): void => reject(new Error(`child process exited with ${code}`));
    proc.once('exit', exited);
    proc.once('message', (r: { error?: string } | null) => {
      proc.off('exit', exited);
      if (r && r.error) reject(new Error(r.error));
      else resolve(r as T);
    });
    proc.send(msg as object);
  });
}

/** Stop a child by disconnecting its IPC channel (it closes and exits); SIGKILL by PID after `graceMs`. */
export async function stopChild(proc: ChildProcess, graceMs = 5_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  if (proc.connected) proc.disconnect();
  else proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Stop a child without an IPC channel: SIGTERM by PID, SIGKILL after `graceMs`. */
export async function killChild(proc: ChildProcess, graceMs = 5_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** The pragmas of a SQLite connection, as better-sqlite3 runs them. */
export interface SqlitePragmas {
  pragma(sql: string, opts?: { simple: boolean }): unknown;
}

/**
 * The connection of Baton's SQLite store (not part of the Store interface: a bench needs its
 * pragmas to measure and empty the WAL). Throws for a store that has none (PostgreSQL).
 */
export function sqliteHandleOf(store: object, why: string): SqlitePragmas {
  const db = (store as { db?: Partial<SqlitePragmas> }).db;
  if (!db || typeof db.pragma !== 'function')
    throw new Error(`cannot reach the SQLite connection of the store (${why})`);
  return db as SqlitePragmas;
}

/**
 * Checkpoint the whole WAL into the database file and empty it. A checkpoint that the store's WAL
 * thread is running at that moment makes SQLite answer busy at once: wait for it and try again.
 */
export async function truncateWal(db: SqlitePragmas): Promise<void> {
  for (let i = 0; ; i++) {
    const r = (db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>)[0];
    if (!r || r.busy === 0) return;
    if (i >= 500) throw new Error('wal_checkpoint(TRUNCATE) stayed busy for 5 s');
    await new Promise((res) => setTimeout(res, 10));
  }
}
