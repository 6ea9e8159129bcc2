/**
 * Backward compatibility: blue's workers still run the previous SDK (protocol 1) while the router
 * speaks protocol 2 to green. The worker here is that release's SDK, bundled unchanged
 * (fixtures/sdk-protocol1.mjs), served over real HTTP and registered like any remote worker.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Pool } from 'undici';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerClient, VersionManifest } from '@baton/core';
import { openStore, type Store } from '@baton/store';
import { createServer } from '../src/app';
import { migrateSession } from '../src/migration';
import { ADMIN, TOKENS, call, newSession, type Running } from './fixtures/harness';

const here = dirname(fileURLToPath(import.meta.url));

/** The parts of the previous SDK this test uses (the bundle has no type declarations). */
interface OldSdk {
  defineAgent(spec: Record<string, unknown>): { manifest(): VersionManifest };
  serveWorker(
    agent: unknown,
    opts: { port: number; host?: string; ledger: LedgerClient },
  ): Promise<{ url: string; close(): Promise<void> }>;
  httpLedgerClient(baseUrl: string, token: string): LedgerClient;
}

type Ctx = { state: { n: number; seen?: number }; history: unknown[] };

let dir: string;
let store: Store;
let r: Running;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  const old = (await import(pathToFileURL(join(here, 'fixtures', 'sdk-protocol1.mjs')).href)) as OldSdk;
  dir = mkdtempSync(join(tmpdir(), 'baton-protocol1-'));
  store = await openStore(join(dir, 'baton.db'));
  const server = createServer({ store, tokens: TOKENS, logger: false, limits: { healthIntervalMs: 0 } });
  const url = await server.listen(0);
  r = { server, url, http: new Pool(url, { connections: 8 }) };
  const ledger = old.httpLedgerClient(url, 'worker-token');
  // v1 and v2 both built with the previous SDK; v2's up migration reads the history it is given
  const v1 = old.defineAgent({
    name: 'legacy',
    version: 'v1',
    schemaVersion: 1,
    state: z.object({ n: z.number() }),
    initialState: () => ({ n: 0 }),
    modelId: 'none',
    turn: async (ctx: Ctx) => {
      ctx.state.n += 1;
      return { n: ctx.state.n, sawHistory: ctx.history.length };
    },
  });
  const v2 = old.defineAgent({
    name: 'legacy',
    version: 'v2',
    schemaVersion: 2,
    state: z.object({ n: z.number(), seen: z.number() }),
    initialState: () => ({ n: 0, seen: 0 }),
    modelId: 'none',
    migrations: {
      up: { 1: (s: { n: number }, m: { history: unknown[] }) => ({ n: s.n, seen: m.history.length }) },
    },
    turn: async (ctx: Ctx) => {
      ctx.state.n += 1;
      return { n: ctx.state.n, sawHistory: ctx.history.length };
    },
  });
  for (const def of [v1, v2]) {
    const w = await old.serveWorker(def, { port: 0, host: '127.0.0.1', ledger });
    stops.push(() => w.close());
    const reg = await call(r.http, 'POST', '/v1/workers', {
      headers: ADMIN,
      body: { url: w.url, manifest: def.manifest() },
    });
    if (reg.status !== 201 && reg.status !== 200) throw new Error(`register: ${JSON.stringify(reg.body)}`);
  }
});

afterAll(async () => {
  for (const s of stops) await s();
  await r.http.close();
  await r.server.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a protocol-1 worker (the previous SDK)', () => {
  it('is recognised as protocol 1 and serves turns with the history window in the body', async () => {
    const s = await newSession(r.http, 'legacy');
    let last: { n: number; sawHistory: number } | undefined;
    for (let i = 0; i < 60; i++) {
      const t = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
        headers: s.headers,
        body: { input: { i } },
      });
      expect(t.status).toBe(200);
      expect(t.body.seq).toBe(i + 1);
      last = t.body.output;
    }
    for (const e of r.server.pool.entries()) expect(e.protocol).toBe(1);
    // 59 turns before the last: 118 entries in the log, of which the default window (100) was
    // sent; the old SDK's ctx.history also holds this turn's message
    expect(last).toEqual({ n: 60, sawHistory: 101 });
    const page = await store.readHistory(s.id, { limit: 1000 });
    expect(page.total).toBe(120);
    expect(page.entries.filter((e) => e.role === 'user').map((e) => (e.content as { i: number }).i)).toEqual(
      Array.from({ length: 60 }, (_, i) => i),
    );
  });

  it('without a capability, its ledger calls are accepted only for a session of its version whose lease a turn holds', async () => {
    const s = await newSession(r.http, 'legacy');
    const W = { authorization: 'Bearer worker-token' };
    const intent = (sessionId: string, version: string, n: number) =>
      call(r.http, 'POST', '/v1/worker/effects/intent', {
        headers: W,
        body: {
          idempotencyKey: `${sessionId}:p1:${n}`,
          sessionId,
          agent: 'legacy',
          version,
          turnId: 'p1',
          name: 'send_email',
          args: {},
        },
      });
    const step = (sessionId: string) =>
      call(r.http, 'POST', '/v1/worker/steps', {
        headers: W,
        body: { sessionId, turnId: 'p1', index: 0, name: 'x', result: 1 },
      });
    // idle (no turn holds its lease), unknown
    for (const id of [s.id, 'ses_unknown']) {
      expect((await intent(id, 'v1', 0)).status, id).toBe(403);
      expect((await step(id)).status, id).toBe(403);
    }
    expect((await store.listEffects({ sessionId: s.id })).items).toEqual([]);
    const lease = await store.acquireLease(s.id, 'test:p1', 60_000);
    // under a live lease, but claiming another version than the session's
    expect((await intent(s.id, 'v2', 1)).status).toBe(403);
    expect((await intent(s.id, 'v1', 2)).status).toBe(200);
    expect((await step(s.id)).status).toBe(204);
    await store.releaseLease(lease);
    expect((await intent(s.id, 'v1', 3)).status).toBe(403);
    expect((await store.listEffects({ sessionId: s.id })).items.map((e) => e.idempotencyKey)).toEqual([
      `${s.id}:p1:2`,
    ]);
  });

  it('migrates through a protocol-1 worker: the window goes in the body, its history answer is ignored', async () => {
    const s = await newSession(r.http, 'legacy');
    for (let i = 0; i < 3; i++) {
      await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
        headers: s.headers,
        body: { input: { i } },
      });
    }
    const m = await migrateSession(r.server.ctx, { sessionId: s.id, to: 'v2', rolloutId: null });
    expect(m).toMatchObject({ ok: true, from: 'v1', to: 'v2', seq: 4 });
    const cp = await store.getLatestCheckpoint(s.id);
    expect(cp!.body.state).toEqual({ n: 3, seen: 6 });
    expect(cp!.historyLength).toBe(6);
    expect((await store.readHistory(s.id)).total).toBe(6);
    const t = await call(r.http, 'POST', `/v1/sessions/${s.id}/turns`, {
      headers: s.headers,
      body: { input: {} },
    });
    expect(t.body).toMatchObject({ version: 'v2', seq: 5, output: { n: 4, sawHistory: 7 } }); // 6 entries + this turn's message
  });
});

