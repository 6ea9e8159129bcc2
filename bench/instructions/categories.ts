/**
 * Where a callgrind profile's instructions go: its functions grouped by name (V8's compilers, its
 * garbage collector, SQLite, OpenSSL, JSON, libc and Node's C++, built-ins, JIT code, the rest of V8).
 */
import { spawnSync } from 'node:child_process';

export const CATEGORIES = [
  'compile',
  'gc',
  'sqlite',
  'crypto',
  'json',
  'libc and node',
  'builtins',
  'jit code',
  'rest of v8',
] as const;
export type Category = (typeof CATEGORIES)[number];

const RULES: Array<[Category, RegExp]> = [
  [
    'compile',
    /compiler::|Scanner|Parser|Compile|Maglev|maglev|turboshaft|Baseline|baseline|interpreter::|AstValue/,
  ],
  [
    'gc',
    /Heap::|Scaveng|MarkCompact|Marking|Sweeper|heap::|Evacuat|Remembered|SlotSet|MemoryChunk|PagedSpace|NewSpace|Minor/,
  ],
  ['sqlite', /sqlite3|better_sqlite|Statement::|Database::/],
  ['crypto', /sha256|SHA256|EVP_|HMAC|ossl|OPENSSL|CRYPTO|sha512/],
  ['json', /Json|JSON/],
  ['libc and node', /malloc|free|memcpy|memmove|memset|memcmp|strlen|libc|uv_|epoll|node::|llhttp/],
  ['jit code', /\?\?\?:0x/],
  ['builtins', /Builtins_/],
];

export function categoryOf(fn: string): Category {
  for (const [c, re] of RULES) if (re.test(fn)) return c;
  return 'rest of v8';
}

/** The instructions of a callgrind output file, in all and by category. */
export function instructions(file: string): { total: number; by: Record<Category, number> } {
  const r = spawnSync('callgrind_annotate', ['--threshold=100', file], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`callgrind_annotate ${file} failed: ${r.stderr}`);
  const by = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  let total = NaN;
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (!m) continue;
    const n = Number(m[1]!.replace(/,/g, ''));
    if (m[2]!.startsWith('PROGRAM TOTALS')) total = n;
    else by[categoryOf(m[2]!)] += n;
  }
  if (!Number.isFinite(total)) throw new Error(`${file}: no PROGRAM TOTALS line`);
  return { total, by };
}
