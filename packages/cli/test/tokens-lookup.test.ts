/**
 * Admin commands find the admin token where `baton serve` wrote it: `baton serve --store x.db`
 * keeps its tokens in `x.db.tokens.json`, which an admin command finds from the same directory
 * (the only tokens file there), or from anywhere with the same `--store` or `--tokens-file`; when
 * it cannot, its one-line error says where it looked and what to pass.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, serve, type Served } from './helpers';

let dir: string;
let elsewhere: string;
let server: Served;
let env: Record<string, string>;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'baton-tok-'));
  elsewhere = mkdtempSync(path.join(tmpdir(), 'baton-tok-other-'));
  server = await serve(['--store', 'x.db'], { cwd: dir });
  expect(server.ready.tokensFile).toBe(path.join(dir, 'x.db.tokens.json'));
  env = { BATON_SERVER: server.ready.url as string };
}, 60_000);

afterAll(async () => {
  if (server) expect(await server.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
  rmSync(elsewhere, { recursive: true, force: true });
});

describe('admin commands and the tokens file', () => {
  it('find x.db.tokens.json from the directory baton serve --store x.db runs in', async () => {
    const r = await run(['versions', 'list', '--json'], { env, cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('find it from elsewhere with the same --store, or with --tokens-file', async () => {
    const byStore = await run(['versions', 'list', '--json', '--store', path.join(dir, 'x.db')], {
      env,
      cwd: elsewhere,
    });
    expect(byStore.code, byStore.stderr).toBe(0);
    const byFile = await run(
      ['versions', 'list', '--json', '--tokens-file', path.join(dir, 'x.db.tokens.json')],
      {
        env,
        cwd: elsewhere,
      },
    );
    expect(byFile.code, byFile.stderr).toBe(0);
  });

  it('say exactly where they looked and what to pass when there is no token', async () => {
    const r = await run(['versions', 'list'], { env, cwd: elsewhere });
    expect(r.code).toBe(6);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error UNAUTHORIZED: no admin token: pass --token or set BATON_ADMIN_TOKEN/);
    expect(lines[0]).toContain('--store x.db reads x.db.tokens.json');
    expect(lines[0]).toContain(`${path.join(elsewhere, 'baton.db.tokens.json')} (not found)`);

    // two tokens files side by side: neither is guessed, both are named
    writeFileSync(path.join(elsewhere, 'a.db.tokens.json'), JSON.stringify({ admin: 'wrong-a' }));
    writeFileSync(path.join(elsewhere, 'b.db.tokens.json'), JSON.stringify({ admin: 'wrong-b' }));
    const two = await run(['versions', 'list'], { env, cwd: elsewhere });
    expect(two.code).toBe(6);
    expect(two.stderr).toContain(path.join(elsewhere, 'a.db.tokens.json'));
    expect(two.stderr).toContain(path.join(elsewhere, 'b.db.tokens.json'));
    expect(two.stderr).toContain('pick one with --tokens-file');
  });
});
