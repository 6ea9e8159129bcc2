/**
 * Baton from outside this repository, as a user's own project gets it: the public packages are
 * built and packed (`npm run pack`), installed from the tarballs into a fresh project in the OS
 * temp folder (third-party dependencies from the npm registry, `--prefer-offline`), an agent is
 * written there as a plain .mjs module importing `@baton/sdk`, and the installed `baton` serves
 * it: v1 in `baton serve`, v2 in a remote `baton worker`, through a rollout to promotion.
 *
 * Slow by nature (a build, an install that compiles better-sqlite3): one file, bounded in time.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, cleanEnv, waitFor } from './helpers';

const exec = promisify(execFile);

const AGENT = `import { z } from 'zod';
import { defineAgent } from '@baton/sdk';

export const v1 = defineAgent({
  name: 'notes',
  version: 'v1',
  schemaVersion: 1,
  state: z.object({ notes: z.array(z.string()) }),
  initialState: () => ({ notes: [] }),
  modelId: 'none',
  async turn(ctx, input) {
    ctx.state.notes.push(input.kind === 'message' ? String(input.message) : input.kind);
    return { version: 'v1', notes: ctx.state.notes.length };
  },
});

export const v2 = defineAgent({
  name: 'notes',
  version: 'v2',
  schemaVersion: 2,
  state: z.object({ notes: z.array(z.string()), count: z.number().int() }),
  initialState: () => ({ notes: [], count: 0 }),
  modelId: 'none',
  migrations: { up: { 1: (s) => ({ notes: s.notes, count: s.notes.length }) } },
  async turn(ctx, input) {
    ctx.state.notes.push(input.kind === 'message' ? String(input.message) : input.kind);
    ctx.state.count += 1;
    return { version: 'v2', count: ctx.state.count };
  },
});
`;

const SPEC = `agent: notes
to: v2
migration: { policy: at-boundary, eager: true, batch: 50 }
steps:
  - fill: 50
    verify: { minSessions: 2, interval: 1s, maxDuration: 5m }
  - fill: 100
    migrate: 100
`;

let tmp: string;
let project: string;
let tarballs: string[];
const children: ChildProcess[] = [];

/** The project's own `baton`, as `npx baton` finds it. */
const baton = (): string => path.join(project, 'node_modules', '.bin', 'baton');

