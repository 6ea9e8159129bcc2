/** Benchmark harness shared by every `bench/<name>.ts`. */
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
