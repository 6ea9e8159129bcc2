/**
 * The WAL checkpoint thread of a SQLite file store (sqlite-checkpointer.ts): it copies the WAL into
 * the database file while the store's own connection does not, it closes before the store's
 * connection (so the last one to close removes the WAL), a store left open does not keep its
 * process alive, and a thread that cannot start puts the store back on SQLite's automatic checkpoint.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/sqlite';
import { BACKSTOP_PAGES, DEFAULT_AUTOCHECKPOINT_PAGES } from '../src/sqlite-checkpointer';

const here = dirname(fileURLToPath(import.meta.url));
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'baton-ckpt-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** `turns` appends of a ~5 KB context and two 1 KB entries on a fresh session. */
async function appendTurns(store: SqliteStore, turns: number): Promise<string> {
  const { id } = await store.createSession({ agent: 'a', version: 'v1', tokenHash: 'x' });
  for (let t = 0; t < turns; t++) {
    await store.appendCheckpoint({
      sessionId: id,
      expectedSeq: t,
      schemaVersion: 1,
      writtenBy: 'v1',
      body: { state: { t }, context: { notes: `${t}:`.padEnd(5000, 'c') }, waits: [] },
      history: [
        { role: 'user', content: `${t}`.padEnd(1000, 'u'), turnId: `t${t}`, at: t },
        { role: 'agent', content: `${t}`.padEnd(1000, 'a'), turnId: `t${t}`, at: t },
      ],
    });
  }
  return id;
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the WAL checkpoint thread of a SQLite file store', () => {
  it('copies committed WAL frames into the database file while the store connection checkpoints only as a backstop', async () => {
    const file = join(dir, 'store.db');
    const store = new SqliteStore(file, { synchronous: 'FULL' });
    try {
      expect(store.walCheckpointer).toBeDefined();
      expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(BACKSTOP_PAGES);
      const before = statSync(file).size;
      // about 4 pages of WAL a turn: far below the backstop, so only the thread can copy them
      const id = await appendTurns(store, 200);
      await until(
        'the database file to take the WAL frames',
        () => statSync(file).size > before + 200 * 4096,
      );
      // the store goes on reading its latest checkpoint (the file's copy is read back after close)
      const latest = await store.getLatestCheckpoint(id);
      expect(latest?.seq).toBe(200);
      expect(latest?.body.state).toEqual({ t: 199 });
    } finally {
      await store.close();
    }
    // the thread's connection closed first: the store's was the last, so SQLite removed the WAL
    expect(existsSync(`${file}-wal`)).toBe(false);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM history').get()).toEqual({ n: 400 });
    } finally {
      db.close();
    }
  });

  it('keeps the WAL bounded under a steady write load (the backstop starts it over)', async () => {
    const file = join(dir, 'steady.db');
    const store = new SqliteStore(file);
    try {
      const pageSize = store.db.pragma('page_size', { simple: true }) as number;
      const limit = (BACKSTOP_PAGES + 2000) * (pageSize + 24);
      let maxWal = 0;
      let written = 0;
      // about four times the backstop's worth of WAL frames, 50 sessions committing at once
      while (written < 4 * BACKSTOP_PAGES * pageSize) {
        const ids = await Promise.all(
          Array.from({ length: 50 }, () =>
            store.createSession({ agent: 'a', version: 'v1', tokenHash: 'x' }),
          ),
        );
        for (let t = 0; t < 10; t++) {
          // one group commit of the 50 sessions' turns, as a router's
          const results = await store.appendCheckpoints(
            ids.map(({ id }) => ({
              sessionId: id,
              expectedSeq: t,
              schemaVersion: 1,
              writtenBy: 'v1',
              body: { state: { t }, context: { notes: `${id}:${t}:`.padEnd(5000, 'c') }, waits: [] },
              history: [{ role: 'user' as const, content: `${t}`.padEnd(1000, 'u'), turnId: `t${t}`, at: t }],
            })),
          );
          expect(results.every((r) => r.ok)).toBe(true);
          maxWal = Math.max(maxWal, statSync(`${file}-wal`).size);
          written += 50 * 3 * pageSize;
        }
      }
      expect(maxWal).toBeGreaterThan(0);
      expect(maxWal).toBeLessThanOrEqual(limit);
    } finally {
      await store.close();
    }
  });

  it("an inline store keeps SQLite's automatic checkpoint and runs no thread", async () => {
    const store = new SqliteStore(join(dir, 'inline.db'), { walCheckpoint: 'inline' });
    try {
      expect(store.walCheckpointer).toBeUndefined();
      expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(DEFAULT_AUTOCHECKPOINT_PAGES);
    } finally {
      await store.close();
    }
    const mem = new SqliteStore(':memory:');
    expect(mem.walCheckpointer).toBeUndefined();
    await mem.close();
  });

  it("a thread that cannot start puts the store back on SQLite's automatic checkpoint, with a warning", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    const store = new SqliteStore(join(dir, 'broken.db'), {
      hooks: { checkpointDriver: join(dir, 'no-such-driver.js') },
    });
    try {
      await until('the store to fall back', () => store.walCheckpointer === undefined);
      expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(DEFAULT_AUTOCHECKPOINT_PAGES);
      await until('the warning', () => warnings.some((w) => w.includes('WAL checkpoint thread failed')));
      // the store goes on writing
      await appendTurns(store, 3);
    } finally {
      process.off('warning', onWarning);
      await store.close();
    }
  });

  it('a process that never closes its store still exits', async () => {
    const script = join(dir, 'left-open.mts');
    writeFileSync(
      script,
      `import { SqliteStore } from ${JSON.stringify(join(here, '../src/sqlite.ts'))};
const store = new SqliteStore(${JSON.stringify(join(dir, 'left-open.db'))});
await store.createSession({ agent: 'a', version: 'v1', tokenHash: 'x' });
if (!store.walCheckpointer) throw new Error('no checkpoint thread');
console.log('wrote');
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: join(here, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 20_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(err).toBe('');
    expect(out.trim()).toBe('wrote');
    expect(code).toBe(0);
  });
});
