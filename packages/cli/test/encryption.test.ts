/**
 * Encryption at rest as an operator runs it: keys from the environment or a key file, `baton serve`
 * writing sealed records (the SQLite file and WAL hold no plaintext of a conversation), and a key
 * rotation with `baton store reencrypt` after which the old key can be removed.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveEncryption } from '../src/encryption';
import { run, serve } from './helpers';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'baton-enc-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('hex');

describe('encryption settings', () => {
  it('takes the key list from BATON_ENCRYPTION_KEYS or a key file, the first key current unless named', async () => {
    const env = await resolveEncryption({}, { BATON_ENCRYPTION_KEYS: `k2:${K2},k1:${K1}` });
    expect(env.config).toEqual({ keys: `k2:${K2},k1:${K1}` });
    expect(env.currentKeyId).toBe('k2');
    expect(env.keyIds).toEqual(['k2', 'k1']);
    const file = path.join(dir, 'keys');
    writeFileSync(file, `# rotated 2026-12\nk2:${K2}\nk1:${K1}\n`, { mode: 0o600 });
    const f = await resolveEncryption({ encryptionKeyFile: file, encryptionKeyId: 'k1' }, {});
    expect(f.currentKeyId).toBe('k1');
    expect(f.warnings).toEqual([]);
    chmodSync(file, 0o644);
    const open = await resolveEncryption({}, { BATON_ENCRYPTION_KEY_FILE: file });
    expect(open.warnings[0]).toMatch(/readable by other users \(mode 644\); chmod 600 it/);
    expect((await resolveEncryption({}, {})).config).toBeNull();
  });

  it('refuses ambiguous or bad settings with a clear message that never shows a key', async () => {
    const file = path.join(dir, 'keys2');
    writeFileSync(file, `k1:${K1}\n`, { mode: 0o600 });
    await expect(
      resolveEncryption({ encryptionKeyFile: file }, { BATON_ENCRYPTION_KEYS: `k1:${K1}` }),
    ).rejects.toThrow(/not both/);
    const short = randomBytes(16).toString('base64');
    const bad = resolveEncryption({}, { BATON_ENCRYPTION_KEYS: `k1:${short}` });
    await expect(bad).rejects.toThrow(/BATON_ENCRYPTION_KEYS: encryption key "k1" must be 32 bytes/);
    await expect(bad).rejects.not.toThrow(short);
    await expect(resolveEncryption({ encryptionKeyId: 'k1' }, {})).rejects.toThrow(/needs encryption keys/);
    await expect(
      resolveEncryption({ encryptionKeyId: 'k9' }, { BATON_ENCRYPTION_KEYS: `k1:${K1}` }),
    ).rejects.toThrow(/"k9" is not in the key list/);
    await expect(resolveEncryption({ encryptionKeyFile: path.join(dir, 'nope') }, {})).rejects.toThrow(
      /encryption key file/,
    );
  });
});

async function turn(url: string, traffic: string, input: string) {
  const res = await fetch(`${url}/v1/agents/support/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${traffic}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(res.status).toBe(201);
  const s = (await res.json()) as { sessionId: string; sessionToken: string };
  const t = await fetch(`${url}/v1/sessions/${s.sessionId}/turns`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${traffic}`,
      'x-session-token': s.sessionToken,
      'content-type': 'application/json',
      'idempotency-key': 'k1',
    },
    body: JSON.stringify({ input }),
  });
  expect(t.status).toBe(200);
  return s.sessionId;
}

async function history(url: string, admin: string, id: string): Promise<unknown[]> {
  const res = await fetch(`${url}/v1/sessions/${id}/history`, {
    headers: { authorization: `Bearer ${admin}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { entries: Array<{ content: unknown }> }).entries.map((e) => e.content);
}

function fileBytes(db: string): string {
  return [db, `${db}-wal`]
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f).toString('latin1'))
    .join('\n');
}

describe('baton serve with encryption at rest, and baton store reencrypt', () => {
  it('stores a conversation sealed, rotates to a new key, re-encrypts, and reads it with the new key alone', async () => {
    const db = path.join(dir, 'enc.db');
    const marker = `Where is my order ZQ${randomBytes(4).toString('hex')}?`;
    const tokens = { BATON_TRAFFIC_TOKEN: 'tt', BATON_ADMIN_TOKEN: 'aa', BATON_WORKER_TOKEN: 'ww' };
    const agent = ['--store', db, '--agent', '@baton/example-support-agent#v1'];
    const s1 = await serve(agent, { env: { ...tokens, BATON_ENCRYPTION_KEYS: `k1:${K1}` } });
    let id: string;
    let before: unknown[];
    try {
      expect(s1.ready.encryption).toEqual({ currentKeyId: 'k1', keyIds: ['k1'] });
      expect(JSON.stringify(s1.ready)).not.toContain(K1);
      id = await turn(s1.ready.url as string, 'tt', marker);
      before = await history(s1.ready.url as string, 'aa', id);
      expect(JSON.stringify(before)).toContain(marker);
    } finally {
      expect(await s1.stop()).toBe(0);
    }
    expect(fileBytes(db)).not.toContain(marker);

    // rotate: k2 first (current), k1 kept for the records it sealed
    const keysFile = path.join(dir, 'rotated.keys');
    writeFileSync(keysFile, `k2:${K2}\nk1:${K1}\n`, { mode: 0o600 });
    const r1 = await run([
      'store',
      'reencrypt',
      '--store',
      db,
      '--encryption-key-file',
      keysFile,
      '--batch',
      '3',
    ]);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout).toMatch(/re-encrypted under key k2: [1-9]\d* records rewritten/);
    expect(r1.stderr).toMatch(/history: \d+ scanned, \d+ rewritten, done/);
    const r2 = await run(['store', 'reencrypt', '--json', '--store', db], {
      env: { BATON_ENCRYPTION_KEY_FILE: keysFile },
    });
    expect(r2.code, r2.stderr).toBe(0);
    const last = JSON.parse(r2.stdout.trim().split('\n').pop()!) as {
      rewritten: number;
      currentKeyId: string;
    };
    expect(last).toMatchObject({ rewritten: 0, currentKeyId: 'k2' });
    const raw = new Database(db, { readonly: true });
    try {
      const rows = raw.prepare('SELECT body FROM history').all() as Array<{ body: Buffer }>;
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) expect(r.body.toString('utf8').startsWith('benc1:k2:')).toBe(true);
    } finally {
      raw.close();
    }

    // k1 removed: the conversation still reads, the session still takes turns
    const s2 = await serve(agent, { env: { ...tokens, BATON_ENCRYPTION_KEYS: `k2:${K2}` } });
    try {
      expect(await history(s2.ready.url as string, 'aa', id)).toEqual(before);
      await turn(s2.ready.url as string, 'tt', 'and another question');
    } finally {
      expect(await s2.stop()).toBe(0);
    }
    // without any key: a clear error naming the key, not a silent wrong read
    const s3 = await serve(agent, { env: tokens });
    try {
      const res = await fetch(`${s3.ready.url as string}/v1/sessions/${id}/history`, {
        headers: { authorization: 'Bearer aa' },
      });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status).toBe(503);
      expect(body.error.code).toBe('ENCRYPTION_KEY_MISSING');
      expect(body.error.message).toContain('"k2"');
    } finally {
      expect(await s3.stop()).toBe(0);
    }
  }, 120_000);

  it('refuses to re-encrypt without keys', async () => {
    const r = await run(['store', 'reencrypt', '--store', path.join(dir, 'none.db')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^error USAGE: no encryption keys/);
  });
});
