/**
 * `npm run bench -- instructions [--base REV] [--base-dir DIR] [--sessions LOW,HIGH]`: instructions
 * per router turn, this tree against a base commit (default 9747a6a, the commit before the history
 * log), counted by valgrind's callgrind: a reading the machine's load moves far less than the CPU
 * time of `vs-base --bench turns` (10–30 % between runs on a shared machine). It still varies by a
 * few percent without V8's compilers, and more with them (what V8 compiles, and when, and the group
 * commit's batch sizes depend on timing).
 *
 * For each tree, that tree's own `bench/turns.ts router NORMAL` process (fastify, the in-process
 * no-op agent, a SQLite file) runs under callgrind, driven from here by 50 keep-alive clients over
 * loopback, a fresh session every 20 turns (the turns bench's load). Each tree runs twice, with LOW
 * and HIGH sessions (default 80 and 400: 1,600 and 8,000 turns); per turn is
 * (I(HIGH) − I(LOW)) / (20 × (HIGH − LOW)), so start-up cancels out. Under callgrind V8 is still
 * tiering up at these counts, so the figures without its compilers are given too. The instructions
 * are also split by where they go (bench/instructions/categories.ts). About 7 minutes in all on
 * 2 cores; valgrind must be installed (Debian: `apt-get install valgrind`).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CATEGORIES, instructions, type Category } from './instructions/categories';
import { atMost, forkChild, round, type BenchFn } from './lib';
import { addBaseTree, baseCommit, removeBaseTree } from './vs-base/tree';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TURNS_PER_SESSION = 20;
const CONCURRENCY = 50;
const TRAFFIC = 'Bearer bench-traffic';
const USAGE = 'usage: npm run bench -- instructions [--base REV] [--base-dir DIR] [--sessions LOW,HIGH]';

interface Counted {
  total: number;
  by: Record<Category, number>;
}

/** The router of `tree` under callgrind, `sessions` × 20 turns through it; its instructions. */
async function countRun(tree: string, sessions: number, work: string, tag: string): Promise<Counted> {
  const out = join(work, `${tag}.callgrind`);
  const wrapper = join(work, 'callgrind-node.sh');
  if (!existsSync(wrapper)) {
    writeFileSync(
      wrapper,
      `#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file="$BATON_CALLGRIND_OUT" --dump-instr=no --collect-jumps=no "${process.execPath}" "$@" 2>>"$BATON_CALLGRIND_OUT.log"\n`,
    );
    chmodSync(wrapper, 0o755);
  }
  const { proc: router, url } = await forkChild(
    join(tree, 'bench', 'turns.ts'),
    ['router', 'NORMAL', join(work, `${tag}.db`)],
    { cwd: tree, execPath: wrapper, env: { ...process.env, BATON_CALLGRIND_OUT: out } },
  );
  // not stopChild: under callgrind the router needs more than its grace to write the profile
  const exited = new Promise<number | null>((r) => router.once('exit', (code) => r(code)));
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const post = (path: string, body: string, headers: Record<string, string>) =>
    new Promise<{ status: number; body: string }>((ok, fail) => {
      const req = http.request(
        url + path,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', authorization: TRAFFIC, ...headers },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => ok({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', fail);
      req.end(body);
    });
  try {
    const ids: Array<{ sessionId: string; sessionToken: string }> = [];
    for (let i = 0; i < sessions; i++) {
      const r = await post('/v1/agents/noop/sessions', '{}', {});
      if (r.status !== 201) throw new Error(`${tag}: create session answered ${r.status} ${r.body}`);
      ids.push(JSON.parse(r.body) as { sessionId: string; sessionToken: string });
    }
    let next = 0;
    const client = async (): Promise<void> => {
      while (next < ids.length) {
        const s = ids[next++]!;
        for (let t = 0; t < TURNS_PER_SESSION; t++) {
          const r = await post(`/v1/sessions/${s.sessionId}/turns`, '{"input":{"text":"hi"}}', {
            'x-session-token': s.sessionToken,
            'idempotency-key': `k${t}`,
          });
          if (r.status !== 200) throw new Error(`${tag}: a turn answered ${r.status} ${r.body}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, sessions) }, client));
  } finally {
    agent.destroy();
    router.disconnect();
  }
  const code = await exited;
  if (code !== 0) throw new Error(`${tag}: the router exited with ${code} (see ${out}.log)`);
  return instructions(out);
}

function options(args: string[]): { base: string; baseDir: string | undefined; low: number; high: number } {
  let base = '9747a6a';
  let baseDir: string | undefined;
  let sessions = '80,400';
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = args[i + 1];
    if (v === undefined || !['--base', '--base-dir', '--sessions'].includes(a)) throw new Error(USAGE);
    if (a === '--base') base = v;
    else if (a === '--base-dir') baseDir = resolve(v);
    else sessions = v;
    i++;
  }
  const [low, high] = sessions.split(',').map(Number);
  if (!Number.isInteger(low) || !Number.isInteger(high) || low! < 1 || high! <= low!)
    throw new Error(
      `--sessions LOW,HIGH: two whole numbers, LOW >= 1 and HIGH > LOW (got ${sessions})\n${USAGE}`,
    );
  return { base, baseDir, low: low!, high: high! };
}

const bench: BenchFn = async (args) => {
  const opts = options(args);
  if (spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).status !== 0)
    throw new Error('valgrind is not installed (Debian: apt-get install valgrind)');
  const commit = baseCommit(repo, opts.base, opts.baseDir, USAGE);
  const work = mkdtempSync(join(tmpdir(), 'baton-bench-instructions-'));
  const baseTree = opts.baseDir ?? join(work, 'base');
  const t0 = Date.now();
  try {
    if (!opts.baseDir) {
      console.error(`instructions: worktree of ${commit.slice(0, 12)} in ${baseTree}; npm ci …`);
      addBaseTree(repo, commit, baseTree);
    }
    const runs: Record<'base' | 'new', Counted[]> = { base: [], new: [] };
    for (const sessions of [opts.low, opts.high]) {
      for (const side of ['base', 'new'] as const) {
        console.error(
          `instructions [${Math.round((Date.now() - t0) / 1000)} s]: ${side}, ${sessions} sessions under callgrind`,
        );
        runs[side].push(
          await countRun(side === 'base' ? baseTree : repo, sessions, work, `${side}-${sessions}`),
        );
      }
    }
    const turns = TURNS_PER_SESSION * (opts.high - opts.low);
    const perTurn = (side: 'base' | 'new', pick: (c: Counted) => number) =>
      (pick(runs[side][1]!) - pick(runs[side][0]!)) / turns;
    const all = (c: Counted) => c.total;
    for (const side of ['base', 'new'] as const) {
      // start-up varies by some 100 M instructions (V8 compiles what it compiles): too few turns between
      // the runs and the difference means nothing
      if (!(perTurn(side, all) > 0))
        throw new Error(
          `${side}: the HIGH run counted no more instructions than the LOW run (${runs[side].map((c) => c.total).join(' vs ')}); run more sessions (--sessions LOW,HIGH, e.g. 80,400)`,
        );
    }
    const noCompile = (c: Counted) => c.total - c.by.compile;
    const figures: Record<string, number | string> = {
      base: commit.slice(0, 12),
      'turns counted per tree (HIGH − LOW runs)': turns,
      'instructions per turn, base (k)': round(perTurn('base', all) / 1000, 1),
      'instructions per turn, new (k)': round(perTurn('new', all) / 1000, 1),
      'new / base': round(perTurn('new', all) / perTurn('base', all)),
      'new / base without V8 compilers': round(perTurn('new', noCompile) / perTurn('base', noCompile)),
    };
    for (const c of CATEGORIES)
      figures[`${c}: base | new (k per turn)`] =
        `${round(perTurn('base', (x) => x.by[c]) / 1000, 1)} | ${round(perTurn('new', (x) => x.by[c]) / 1000, 1)}`;
    for (const side of ['base', 'new'] as const)
      figures[`${side} totals, LOW | HIGH (M)`] = runs[side].map((c) => round(c.total / 1e6, 1)).join(' | ');
    figures['wall seconds'] = Math.round((Date.now() - t0) / 1000);
    return {
      figures,
      targets: [
        atMost(
          'router instructions per turn, new / base (within 10 %)',
          perTurn('new', all) / perTurn('base', all),
          1.1,
        ),
      ],
    };
  } finally {
    if (!opts.baseDir) removeBaseTree(repo, baseTree);
    rmSync(work, { recursive: true, force: true });
  }
};

export default bench;
