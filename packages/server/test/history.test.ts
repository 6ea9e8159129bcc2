/**
 * Long sessions through the router: workers get a bounded window of the history log and a turn
 * capability to page the rest; unchanged parts are not rewritten; the history API pages the log;
 * size limits name the part; a corrupt entry quarantines the session; a migration's
 * rebuildContext can read 10,000 entries.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Pool } from 'undici';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CAPABILITY_HEADER,
  systemClock,
  type HistoryEntry,
  type MigrateRequest,
  type MigrateRequestV1,
  type MigrateResponse,
  type TurnRequest,
  type TurnRequestV1,
  type TurnResponse,
  type WorkerClient,
} from '@baton/core';
import { openStore, type Store } from '@baton/store';
import { InProcessWorker, defineAgent } from '@baton/sdk';
import { createServer } from '../src/app';
import { Capabilities } from '../src/capability';
import { StoreLedgerClient } from '../src/ledger';
import { migrateSession } from '../src/migration';
import { ADMIN, TOKENS, call, newSession, type Running } from './fixtures/harness';

const WORKER = { authorization: 'Bearer worker-token' };

/** Records every request the router sends, then lets the real worker answer. */
class Spy implements WorkerClient {
  readonly turns: TurnRequest[] = [];
  readonly answers: TurnResponse[] = [];
  readonly migrations: Array<MigrateRequest | MigrateRequestV1> = [];
  readonly protocol = 2 as const;
  constructor(private readonly inner: InProcessWorker<any>) {}
  get id(): string {
    return this.inner.id;
  }
  async turn(req: TurnRequest | TurnRequestV1): Promise<TurnResponse> {
    this.turns.push(structuredClone(req as TurnRequest));
    const res = await this.inner.turn(req);
    this.answers.push(structuredClone(res));
    return res;
  }
  migrate(req: MigrateRequest | MigrateRequestV1): Promise<MigrateResponse> {
    this.migrations.push(structuredClone(req));
    return this.inner.migrate(req);
  }
  health() {
    return this.inner.health();
  }
}

type Msg = { text?: string; big?: number; readBack?: boolean };

const chatState = z.object({ turns: z.number().int() });
/** A chat agent with a small declared window; its context is constant (never rewritten). */
const chat = defineAgent({
  name: 'chat',
  version: 'v1',
  schemaVersion: 1,
  state: chatState,
  initialState: () => ({ turns: 0 }),
  modelId: 'none',
  history: { window: { entries: 6 } },
  turn: async (ctx, input) => {
    const msg = (input.kind === 'message' ? input.message : {}) as Msg;
    ctx.state.turns += 1;
    if (ctx.context === null) ctx.context = { system: 'You are terse.' };
    let oldest: unknown = null;
    if (msg.readBack) {
      const page = await ctx.readHistory({ before: 2, limit: 2 });
      oldest = page.entries.map((e) => e.content);
    }
    return {
      n: ctx.state.turns,
      window: ctx.history.length,
      total: ctx.historyLength,
      oldest,
      pad: msg.big ? 'x'.repeat(msg.big) : '',
    };
  },
});

/** v2 rebuilds the context by reading every entry of the history. */
const chatV2 = defineAgent({
  name: 'chat',
  version: 'v2',
  schemaVersion: 1,
  state: chatState,
  initialState: () => ({ turns: 0 }),
  modelId: 'none',
  contextPolicy: 'rebuild',
  rebuildContext: async (history) => {
    let count = 0;
    let first: unknown = null;
    let last: unknown = null;
    let ordered = true;
    for await (const e of history.all()) {
      if (e.index !== count) ordered = false;
      if (count === 0) first = e.content;
      last = e.content;
      count++;
    }
    return { rebuiltFrom: count, first, last, ordered, length: history.length };
  },
  turn: async (ctx) => ({ context: ctx.context }),
});

let dir: string;
let store: Store;
let r: Running;
let spy: Spy;
let spy2: Spy;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'baton-history-'));
  store = await openStore(join(dir, 'baton.db'));
  const server = createServer({ store, tokens: TOKENS, logger: false, limits: { healthIntervalMs: 0 } });
  const ledger = new StoreLedgerClient(store, new Capabilities(store, systemClock));
  spy = new Spy(new InProcessWorker(chat, ledger));
  spy2 = new Spy(new InProcessWorker(chatV2, ledger));
  await server.pool.addInProcess(spy, chat.manifest());
  await server.pool.addInProcess(spy2, chatV2.manifest());
  const url = await server.listen(0);
  r = { server, url, http: new Pool(url, { connections: 16 }) };
});

