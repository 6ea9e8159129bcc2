/**
 * One run of a tree's own bench module, in a child process with the tree as working directory (so
 * `tsx`, `@baton/*` and the bench's relative imports resolve to that tree), its figures read back
 * from a file. The child's whole process group is killed when the run ends, times out or the
 * parent is stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResult } from '../lib';

/**
 * A change to a bench module's source as the child loads it, the same in both trees: `pattern` (a
 * regular expression's source) is replaced by `replacement` in the file whose path ends with
 * `file`; a module without a match fails the run (the change would silently not apply).
 */
export interface SourcePatch {
  file: string;
  pattern: string;
  replacement: string;
  /**
   * A text the module holds once it already does what the patch does (a measurement an older
   * tree's bench lacks): such a module is left as it is; any other must match `pattern`.
   */
  unlessPresent?: string;
}

/** A module hook for the child that applies the patches. */
function hook(patches: SourcePatch[]): string {
  return `
const patches = ${JSON.stringify(patches)};
export async function load(url, context, nextLoad) {
  const r = await nextLoad(url, context);
  let path = '';
  try { path = new URL(url).pathname; } catch {}
  const mine = patches.filter((p) => path.endsWith(p.file));
  if (mine.length === 0 || r.source == null) return r;
  let src = typeof r.source === 'string' ? r.source : Buffer.from(r.source).toString('utf8');
  for (const p of mine) {
    if (p.unlessPresent !== undefined && src.includes(p.unlessPresent)) continue;
    const next = src.replace(new RegExp(p.pattern), p.replacement);
    if (next === src) throw new Error('vs-base: /' + p.pattern + '/ not found in ' + path);
    src = next;
  }
  return { ...r, source: src };
}
`;
}

/** The child: import the bench module of the tree it runs in, call its default export, write the result. */
function driver(patches: SourcePatch[]): string {
  return `
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { writeFileSync } from 'node:fs';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook(patches))}), import.meta.url);
const [file, out, args] = process.argv.slice(2);
const mod = await import(pathToFileURL(file).href);
if (typeof mod.default !== 'function') throw new Error(file + ': no default export to run');
const r = await mod.default(JSON.parse(args));
if (!r || typeof r.figures !== 'object') throw new Error(file + ': its result has no figures');
writeFileSync(out, JSON.stringify(r));
process.exit(0);
`;
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

/** Kill every run still going (on a signal, or when the bench ends on an error). */
export function killRuns(): void {
  for (const p of running) killGroup(p);
}

/**
 * Files a bench may rewrite in its own tree (the store bench writes its section of
 * docs/benchmarks.md): put back as they were after each run, so a side-by-side run leaves both
 * trees as it found them.
 */
const REWRITTEN = [join('docs', 'benchmarks.md')];

export interface RunSpec {
  /** The tree's root: the child's working directory. */
  root: string;
  /** The bench module, relative to the root (`bench/store.ts`). */
  module: string;
  args: string[];
  patches: SourcePatch[];
  /** A scratch directory for the driver and the result file. */
  work: string;
  tag: string;
  timeoutMs: number;
}

/** One run: the figures of the bench module of `spec.root`. */
export async function runBench(spec: RunSpec): Promise<BenchResult['figures']> {
  const file = join(spec.root, spec.module);
  if (!existsSync(file)) throw new Error(`${spec.module} does not exist in ${spec.root}`);
  const driverFile = join(spec.work, `driver-${spec.tag}.mjs`);
  const out = join(spec.work, `result-${spec.tag}.json`);
  writeFileSync(driverFile, driver(spec.patches));
  rmSync(out, { force: true });
  const kept = REWRITTEN.map((f) => join(spec.root, f))
    .filter((f) => existsSync(f))
    .map((f) => [f, readFileSync(f)] as const);
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', driverFile, file, out, JSON.stringify(spec.args)],
    { cwd: spec.root, detached: true, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  running.add(proc);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        killGroup(proc);
        reject(new Error(`run ${spec.tag} took over ${spec.timeoutMs / 1000} s; stopped`));
      }, spec.timeoutMs);
      proc.once('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    if (code !== 0 || !existsSync(out)) throw new Error(`run ${spec.tag} exited with ${code}`);
    return (JSON.parse(readFileSync(out, 'utf8')) as Pick<BenchResult, 'figures'>).figures;
  } finally {
    running.delete(proc);
    killGroup(proc); // anything of its group still alive
    for (const [f, text] of kept) if (!readFileSync(f).equals(text)) writeFileSync(f, text);
  }
}
