/**
 * Wait tokens are callback capabilities, stored only as digests: after a session waited, was
 * driven while waiting, had a turn replayed and was resumed by its callback, neither the SQLite
 * file (and its WAL) nor any PostgreSQL row contains the token. The token is shown once, in the
 * answer of the turn that created the wait.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { waitDigest } from '@baton/core';
import { openStore, type Store } from '@baton/store';
import { counterV1 } from './fixtures/agents';
import { call, newSession, startServer, stopServer, TRAFFIC, PG_URL } from './fixtures/harness';

interface Backend {
  name: string;
  open(): Promise<{ store: Store; atRest(): Promise<string>; cleanup(): Promise<void> }>;
}

const sqlite: Backend = {
  name: 'sqlite',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'baton-waits-'));
    const file = join(dir, 'baton.db');
    const store = await openStore(file);
    return {
      store,
      async atRest() {
        await store.close();
        return [file, `${file}-wal`]
          .filter((f) => existsSync(f))
          .map((f) => readFileSync(f).toString('latin1'))
          .join('\n');
      },
      async cleanup() {
        await store.close().catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

const postgres: Backend = {
  name: 'postgres',
  async open() {
    const schema = `wd_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
    const store = await openStore(PG_URL!, { schema });
    const raw = new pg.Client({ connectionString: PG_URL });
    await raw.connect();
    return {
      store,
      async atRest() {
        const tables = (
          await raw.query<{ t: string }>(
            'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1',
            [schema],
          )
        ).rows;
        const out: string[] = [];
        for (const { t } of tables) {
          for (const r of (await raw.query<{ r: string }>(`SELECT x::text AS r FROM "${schema}"."${t}" x`))
            .rows)
            out.push(r.r);
        }
        return out.join('\n');
      },
      async cleanup() {
        await store.close().catch(() => undefined);
        await raw.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await raw.end();
      },
    };
  },
};

if (!PG_URL && process.env.CI === 'true') throw new Error('BATON_TEST_PG_URL is required under CI=true');
if (!PG_URL) console.warn('wait-digest test: skipping PostgreSQL (BATON_TEST_PG_URL is not set)');

describe.each([sqlite, ...(PG_URL ? [postgres] : [])])('wait tokens at rest: $name', (backend) => {
  it('the token is shown once, stored nowhere, and resumes the session; its digest does not', async () => {
    const b = await backend.open();
    const r = await startServer(b.store, [counterV1]);
    let stopped = false;
    try {
      const s = await newSession(r.http, 'counter');
      const turn = (input: unknown, key: string) =>
        call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
          headers: { ...s.headers, 'idempotency-key': key },
          body: { input },
        });
      const w = await turn({ text: 'need approval', wait: true }, 'k1');
      expect(w.body.status).toBe('waiting');
      const token = w.body.waits[0].token as string;
      expect(token).toEqual(expect.any(String));

      // what is stored and what workers are sent: the digest
      const [pending] = await b.store.listWaits({ sessionId: s.id, status: 'pending' });
      expect(pending!.token).toBe(waitDigest(token));
      expect((await b.store.getLatestCheckpoint(s.id))!.body.waits.map((x) => x.token)).toEqual([
        waitDigest(token),
      ]);
      // a replay of the turn, a later turn and the session view list the wait without its token
      const replay = await turn({ text: 'need approval', wait: true }, 'k1');
      expect(replay.body.waits).toEqual([
        { name: 'approval', deadline: pending!.deadline, schema: expect.any(Object) },
      ]);
      const view = await call(r.http, 'GET', `/v1/sessions/${s.id}`, { headers: s.headers });
      expect(view.body.waits[0]).not.toHaveProperty('token');
      const later = await turn({ text: 'still there?' }, 'k2');
      expect(later.body.waits).toHaveLength(1);
      expect(later.body.waits[0]).not.toHaveProperty('token');

      // presenting the digest resumes nothing; the token does
      const byDigest = await call(r.http, 'POST', `/v1/callbacks/${waitDigest(token)}`, {
        headers: TRAFFIC,
        body: { payload: { approved: true } },
      });
      expect(byDigest.status).toBe(404);
      const cb = await call(r.http, 'POST', `/v1/callbacks/${token}`, {
        headers: TRAFFIC,
        body: { payload: { approved: true } },
      });
      expect(cb.status).toBe(200);
      expect(cb.body.output).toMatchObject({ resumed: 'approval', approved: true });

      await stopServer(r);
      stopped = true;
      const text = await b.atRest();
      expect(text.includes(waitDigest(token))).toBe(true);
      expect(text.includes(token)).toBe(false);
    } finally {
      if (!stopped) await stopServer(r);
      await b.cleanup();
    }
  });
});
