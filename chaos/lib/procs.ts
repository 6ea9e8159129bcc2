/**
 * Every process the chaos run starts, by PID: spawned with their output in a log file, stopped by
 * PID at the end, also on Ctrl-C and on errors (`stopAllNow`, synchronous, for exit paths).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Set when the run killed it on purpose (a fault or the end of the run). */
  expectedExit: boolean;
}

const live = new Map<number, Proc>();

export function liveProcs(): Proc[] {
  return [...live.values()];
}

/**
 * Spawns `cmd args`, appends its stdout and stderr to `logFile`, and resolves with the first
 * stdout line (the ready line of `baton serve --json` / `baton worker --json`) when `readyLine`.
 */
export function start(
  name: string,
  cmd: string,
  args: string[],
  opts: SpawnOptions & { logFile: string; readyTimeoutMs?: number },
): Promise<{ proc: Proc; line: string }> {
  const { logFile, readyTimeoutMs = 60_000, ...spawnOpts } = opts;
  const child = spawn(cmd, args, { ...spawnOpts, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) return Promise.reject(new Error(`${name}: could not start ${cmd}`));
  const log = createWriteStream(logFile, { flags: 'a' });
  log.write(`--- ${new Date().toISOString()} start ${name} pid ${child.pid}: ${args.join(' ')}\n`);
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => {
      live.delete(child.pid!);
      log.end(`--- ${new Date().toISOString()} exit ${name} code ${code} signal ${signal}\n`);
      r({ code, signal });
    }),
  );
  const proc: Proc = { name, child, pid: child.pid, exited, expectedExit: false };
  live.set(child.pid, proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.expectedExit = true;
      child.kill('SIGKILL');
      reject(new Error(`${name} did not get ready in ${readyTimeoutMs} ms (log: ${logFile})`));
    }, readyTimeoutMs);
    const rl = createInterface({ input: child.stdout! });
    let first = true;
    rl.on('line', (line) => {
      if (first) {
        first = false;
        clearTimeout(timer);
        resolve({ proc, line });
      }
      log.write(line + '\n');
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      if (first) reject(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready`));
    });
  });
}

/** SIGKILL, then wait for the exit. */
export async function kill(p: Proc): Promise<void> {
  p.expectedExit = true;
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await p.exited;
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(p: Proc, graceMs = 5_000): Promise<void> {
  p.expectedExit = true;
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(t);
}

export async function stopAll(graceMs = 5_000): Promise<void> {
  await Promise.all(liveProcs().map((p) => stop(p, graceMs)));
}

/** For exit paths (Ctrl-C, a crash of the run itself): SIGKILL every live child by PID, now. */
export function stopAllNow(): void {
  for (const p of liveProcs()) {
    p.expectedExit = true;
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