afterAll(async () => {
  await r.http.close();
  await r.server.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function turn(s: { id: string; headers: Record<string, string> }, input: Msg) {
  const t = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, { headers: s.headers, body: { input } });
  return t;
}

describe('the turn window', () => {
  it('sends the declared window, not the whole history, and says how long the log is', async () => {
    const s = await newSession(r.http, 'chat');
    for (let i = 0; i < 20; i++) expect((await turn(s, { text: `m${i}` })).status).toBe(200);
    const last = spy.turns.filter((t) => t.session.id === s.id).at(-1)!;
    expect(last.protocol).toBe(2);
    expect(last.checkpoint!.historyLength).toBe(38);
    expect(last.history.map((e) => e.index)).toEqual([32, 33, 34, 35, 36, 37]);
    expect(last.history.at(-1)!.role).toBe('agent');
    const page = await store.readHistory(s.id, { limit: 1000 });
    expect(page.total).toBe(40);
    expect(page.entries.filter((e) => e.role === 'user').map((e) => (e.content as Msg).text)).toEqual(
      Array.from({ length: 20 }, (_, i) => `m${i}`),
    );
  });

  it("reads a session's own window with its first turn on a router that has not seen it", async () => {
    const a = await newSession(r.http, 'chat');
    const b = await newSession(r.http, 'chat');
    for (let i = 0; i < 6; i++) {
      await turn(a, { text: `a${i}` });
      await turn(b, { text: `b${i}` });
    }
    // a second router on the same store, whose history reads outside a turn's start are counted
    const store2 = await openStore(join(dir, 'baton.db'));
    let reads = 0;
    const counted = new Proxy(store2, {
      get(target, p) {
        const v = Reflect.get(target, p) as unknown;
        if (typeof v !== 'function') return v;
        const f = (v as (...x: unknown[]) => unknown).bind(target);
        if (p !== 'readHistory') return f;
        return (...x: unknown[]) => {
          reads++;
          return f(...x);
        };
      },
    });
    const server2 = createServer({
      store: counted,
      tokens: TOKENS,
      logger: false,
      limits: { healthIntervalMs: 0 },
    });
    const spy3 = new Spy(
      new InProcessWorker(chat, new StoreLedgerClient(store2, new Capabilities(store2, systemClock))),
    );
    await server2.pool.addInProcess(spy3, chat.manifest());
    const http2 = new Pool(await server2.listen(0), { connections: 2 });
    const turn2 = (s: typeof a) =>
      call(http2, 'POST', `/v1/sessions/${s.id}/turns`, {
        headers: s.headers,
        body: { input: { text: 'x' } },
      });
    try {
      // the first session this router serves teaches it the version (read from the store)
      // (the agent sees the 6-entry window and this turn's input)
      expect((await turn2(a)).body.output.window).toBe(7);
      reads = 0;
      // the next one's 6 entries come with its turn's start: no second read of the log
      const t = await turn2(b);
      expect(t.status).toBe(200);
      expect(t.body.output.window).toBe(7);
      expect(spy3.turns.at(-1)!.history.map((e) => e.index)).toEqual([6, 7, 8, 9, 10, 11]);
      expect(reads).toBe(0);
    } finally {
      await http2.close();
      await server2.close();
      await store2.close();
    }
  });

  it('does not rewrite a part the worker left unchanged', async () => {
    const s = await newSession(r.http, 'chat');
    await turn(s, { text: 'a' });
    const db = new Database(join(dir, 'baton.db'), { readonly: true });
    const parts = (): number =>
      (
        db.prepare('SELECT count(*) AS n FROM checkpoint_parts WHERE session_id = ?').get(s.id) as {
          n: number;
        }
      ).n;
    try {
      const before = parts();
      for (let i = 0; i < 5; i++) await turn(s, { text: `b${i}` });
      // five new states, one context (written once, then carried by hash)
      expect(parts()).toBe(before + 5);
      const answers = spy.answers.slice(-5);
      expect(answers.every((a) => typeof a.unchanged?.context === 'string')).toBe(true);
      const cps = await store.listCheckpoints(s.id);
      expect(new Set(cps.map((c) => c.parts.context)).size).toBe(1);
    } finally {
      db.close();
    }
  });
});

describe('the turn capability', () => {
  it('lets the worker page older entries during its turn and is revoked at commit', async () => {
    const s = await newSession(r.http, 'chat');
    for (let i = 0; i < 8; i++) await turn(s, { text: `t${i}` });
    const t = await turn(s, { readBack: true });
    expect(t.status).toBe(200);
    // entries 0 and 1 (the first turn's message and reply) are far outside the 6-entry window
    expect(t.body.output.oldest).toHaveLength(2);
    expect((t.body.output.oldest as unknown[])[0]).toEqual({ text: 't0' });
    const cap = spy.turns.at(-1)!.capability;
    const read = (c: string, sessionId = s.id) =>
      call(r.http, 'GET', `/v1/worker/history?sessionId=${sessionId}&limit=2`, {
        headers: { ...WORKER, [CAPABILITY_HEADER]: c },
      });
    const after = await read(cap);
    expect(after.status).toBe(403);
    expect(after.body.error.code).toBe('CAPABILITY_INVALID');
    expect(after.body.error.message).toMatch(/revoked/);
    const forged = await read(cap.slice(0, -4) + 'AAAA');
    expect(forged.body.error.code).toBe('CAPABILITY_INVALID');
    const other = await newSession(r.http, 'chat');
    expect((await read(cap, other.id)).body.error.code).toBe('CAPABILITY_INVALID');
    expect((await read('')).body.error.code).toBe('CAPABILITY_INVALID');
  });
});

describe('GET /v1/sessions/{id}/history', () => {
  it('pages the log in ascending order, every entry exactly once', async () => {
    const s = await newSession(r.http, 'chat');
    for (let i = 0; i < 13; i++) await turn(s, { text: `p${i}` });
    const seen: number[] = [];
    let before: number | null = null;
    let pages = 0;
    do {
      const q: string = before === null ? 'limit=5' : `limit=5&before=${before}`;
      const p = await call(r.http, 'GET', `/v1/sessions/${s.id}/history?${q}`, { headers: s.headers });
      expect(p.status).toBe(200);
      const idx = (p.body.entries as Array<{ index: number }>).map((e) => e.index);
      expect(idx).toEqual([...idx].sort((a, b) => a - b));
      seen.unshift(...idx);
      before = p.body.nextBefore;
      pages++;
    } while (before !== null);
    expect(pages).toBe(6);
    expect(seen).toEqual(Array.from({ length: 26 }, (_, i) => i));
    const admin = await call(r.http, 'GET', `/v1/sessions/${s.id}/history`, { headers: ADMIN });
    expect(admin.body.total).toBe(26);
  });

  it('refuses bad paging values and other sessions’ tokens', async () => {
    const s = await newSession(r.http, 'chat');
    const other = await newSession(r.http, 'chat');
    for (const q of [
      'limit=0',
      'limit=1001',
      'limit=0x10',
      'limit=1e2',
      'limit=%2010',
      'before=-1',
      'before=abc',
      'cursor=1',
    ]) {
      const p = await call(r.http, 'GET', `/v1/sessions/${s.id}/history?${q}`, { headers: s.headers });
      expect(p.status, q).toBe(400);
      expect(p.body.error.code).toBe('VALIDATION');
    }
    const wrong = await call(r.http, 'GET', `/v1/sessions/${s.id}/history`, { headers: other.headers });
    expect(wrong.status).toBe(403);
    const missing = await call(r.http, 'GET', `/v1/sessions/nope/history`, { headers: ADMIN });
    expect(missing.body.error.code).toBe('SESSION_NOT_FOUND');
  });
});

describe('limits and integrity', () => {
  it('refuses an entry over the per-entry limit, naming it, and changes nothing', async () => {
    const s = await newSession(r.http, 'chat');
    await turn(s, { text: 'ok' });
    const t = await turn(s, { big: 1_100_000 });
    expect(t.status).toBe(413);
    expect(t.body.error.code).toBe('CHECKPOINT_TOO_LARGE');
    expect(t.body.error.details.part).toBe('history[1]');
    expect(t.body.error.message).toMatch(/over the limit of 1048576 bytes by \d+/);
    expect((await store.getSession(s.id)).seq).toBe(1);
    expect((await store.readHistory(s.id)).total).toBe(2);
    expect((await turn(s, { text: 'still fine' })).status).toBe(200);
  });

  it('quarantines a session whose history entry in the window is corrupt', async () => {
    const s = await newSession(r.http, 'chat');
    for (let i = 0; i < 3; i++) await turn(s, { text: `c${i}` });
    const db = new Database(join(dir, 'baton.db'));
    try {
      db.prepare(
        `UPDATE history SET body = CAST(replace(CAST(body AS TEXT), 'c2', 'cX') AS BLOB) WHERE session_id = ? AND idx = 4`,
      ).run(s.id);
    } finally {
      db.close();
    }
    // a second router on the same store: it reads the window from the database (the first one
    // may serve the copy it wrote and verified itself)
    const store2 = await openStore(join(dir, 'baton.db'));
    const server2 = createServer({
      store: store2,
      tokens: TOKENS,
      logger: false,
      limits: { healthIntervalMs: 0 },
    });
    await server2.pool.addInProcess(
      new InProcessWorker(chat, new StoreLedgerClient(store2, new Capabilities(store2, systemClock))),
      chat.manifest(),
    );
    const url2 = await server2.listen(0);
    const http2 = new Pool(url2, { connections: 2 });
    try {
      const t = await call(http2, 'POST', `/v1/sessions/${s.id}/turns`, {
        headers: s.headers,
        body: { input: { text: 'next' } },
      });
      expect(t.status).toBe(409);
      expect(t.body.error.code).toBe('SESSION_QUARANTINED');
      const rec = await store.getSession(s.id);
      expect(rec.status).toBe('quarantined');
      expect(rec.reason).toMatch(/history\[4\]/);
      expect(rec.seq).toBe(3);
      // and the first router refuses it too, whatever it remembers
      expect((await turn(s, { text: 'again' })).body.error.code).toBe('SESSION_QUARANTINED');
    } finally {
      await http2.close();
      await server2.close();
      await store2.close();
    }
  });
});

describe('migration with a long history', () => {
  it('rebuildContext reads 10,000 entries through the worker API, in order', async () => {
    const s = await newSession(r.http, 'chat');
    await turn(s, { text: 'first' });
    // age the session to 10,000 entries straight through the store (as 100 appends of 100 entries)
    let seq = 1;
    for (let b = 0; b < 100; b++) {
      const cp = await store.getLatestCheckpoint(s.id);
      const entries: HistoryEntry[] = Array.from({ length: b === 99 ? 98 : 100 }, (_, i) => ({
        role: i % 2 ? 'agent' : 'user',
        content: `e${b}-${i}`,
        turnId: `seed-${b}`,
        at: b,
      }));
      await store.appendCheckpoint({
        sessionId: s.id,
        expectedSeq: seq,
        schemaVersion: 1,
        writtenBy: 'v1',
        body: { state: { turns: seq + 1 }, context: null, waits: [] },
        unchanged: { context: cp!.parts.context },
        history: entries,
      });
      seq++;
    }
    expect((await store.readHistory(s.id)).total).toBe(10_000);
    const m = await migrateSession(r.server.ctx, { sessionId: s.id, to: 'v2', rolloutId: null });
    expect(m.ok).toBe(true);
    const req = spy2.migrations.at(-1) as MigrateRequest;
    expect(req.protocol).toBe(2);
    expect(JSON.stringify(req).length).toBeLessThan(2_000); // no history in the request
    const cp = await store.getLatestCheckpoint(s.id);
    expect(cp!.body.context).toEqual({
      rebuiltFrom: 10_000,
      first: { text: 'first' },
      last: 'e99-97',
      ordered: true,
      length: 10_000,
    });
    expect(cp!.historyLength).toBe(10_000);
    const migs = await store.listMigrations({ sessionId: s.id });
    expect(migs.at(-1)).toMatchObject({ status: 'ok', contextPolicy: 'rebuild', toVersion: 'v2' });
  });
});

describe('a version’s declared history policy', () => {
  const manifest = (label: string, history: unknown) => ({
    agent: 'declared',
    label,
    schemaVersion: 1,
    modelId: 'none',
    promptHash: '-',
    toolManifestHash: '-',
    codeHash: '-',
    identity: `id-${label}`,
    history,
  });

  it('is kept with a version registered over HTTP, and a bad one is refused', async () => {
    const ok = await call(r.http, 'POST', '/v1/versions', {
      headers: ADMIN,
      body: manifest('d1', { window: { entries: 3 }, retention: { maxEntries: 500 } }),
    });
    expect(ok.status).toBe(201);
    expect(ok.body.metadata.history).toEqual({ window: { entries: 3 }, retention: { maxEntries: 500 } });
    for (const bad of [
      { window: { entries: 5000 } },
      { window: { entries: -1 } },
      { retention: { maxEntries: 0 } },
      { windw: {} },
    ]) {
      const res = await call(r.http, 'POST', '/v1/versions', { headers: ADMIN, body: manifest('d2', bad) });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION');
    }
    const listed = await call(r.http, 'GET', '/v1/versions?agent=declared', { headers: ADMIN });
    expect(listed.body.items.map((v: { label: string }) => v.label)).toEqual(['d1']);
  });
});
