/**
 * SQLite store files are private: a new store's file, `-wal` and `-shm` are 0600 whatever the
 * process umask, and an existing world-readable file is reported (the server logs it at start).
 */
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/sqlite';

let dir: string;
let umask: number;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'baton-mode-'));
  // the most permissive umask: any mode the store gets is the one it set
  umask = process.umask(0);
});
afterEach(() => {
  process.umask(umask);
  rmSync(dir, { recursive: true, force: true });
});

const modeOf = (f: string): number => statSync(f).mode & 0o777;

describe('SQLite store file modes', () => {
  it('creates the file, -wal and -shm 0600, and reports nothing', async () => {
    const file = join(dir, 'baton.db');
    const store = new SqliteStore(file);
    try {
      await store.createSession({
        id: 'ses_mode',
        agent: 'a',
        version: 'v1',
        tenant: null,
        tokenHash: 'x',
        metadata: { written: true },
      });
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(modeOf(f), f).toBe(0o600);
      expect(store.warnings).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('reports an existing store file that others can read, and leaves its mode alone', async () => {
    const file = join(dir, 'open.db');
    await new SqliteStore(file).close();
    chmodSync(file, 0o644);
    const store = new SqliteStore(file);
    try {
      expect(store.warnings).toEqual([
        expect.stringMatching(/open\.db is readable by other users \(mode 0644\)/),
      ]);
      expect(modeOf(file)).toBe(0o644);
    } finally {
      await store.close();
    }
  });

  it('a private existing file gets private -wal and -shm files', async () => {
    const file = join(dir, 'pre.db');
    writeFileSync(file, '', { mode: 0o600 });
    writeFileSync(`${file}-wal`, '', { mode: 0o666 });
    chmodSync(`${file}-wal`, 0o666);
    const store = new SqliteStore(file);
    try {
      expect(modeOf(`${file}-wal`)).toBe(0o600);
      expect(modeOf(`${file}-shm`)).toBe(0o600);
    } finally {
      await store.close();
    }
  });
});
