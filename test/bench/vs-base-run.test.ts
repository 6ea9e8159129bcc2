import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBench, type SourcePatch } from '../../bench/vs-base/child';
import { SPECS } from '../../bench/vs-base/specs';

/** A tree of its own with one bench module, this repository's node_modules linked in (for tsx). */
let root: string;
let work: string;
const DOCS = '# Benchmarks\n\nas it was\n';

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'vs-base-tree-'));
  work = mkdtempSync(join(tmpdir(), 'vs-base-work-'));
  symlinkSync(resolve('node_modules'), join(root, 'node_modules'), 'dir');
  writeFileSync(join(root, 'package.json'), JSON.stringify({ type: 'module' }));
  mkdirSync(join(root, 'bench'));
  mkdirSync(join(root, 'docs'));
  writeFileSync(join(root, 'docs', 'benchmarks.md'), DOCS);
  writeFileSync(
    join(root, 'bench', 'fake.ts'),
    [
      "import { writeFileSync } from 'node:fs';",
      'const ROWS: number = 10_000;',
      'export default async (args: string[]) => {',
      "  writeFileSync('docs/benchmarks.md', 'rewritten by the bench');",
      "  return { figures: { 'rows/s': ROWS, cwd: process.cwd(), args: args.join(' ') }, targets: [] };",
      '};',
    ].join('\n'),
  );
  writeFileSync(join(root, 'bench', 'fails.ts'), 'export default async () => { throw new Error("no"); };\n');
  // the turns bench's CPU measurement as the base commit (9747a6a) has it, verbatim, around a fake
  // load: 5,000 µs of CPU in the warm-up, 1,000 in the measured window; 10 turns measured, 30 in all
  writeFileSync(
    join(root, 'bench', 'turns.ts'),
    [
      'interface LoadResult { ok: number; total: number }',
      'let used = 0;',
      'const cpu = async (): Promise<number> => used;',
      'const ask = <T>(_to: unknown, m: { warmupMs: number; durationMs: number }): Promise<T> => {',
      '  used += 5000;',
      '  return new Promise((r) => setTimeout(() => { used += 1000; r({ ok: 10, total: 30 } as T); }, m.warmupMs + m.durationMs));',
      '};',
      'export default async () => {',
      '  const load = null; const routers = [{ url: "u" }]; const ids: string[] = [];',
      '  const warmupMs = 40; const durationMs = 60;',
      '  const run = async () => {',
      '    const cpu0 = await cpu();',
      '    const result = await ask<LoadResult>(load, {',
      "      cmd: 'load',",
      "      target: { kind: 'router', urls: routers.map((x) => x.url), sessions: ids },",
      '      warmupMs,',
      '      durationMs,',
      '    });',
      '    const cpuUsed = (await cpu()) - cpu0;',
      '    const perTurn = cpuUsed / Math.max(1, result.total);',
      '    return perTurn;',
      '  };',
      "  return { figures: { 'cpu per turn': await run() }, targets: [] };",
      '};',
    ].join('\n'),
  );
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const spec = (module: string, patches = [] as SourcePatch[]) => ({
  root,
  module,
  args: ['--quick', 'x'],
  patches,
  work,
  tag: 't',
  timeoutMs: 30_000,
});

describe('vs-base: one run of a tree bench module', () => {
  it('runs the default export in a child with the tree as cwd and its arguments, and reads back its figures', async () => {
    const figures = await runBench(spec('bench/fake.ts'));
    expect(figures['rows/s']).toBe(10_000);
    expect(figures['cwd']).toBe(root);
    expect(figures['args']).toBe('--quick x');
  });

  it('applies a source patch to the module as it loads (to its JavaScript)', async () => {
    const figures = await runBench(
      spec('bench/fake.ts', [
        { file: '/bench/fake.ts', pattern: '(ROWS\\s*=\\s*)[^;,\\n]+', replacement: '$142' },
      ]),
    );
    expect(figures['rows/s']).toBe(42);
  });

  it('fails the run when a patch finds nothing to change', async () => {
    await expect(
      runBench(spec('bench/fake.ts', [{ file: '/bench/fake.ts', pattern: 'NOT_THERE', replacement: '' }])),
    ).rejects.toThrow(/exited with 1/);
  });

  it('leaves a module that already holds what a patch adds (its unlessPresent text) as it is', async () => {
    const figures = await runBench(
      spec('bench/fake.ts', [
        { file: '/bench/fake.ts', pattern: 'NOT_THERE', replacement: '', unlessPresent: 'const ROWS' },
      ]),
    );
    expect(figures['rows/s']).toBe(10_000);
  });

  it("turns: the steady-state patch makes the base commit's CPU per turn this tree's measurement", async () => {
    const steady = SPECS.turns!.patches.filter((p) => p.unlessPresent !== undefined);
    expect(steady).toHaveLength(1);
    // unpatched: all the CPU over all the turns, the warm-up's included
    expect((await runBench(spec('bench/turns.ts')))['cpu per turn']).toBe(200);
    // patched: the measured window's CPU over the turns measured in it
    expect((await runBench(spec('bench/turns.ts', steady)))['cpu per turn']).toBe(100);
    // this tree's bench already measures so, and is left as it is
    expect(readFileSync('bench/turns.ts', 'utf8')).toContain(steady[0]!.unlessPresent);
  });

  it('puts back docs/benchmarks.md that the bench rewrote', async () => {
    await runBench(spec('bench/fake.ts'));
    expect(readFileSync(join(root, 'docs', 'benchmarks.md'), 'utf8')).toBe(DOCS);
  });

  it('fails when the module throws or does not exist', async () => {
    await expect(runBench(spec('bench/fails.ts'))).rejects.toThrow(/exited with 1/);
    await expect(runBench(spec('bench/none.ts'))).rejects.toThrow(/does not exist/);
  });
});

describe('vs-base: which figures are judged', () => {
  const roles = (bench: string, keys: string[]) => keys.map((k) => SPECS[bench]!.role(k));

  it("store: Baton's rates judged, the raw drivers' and LangGraph's as controls", () => {
    expect(
      roles('store', [
        'sqlite FULL 10KB baton append/s',
        'postgres 100KB baton read/s',
        'concurrent postgres baton group commit appends/s',
        'concurrent sqlite FULL baton, a transaction per append appends/s',
        'encryption on postgres 10KB read/s',
        'sqlite NORMAL 10KB raw append/s',
        'concurrent postgres langgraph appends/s',
      ]),
    ).toEqual(['judged', 'judged', 'judged', 'judged', 'judged', 'control', 'control']);
  });

  it("store-langgraph: Baton's saver judged, LangGraph's savers as controls", () => {
    expect(
      roles('store-langgraph', [
        'sqlite FULL baton put/s',
        'postgres baton getTuple/s',
        'sqlite NORMAL langgraph put/s',
      ]),
    ).toEqual(['judged', 'judged', 'control']);
  });

  it("turns: one router's turns/s and CPU per turn judged, the rest shown", () => {
    expect(
      roles('turns', [
        'router turns/s (synchronous=FULL)',
        'router turns/s (synchronous=NORMAL)',
        'router CPU µs per turn (FULL)',
        'router CPU µs per turn (NORMAL)',
        '2 router processes, one SQLite file: turns/s (NORMAL)',
        'router CPU µs per turn (2 routers, NORMAL)',
        'bare proxy requests/s',
        'router RSS MB after 10k sessions',
      ]),
    ).toEqual(['judged', 'judged', 'judged', 'judged', 'shown', 'shown', 'shown', undefined]);
  });
});