/** Environment without the workspace's: no NODE_OPTIONS loader, no BATON_* variables. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = cleanEnv(extra);
  delete env.NODE_OPTIONS;
  delete env.NODE_PATH;
  for (const k of Object.keys(env)) if (k.startsWith('VITEST') || k.startsWith('npm_')) delete env[k];
  return env;
}

function cli(args: string[], env: Record<string, string>) {
  return exec(baton(), args, { cwd: project, env: userEnv(env), timeout: 60_000 });
}

/** Start a long-running `baton …` in the project and resolve with its first stdout line (JSON). */
function start(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; ready: any }> {
  return new Promise((resolve, reject) => {
    const child = spawn(baton(), args, {
      cwd: project,
      env: userEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => reject(new Error(`baton ${args[0]} did not get ready: ${err}`)), 60_000);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve({ child, ready: JSON.parse(line) });
    });
    child.on('exit', (c) => {
      clearTimeout(timer);
      reject(new Error(`baton ${args[0]} exited ${c}: ${err}`));
    });
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  child.kill('SIGTERM');
  return exited;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'baton-own-repo-'));
  const packed = await exec(
    process.execPath,
    [path.join(REPO, 'scripts', 'pack.mjs'), path.join(tmp, 'tarballs')],
    {
      cwd: REPO,
      timeout: 300_000,
    },
  );
  tarballs = packed.stdout.trim().split('\n');
  project = path.join(tmp, 'my-agent');
  await exec('mkdir', ['-p', project]);
  await writeFile(
    path.join(project, 'package.json'),
    JSON.stringify(
      // better-sqlite3 builds its native addon in an install script: allow it
      { name: 'my-agent', private: true, type: 'module', allowScripts: { 'better-sqlite3': true } },
      null,
      2,
    ),
  );
  // better-sqlite3's install script downloads a prebuilt addon or, offline, compiles it (minutes):
  // when the workspace holds the same version, built for this Node, the install skips the scripts
  // and takes that addon (the same bytes the script would build); otherwise it runs them
  const ours = path.join(REPO, 'node_modules', 'better-sqlite3');
  const reuse = existsSync(path.join(ours, 'build', 'Release', 'better_sqlite3.node'));
  await exec(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      ...(reuse ? ['--ignore-scripts'] : []),
      ...tarballs,
      'zod@^4.6.7',
    ],
    { cwd: project, env: userEnv(), timeout: 900_000, maxBuffer: 16 * 1024 * 1024 },
  );
  if (reuse) {
    const theirs = path.join(project, 'node_modules', 'better-sqlite3');
    const version = async (d: string) =>
      JSON.parse(await readFile(path.join(d, 'package.json'), 'utf8')).version;
    if ((await version(theirs)) === (await version(ours)))
      await cp(path.join(ours, 'build'), path.join(theirs, 'build'), { recursive: true });
    else await exec('npm', ['rebuild', 'better-sqlite3'], { cwd: project, env: userEnv(), timeout: 900_000 });
  }
  await writeFile(path.join(project, 'agent.mjs'), AGENT);
  await writeFile(path.join(project, 'rollout.yaml'), SPEC);
}, 1_200_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the packed packages in a project of its own', () => {
  it('packs core, store, sdk, server, the example agent and the cli: compiled JavaScript and declarations, no tsx', async () => {
    expect(tarballs.map((t) => path.basename(t)).sort()).toEqual([
      'baton-cli-0.1.0.tgz',
      'baton-core-0.1.0.tgz',
      'baton-example-support-agent-0.1.0.tgz',
      'baton-sdk-0.1.0.tgz',
      'baton-server-0.1.0.tgz',
      'baton-store-0.1.0.tgz',
    ]);
    expect(project.startsWith(REPO)).toBe(false);
    for (const name of ['core', 'sdk', 'cli', 'server', 'store']) {
      const dir = path.join(project, 'node_modules', '@baton', name);
      const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'));
      expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
      expect(pkg.dependencies?.tsx).toBeUndefined();
      expect(existsSync(path.join(dir, 'dist', 'index.js'))).toBe(true);
      expect(existsSync(path.join(dir, 'dist', 'index.d.ts'))).toBe(true);
      // only the built files travel: no TypeScript sources
      expect((await readdir(dir)).includes('src')).toBe(false);
    }
    const cliPkg = JSON.parse(
      await readFile(path.join(project, 'node_modules/@baton/cli/package.json'), 'utf8'),
    );
    expect(cliPkg.bin).toEqual({ baton: './dist/bin.js' });
    expect(existsSync(path.join(project, 'node_modules', 'tsx'))).toBe(false);
  });

  it("a module of the project resolves @baton/sdk from the project's node_modules", async () => {
    const r = await exec(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('./agent.mjs'); console.log(m.v2.manifest().label)",
      ],
      { cwd: project, env: userEnv() },
    );
    expect(r.stdout.trim()).toBe('v2');
  });

  it('its type declarations resolve under moduleResolution nodenext and bundler (types, not any)', async () => {
    await writeFile(
      path.join(project, 'check.ts'),
      `import { defineAgent } from '@baton/sdk';
import { BatonError } from '@baton/core';
import { z } from 'zod';
export const a = defineAgent({
  name: 'n', version: 'v', schemaVersion: 1, state: z.object({ n: z.number() }),
  initialState: () => ({ n: 0 }), modelId: 'none',
  async turn(ctx) { ctx.state.n += 1; return new BatonError('VALIDATION', 'x').code; },
});
export const label: string = a.version;
// @ts-expect-error a version label is a string (were the declarations not found, this would be any)
export const wrong: number = a.version;
`,
    );
    const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    for (const [mod, res] of [
      ['nodenext', 'nodenext'],
      ['esnext', 'bundler'],
    ]) {
      const args = ['--noEmit', '--strict', '--skipLibCheck', '--module', mod!, '--moduleResolution', res!];
      const r = await exec(process.execPath, [tsc, ...args, 'check.ts'], { cwd: project }).then(
        () => ({ code: 0, out: '' }),
        (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
      );
      expect(r, `${res}: ${r.out}`).toEqual({ code: 0, out: '' });
    }
  }, 120_000);

  it('serves the agent written there: v1 in baton serve, v2 on a remote baton worker, a rollout to promoted', async () => {
    const served = await start([
      'serve',
      '--json',
      '--port',
      '0',
      '--store',
      './baton.db',
      '--agent',
      './agent.mjs#v1',
    ]);
    const url = served.ready.url as string;
    const tokens = served.ready.generatedTokens as Record<string, string>;
    const admin = { BATON_SERVER: url, BATON_ADMIN_TOKEN: tokens.admin! };

    // register v2, then serve it on a worker of its own (holding the worker token only)
    const reg = await cli(['versions', 'register', './agent.mjs', '--export', 'v2', '--json'], admin);
    expect(JSON.parse(reg.stdout)).toMatchObject({ label: 'v2' });
    await start(['worker', '--agent', './agent.mjs#v2', '--json'], {
      BATON_SERVER: url,
      BATON_WORKER_TOKEN: tokens.worker!,
    });

    const post = async (p: string, body: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`${url}${p}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${tokens.traffic}`,
          'content-type': 'application/json',
          ...headers,
        },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as Record<string, any>;
      expect(res.status, JSON.stringify(json)).toBeLessThan(300);
      return json;
    };
    const session = () => post('/v1/agents/notes/sessions', {});
    const turn = (s: Record<string, any>, key: string, message: string) =>
      post(
        `/v1/sessions/${s.sessionId}/turns`,
        { input: message },
        {
          'x-session-token': s.sessionToken,
          'idempotency-key': key,
        },
      );

    // a session on v1 before the rollout
    const old = await session();
    expect(old.version).toBe('v1');
    expect((await turn(old, 'o1', 'first')).output).toEqual({ version: 'v1', notes: 1 });

    const started = await cli(['rollout', 'start', 'rollout.yaml', '--json'], admin);
    const id = (JSON.parse(started.stdout) as { id: string }).id;
    expect(id).toMatch(/\S/);

    // traffic while the first step fills half the new sessions to v2
    const versions: string[] = [];
    await waitFor(async () => {
      const s = await session();
      versions.push(s.version as string);
      const r = await turn(s, 'k1', 'hello');
      expect(r.output.version).toBe(s.version);
      // the step's minSessions: the controller moves on once v2 has served two new sessions
      return versions.filter((v) => v === 'v2').length >= 2;
    }, 60_000);

    const watched = await cli(['rollout', 'watch', id, '--timeout', '2m'], admin);
    expect(watched.stdout).toMatch(/promoted/);
    const status = JSON.parse((await cli(['rollout', 'status', id, '--json'], admin)).stdout);
    expect(status.phase ?? status.rollout?.phase).toBe('promoted');

    // the session that started on v1 continues on v2, its state migrated (one note carried over)
    const next = await turn(old, 'o2', 'second');
    expect(next.version).toBe('v2');
    expect(next.output).toEqual({ version: 'v2', count: 2 });

    for (const c of children.slice().reverse()) expect(await stop(c)).toBe(0);
  }, 300_000);
});
