/**
 * (d) The controller in a real child process, killed with SIGKILL at 20+ different moments of a
 * rollout, always resumes (in a new child) to the same final state as an uninterrupted run: same
 * phase, every session on the same version, the same decision kinds in the same order, no step
 * decided twice, every session migrated exactly once with a gap-free checkpoint sequence.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@baton/store';
import { allSessions, until } from './harness';

const here = dirname(fileURLToPath(import.meta.url));
const IDLE = 220;
const WAITING = 20;
const KILLS = 20;

const SPEC = {
  agent: 'support',
  to: 'v2',
  migration: { policy: 'at-boundary', eager: true, batch: 5 },
  steps: [
    { fill: 20, migrate: 20, verify: { minSessions: 0, minDuration: '150ms', interval: '30ms' } },
    { fill: 60, migrate: 60, verify: { minSessions: 0, minDuration: '150ms', interval: '30ms' } },
    { fill: 100, migrate: 100 },
  ],
};

/**
 * The child is bundled once (esbuild) so that each restart takes a fraction of a second; native
 * and driver modules stay external and resolve from the workspace's node_modules.
 */
const bundle = join(
  here,
  '..',
  '..',
  '..',
  '..',
  'node_modules',
  '.cache',
  'baton-test',
  'controller-child.mjs',
);
beforeAll(async () => {
  await build({
    entryPoints: [join(here, 'fixtures', 'controller-child.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['better-sqlite3', 'pg', 'pg-native'],
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    logLevel: 'error',
  });
});

const children = new Set<ChildProcess>();
const dirs: string[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function spawnChild(args: string[]): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, [bundle, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env },
  });
  children.add(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('ready'));
      if (line !== undefined) resolve({ child, line });
    });
    child.on('exit', (code, sig) => {
      children.delete(child);
      reject(new Error(`child exited before ready (${code ?? sig}): ${err}`));
    });
  });
}

async function spawnController(file: string): Promise<ChildProcess> {
  return (await spawnChild(['run', file])).child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid!, 'SIGKILL');
  await exited;
  children.delete(child);
}

/** Sessions on v1 (idle and waiting) and the rollout, created by a child without a controller. */
async function setup(): Promise<{ file: string; rolloutId: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-crash-'));
  dirs.push(dir);
  const file = join(dir, 'baton.db');
  const { child, line } = await spawnChild([
    'setup',
    file,
    JSON.stringify(SPEC),
    String(IDLE),
    String(WAITING),
  ]);
  await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
  return { file, rolloutId: line.split(' ')[1]!.trim() };
}

interface Final {
  phase: string;
  stage: string;
  versions: Record<string, number>;
  kinds: string[];
}

async function finalState(store: Store, id: string): Promise<Final> {
  const rec = await store.getRollout(id);
  const st = rec.state as { stage: string };
  const versions: Record<string, number> = {};
  for (const s of await allSessions(store)) versions[s.version] = (versions[s.version] ?? 0) + 1;
  const decisions = await store.listDecisions(id, { limit: 1000 });
  return { phase: rec.phase, stage: st.stage, versions, kinds: decisions.map((d) => d.kind) };
}

async function movedCount(store: Store): Promise<number> {
  const onV2: Record<string, number> =
    (await store.countSessions({ agent: 'support', version: 'v2' })).v2 ?? {};
  return Object.values(onV2).reduce((a, b) => a + b, 0);
}

async function isDone(store: Store, id: string): Promise<boolean> {
  const rec = await store.getRollout(id);
  return (rec.state as { stage: string }).stage === 'done';
}

async function checkSessions(store: Store): Promise<void> {
  for (const s of await allSessions(store)) {
    const seqs = (await store.listCheckpoints(s.id, { limit: 1000 })).map((m) => m.seq).sort((a, b) => a - b);
    expect(seqs[seqs.length - 1]).toBe(s.seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
    const ok = (await store.listMigrations({ sessionId: s.id })).filter((m) => m.status === 'ok');
    expect(ok).toHaveLength(1);
  }
}

describe('controller crash', () => {
  it('resumes after SIGKILL at 20+ moments to the same final state as an uninterrupted run', async () => {
    // the uninterrupted run
    const ref = await setup();
    const T = Date.now();
    const log = (m: string) => process.env.BATON_TEST_DEBUG && console.error(`${Date.now() - T}ms ${m}`);
    log('setup done');
    const c0 = await spawnController(ref.file);
    log('controller ready');
    const watch = await openStore(ref.file);
    await until('reference rollout', () => isDone(watch, ref.rolloutId), 120_000, 20);
    await kill(c0);
    const expected = await finalState(watch, ref.rolloutId);
    log('reference done');
    await checkSessions(watch);
    await watch.close();
    expect(expected.phase).toBe('promoted');
    expect(expected.versions).toEqual({ v2: IDLE + WAITING });

    // the same rollout, its controller killed again and again
    const run = await setup();
    const store = await openStore(run.file);
    const moments: string[] = [];
    for (let k = 0; k < KILLS && !(await isDone(store, run.rolloutId)); k++) {
      const child = await spawnController(run.file);
      if (k < 3) {
        // early moments: pre-flight record, first step, first verification
        await new Promise((r) => setTimeout(r, [0, 10, 40][k]));
      } else {
        // later moments: while the eager migrator moves sessions, at spread-out progress points
        const target = Math.round(((k - 2) * (IDLE + WAITING)) / (KILLS - 1));
        await until(
          'progress',
          async () => {
            return (await movedCount(store)) >= target || (await isDone(store, run.rolloutId)) || null;
          },
          10_000,
          2,
        ).catch(() => true);
      }
      const rec = await store.getRollout(run.rolloutId);
      const moved = await movedCount(store);
      moments.push(`${rec.phase}/step${(rec.state as { step: number }).step}/rev${rec.rev}/moved${moved}`);
      log(`kill ${k} at ${moments[moments.length - 1]}`);
      await kill(child);
    }
    const last = await spawnController(run.file);
    await until('resumed rollout', () => isDone(store, run.rolloutId), 120_000, 20);
    await kill(last);

    expect(moments.length).toBeGreaterThanOrEqual(20);
    expect(new Set(moments).size).toBeGreaterThanOrEqual(10);
    const got = await finalState(store, run.rolloutId);
    expect(got).toEqual(expected);
    const decisions = await store.listDecisions(run.rolloutId, { limit: 1000 });
    const steps = decisions
      .filter((d) => d.kind === 'step-started')
      .map((d) => (d.evidence as { step: number }).step);
    expect(steps).toEqual([0, 1, 2]);
    await checkSessions(store);
    await store.close();
    // 20+ controller processes started and killed: under a loaded machine this takes minutes,
    // and only the final state (not the time) is what the test asserts
  }, 300_000);
});
