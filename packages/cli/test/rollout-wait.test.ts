/**
 * `baton rollout wait` as a pipeline runs it: `baton serve` on a temporary SQLite file in a child
 * process, the wait as another child process, and its exit code for each outcome: 13 when the
 * timeout passes first (the rollout goes on), 10 when the rollout aborts, 0 once promoted, drained
 * or done.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, run, serve, waitFor } from './helpers';
import type { Served } from './helpers';

let dir: string;
let server: Served;
let env: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-wait-'));
  server = await serve([
    '--store',
    path.join(dir, 'baton.db'),
    '--agent',
    '@baton/example-support-agent#v1',
    '--agent',
    '@baton/example-support-agent#v2',
    '--shutdown-timeout',
    '5s',
  ]);
  const tokens = server.ready.generatedTokens as Record<string, string>;
  env = { BATON_SERVER: server.ready.url as string, BATON_ADMIN_TOKEN: tokens.admin! };
  const s = await fetch(`${server.ready.url}/v1/agents/support/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.traffic}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(s.status).toBe(201);
});

afterAll(async () => {
  if (server) expect(await server.stop()).toBe(0);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function start(spec: unknown): Promise<string> {
  const file = path.join(dir, `spec-${Date.now()}.json`);
  await writeFile(file, JSON.stringify(spec));
  const r = await run(['rollout', 'start', file, '--json'], { env });
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { id: string }).id;
}

async function phase(id: string): Promise<string> {
  return (JSON.parse((await run(['rollout', 'status', id, '--json'], { env })).stdout) as { phase: string })
    .phase;
}

describe('baton rollout wait', () => {
  it('exits 13 when the timeout passes first, and 10 when the rollout aborts while it waits', async () => {
    const id = await start({
      agent: 'support',
      to: 'v2',
      steps: [
        { fill: 20, verify: { minSessions: 100000, maxDuration: '2h', interval: '1s' } },
        { fill: 100, migrate: 100 },
      ],
    });
    const t0 = Date.now();
    const timedOut = await run(['rollout', 'wait', id, '--timeout', '1s', '--interval', '200ms'], { env });
    expect(timedOut.code).toBe(13);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    const lines = timedOut.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^error TIMEOUT: rollout ${id} not promoted after 1000 ms`));
    // the timeout changed nothing: the rollout goes on
    expect(await phase(id)).toBe('progressing');

    const waiter = spawn(process.execPath, [BIN, 'rollout', 'wait', id, '--interval', '200ms'], {
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    waiter.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => waiter.on('exit', (c) => r(c)));
    await waitFor(async () => out.includes('phase=progressing'));
    const aborted = await run(['rollout', 'abort', id, '--reason', 'wait test'], { env });
    expect(aborted.code).toBe(0);
    expect(await exited).toBe(10);
    expect(out).toContain(`rollout ${id} aborted`);
    // an aborted rollout is never drained (as promoted): the wait says so at once
    const drained = await run(['rollout', 'wait', id, '--until', 'drained', '--timeout', '5s'], { env });
    expect(drained.code).toBe(10);
  });

  it('exits 0 once promoted, drained and done; a bad --until is a usage error', async () => {
    const id = await start({ agent: 'support', to: 'v2', steps: [{ fill: 100, migrate: 100 }] });
    const promoted = await run(['rollout', 'wait', id, '--timeout', '30s', '--interval', '200ms'], {
      env,
      timeoutMs: 40_000,
    });
    expect(promoted.stderr).toBe('');
    expect(promoted.code).toBe(0);
    expect(promoted.stdout).toContain(`rollout ${id} promoted (waited until promoted)`);
    for (const until of ['drained', 'done']) {
      const r = await run(['rollout', 'wait', id, '--until', until, '--timeout', '30s', '--json'], {
        env,
        timeoutMs: 40_000,
      });
      expect(r.code, `${until}: ${r.stderr}`).toBe(0);
      const st = JSON.parse(r.stdout) as { phase: string; drain: { completedAt: number | null } };
      expect(st.phase).toBe('promoted');
      expect(st.drain.completedAt).not.toBeNull();
    }
    const decisions = JSON.parse((await run(['rollout', 'status', id, '--json'], { env })).stdout) as {
      decisions: Array<{ kind: string }>;
    };
    expect(decisions.decisions.map((d) => d.kind)).toContain('drain-complete');
    const bad = await run(['rollout', 'wait', id, '--until', 'sideways'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error USAGE: --until/);
    const missing = await run(['rollout', 'wait', 'r_missing', '--timeout', '5s'], { env });
    expect(missing.code).toBe(3);
  });
});
