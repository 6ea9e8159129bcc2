/**
 * The CLI as a user drives it: `baton serve` in a child process on a temporary SQLite file and a
 * free port (with the example agent's v1 and v2 served in-process), admin commands as further
 * child processes, traffic over real HTTP.
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderFacts } from '@baton/example-support-agent';
import { BIN, cleanEnv, run, serve, waitFor } from './helpers';
import type { Served } from './helpers';

let dir: string;
let server: Served;
let url: string;
let env: Record<string, string>;
let traffic: string;

const LONG_STEP = `agent: support
to: v2
steps:
  - fill: 20
    verify: { minSessions: 100000, minDuration: 1h, maxDuration: 2h, interval: 1s }
  - fill: 100
    migrate: 100
`;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function newSession(
  order = 'B-2041',
): Promise<{ sessionId: string; sessionToken: string; version: string }> {
  const res = await fetch(`${url}/v1/agents/support/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${traffic}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(res.status).toBe(201);
  const s = (await res.json()) as { sessionId: string; sessionToken: string; version: string };
  const t = await fetch(`${url}/v1/sessions/${s.sessionId}/turns`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${traffic}`,
      'x-session-token': s.sessionToken,
      'content-type': 'application/json',
      'idempotency-key': 'k1',
    },
    body: JSON.stringify({ input: `Where is my order ${order}?` }),
  });
  expect(t.status).toBe(200);
  return s;
}

function oneErrorLine(stderr: string, code: string): void {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^error ${code}: \\S`));
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-cli-'));
  server = await serve([
    '--store',
    path.join(dir, 'baton.db'),
    '--agent',
    '@baton/example-support-agent#v1',
    '--agent',
    '@baton/example-support-agent#v2',
    '--agent',
    '@baton/example-support-agent#v2Broken',
    '--shutdown-timeout',
    '5s',
  ]);
  url = server.ready.url as string;
  const tokens = server.ready.generatedTokens as Record<string, string>;
  traffic = tokens.traffic!;
  env = { BATON_SERVER: url, BATON_ADMIN_TOKEN: tokens.admin! };
});

afterAll(async () => {
  if (server) {
    const code = await server.stop();
    expect(code).toBe(0);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('baton serve', () => {
  it('generates tokens on first start, keeps them in a 0600 file next to the SQLite file', async () => {
    const tokens = server.ready.generatedTokens as Record<string, string>;
    expect(Object.keys(tokens).sort()).toEqual(['admin', 'traffic', 'worker']);
    expect(server.ready.tokensFile).toBe(path.join(dir, 'baton.db.tokens.json'));
    const st = await stat(server.ready.tokensFile as string);
    expect(st.mode & 0o777).toBe(0o600);
    expect(server.ready.agents).toEqual(['support@v1', 'support@v2', 'support@v2-broken']);
  });

  it('reuses the stored tokens on the next start and prints none', async () => {
    const other = await serve(['--store', path.join(dir, 'baton.db')]);
    try {
      expect(other.ready.generatedTokens).toEqual({});
      const r = await run(['versions', 'list', '--json'], { env: { ...env, BATON_SERVER: other.ready.url } });
      expect(r.code).toBe(0);
    } finally {
      expect(await other.stop()).toBe(0);
    }
  });

  it('refuses a bad port with a one-line usage error', async () => {
    const r = await run(['serve', '--port', '70000', '--store', path.join(dir, 'x.db')]);
    expect(r.code).toBe(2);
    oneErrorLine(r.stderr, 'VALIDATION');
  });
});

describe('baton worker', () => {
  it('serves a version over HTTP, registers it, and unregisters on SIGTERM, with the worker token only', async () => {
    const tokens = server.ready.generatedTokens as Record<string, string>;
    const child = spawn(
      process.execPath,
      [BIN, 'worker', '--agent', '@baton/example-support-agent', '--export', 'v3Chatty', '--json'],
      {
        // no admin token anywhere: a worker holds the worker token only
        env: cleanEnv({
          BATON_SERVER: url,
          BATON_WORKER_TOKEN: tokens.worker!,
          BATON_TOKENS_FILE: '/nonexistent',
        }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
      });
      child.on('exit', (c) => reject(new Error(`worker exited ${c}: ${err}`)));
    });
    const ready = JSON.parse(line) as { url: string; workerId: string; version: string };
    expect(ready.version).toBe('v3-chatty');
    // the worker refuses turns without the worker token
    const anon = await fetch(`${ready.url}/v1/turn`, { method: 'POST', body: '{}' });
    expect(anon.status).toBe(401);
    const listed = JSON.parse((await run(['workers', 'list', '--json'], { env })).stdout) as {
      workers: Array<{ id: string; version: string; url: string | null; health: string }>;
    };
    const mine = listed.workers.find((w) => w.id === ready.workerId);
    expect(mine).toMatchObject({ version: 'v3-chatty', url: ready.url, health: 'healthy' });
    const versions = JSON.parse((await run(['versions', 'list', '--json'], { env })).stdout) as {
      versions: Array<{ label: string }>;
    };
    expect(versions.versions.map((v) => v.label)).toContain('v3-chatty');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const after = JSON.parse((await run(['workers', 'list', '--json'], { env })).stdout) as {
      workers: Array<{ id: string }>;
    };
    expect(after.workers.map((w) => w.id)).not.toContain(ready.workerId);
  });
});

describe.concurrent('errors and exit codes', () => {
  it('unknown commands and options are usage errors (exit 2, one line)', async () => {
    const r = await run(['rollout', 'frobnicate', 'x']);
    expect(r.code).toBe(2);
    oneErrorLine(r.stderr, 'USAGE');
    const r2 = await run(['sessions', 'list', '--bogus']);
    expect(r2.code).toBe(2);
    oneErrorLine(r2.stderr, 'USAGE');
    // a group without its subcommand prints its help on stderr and is a usage error too
    const r3 = await run(['rollout']);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain('Usage: baton rollout');
  });

  it('--help documents examples and exits 0', async () => {
    const r = await run(['rollout', 'start', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('--json');
  });

  it('an unreachable server gives one line naming the URL and exit 5', async () => {
    const port = await freePort();
    const r = await run(['rollout', 'status', 'r_x', '--server', `http://127.0.0.1:${port}`], {
      env: { BATON_ADMIN_TOKEN: 'x' },
    });
    expect(r.code).toBe(5);
    oneErrorLine(r.stderr, 'UNREACHABLE');
    expect(r.stderr).toContain(`http://127.0.0.1:${port}`);
  });

  it('a wrong token is exit 6', async () => {
    const r = await run(['versions', 'list'], { env: { ...env, BATON_ADMIN_TOKEN: 'wrong' }, cwd: dir });
    expect(r.code).toBe(6);
    oneErrorLine(r.stderr, 'UNAUTHORIZED');
  });

  it('an invalid spec names the offending field (exit 2) and starts nothing', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, 'agent: support\nto: v2\nsteps:\n  - fill: 10\n  - fill: 120\n');
    const r = await run(['rollout', 'start', file], { env });
    expect(r.code).toBe(2);
    oneErrorLine(r.stderr, 'VALIDATION');
    expect(r.stderr).toContain('steps[1].fill: must be between 0 and 100');
    const list = await run(['rollout', 'list', '--json'], { env });
    expect(JSON.parse(list.stdout).rollouts).toEqual([]);
  });

  it('a YAML syntax error points at the line (exit 2); a missing file is exit 3', async () => {
    const file = path.join(dir, 'broken.yaml');
    await writeFile(file, 'agent: support\nsteps: [\n');
    const r = await run(['rollout', 'start', file], { env });
    expect(r.code).toBe(2);
    oneErrorLine(r.stderr, 'VALIDATION');
    expect(r.stderr).toMatch(/broken\.yaml:\d+:\d+/);
    const m = await run(['rollout', 'start', path.join(dir, 'nope.yaml')], { env });
    expect(m.code).toBe(3);
    oneErrorLine(m.stderr, 'NOT_FOUND');
  });

  it('an unknown rollout is exit 3', async () => {
    const r = await run(['rollout', 'status', 'r_doesnotexist'], { env });
    expect(r.code).toBe(3);
    oneErrorLine(r.stderr, 'ROLLOUT_NOT_FOUND');
  });
});

describe('admin commands', () => {
  it('versions list --json shows the in-process versions', async () => {
    const r = await run(['versions', 'list', '--json'], { env });
    expect(r.code).toBe(0);
    const labels = (JSON.parse(r.stdout).versions as Array<{ label: string }>).map((v) => v.label);
    expect(labels).toEqual(expect.arrayContaining(['v1', 'v2']));
  });

  it('sessions list/show/history and effects list read what traffic wrote', async () => {
    const s = await newSession();
    const list = await run(['sessions', 'list', '--json', '--agent', 'support'], { env });
    expect(list.code).toBe(0);
    const ids = (JSON.parse(list.stdout).sessions as Array<{ id: string }>).map((x) => x.id);
    expect(ids).toContain(s.sessionId);
    const show = await run(['sessions', 'show', s.sessionId, '--json'], { env });
    expect(show.code).toBe(0);
    const view = JSON.parse(show.stdout);
    expect(view.sessionId).toBe(s.sessionId);
    expect(view.seq).toBe(1);
    const hist = await run(['sessions', 'history', s.sessionId], { env });
    expect(hist.code).toBe(0);
    expect(hist.stdout).toContain('Where is my order B-2041?');
    const eff = await run(['effects', 'list', '--json', '--session', s.sessionId], { env });
    expect(eff.code).toBe(0);
    expect(Array.isArray(JSON.parse(eff.stdout).effects)).toBe(true);
    const missing = await run(['sessions', 'show', 'ses_nope'], { env });
    expect(missing.code).toBe(3);
  });

  it('effects resolve: exactly one of --committed and --failed (exit 2); an unknown effect is exit 3', async () => {
    const who = ['--by', 'ana', '--reason', 'checked'];
    const neither = await run(['effects', 'resolve', 'e_nope', ...who], { env });
    expect(neither.code).toBe(2);
    oneErrorLine(neither.stderr, 'VALIDATION');
    const both = await run(
      ['effects', 'resolve', 'e_nope', '--committed', '--failed', '--error', 'x', ...who],
      { env },
    );
    expect(both.code).toBe(2);
    const badJson = await run(['effects', 'resolve', 'e_nope', '--committed', '--result', '{no', ...who], {
      env,
    });
    expect(badJson.code).toBe(2);
    oneErrorLine(badJson.stderr, 'VALIDATION');
    const missing = await run(['effects', 'resolve', 'e_nope', '--failed', '--error', 'never sent', ...who], {
      env,
    });
    expect(missing.code).toBe(3);
    oneErrorLine(missing.stderr, 'EFFECT_NOT_FOUND');
  });

  it('sessions history pages through the log: the newest page, --before, --all', async () => {
    const s = await newSession();
    for (let i = 2; i <= 6; i++) {
      const t = await fetch(`${url}/v1/sessions/${s.sessionId}/turns`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${traffic}`,
          'x-session-token': s.sessionToken,
          'content-type': 'application/json',
          'idempotency-key': `k${i}`,
        },
        body: JSON.stringify({ input: `message number ${i}` }),
      });
      expect(t.status).toBe(200);
    }
    const newest = await run(['sessions', 'history', s.sessionId, '--limit', '4', '--json'], { env });
    expect(newest.code).toBe(0);
    const page = JSON.parse(newest.stdout);
    const total = page.total as number;
    expect(total).toBeGreaterThanOrEqual(12); // 6 turns, each at least the message and the reply
    expect(page.entries.map((e: { index: number }) => e.index)).toEqual(
      [0, 1, 2, 3].map((i) => total - 4 + i),
    );
    expect(page.nextBefore).toBe(total - 4);
    const text = await run(['sessions', 'history', s.sessionId, '--limit', '4'], { env });
    expect(text.stdout).toContain(`older: --before ${total - 4}`);
    const older = await run(
      ['sessions', 'history', s.sessionId, '--limit', '4', '--before', String(total - 4), '--json'],
      { env },
    );
    expect(JSON.parse(older.stdout).entries.map((e: { index: number }) => e.index)).toEqual(
      [0, 1, 2, 3].map((i) => total - 8 + i),
    );
    const all = await run(['sessions', 'history', s.sessionId, '--all', '--json'], { env });
    const entries = JSON.parse(all.stdout).entries as Array<{
      index: number;
      role: string;
      content: unknown;
    }>;
    expect(entries.map((e) => e.index)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(entries[0]!.content).toBe('Where is my order B-2041?');
    expect(entries.filter((e) => e.role === 'user').at(-1)!.content).toBe('message number 6');
    const bad = await run(['sessions', 'history', s.sessionId, '--limit', '0'], { env });
    expect(bad.code).toBe(2);
    oneErrorLine(bad.stderr, 'VALIDATION');
  });

  it('a candidate whose migration fails some checkpoints is refused by the pre-flight, naming them', async () => {
    const bad = await newSession('C-1007');
    const file = path.join(dir, 'broken.json');
    await writeFile(
      file,
      JSON.stringify({ agent: 'support', to: 'v2-broken', steps: [{ fill: 100, migrate: 100 }] }),
    );
    const check = await run(['migrate', 'check', file], { env });
    expect(check.code).toBe(2);
    oneErrorLine(check.stderr, 'PREFLIGHT_FAILED');
    expect(check.stdout).toContain(bad.sessionId);
    const start = await run(['rollout', 'start', file], { env });
    expect(start.code).toBe(2);
    oneErrorLine(start.stderr, 'PREFLIGHT_FAILED');
    const list = await run(['rollout', 'list', '--json', '--phase', 'progressing'], { env });
    expect(JSON.parse(list.stdout).rollouts).toEqual([]);
    const show = JSON.parse((await run(['sessions', 'show', bad.sessionId, '--json'], { env })).stdout);
    expect(show.version).toBe('v1');
  });

  it('versions register posts a manifest file; specs can come from stdin', async () => {
    const file = path.join(dir, 'manifest.yaml');
    await writeFile(
      file,
      'agent: other\nlabel: o1\nschemaVersion: 1\nmodelId: m\npromptHash: p\ntoolManifestHash: t\ncodeHash: c\nidentity: id-o1\n',
    );
    const reg = await run(['versions', 'register', file, '--json'], { env });
    expect(reg.code).toBe(0);
    expect(JSON.parse(reg.stdout)).toMatchObject({ agent: 'other', label: 'o1', identity: 'id-o1' });
    const list = JSON.parse((await run(['versions', 'list', '--agent', 'other', '--json'], { env })).stdout);
    expect(list.versions.map((v: { label: string }) => v.label)).toEqual(['o1']);
    const fromStdin = await run(['migrate', 'check', '-', '--json'], { env, input: LONG_STEP });
    expect(fromStdin.code).toBe(0);
    expect(JSON.parse(fromStdin.stdout).to).toBe('v2');
  });

  it('migrate check dry-runs the migrations of live blue sessions', async () => {
    await newSession();
    const file = path.join(dir, 'check.yaml');
    await writeFile(file, LONG_STEP);
    const r = await run(['migrate', 'check', file, '--json'], { env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(true);
    expect(out.checked).toBeGreaterThan(0);
  });
});

describe('rollout plan', () => {
  it('prints the drain forecast of a spec and creates nothing', async () => {
    await newSession();
    const file = path.join(dir, 'plan.yaml');
    await writeFile(file, LONG_STEP);
    const before = JSON.parse((await run(['rollout', 'list', '--json'], { env })).stdout).rollouts.length;
    const json = await run(['rollout', 'plan', file, '--json'], { env });
    expect(json.code).toBe(0);
    const out = JSON.parse(json.stdout);
    expect(out).toMatchObject({ agent: 'support', from: 'v1', to: 'v2' });
    expect(out.forecast.model).toBe('empirical-survival-monte-carlo/1');
    expect(out.forecast.openOnBlue).toBeGreaterThan(0);
    const text = await run(['rollout', 'plan', file], { env });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/drain forecast {2}support v1 -> v2/);
    expect(text.stdout).toMatch(/steps phase/);
    expect(text.stdout).toMatch(/stragglers/);
    const after = JSON.parse((await run(['rollout', 'list', '--json'], { env })).stdout).rollouts.length;
    expect(after).toBe(before);
    // an invalid spec: exit 2 and the same one-line error as `rollout start`
    const bad = path.join(dir, 'bad-plan.yaml');
    await writeFile(bad, 'agent: support\nto: v2\nsteps:\n  - { fil: 10 }\n');
    const r = await run(['rollout', 'plan', bad], { env });
    expect(r.code).toBe(2);
    oneErrorLine(r.stderr, 'VALIDATION');
  });
});

describe('rollout start, watch, pause, resume, abort', () => {
  it('drives a rollout through its phases while `rollout watch` follows it (non-TTY)', async () => {
    for (let i = 0; i < 3; i++) await newSession();
    const file = path.join(dir, 'rollout.yaml');
    await writeFile(file, LONG_STEP);
    const started = await run(['rollout', 'start', file, '--json'], { env });
    expect(started.code).toBe(0);
    const ro = JSON.parse(started.stdout) as { id: string; phase: string; from: string; to: string };
    expect(ro.from).toBe('v1');
    expect(ro.to).toBe('v2');

    // a second rollout of the same agent is a conflict
    const again = await run(['rollout', 'start', file], { env });
    expect(again.code).toBe(4);

    // watch in a child process whose stdout is a pipe
    const watcher = spawn(process.execPath, [BIN, 'rollout', 'watch', ro.id, '--interval', '200ms'], {
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let watchOut = '';
    watcher.stdout.on('data', (d: Buffer) => (watchOut += d.toString()));
    const watchExit = new Promise<number | null>((r) => watcher.on('exit', (c) => r(c)));

    await waitFor(async () => {
      const st = JSON.parse((await run(['rollout', 'status', ro.id, '--json'], { env })).stdout);
      return st.phase === 'progressing';
    });
    const paused = await run(['rollout', 'pause', ro.id, '--reason', 'looking at the gates', '--json'], {
      env,
    });
    expect(paused.code).toBe(0);
    expect(JSON.parse(paused.stdout).phase).toBe('paused');
    const twice = await run(['rollout', 'pause', ro.id], { env });
    expect(twice.code).toBe(4);
    oneErrorLine(twice.stderr, 'ROLLOUT_STATE');

    const resumed = await run(['rollout', 'resume', ro.id], { env });
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('progressing');

    const human = await run(['rollout', 'status', ro.id], { env });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('phase progressing');
    expect(human.stdout).toMatch(/v1 \[#+-*\] 80%/);

    // a few conversations on v2 that open a ticket and send an email (effects with compensations)
    const trouble = Array.from({ length: 400 }, (_, i) => `C-${3000 + i}`).filter((o) =>
      ['delayed', 'lost'].includes(orderFacts(o).status),
    );
    let onGreen = 0;
    for (const order of trouble) {
      if (onGreen >= 2) break;
      const s = await newSession(order);
      if (s.version === 'v2') onGreen++;
    }
    expect(onGreen).toBe(2);

    const aborted = await run(['rollout', 'abort', ro.id, '--reason', 'test abort'], { env });
    expect(aborted.code).toBe(0);
    expect(await watchExit).toBe(10);

    // what v2 did: a dry run lists it and changes nothing; the run undoes it, with progress
    const greenEffects = async (extra: string[] = []) =>
      JSON.parse(
        (
          await run(['effects', 'list', '--version-label', 'v2', '--kind', 'turn', '--json', ...extra], {
            env,
          })
        ).stdout,
      ).effects as Array<{ id: string; compensationState: string }>;
    const committed = await greenEffects(['--status', 'committed']);
    expect(committed.length).toBeGreaterThanOrEqual(4);
    const dry = await run(['rollout', 'compensate', ro.id, '--dry-run', '--json'], { env });
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout).totals).toMatchObject({ ran: committed.length, compensated: 0 });
    expect(await greenEffects(['--compensation', 'pending'])).toHaveLength(committed.length);
    const comp = await run(['rollout', 'compensate', ro.id], { env });
    expect(comp.code, comp.stderr).toBe(0);
    expect(comp.stdout).toContain(`[${committed.length}/${committed.length}]`);
    expect(comp.stdout).toContain(`${committed.length} ran — ${committed.length} compensated, 0 failed`);
    expect(await greenEffects(['--compensation', 'compensated'])).toHaveLength(committed.length);
    const unknown = await run(['rollout', 'compensate', ro.id, '--effect', 'e_nope'], { env });
    expect(unknown.code).toBe(3);
    oneErrorLine(unknown.stderr, 'EFFECT_NOT_FOUND');
    const badKind = await run(['effects', 'list', '--kind', 'sideways'], { env });
    expect(badKind.code).toBe(2);
    expect(watchOut).toContain('phase=progressing');
    expect(watchOut).toMatch(/decision .*paused/);
    expect(watchOut).toMatch(/decision .*resumed/);
    expect(watchOut).toContain(`rollout ${ro.id} aborted`);

    const fin = JSON.parse((await run(['rollout', 'status', ro.id, '--json'], { env })).stdout);
    expect(fin.phase).toBe('aborted');
    expect((fin.decisions as Array<{ kind: string }>).map((d) => d.kind)).toEqual(
      expect.arrayContaining(['paused', 'resumed', 'aborted']),
    );
  });

  it('start --watch exits 0 once the rollout is promoted', async () => {
    const file = path.join(dir, 'quick.json');
    await writeFile(
      file,
      JSON.stringify({ agent: 'support', to: 'v2', steps: [{ fill: 100, migrate: 100 }] }),
    );
    const r = await run(['rollout', 'start', file, '--watch', '--interval', '200ms'], {
      env,
      timeoutMs: 45_000,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/rollout r_\S+ promoted/);
    const list = JSON.parse(
      (await run(['rollout', 'list', '--json', '--phase', 'promoted'], { env })).stdout,
    );
    expect(list.rollouts).toHaveLength(1);
  });
});