const python = spawnSync('python3', ['--version']).status === 0;
if (!python) console.warn('python3 not found: skipping the router tests with the Python worker');

describe.skipIf(!python)('the Python worker (standard library only), in both protocols', () => {
  const sdkFixtures = join(here, '..', '..', 'sdk', 'test', 'fixtures');

  for (const protocol of [1, 2] as const) {
    it(`protocol ${protocol}: registered like any worker, spoken to in its protocol, history in the log`, async () => {
      const pdir = mkdtempSync(join(tmpdir(), `baton-py${protocol}-`));
      const pstore = await openStore(join(pdir, 'baton.db'));
      const server = createServer({
        store: pstore,
        tokens: TOKENS,
        logger: false,
        limits: { healthIntervalMs: 0 },
      });
      const url = await server.listen(0);
      const http = new Pool(url, { connections: 4 });
      let child: ChildProcess | undefined;
      try {
        child = spawn(
          'python3',
          [
            join(sdkFixtures, 'counter_worker.py'),
            url,
            'worker-token',
            join(pdir, 'effects.log'),
            '--protocol',
            String(protocol),
          ],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        const line = await new Promise<string>((resolve, reject) => {
          child!.once('exit', (code) => reject(new Error(`python worker exited with ${code}`)));
          createInterface({ input: child!.stdout! }).once('line', resolve);
        });
        const wurl = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
        const h = (await (await fetch(`${wurl}/v1/health`)).json()) as {
          agent: string;
          version: string;
          identity: string;
          compensations?: string[];
        };
        const manifest = {
          ...(h.compensations ? { compensations: h.compensations } : {}),
          agent: h.agent,
          label: h.version,
          schemaVersion: 1,
          modelId: 'none',
          promptHash: '-',
          toolManifestHash: '-',
          codeHash: '-',
          identity: h.identity,
        };
        const reg = await call(http, 'POST', '/v1/workers', {
          headers: ADMIN,
          body: { url: wurl, manifest },
        });
        expect(reg.status).toBe(201);
        expect(server.pool.entries().map((e) => e.protocol)).toEqual([protocol]);
        const s = await newSession(http, h.agent);
        for (let i = 1; i <= 5; i++) {
          const t = await call(http, 'POST', `/v1/sessions/${s.id}/turns`, {
            headers: s.headers,
            body: { input: { i } },
          });
          expect(t.status).toBe(200);
          expect(t.body.seq).toBe(i);
        }
        const page = await pstore.readHistory(s.id);
        expect(page.total).toBe(10);
        expect(page.entries.filter((e) => e.role === 'user').map((e) => e.content)).toEqual(
          [1, 2, 3, 4, 5].map((i) => ({ i })),
        );
        const effects = await pstore.listEffects({ sessionId: s.id });
        expect(effects.items.filter((e) => e.status === 'committed')).toHaveLength(5);
        if (protocol === 2) {
          // its compensation runs in Python, its own effect through the ledger, exactly once
          const first = effects.items[0]!;
          expect(first.compensation).toBe('unnote');
          const c = await call(http, 'POST', `/v1/effects/${first.id}/compensate`, {
            headers: ADMIN,
            body: { dryRun: false },
          });
          expect(c.status, JSON.stringify(c.body)).toBe(200);
          expect(c.body.effect).toMatchObject({
            compensationState: 'compensated',
            compensationVersion: h.version,
          });
          const log = readFileSync(join(pdir, 'effects.log'), 'utf8').split('\n');
          expect(log.filter((l) => l === `unnote ${first.idempotencyKey}`)).toHaveLength(1);
          const own = (await pstore.listEffects({ sessionId: s.id, kind: 'compensation' })).items;
          expect(own.map((e) => [e.name, e.status, e.compensates])).toEqual([
            ['unnote', 'committed', first.id],
          ]);
        }
      } finally {
        if (child?.pid && child.exitCode === null) child.kill('SIGTERM');
        await http.close();
        await server.close();
        await pstore.close();
        rmSync(pdir, { recursive: true, force: true });
      }
    });
  }
});
