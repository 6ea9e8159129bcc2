import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BatonError, httpStatus } from '@baton/core';
import { openStore } from '../src/index';

const dir = mkdtempSync(join(tmpdir(), 'baton-factory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openStore', () => {
  it('opens SQLite for sqlite:<path>, a plain path and :memory:', async () => {
    for (const target of [`sqlite:${join(dir, 'a.db')}`, join(dir, 'b.db'), ':memory:']) {
      const store = await openStore(target);
      try {
        expect(store.kind).toBe('sqlite');
        const s = await store.createSession({ agent: 'a', version: 'v1', tokenHash: 'h' });
        expect((await store.getSession(s.id)).id).toBe(s.id);
      } finally {
        await store.close();
      }
    }
  });

  it('a SQLite file keeps its data across handles', async () => {
    const file = join(dir, 'persist.db');
    const a = await openStore(file);
    const s = await a.createSession({ agent: 'a', version: 'v1', tokenHash: 'h' });
    await a.appendCheckpoint({
      sessionId: s.id,
      expectedSeq: 0,
      schemaVersion: 1,
      writtenBy: 'v1',
      body: { state: { x: 1 }, context: null, waits: [] },
      history: [{ role: 'user', content: 'hi', turnId: 't1', at: 1 }],
    });
    await a.close();
    const b = await openStore(`sqlite:${file}`);
    try {
      expect((await b.getLatestCheckpoint(s.id))?.body).toEqual({
        state: { x: 1 },
        context: null,
        waits: [],
      });
      expect((await b.readHistory(s.id)).entries.map((e) => e.content)).toEqual(['hi']);
    } finally {
      await b.close();
    }
  });

  it('postgres:// and postgresql:// select PostgreSQL; an unreachable server is STORE_UNAVAILABLE', async () => {
    for (const target of ['postgres://postgres@127.0.0.1:1/none', 'postgresql://postgres@127.0.0.1:1/none']) {
      const err = await openStore(target).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BatonError);
      expect((err as BatonError).code).toBe('STORE_UNAVAILABLE');
      expect(httpStatus((err as BatonError).code)).toBe(503);
    }
  });

  it('rejects an invalid PostgreSQL schema name with VALIDATION', async () => {
    const err = await openStore('postgres://postgres@127.0.0.1:1/none', { schema: 'bad; drop' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as BatonError).code).toBe('VALIDATION');
  });
});
