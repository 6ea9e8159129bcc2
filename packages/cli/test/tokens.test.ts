/**
 * `baton serve` token configuration as an operator writes it: several tokens per scope from a
 * comma-separated env value or a config-file list, a read-only token, and the start-up warning for
 * a world-readable store file.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '@baton/store';
import { serve } from './helpers';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'baton-tokens-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function status(url: string, route: string, token: string): Promise<number> {
  const res = await fetch(`${url}${route}`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('baton serve tokens', () => {
  it('accepts every token of a comma-separated env list and of a config-file list, and a read token', async () => {
    const config = path.join(dir, 'baton.yaml');
    writeFileSync(config, 'tokens:\n  traffic: [t-old, t-new]\n  worker: [w-1]\n');
    const s = await serve(['--store', path.join(dir, 'list.db'), '--config', config], {
      env: { BATON_ADMIN_TOKEN: 'a-old, a-new', BATON_READ_TOKEN: 'r-1' },
    });
    try {
      const url = s.ready.url as string;
      expect(s.ready.generatedTokens).toEqual({});
      for (const t of ['a-old', 'a-new']) expect(await status(url, '/v1/effects', t), t).toBe(200);
      expect(await status(url, '/v1/effects', 'a-old,a-new')).toBe(401);
      for (const t of ['t-old', 't-new']) {
        const res = await fetch(`${url}/v1/agents/none/sessions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
          body: '{}',
        });
        // authenticated: the agent is unknown, not the token
        expect(res.status, t).toBe(404);
      }
      expect(await status(url, '/metrics', 'r-1')).toBe(200);
      expect(await status(url, '/v1/effects', 'r-1')).toBe(403);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('refuses an empty entry in a token list', async () => {
    await expect(
      serve(['--store', path.join(dir, 'empty.db')], { env: { BATON_ADMIN_TOKEN: 'a,,b' } }),
    ).rejects.toThrow(/empty token/);
  });

  it('warns on stderr, as a log line, about a store file other users can read', async () => {
    const file = path.join(dir, 'open.db');
    await (await openStore(file)).close();
    chmodSync(file, 0o644);
    const s = await serve(['--store', file]);
    try {
      const line = s
        .stderr()
        .split('\n')
        .find((l) => l.includes('readable by other users'));
      expect(line).toBeDefined();
      expect(JSON.parse(line!)).toMatchObject({ level: 40, msg: expect.stringContaining('mode 0644') });
    } finally {
      await s.stop();
    }
  });
});
