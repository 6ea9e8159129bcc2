/**
 * The store conformance suite: every backend registers it with its own harness and must pass all of it.
 * Tests share one database per backend and isolate themselves with unique agent names and ids.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatonError, newId, sha256Hex } from '@baton/core';
import type { CheckpointBody, MigrationRecord, SessionRecord, TurnTelemetryRecord, Wait } from '@baton/core';
import type { Store, StoreOptions } from '../src/store';

export interface Harness {
  /** Open a new handle on the suite's database (same file / same schema). */
  open(opts?: StoreOptions): Promise<Store>;
  /** Run literal SQL against the database with a separate raw connection. */
  rawQuery(sql: string): Promise<Array<Record<string, unknown>>>;
  rawExec(sql: string): Promise<void>;
  /** Target and options a child process passes to `openStore` to reach the same database. */
  childTarget: string;
  childOptions: Record<string, unknown>;
  /** Called once after the suite. */
  teardown(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

let uniq = 0;
function u(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${++uniq}`;
}

function body(n: number, extra: Partial<CheckpointBody> = {}): CheckpointBody {
  return {
    state: { n, label: `state ${n}`, nested: { list: [1, 2, 3], unicode: 'héllo ✓ 🎉' } },
    history: [{ role: 'user', content: `message ${n}`, turnId: `t${n}`, at: 1000 + n }],
    context: { prompt: `ctx ${n}` },
    waits: [],
    ...extra,
  };
}

/** A body whose serialized JSON is about `bytes` long. */
function sizedBody(bytes: number, seed = 0): CheckpointBody {
  const chunk = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  while (s.length < bytes) s += chunk;
  return body(seed, { memory: s.slice(0, bytes) });
}

async function expectCode(p: Promise<unknown>, code: string): Promise<BatonError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BatonError);
    expect((e as BatonError).code).toBe(code);
    return e as BatonError;
  }
  throw new Error(`expected ${code}, but the call succeeded`);
}

function telemetry(
  sessionId: string,
  agent: string,
  version: string,
  at: number,
  over: Partial<TurnTelemetryRecord> = {},
): Omit<TurnTelemetryRecord, 'seq'> {
  return {
    sessionId,
    agent,
    version,
    turnId: `turn-${at}`,
    at,
    latencyMs: 100,
    toolCalls: { search: 2, email: 1 },
    reasoningSteps: 3,
    tokensIn: 50,
    tokensOut: 20,
    contextUtilization: 0.25,
    metrics: { 'eval.resolution': 0.5 },
    signals: ['clarification'],
    ...over,
  };
}

export function storeConformance(name: string, harness: () => Harness | Promise<Harness>): void {
  describe(`store conformance: ${name}`, () => {
    let h: Harness;
    let store: Store;
    let t = Date.UTC(2026, 0, 1);
    const now = () => t;

    beforeAll(async () => {
      h = await harness();
      store = await h.open({ now });
    });

    afterAll(async () => {
      await store?.close();
      await h?.teardown();
    });

    async function newSession(agent = u('agent'), version = 'v1', extra: Partial<SessionRecord> = {}) {
      return store.createSession({ agent, version, tokenHash: sha256Hex('tok'), ...extra });
    }

    /** Append `body(n)` as a plain schema-1 checkpoint written by v1. */
    function appendV1(sessionId: string, expectedSeq: number, n: number, via: Store = store) {
      return via.appendCheckpoint({
        sessionId,
        expectedSeq,
        schemaVersion: 1,
        writtenBy: 'v1',
        body: body(n),
      });
    }

    /** The v1 → v2 (schema 1 → 2) migration an append records, at the current time. */
    function v1ToV2(over: Partial<Pick<MigrationRecord, 'contextPolicy' | 'rolloutId'>> = {}) {
      return {
        fromVersion: 'v1',
        toVersion: 'v2',
        fromSchema: 1,
        toSchema: 2,
        contextPolicy: 'carry' as MigrationRecord['contextPolicy'],
        rolloutId: null as string | null,
        at: t,
        ...over,
      };
    }

    /** Run a child script of this folder under tsx on the suite's database: target, options, then `args`. */
    function spawnChild(script: string, ...args: string[]) {
      return spawn(
        process.execPath,
        ['--import', 'tsx', join(here, script), h.childTarget, JSON.stringify(h.childOptions), ...args],
        { stdio: ['ignore', 'pipe', 'pipe'], cwd: join(here, '..') },
      );
    }

    /** Everything a checkpoint write may touch for a session, read through the API. */
    async function snapshot(s: Store, sessionId: string) {
      const session = await s.getSession(sessionId);
      const latest = await s.getLatestCheckpoint(sessionId).catch((e: unknown) => e);
      return {
        session,
        latest,
        checkpoints: await s.listCheckpoints(sessionId),
        waits: await s.listWaits({ sessionId }),
        migrations: await s.listMigrations({ sessionId }),
        steps: await s.listSteps(sessionId, 'turn-x'),
        turnResult: await s.getTurnResult(sessionId, 'key-x'),
        aggregates: (await s.listSessionAggregates({ agent: session.agent })).filter(
          (a) => a.sessionId === sessionId,
        ),
      };
    }

    describe('schema', () => {
      it('records applied migrations and reopening is idempotent', async () => {
        const rows = await h.rawQuery('SELECT version, name FROM baton_schema_migrations ORDER BY version');
        expect(rows.length).toBeGreaterThanOrEqual(1);
        expect(Number(rows[0]!.version)).toBe(1);
        const again = await h.open({ now });
        await again.close();
        const after = await h.rawQuery('SELECT version FROM baton_schema_migrations');
        expect(after.length).toBe(rows.length);
      });

      it('concurrent openers do not race', async () => {
        const handles = await Promise.all([h.open({ now }), h.open({ now }), h.open({ now })]);
        await Promise.all(handles.map((x) => x.close()));
        const rows = await h.rawQuery('SELECT version FROM baton_schema_migrations');
        expect(new Set(rows.map((r) => Number(r.version))).size).toBe(rows.length);
      });
    });

    describe('versions', () => {
      const v = (agent: string, label: string, identity = 'id-1') => ({
        agent,
        label,
        schemaVersion: 2,
        modelId: 'gpt-x',
        promptHash: 'p',
        toolManifestHash: 't',
        codeHash: 'c',
        identity,
        acceptsSchemas: [1],
        downSchemas: [1],
        metadata: { team: 'support' },
      });

      it('registers, reads and lists versions; registering the same identity is idempotent', async () => {
        const agent = u('agent');
        const a = await store.registerVersion(v(agent, 'v1'));
        expect(a).toMatchObject({ ...v(agent, 'v1'), createdAt: t });
        t += 10;
        const again = await store.registerVersion(v(agent, 'v1'));
        expect(again).toEqual(a);
        await store.registerVersion(v(agent, 'v2', 'id-2'));
        expect(await store.getVersion(agent, 'v1')).toEqual(a);
        expect((await store.listVersions(agent)).map((x) => x.label)).toEqual(['v1', 'v2']);
        expect((await store.listVersions()).some((x) => x.agent === agent)).toBe(true);
      });

      it('VERSION_CONFLICT for the same label with a different identity; nothing changes', async () => {
        const agent = u('agent');
        const a = await store.registerVersion(v(agent, 'v1'));
        const e = await expectCode(store.registerVersion(v(agent, 'v1', 'other')), 'VERSION_CONFLICT');
        expect(e.status).toBe(409);
        expect(await store.getVersion(agent, 'v1')).toEqual(a);
      });

      it('VERSION_NOT_FOUND', async () => {
        await expectCode(store.getVersion(u('agent'), 'nope'), 'VERSION_NOT_FOUND');
      });
    });

    describe('workers', () => {
      it('registers, updates, lists and removes workers', async () => {
        const agent = u('agent');
        const id = u('w');
        const w = await store.registerWorker({
          id,
          agent,
          version: 'v1',
          url: 'http://127.0.0.1:1',
          health: 'healthy',
        });
        expect(w).toEqual({
          id,
          agent,
          version: 'v1',
          url: 'http://127.0.0.1:1',
          health: 'healthy',
          registeredAt: t,
          lastSeenAt: t,
        });
        await store.registerWorker({ id: u('w'), agent, version: 'v2', url: null, health: 'healthy' });
        t += 1000;
        const upd = await store.updateWorker(id, { health: 'draining', seen: true });
        expect(upd).toMatchObject({ health: 'draining', lastSeenAt: t, registeredAt: t - 1000 });
        const unseen = await store.updateWorker(id, { health: 'unhealthy' });
        expect(unseen.lastSeenAt).toBe(t);
        expect((await store.listWorkers({ agent })).length).toBe(2);
        expect((await store.listWorkers({ agent, version: 'v1' })).map((x) => x.id)).toEqual([id]);
        await store.removeWorker(id);
        expect((await store.listWorkers({ agent })).length).toBe(1);
        await expectCode(store.removeWorker(id), 'WORKER_NOT_FOUND');
        await expectCode(store.updateWorker(id, { seen: true }), 'WORKER_NOT_FOUND');
      });
    });

    describe('routes', () => {
      it('returns null for an unknown agent and round-trips a route with a move rule', async () => {
        const agent = u('agent');
        expect(await store.getRoute(agent)).toBeNull();
        const move = {
          from: 'v1',
          to: 'v2',
          percent: 25,
          policy: 'max-age' as const,
          maxAgeMs: 60000,
          deadlinePassed: false,
        };
        const r = await store.setRoute({
          agent,
          stable: 'v1',
          candidate: 'v2',
          weight: 12.5,
          move,
          rolloutId: 'r1',
        });
        expect(r).toEqual({
          agent,
          stable: 'v1',
          candidate: 'v2',
          weight: 12.5,
          move,
          rolloutId: 'r1',
          updatedAt: t,
        });
        expect(await store.getRoute(agent)).toEqual(r);
        t += 5;
        const r2 = await store.setRoute({
          agent,
          stable: 'v2',
          candidate: null,
          weight: 0,
          move: null,
          rolloutId: null,
        });
        expect(await store.getRoute(agent)).toEqual(r2);
        expect(r2.updatedAt).toBe(t);
      });
    });

    describe('sessions', () => {
      it('creates with defaults and reads back the persisted shape', async () => {
        const agent = u('agent');
        const s = await store.createSession({
          agent,
          version: 'v1',
          tenant: 'acme',
          tokenHash: 'h',
          metadata: { a: 1, nested: { b: [true] } },
        });
        expect(s.id).toMatch(/^s_/);
        expect(s).toEqual({
          id: s.id,
          agent,
          tenant: 'acme',
          version: 'v1',
          status: 'idle',
          seq: 0,
          tokenHash: 'h',
          leaseOwner: null,
          leaseExpiresAt: null,
          reason: null,
          createdAt: t,
          updatedAt: t,
          metadata: { a: 1, nested: { b: [true] } },
        });
        expect(await store.getSession(s.id)).toEqual(s);
        const given = await store.createSession({
          id: u('s'),
          agent,
          version: 'v1',
          tokenHash: 'h',
          status: 'waiting',
        });
        expect(given.status).toBe('waiting');
        expect(given.tenant).toBeNull();
        await expectCode(
          store.createSession({ id: given.id, agent, version: 'v2', tokenHash: 'x' }),
          'CONFLICT',
        );
        expect(await store.getSession(given.id)).toEqual(given);
      });

      it('SESSION_NOT_FOUND for unknown ids', async () => {
        const id = u('missing');
        await expectCode(store.getSession(id), 'SESSION_NOT_FOUND');
        await expectCode(store.updateSession(id, {}, { status: 'idle' }), 'SESSION_NOT_FOUND');
        await expectCode(store.quarantineSession(id, 'x'), 'SESSION_NOT_FOUND');
        await expectCode(store.acquireLease(id, 'o', 1000), 'SESSION_NOT_FOUND');
        await expectCode(store.getLatestCheckpoint(id), 'SESSION_NOT_FOUND');
        await expectCode(store.getCheckpoint(id, 1), 'SESSION_NOT_FOUND');
        await expectCode(store.listCheckpoints(id), 'SESSION_NOT_FOUND');
        await expectCode(store.compactCheckpoints(id, 1), 'SESSION_NOT_FOUND');
      });

      it('lists by agent/version/status with keyset paging and counts by version and status', async () => {
        const agent = u('agent');
        const made: SessionRecord[] = [];
        for (let i = 0; i < 7; i++) {
          t += 1;
          made.push(
            await store.createSession({
              agent,
              version: i < 4 ? 'v1' : 'v2',
              tokenHash: 'h',
              status: i % 2 === 0 ? 'idle' : 'waiting',
            }),
          );
        }
        await newSession(u('other-agent'));
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page = await store.listSessions({ agent, limit: 3, cursor });
          seen.push(...page.items.map((s) => s.id));
          cursor = page.nextCursor;
          pages++;
        } while (cursor);
        expect(pages).toBe(3);
        expect(seen).toEqual(made.map((s) => s.id).sort());
        const v2 = await store.listSessions({ agent, version: 'v2' });
        expect(v2.items.map((s) => s.id).sort()).toEqual(
          made
            .slice(4)
            .map((s) => s.id)
            .sort(),
        );
        expect(v2.nextCursor).toBeNull();
        const waiting = await store.listSessions({ agent, status: 'waiting' });
        expect(waiting.items.length).toBe(3);
        const both = await store.listSessions({ agent, status: ['waiting', 'idle'] });
        expect(both.items.length).toBe(7);
        expect((await store.listSessions({ agent, status: [] })).items).toEqual([]);
        const counts = await store.countSessions({ agent });
        expect(counts.v1).toMatchObject({ idle: 2, waiting: 2, running: 0, quarantined: 0 });
        expect(counts.v2).toMatchObject({ idle: 2, waiting: 1 });
        expect(Object.keys(counts).sort()).toEqual(['v1', 'v2']);
        expect(Object.keys(counts.v1!).length).toBe(7);
        expect(await store.countSessions({ agent, version: 'v2' })).toEqual({ v2: counts.v2 });
      });

      it('updateSession compares and sets; a failed expectation is CONFLICT with details and changes nothing', async () => {
        const s = await newSession();
        t += 7;
        const u1 = await store.updateSession(
          s.id,
          { status: 'idle', version: 'v1', seq: 0 },
          { status: 'migrating' },
        );
        expect(u1).toMatchObject({ status: 'migrating', version: 'v1', updatedAt: t });
        const before = await store.getSession(s.id);
        const e = await expectCode(
          store.updateSession(s.id, { status: ['idle', 'running'] }, { status: 'idle' }),
          'CONFLICT',
        );
        expect(e.details).toMatchObject({
          sessionId: s.id,
          actual: { status: 'migrating', version: 'v1', seq: 0 },
        });
        await expectCode(store.updateSession(s.id, { version: 'v9' }, { version: 'v2' }), 'CONFLICT');
        await expectCode(store.updateSession(s.id, { seq: 3 }, { version: 'v2' }), 'CONFLICT');
        expect(await store.getSession(s.id)).toEqual(before);
        const u2 = await store.updateSession(
          s.id,
          { status: 'migrating' },
          { version: 'v2', status: 'idle', reason: 'moved' },
        );
        expect(u2).toMatchObject({ version: 'v2', status: 'idle', reason: 'moved' });
        const u3 = await store.updateSession(s.id, {}, { reason: null });
        expect(u3.reason).toBeNull();
        const q = await store.quarantineSession(s.id, 'corrupt checkpoint');
        expect(q).toMatchObject({ status: 'quarantined', reason: 'corrupt checkpoint' });
      });
    });

    describe('leases', () => {
      it('a live lease blocks others with SESSION_BUSY and retryAfterMs; the owner refreshes; expiry allows takeover', async () => {
        const s = await newSession();
        const a = await store.acquireLease(s.id, 'router-a', 30_000);
        expect(a).toEqual({ sessionId: s.id, owner: 'router-a', expiresAt: t + 30_000 });
        expect(await store.getSession(s.id)).toMatchObject({
          leaseOwner: 'router-a',
          leaseExpiresAt: t + 30_000,
          status: 'idle',
        });
        t += 10_000;
        const e = await expectCode(store.acquireLease(s.id, 'router-b', 30_000), 'SESSION_BUSY');
        expect(e.details).toMatchObject({ sessionId: s.id, retryAfterMs: 20_000 });
        expect((e as unknown as { retryAfterMs: number }).retryAfterMs).toBe(20_000);
        expect((await store.getSession(s.id)).leaseOwner).toBe('router-a');
        const refreshed = await store.acquireLease(s.id, 'router-a', 30_000);
        expect(refreshed.expiresAt).toBe(t + 30_000);
        t += 30_000;
        const b = await store.acquireLease(s.id, 'router-b', 5_000);
        expect(b.owner).toBe('router-b');
        await expectCode(store.renewLease(a, 10_000), 'LEASE_LOST');
        await store.releaseLease(a); // not ours any more: no effect
        expect((await store.getSession(s.id)).leaseOwner).toBe('router-b');
        t += 1000;
        const renewed = await store.renewLease(b, 10_000);
        expect(renewed.expiresAt).toBe(t + 10_000);
        await store.releaseLease(b);
        expect(await store.getSession(s.id)).toMatchObject({ leaseOwner: null, leaseExpiresAt: null });
        await expectCode(store.acquireLease(s.id, 'router-c', 0), 'VALIDATION');
        await expectCode(store.acquireLease(s.id, 'router-c', Number.NaN), 'VALIDATION');
        expect(await store.getSession(s.id)).toMatchObject({ leaseOwner: null, leaseExpiresAt: null });
        await store.acquireLease(s.id, 'router-c', 1000);
        await expectCode(
          store.renewLease({ sessionId: u('missing'), owner: 'x', expiresAt: 0 }, 10),
          'SESSION_NOT_FOUND',
        );
      });

      it('beginTurn: stored result, lease, session and latest checkpoint in one call', async () => {
        if (!store.beginTurn) return;
        const s = await newSession();
        // no checkpoint yet: the lease is taken, the session read under it
        const first = await store.beginTurn(s.id, 'k1', 'router-a', 30_000);
        expect(first.kind).toBe('started');
        if (first.kind !== 'started') return;
        expect(first.lease).toEqual({ sessionId: s.id, owner: 'router-a', expiresAt: t + 30_000 });
        expect(first.session).toMatchObject({ id: s.id, seq: 0, leaseOwner: 'router-a' });
        expect(first.checkpoint).toBeNull();
        expect(first.checkpointError).toBeUndefined();
        // busy for another owner, and a refused call changes nothing
        t += 1000;
        const busy = await expectCode(store.beginTurn(s.id, 'k2', 'router-b', 30_000), 'SESSION_BUSY');
        expect(busy.details).toMatchObject({ sessionId: s.id, retryAfterMs: 29_000 });
        expect(await store.getSession(s.id)).toMatchObject({
          leaseOwner: 'router-a',
          leaseExpiresAt: t - 1000 + 30_000,
        });
        await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 0,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: body(1),
          turnResult: { key: 'k1', result: { out: 1 } },
          leaseOwner: 'router-a',
        });
        // a committed key replays its result without taking the lease
        expect(await store.beginTurn(s.id, 'k1', 'router-b', 30_000)).toEqual({
          kind: 'replayed',
          result: { out: 1 },
        });
        expect((await store.getSession(s.id)).leaseOwner).toBeNull();
        const next = await store.beginTurn(s.id, 'k2', 'router-b', 30_000);
        expect(next.kind).toBe('started');
        if (next.kind !== 'started') return;
        expect(next.session).toMatchObject({ seq: 1, leaseOwner: 'router-b' });
        expect(next.checkpoint).toMatchObject({ seq: 1, schemaVersion: 1, writtenBy: 'v1', body: body(1) });
        await store.releaseLease(next.lease);
        // a corrupt latest checkpoint is reported with the lease held, never returned as data
        await h.rawExec(
          `UPDATE checkpoints SET body = '{"state":"tampered"}' WHERE session_id = '${s.id}' AND seq = 1`,
        );
        const bad = await store.beginTurn(s.id, 'k3', 'router-c', 30_000);
        expect(bad.kind).toBe('started');
        if (bad.kind !== 'started') return;
        expect(bad.checkpoint).toBeNull();
        expect(bad.checkpointError?.code).toBe('CHECKPOINT_CORRUPT');
        expect((await store.getSession(s.id)).leaseOwner).toBe('router-c');
        await store.quarantineSession(s.id, 'corrupt');
        await store.releaseLease(bad.lease);
        // a terminal session: closed, no lease taken
        const closed = await store.beginTurn(s.id, 'k4', 'router-d', 30_000);
        expect(closed).toMatchObject({ kind: 'closed', session: { id: s.id, status: 'quarantined' } });
        expect((await store.getSession(s.id)).leaseOwner).toBeNull();
        await expectCode(store.beginTurn(u('missing'), 'k', 'o', 1000), 'SESSION_NOT_FOUND');
        await expectCode(store.beginTurn(s.id, 'k', 'o', 0), 'VALIDATION');
      });

      it('beginTurns answers or refuses each item on its own, in one transaction', async () => {
        if (!store.beginTurns) return;
        const free = await newSession();
        const busy = await newSession();
        const done = await newSession();
        await store.acquireLease(busy.id, 'other', 30_000);
        await store.appendCheckpoint({
          sessionId: done.id,
          expectedSeq: 0,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: body(1),
          turnResult: { key: 'k', result: 'stored' },
        });
        const missing = u('missing');
        const rs = await store.beginTurns([
          { sessionId: free.id, key: 'k', owner: 'r1', ttlMs: 30_000 },
          { sessionId: busy.id, key: 'k', owner: 'r2', ttlMs: 30_000 },
          { sessionId: done.id, key: 'k', owner: 'r3', ttlMs: 30_000 },
          { sessionId: missing, key: 'k', owner: 'r4', ttlMs: 30_000 },
          { sessionId: free.id, key: 'k2', owner: 'r5', ttlMs: 30_000 }, // the first item holds it now
          { sessionId: done.id, key: 'k2', owner: 'r6', ttlMs: 0 },
          { sessionId: done.id, key: 'k3', owner: 'r7', ttlMs: 30_000 },
        ]);
        expect(rs.map((r) => (r.kind === 'error' ? r.error.code : r.kind))).toEqual([
          'started',
          'SESSION_BUSY',
          'replayed',
          'SESSION_NOT_FOUND',
          'SESSION_BUSY',
          'VALIDATION',
          'started',
        ]);
        expect(rs[2]).toEqual({ kind: 'replayed', result: 'stored' });
        expect(rs[6]).toMatchObject({ kind: 'started', checkpoint: { seq: 1, body: body(1) } });
        expect((await store.getSession(free.id)).leaseOwner).toBe('r1');
        expect((await store.getSession(busy.id)).leaseOwner).toBe('other');
        expect((await store.getSession(done.id)).leaseOwner).toBe('r7');
        expect(await store.beginTurns([])).toEqual([]);
      });

      it('two handles racing for one lease: exactly one wins', async () => {
        const other = await h.open({ now });
        try {
          for (let i = 0; i < 5; i++) {
            const s = await newSession();
            const results = await Promise.allSettled([
              store.acquireLease(s.id, 'A', 30_000),
              other.acquireLease(s.id, 'B', 30_000),
            ]);
            const ok = results.filter((r) => r.status === 'fulfilled');
            const busy = results.filter(
              (r) => r.status === 'rejected' && (r.reason as BatonError).code === 'SESSION_BUSY',
            );
            expect(ok.length).toBe(1);
            expect(busy.length).toBe(1);
            const winner = (ok[0] as PromiseFulfilledResult<{ owner: string }>).value.owner;
            expect((await store.getSession(s.id)).leaseOwner).toBe(winner);
          }
        } finally {
          await other.close();
        }
      });
    });

    describe('checkpoints', () => {
      it('appends a gap-free chain and reads latest, by seq and history (hash over the stored bytes)', async () => {
        const s = await newSession();
        expect(await store.getLatestCheckpoint(s.id)).toBeNull();
        const metas = [];
        for (let i = 0; i < 3; i++) {
          t += 100;
          metas.push(await appendV1(s.id, i, i));
        }
        expect(metas.map((m) => m.seq)).toEqual([1, 2, 3]);
        const text = JSON.stringify(body(2));
        expect(metas[2]).toEqual({
          sessionId: s.id,
          seq: 3,
          schemaVersion: 1,
          writtenBy: 'v1',
          hash: sha256Hex(text),
          size: Buffer.byteLength(text),
          createdAt: t,
        });
        const latest = await store.getLatestCheckpoint(s.id);
        expect(latest).toEqual({ ...metas[2], body: body(2) });
        expect((await store.getCheckpoint(s.id, 1)).body).toEqual(body(0));
        await expectCode(store.getCheckpoint(s.id, 4), 'CHECKPOINT_NOT_FOUND');
        expect(await store.listCheckpoints(s.id)).toEqual([...metas].reverse());
        expect((await store.listCheckpoints(s.id, { beforeSeq: 3, limit: 1 })).map((m) => m.seq)).toEqual([
          2,
        ]);
        expect((await store.getSession(s.id)).seq).toBe(3);
        const stored = await h.rawQuery(
          `SELECT hash, body FROM checkpoints WHERE session_id = '${s.id}' AND seq = 3`,
        );
        expect(sha256Hex(String(stored[0]!.body))).toBe(stored[0]!.hash);
      });

      it('round-trips 1 KB and 5 MB checkpoints', async () => {
        const s = await newSession();
        const small = sizedBody(1024, 1);
        const big = sizedBody(5 * 1024 * 1024, 2);
        const m1 = await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 0,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: small,
        });
        expect(m1.size).toBeGreaterThan(1024);
        expect((await store.getLatestCheckpoint(s.id))!.body).toEqual(small);
        const m2 = await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 1,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: big,
        });
        expect(m2.size).toBeGreaterThan(5 * 1024 * 1024);
        const got = await store.getLatestCheckpoint(s.id);
        expect(got!.hash).toBe(sha256Hex(JSON.stringify(big)));
        expect(got!.body).toEqual(big);
      });

      it('rejects bad appends with typed errors and changes nothing', async () => {
        const limited = await h.open({ now, maxCheckpointBytes: 4096 });
        try {
          const s = await newSession();
          await appendV1(s.id, 0, 0);
          await store.putStep(s.id, 'turn-x', 0, 'step', { ok: 1 });
          const before = await snapshot(store, s.id);
          const everything = {
            sessionId: s.id,
            schemaVersion: 2,
            writtenBy: 'v2',
            session: { status: 'waiting' as const, version: 'v2' },
            waits: [{ token: u('tok'), name: 'cb', deadline: t + 1000, schema: null, createdAt: t }],
            migration: v1ToV2(),
            turnResult: { key: 'key-x', result: { out: 1 } },
            telemetry: telemetry(s.id, s.agent, 'v2', t),
          };
          t += 50;
          // stale sequence
          const stale = await expectCode(
            store.appendCheckpoint({ ...everything, expectedSeq: 0, body: body(9) }),
            'SEQUENCE_CONFLICT',
          );
          expect(stale.details).toMatchObject({ sessionId: s.id, expectedSeq: 0, actualSeq: 1 });
          expect(await snapshot(store, s.id)).toEqual(before);
          // oversize body
          const big = await expectCode(
            limited.appendCheckpoint({ ...everything, expectedSeq: 1, body: sizedBody(8000) }),
            'CHECKPOINT_TOO_LARGE',
          );
          expect(big.status).toBe(413);
          expect(big.details).toMatchObject({ limit: 4096 });
          expect(await snapshot(store, s.id)).toEqual(before);
          // lease not held
          await expectCode(
            store.appendCheckpoint({ ...everything, expectedSeq: 1, body: body(9), leaseOwner: 'nobody' }),
            'LEASE_LOST',
          );
          expect(await snapshot(store, s.id)).toEqual(before);
          // unknown session
          const missing = u('missing');
          await expectCode(
            store.appendCheckpoint({ ...everything, sessionId: missing, expectedSeq: 0, body: body(9) }),
            'SESSION_NOT_FOUND',
          );
          await expectCode(store.getSession(missing), 'SESSION_NOT_FOUND');
          expect(await snapshot(store, s.id)).toEqual(before);
        } finally {
          await limited.close();
        }
      });

      it('enforces the default 8 MiB limit', async () => {
        const s = await newSession();
        await expectCode(
          store.appendCheckpoint({
            sessionId: s.id,
            expectedSeq: 0,
            schemaVersion: 1,
            writtenBy: 'v1',
            body: sizedBody(8 * 1024 * 1024 + 10),
          }),
          'CHECKPOINT_TOO_LARGE',
        );
        expect((await store.getSession(s.id)).seq).toBe(0);
        expect(await store.listCheckpoints(s.id)).toEqual([]);
      });

      it('applies everything of a turn commit in one transaction', async () => {
        const agent = u('agent');
        const s = await newSession(agent);
        const w1: Wait = {
          token: u('w1'),
          name: 'approval',
          deadline: t + 60_000,
          schema: { type: 'object' },
          createdAt: t,
        };
        const w2: Wait = {
          token: u('w2'),
          name: 'payment',
          deadline: t + 120_000,
          schema: null,
          createdAt: t,
        };
        const lease = await store.acquireLease(s.id, 'router', 30_000);
        await store.putStep(s.id, 'turn-1', 0, 'fetch', { rows: 2 });
        t += 10;
        const m1 = await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 0,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: body(1, { waits: [w1, w2] }),
          session: { status: 'waiting' },
          waits: [w1, w2],
          turnResult: { key: 'idem-1', result: { output: 'hi', seq: 1 } },
          leaseOwner: lease.owner,
          telemetry: telemetry(s.id, agent, 'v1', t),
        });
        expect(m1.seq).toBe(1);
        const after1 = await store.getSession(s.id);
        expect(after1).toMatchObject({
          seq: 1,
          status: 'waiting',
          leaseOwner: null,
          leaseExpiresAt: null,
          updatedAt: t,
        });
        expect(await store.listSteps(s.id, 'turn-1')).toEqual([]);
        expect(await store.getTurnResult(s.id, 'idem-1')).toEqual({ output: 'hi', seq: 1 });
        expect(
          (await store.listWaits({ sessionId: s.id, status: 'pending' })).map((w) => w.token).sort(),
        ).toEqual([w1.token, w2.token].sort());
        expect(await store.getWait(w1.token)).toEqual({ ...w1, sessionId: s.id, status: 'pending' });
        const tt = await store.listTurnTelemetry({ agent });
        expect(tt).toEqual([{ ...telemetry(s.id, agent, 'v1', t), seq: 1 }]);

        // second turn: resolves w1, keeps w2, adds w3, migrates to v2 and records it
        const w3: Wait = { token: u('w3'), name: 'later', deadline: t + 5, schema: null, createdAt: t };
        t += 10;
        const m2 = await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 1,
          schemaVersion: 2,
          writtenBy: 'v2',
          body: body(2),
          session: { status: 'idle', version: 'v2' },
          resolvedWaits: [w1.token],
          waits: [w2, w3],
          migration: v1ToV2({ contextPolicy: 'rebuild', rolloutId: 'r-1' }),
          telemetry: telemetry(s.id, agent, 'v2', t, { error: 'boom', signals: [] }),
        });
        expect(m2).toMatchObject({ seq: 2, schemaVersion: 2, writtenBy: 'v2' });
        expect(await store.getSession(s.id)).toMatchObject({ seq: 2, status: 'idle', version: 'v2' });
        expect((await store.getWait(w1.token)).status).toBe('resolved');
        expect(
          (await store.listWaits({ sessionId: s.id, status: 'pending' })).map((w) => w.token).sort(),
        ).toEqual([w2.token, w3.token].sort());
        expect(await store.listMigrations({ sessionId: s.id })).toEqual([
          {
            sessionId: s.id,
            seq: 2,
            fromVersion: 'v1',
            toVersion: 'v2',
            fromSchema: 1,
            toSchema: 2,
            contextPolicy: 'rebuild',
            rolloutId: 'r-1',
            status: 'ok',
            error: null,
            at: t,
          },
        ]);
        expect(
          (await store.listMigrations({ rolloutId: 'r-1', status: 'ok' })).length,
        ).toBeGreaterThanOrEqual(1);
        // waits: dueBefore finds pending waits past their deadline
        t += 100;
        const due = await store.listWaits({ sessionId: s.id, dueBefore: t });
        expect(due.map((w) => w.token)).toEqual([w3.token]);
        // third turn replaces waits with none: pending ones are dropped, resolved ones stay
        await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 2,
          schemaVersion: 2,
          writtenBy: 'v2',
          body: body(3),
          waits: [],
        });
        expect(await store.listWaits({ sessionId: s.id, status: 'pending' })).toEqual([]);
        expect((await store.getWait(w1.token)).status).toBe('resolved');
        await expectCode(store.getWait(w3.token), 'WAIT_NOT_FOUND');
        // aggregates per (session, version)
        const aggs = await store.listSessionAggregates({ agent });
        expect(aggs.map((a) => a.version).sort()).toEqual(['v1', 'v2']);
        const v1 = aggs.find((a) => a.version === 'v1')!;
        expect(v1).toMatchObject({
          sessionId: s.id,
          agent,
          sessionStartedAt: s.createdAt,
          turns: 1,
          errors: 0,
          toolCalls: 3,
          toolMix: { search: 2, email: 1 },
          metrics: { 'eval.resolution': { sum: 0.5, count: 1 } },
          signals: { clarification: 1 },
          completed: false,
        });
        expect(aggs.find((a) => a.version === 'v2')).toMatchObject({ turns: 1, errors: 1, signals: {} });
      });

      it('an appended lease owner may commit after expiry if nobody took the lease', async () => {
        const s = await newSession();
        const lease = await store.acquireLease(s.id, 'slow', 1000);
        t += 5000;
        await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 0,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: body(1),
          leaseOwner: lease.owner,
        });
        expect((await store.getSession(s.id)).leaseOwner).toBeNull();
        // but not once another owner has taken it
        const l2 = await store.acquireLease(s.id, 'slow', 1000);
        t += 5000;
        await store.acquireLease(s.id, 'fast', 1000);
        const e = await expectCode(
          store.appendCheckpoint({
            sessionId: s.id,
            expectedSeq: 1,
            schemaVersion: 1,
            writtenBy: 'v1',
            body: body(2),
            leaseOwner: l2.owner,
          }),
          'LEASE_LOST',
        );
        expect(e.details).toMatchObject({ sessionId: s.id, holder: 'fast' });
        expect((await store.getSession(s.id)).seq).toBe(1);
      });

      it('two handles racing for the same seq: exactly one wins, the other gets SEQUENCE_CONFLICT', async () => {
        const other = await h.open({ now });
        try {
          for (let i = 0; i < 5; i++) {
            const s = await newSession();
            await appendV1(s.id, 0, 0);
            const results = await Promise.allSettled([
              store.appendCheckpoint({
                sessionId: s.id,
                expectedSeq: 1,
                schemaVersion: 1,
                writtenBy: 'A',
                body: body(1),
              }),
              other.appendCheckpoint({
                sessionId: s.id,
                expectedSeq: 1,
                schemaVersion: 1,
                writtenBy: 'B',
                body: body(2),
              }),
            ]);
            const ok = results.filter((r) => r.status === 'fulfilled');
            const conflicts = results.filter(
              (r) => r.status === 'rejected' && (r.reason as BatonError).code === 'SEQUENCE_CONFLICT',
            );
            expect(ok.length).toBe(1);
            expect(conflicts.length).toBe(1);
            const winner = (ok[0] as PromiseFulfilledResult<{ writtenBy: string }>).value.writtenBy;
            const latest = await other.getLatestCheckpoint(s.id);
            expect(latest).toMatchObject({ seq: 2, writtenBy: winner });
            expect((await store.listCheckpoints(s.id)).map((c) => c.seq)).toEqual([2, 1]);
          }
        } finally {
          await other.close();
        }
      });

      it('two processes racing for the same lease and seq: exactly one of each wins', async () => {
        const s = await newSession();
        await appendV1(s.id, 0, 0);
        const startAt = Date.now() + 2500;
        const run = (owner: string) =>
          new Promise<{ lease: string; append: string }>((resolve, reject) => {
            const child = spawnChild('race-child.ts', s.id, '1', owner, String(startAt));
            let out = '';
            let err = '';
            child.stdout.on('data', (d: Buffer) => (out += d.toString()));
            child.stderr.on('data', (d: Buffer) => (err += d.toString()));
            child.on('exit', (code) => {
              if (code === 0) resolve(JSON.parse(out.trim()) as { lease: string; append: string });
              else reject(new Error(`race child ${owner} exited with ${code}: ${err}`));
            });
          });
        const [a, b] = await Promise.all([run('proc-a'), run('proc-b')]);
        expect([a.lease, b.lease].sort()).toEqual(['SESSION_BUSY', 'ok']);
        expect([a.append, b.append].sort()).toEqual(['SEQUENCE_CONFLICT', 'ok']);
        const after = await store.getSession(s.id);
        expect(after.seq).toBe(2);
        expect(after.leaseOwner).toBe(a.lease === 'ok' ? 'proc-a' : 'proc-b');
        const latest = await store.getLatestCheckpoint(s.id);
        expect(latest!.writtenBy).toBe(a.append === 'ok' ? 'proc-a' : 'proc-b');
        expect((await store.listCheckpoints(s.id)).map((c) => c.seq)).toEqual([2, 1]);
      });

      it('detects a body corrupted in the database; the caller can quarantine; nothing else changes', async () => {
        const s = await newSession();
        await appendV1(s.id, 0, 1);
        const m2 = await appendV1(s.id, 1, 2);
        await h.rawExec(
          `UPDATE checkpoints SET body = '{"state":"tampered"}' WHERE session_id = '${s.id}' AND seq = 2`,
        );
        const e = await expectCode(store.getLatestCheckpoint(s.id), 'CHECKPOINT_CORRUPT');
        expect(e.details).toMatchObject({
          sessionId: s.id,
          seq: 2,
          expectedHash: m2.hash,
          actualHash: sha256Hex('{"state":"tampered"}'),
        });
        await expectCode(store.getCheckpoint(s.id, 2), 'CHECKPOINT_CORRUPT');
        expect((await store.getSession(s.id)).status).toBe('idle'); // reads never quarantine on their own
        expect((await store.getCheckpoint(s.id, 1)).body).toEqual(body(1));
        const q = await store.quarantineSession(s.id, 'checkpoint 2 failed its hash check');
        expect(q).toMatchObject({ status: 'quarantined', seq: 2 });
        await expectCode(store.getLatestCheckpoint(s.id), 'CHECKPOINT_CORRUPT');
      });

      it('appendCheckpoints applies or refuses each item on its own, in one transaction', async () => {
        expect(store.appendCheckpoints).toBeTypeOf('function');
        const ok = await newSession();
        const stale = await newSession();
        const busy = await newSession();
        const leased = await newSession();
        for (const s of [stale, busy, leased]) {
          await appendV1(s.id, 0, 1);
        }
        await store.acquireLease(busy.id, 'router', 30_000);
        const expiredLease = await store.acquireLease(leased.id, 'router', 1000);
        t += 2000; // the lease on `leased` has expired: a no-lease batch may move it
        const before = {
          stale: await snapshot(store, stale.id),
          busy: await snapshot(store, busy.id),
        };
        const item = (sessionId: string, expectedSeq: number) => ({
          sessionId,
          expectedSeq,
          schemaVersion: 2,
          writtenBy: 'v2',
          body: body(50 + expectedSeq),
          session: { version: 'v2' },
          migration: v1ToV2(),
          requireNoLease: true,
        });
        const results = await store.appendCheckpoints!([
          item(ok.id, 0),
          item(stale.id, 0),
          item(u('missing'), 0),
          item(busy.id, 1),
          item(leased.id, 1),
        ]);
        expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
          'ok',
          'SEQUENCE_CONFLICT',
          'SESSION_NOT_FOUND',
          'SESSION_BUSY',
          'ok',
        ]);
        expect(results[0]).toMatchObject({ ok: true, meta: { sessionId: ok.id, seq: 1, writtenBy: 'v2' } });
        expect(await store.getSession(ok.id)).toMatchObject({ seq: 1, version: 'v2' });
        expect((await store.getLatestCheckpoint(ok.id))!.body).toEqual(body(50));
        expect((await store.listMigrations({ sessionId: ok.id })).map((m) => m.seq)).toEqual([1]);
        expect(await store.getSession(leased.id)).toMatchObject({
          seq: 2,
          version: 'v2',
          leaseOwner: expiredLease.owner,
        });
        expect(await snapshot(store, stale.id)).toEqual(before.stale);
        expect(await snapshot(store, busy.id)).toEqual(before.busy);
        expect(await store.appendCheckpoints!([])).toEqual([]);
      });

      it('records failed migrations without touching the session', async () => {
        const s = await newSession();
        await appendV1(s.id, 0, 1);
        const before = await store.getSession(s.id);
        const rollout = u('r');
        await store.recordMigrationFailure({
          sessionId: s.id,
          fromVersion: 'v1',
          toVersion: 'v2',
          fromSchema: 1,
          toSchema: 2,
          contextPolicy: 'carry',
          rolloutId: rollout,
          error: 'state.slots: required',
          at: t,
        });
        expect(await store.listMigrations({ rolloutId: rollout, status: 'failed' })).toEqual([
          {
            sessionId: s.id,
            seq: 0,
            fromVersion: 'v1',
            toVersion: 'v2',
            fromSchema: 1,
            toSchema: 2,
            contextPolicy: 'carry',
            rolloutId: rollout,
            status: 'failed',
            error: 'state.slots: required',
            at: t,
          },
        ]);
        expect(await store.listMigrations({ rolloutId: rollout, status: 'ok' })).toEqual([]);
        expect(await store.getSession(s.id)).toEqual(before);
      });

      it('compaction keeps the last K without holes', async () => {
        const s = await newSession();
        for (let i = 0; i < 6; i++) {
          await appendV1(s.id, i, i);
        }
        expect(await store.compactCheckpoints(s.id, 3)).toBe(3);
        expect((await store.listCheckpoints(s.id)).map((c) => c.seq)).toEqual([6, 5, 4]);
        expect(await store.compactCheckpoints(s.id, 3)).toBe(0);
        await expectCode(store.getCheckpoint(s.id, 3), 'CHECKPOINT_NOT_FOUND');
        await appendV1(s.id, 6, 7);
        expect(await store.compactCheckpoints(s.id, 1)).toBe(3);
        expect((await store.listCheckpoints(s.id)).map((c) => c.seq)).toEqual([7]);
        expect((await store.getLatestCheckpoint(s.id))!.body).toEqual(body(7));
        await expectCode(store.compactCheckpoints(s.id, 0), 'VALIDATION');
        expect((await store.listCheckpoints(s.id)).length).toBe(1);
      });

      it('an append interrupted by a killed process leaves the previous checkpoint intact', async () => {
        const s = await newSession();
        const m1 = await appendV1(s.id, 0, 1);
        const child = spawnChild('crash-child.ts', s.id, '1');
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const exited = new Promise<number | null>((resolve) =>
          child.on('exit', (code, signal) => resolve(signal ? null : code)),
        );
        await new Promise<void>((resolve, reject) => {
          let out = '';
          const timer = setTimeout(() => reject(new Error(`child never got ready: ${err}`)), 30_000);
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('ready')) {
              clearTimeout(timer);
              resolve();
            }
          });
          child.on('exit', () => {
            clearTimeout(timer);
            reject(new Error(`child exited early: ${err}`));
          });
        });
        // the child sits inside its write transaction; readers still see the committed state
        expect((await store.getLatestCheckpoint(s.id))!.seq).toBe(1);
        child.kill('SIGKILL');
        expect(await exited).toBeNull();
        const fresh = await h.open({ now });
        try {
          const latest = await fresh.getLatestCheckpoint(s.id);
          expect(latest).toEqual({ ...m1, body: body(1) });
          expect((await fresh.getSession(s.id)).seq).toBe(1);
          expect((await fresh.listCheckpoints(s.id)).map((c) => c.seq)).toEqual([1]);
          expect(await fresh.getTurnResult(s.id, 'crash-key')).toBeUndefined();
          // and the store is writable again
          const m2 = await appendV1(s.id, 1, 2, fresh);
          expect(m2.seq).toBe(2);
        } finally {
          await fresh.close();
        }
      });
    });

    describe('step journal and turn results', () => {
      it('puts, overwrites and lists steps by turn', async () => {
        const s = await newSession();
        await store.putStep(s.id, 'turn-1', 1, 'second', { b: 2 });
        await store.putStep(s.id, 'turn-1', 0, 'first', { a: 1 });
        await store.putStep(s.id, 'turn-2', 0, 'other', null);
        await store.putStep(s.id, 'turn-1', 1, 'second', { b: 3 });
        expect(await store.listSteps(s.id, 'turn-1')).toEqual([
          { index: 0, name: 'first', result: { a: 1 } },
          { index: 1, name: 'second', result: { b: 3 } },
        ]);
        expect(await store.listSteps(s.id, 'turn-2')).toEqual([{ index: 0, name: 'other', result: null }]);
      });

      it('stores one turn result per (session, key); the first wins', async () => {
        const s = await newSession();
        expect(await store.getTurnResult(s.id, 'k')).toBeUndefined();
        await store.putTurnResult(s.id, 'k', { output: 'first' });
        await store.putTurnResult(s.id, 'k', { output: 'second' });
        expect(await store.getTurnResult(s.id, 'k')).toEqual({ output: 'first' });
        await store.putTurnResult(s.id, 'str', 'plain');
        expect(await store.getTurnResult(s.id, 'str')).toBe('plain');
        const s2 = await newSession();
        expect(await store.getTurnResult(s2.id, 'k')).toBeUndefined();
      });
    });

    describe('effects ledger', () => {
      const intent = (
        key: string,
        sessionId: string,
        agent: string,
        version = 'v1',
        rolloutId: string | null = null,
      ) => ({
        idempotencyKey: key,
        sessionId,
        agent,
        version,
        rolloutId,
        turnId: 'turn-1',
        name: 'send_email',
        args: { to: 'a@example.com' },
        compensation: 'send_apology',
      });

      it('records an intent once per key and walks intent → committed → compensated idempotently', async () => {
        const agent = u('agent');
        const s = await newSession(agent);
        const key = u('eff');
        const first = await store.recordEffectIntent(intent(key, s.id, agent));
        expect(first.existing).toBe(false);
        expect(first.effect).toMatchObject({
          idempotencyKey: key,
          status: 'intent',
          args: { to: 'a@example.com' },
          result: null,
          error: null,
          compensation: 'send_apology',
          compensationResult: null,
          rolloutId: null,
          createdAt: t,
        });
        const dup = await store.recordEffectIntent({ ...intent(key, s.id, agent), args: { to: 'other' } });
        expect(dup).toEqual({ effect: first.effect, existing: true });
        expect((await store.listEffects({ sessionId: s.id })).items.length).toBe(1);
        t += 5;
        const c = await store.commitEffect(key, { messageId: 'm1' });
        expect(c).toMatchObject({ status: 'committed', result: { messageId: 'm1' }, updatedAt: t });
        expect(await store.commitEffect(key, { messageId: 'm2' })).toEqual(c);
        await expectCode(store.failEffect(key, 'late failure'), 'CONFLICT');
        expect(await store.getEffect(key)).toEqual(c);
        const comp = await store.compensateEffect(key, { apologized: true });
        expect(comp).toMatchObject({
          status: 'compensated',
          result: { messageId: 'm1' },
          compensationResult: { apologized: true },
        });
        expect(await store.compensateEffect(key, { again: true })).toEqual(comp);
        const again = await store.recordEffectIntent(intent(key, s.id, agent));
        expect(again).toEqual({ effect: comp, existing: true });
      });

      it('two handles recording the same intent at once: one record, exactly one is new', async () => {
        const other = await h.open({ now });
        try {
          const agent = u('agent');
          const s = await newSession(agent);
          for (let i = 0; i < 5; i++) {
            const key = u('race');
            const [a, b] = await Promise.all([
              store.recordEffectIntent(intent(key, s.id, agent)),
              other.recordEffectIntent(intent(key, s.id, agent)),
            ]);
            expect([a.existing, b.existing].sort()).toEqual([false, true]);
            expect(a.effect.id).toBe(b.effect.id);
          }
          expect((await store.listEffects({ sessionId: s.id })).items.length).toBe(5);
        } finally {
          await other.close();
        }
      });

      it('fail and the state checks; EFFECT_NOT_FOUND', async () => {
        const agent = u('agent');
        const s = await newSession(agent);
        const key = u('eff');
        await store.recordEffectIntent(intent(key, s.id, agent));
        await expectCode(store.compensateEffect(key, {}), 'CONFLICT');
        const f = await store.failEffect(key, 'smtp down');
        expect(f).toMatchObject({ status: 'failed', error: 'smtp down' });
        expect(await store.failEffect(key, 'smtp down')).toEqual(f);
        const e = await expectCode(store.commitEffect(key, { ok: true }), 'CONFLICT');
        expect(e.details).toMatchObject({ idempotencyKey: key, status: 'failed' });
        expect(await store.getEffect(key)).toEqual(f);
        await expectCode(store.getEffect(u('none')), 'EFFECT_NOT_FOUND');
        await expectCode(store.commitEffect(u('none'), 1), 'EFFECT_NOT_FOUND');
        await expectCode(store.failEffect(u('none'), 'x'), 'EFFECT_NOT_FOUND');
        await expectCode(store.compensateEffect(u('none'), 1), 'EFFECT_NOT_FOUND');
      });

      it('lists by session, agent, version, rollout and status with keyset paging', async () => {
        const agent = u('agent');
        const s1 = await newSession(agent);
        const s2 = await newSession(agent, 'v2');
        const keys: string[] = [];
        for (let i = 0; i < 5; i++) {
          t += 1;
          const k = u('eff');
          keys.push(k);
          await store.recordEffectIntent(
            intent(k, i < 3 ? s1.id : s2.id, agent, i < 3 ? 'v1' : 'v2', i < 3 ? null : 'r-x'),
          );
        }
        await store.commitEffect(keys[0]!, 'ok');
        await store.failEffect(keys[4]!, 'bad');
        const all: string[] = [];
        let cursor: string | null = null;
        do {
          const p: Awaited<ReturnType<Store['listEffects']>> = await store.listEffects({
            agent,
            limit: 2,
            cursor,
          });
          all.push(...p.items.map((e) => e.idempotencyKey));
          cursor = p.nextCursor;
        } while (cursor);
        expect(all).toEqual(keys);
        expect((await store.listEffects({ sessionId: s2.id })).items.map((e) => e.idempotencyKey)).toEqual(
          keys.slice(3),
        );
        expect((await store.listEffects({ agent, version: 'v1' })).items.length).toBe(3);
        expect((await store.listEffects({ rolloutId: 'r-x', agent })).items.length).toBe(2);
        expect((await store.listEffects({ agent, status: 'intent' })).items.length).toBe(3);
        expect(
          (await store.listEffects({ agent, status: ['committed', 'failed'] })).items.map(
            (e) => e.idempotencyKey,
          ),
        ).toEqual([keys[0], keys[4]]);
      });
    });

    describe('rollouts and decisions', () => {
      it('creates, reads, lists and updates with CAS on rev, appending decisions gap-free in the same transaction', async () => {
        const agent = u('agent');
        const spec = { agent, to: 'v2', steps: [{ fill: 5 }] };
        const r = await store.createRollout({
          agent,
          from: 'v1',
          to: 'v2',
          spec,
          phase: 'pending',
          state: { a: 1 },
        });
        expect(r).toEqual({
          id: r.id,
          agent,
          from: 'v1',
          to: 'v2',
          spec,
          phase: 'pending',
          step: 0,
          state: { a: 1 },
          rev: 0,
          createdAt: t,
          updatedAt: t,
        });
        expect(await store.getRollout(r.id)).toEqual(r);
        await expectCode(store.getRollout(u('r')), 'ROLLOUT_NOT_FOUND');
        t += 10;
        const r1 = await store.updateRollout(r.id, 0, { phase: 'progressing', step: 1 }, [
          { kind: 'step', message: 'advanced to step 1', evidence: { weight: 5 } },
          { kind: 'route', message: 'weight 5' },
        ]);
        expect(r1).toMatchObject({ phase: 'progressing', step: 1, state: { a: 1 }, rev: 1, updatedAt: t });
        const d3 = await store.appendDecision(r.id, { kind: 'gate', message: 'pass' });
        expect(d3).toEqual({ rolloutId: r.id, seq: 3, kind: 'gate', message: 'pass', at: t });
        const before = await store.getRollout(r.id);
        const e = await expectCode(
          store.updateRollout(r.id, 0, { phase: 'aborted' }, [{ kind: 'x', message: 'y' }]),
          'CONFLICT',
        );
        expect(e.details).toMatchObject({ rolloutId: r.id, expectedRev: 0, actualRev: 1 });
        expect(await store.getRollout(r.id)).toEqual(before);
        const r2 = await store.updateRollout(r.id, 1, { state: { b: 2 } }, [
          { kind: 'state', message: 'saved' },
        ]);
        expect(r2).toMatchObject({ rev: 2, state: { b: 2 }, phase: 'progressing' });
        const ds = await store.listDecisions(r.id);
        expect(ds.map((d) => d.seq)).toEqual([1, 2, 3, 4]);
        expect(ds[0]).toEqual({
          rolloutId: r.id,
          seq: 1,
          kind: 'step',
          message: 'advanced to step 1',
          evidence: { weight: 5 },
          at: t,
        });
        expect((await store.listDecisions(r.id, { afterSeq: 2, limit: 1 })).map((d) => d.seq)).toEqual([3]);
        await expectCode(store.updateRollout(u('r'), 0, {}), 'ROLLOUT_NOT_FOUND');
        await expectCode(store.appendDecision(u('r'), { kind: 'x', message: 'y' }), 'ROLLOUT_NOT_FOUND');
        const r3 = await store.createRollout({
          agent,
          from: 'v2',
          to: 'v3',
          spec: {},
          phase: 'paused',
          state: null,
        });
        expect((await store.listRollouts({ agent })).map((x) => x.id)).toEqual([r.id, r3.id]);
        expect((await store.listRollouts({ agent, phase: ['paused'] })).map((x) => x.id)).toEqual([r3.id]);
        expect((await store.listRollouts()).some((x) => x.id === r.id)).toBe(true);
      });

      it('concurrent decision appends from two handles stay gap-free', async () => {
        const other = await h.open({ now });
        try {
          const r = await store.createRollout({
            agent: u('agent'),
            from: 'v1',
            to: 'v2',
            spec: {},
            phase: 'progressing',
            state: null,
          });
          await Promise.all(
            Array.from({ length: 10 }, (_, i) =>
              (i % 2 ? store : other).appendDecision(r.id, { kind: 'k', message: `m${i}` }),
            ),
          );
          expect((await store.listDecisions(r.id)).map((d) => d.seq)).toEqual([
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
          ]);
        } finally {
          await other.close();
        }
      });
    });

    describe('telemetry', () => {
      it('records turns and merges per-(session, version) aggregates; filters by version and start window', async () => {
        const agent = u('agent');
        const start = t;
        const s1 = await newSession(agent);
        t += 1000;
        const s2 = await newSession(agent, 'v2');
        await store.recordTurnTelemetry({ ...telemetry(s1.id, agent, 'v1', t), seq: 1 });
        t += 10;
        await store.recordTurnTelemetry({
          ...telemetry(s1.id, agent, 'v1', t, {
            toolCalls: { search: 1, crm: 4 },
            latencyMs: 300,
            contextUtilization: 0.9,
          }),
          seq: 2,
          metrics: { 'eval.resolution': 1, latency: 2 },
        });
        await store.recordTurnTelemetry({ ...telemetry(s2.id, agent, 'v2', t), seq: 1 });
        await store.recordSessionMetrics(s1.id, 'v1', {
          metrics: { 'eval.resolution': 0.25 },
          signals: { thumbs_down: 1 },
        });
        await store.recordSessionMetrics(s1.id, 'v1', { signals: { thumbs_down: 2, escalation: 1 } });
        await store.markSessionCompleted(s1.id);
        const a1 = (await store.listSessionAggregates({ agent, version: 'v1' }))[0]!;
        expect(a1).toEqual({
          sessionId: s1.id,
          agent,
          version: 'v1',
          sessionStartedAt: s1.createdAt,
          firstAt: t - 10,
          lastAt: t,
          turns: 2,
          errors: 0,
          toolCalls: 8,
          toolMix: { search: 3, email: 1, crm: 4 },
          reasoningSteps: 6,
          tokensIn: 100,
          tokensOut: 40,
          latencyMsSum: 400,
          latencyMsMax: 300,
          contextUtilizationMax: 0.9,
          metrics: { 'eval.resolution': { sum: 1.75, count: 3 }, latency: { sum: 2, count: 1 } },
          signals: { clarification: 2, thumbs_down: 3, escalation: 1 },
          completed: true,
        });
        expect((await store.listSessionAggregates({ agent })).length).toBe(2);
        expect(
          (await store.listSessionAggregates({ agent, startedFrom: start + 1 })).map((a) => a.sessionId),
        ).toEqual([s2.id]);
        expect(
          (await store.listSessionAggregates({ agent, startedTo: start + 1 })).map((a) => a.sessionId),
        ).toEqual([s1.id]);
        expect((await store.listSessionAggregates({ agent, limit: 1 })).length).toBe(1);
        const turns = await store.listTurnTelemetry({ agent, version: 'v1' });
        expect(turns.map((x) => x.seq)).toEqual([1, 2]);
        expect(turns[1]!.toolCalls).toEqual({ search: 1, crm: 4 });
        expect((await store.listTurnTelemetry({ agent, from: t })).length).toBe(2);
        expect((await store.listTurnTelemetry({ agent, to: t })).length).toBe(1);
        // metrics for a session without turns create its aggregate
        const s3 = await newSession(agent, 'v2');
        await store.recordSessionMetrics(s3.id, 'v2', { metrics: { score: 4 } });
        const a3 = (await store.listSessionAggregates({ agent, version: 'v2' })).find(
          (a) => a.sessionId === s3.id,
        );
        expect(a3).toMatchObject({
          turns: 0,
          metrics: { score: { sum: 4, count: 1 } },
          sessionStartedAt: s3.createdAt,
        });
        await expectCode(store.recordSessionMetrics(u('missing'), 'v1', {}), 'SESSION_NOT_FOUND');
      });
    });

    describe('leader locks', () => {
      it('acquires when free, expired or already ours; releases only our own', async () => {
        const name = u('lock');
        expect(await store.acquireLock(name, 'c1', 10_000)).toBe(true);
        expect(await store.acquireLock(name, 'c2', 10_000)).toBe(false);
        expect(await store.acquireLock(name, 'c1', 10_000)).toBe(true);
        t += 10_001;
        expect(await store.acquireLock(name, 'c2', 10_000)).toBe(true);
        await store.releaseLock(name, 'c1');
        expect(await store.acquireLock(name, 'c1', 10_000)).toBe(false);
        await store.releaseLock(name, 'c2');
        expect(await store.acquireLock(name, 'c1', 10_000)).toBe(true);
      });
    });

    describe('ids', () => {
      it('generated ids sort in creation order', async () => {
        const a = newId('s', t);
        const b = newId('s', t + 1);
        expect(a < b).toBe(true);
      });
    });
  });
}
