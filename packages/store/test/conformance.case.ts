/**
 * The store conformance suite: every backend registers it with its own harness and must pass all of it.
 * Tests share one database per backend and isolate themselves with unique agent names and ids.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatonError,
  HISTORY_GENESIS,
  httpStatus,
  historyChain,
  historyEntryText,
  newId,
  sha256Hex,
} from '@baton/core';
import type {
  CheckpointBody,
  CheckpointMeta,
  HistoryEntry,
  HistoryPage,
  MigrationRecord,
  SessionRecord,
  StoredHistoryEntry,
  TurnTelemetryRecord,
  Wait,
} from '@baton/core';
import { checkpointHash } from '../src/common';
import type { RecordCipher } from '../src/cipher';
import type { RecordPlace } from '../src/cipher';
import { partPlace, waitsPlace } from '../src/sealed';
import type {
  AppendCheckpointInput,
  BeginTurnResult,
  BeginTurnsResult,
  Store,
  StoreOptions,
} from '../src/store';
import { loopEntries } from './loop-entries';

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
  /** With encryption at rest on: the cipher the store seals with (raw reads open through it). */
  cipher?: RecordCipher;
  /**
   * Which window a turn start given a `WindowChoice` reads: the session's own (`of`, asked once the
   * session is read) or the guess (a backend that reads the session and the window in one statement).
   */
  windowChoice: 'own' | 'guess';
}

const here = dirname(fileURLToPath(import.meta.url));

let uniq = 0;
function u(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${++uniq}`;
}

function body(n: number, extra: Partial<CheckpointBody> = {}): CheckpointBody {
  return {
    state: { n, label: `state ${n}`, nested: { list: [1, 2, 3], unicode: 'héllo ✓ 🎉' } },
    context: { prompt: `ctx ${n}` },
    waits: [],
    ...extra,
  };
}

/** The history entries turn `n` appends. */
function turnEntries(n: number, count = 1): HistoryEntry[] {
  return Array.from({ length: count }, (_, j) => ({
    role: j % 2 === 0 ? ('user' as const) : ('agent' as const),
    content: j % 2 === 0 ? `message ${n}.${j}` : { text: `reply ${n}.${j}`, unicode: 'héllo ✓ 🎉' },
    turnId: `t${n}`,
    at: 1000 + n,
  }));
}

/** A string of exactly `bytes` ASCII characters. */
function filler(bytes: number, seed = 0): string {
  const chunk = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  while (s.length < bytes + seed) s += chunk;
  return s.slice(seed, seed + bytes);
}

/** A body whose memory part serializes to about `bytes` bytes. */
function sizedBody(bytes: number, seed = 0): CheckpointBody {
  return body(seed, { memory: filler(bytes, seed % 30) });
}

/** An entry whose stored text (`historyEntryText`) is exactly `bytes` long (bytes >= 60). */
function entryOfBytes(bytes: number, i: number, turnId = `turn-${i}`, at = 2000 + i): HistoryEntry {
  const base: HistoryEntry = { role: 'tool', content: '', turnId, at };
  const empty = Buffer.byteLength(historyEntryText(base));
  return { ...base, content: filler(bytes - empty, i % 30) };
}

function textBytes(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v === undefined ? null : v));
}

function entryBytes(e: HistoryEntry): number {
  return Buffer.byteLength(historyEntryText(e));
}

/** The chain head after `entries`, from `from`. */
function chainOf(entries: HistoryEntry[], from = HISTORY_GENESIS): string {
  return entries.reduce((head, e) => historyChain(head, sha256Hex(historyEntryText(e))), from);
}

/** What a format-2 checkpoint of `b` over the whole history `history` must record, computed independently. */
function manifestOf(b: CheckpointBody, history: HistoryEntry[]) {
  const parts = {
    state: sha256Hex(JSON.stringify(b.state ?? null)),
    context: sha256Hex(JSON.stringify(b.context ?? null)),
    memory: b.memory === undefined ? null : sha256Hex(JSON.stringify(b.memory)),
  };
  const waitsText = JSON.stringify(b.waits ?? []);
  const historyHead = chainOf(history);
  return {
    parts,
    historyLength: history.length,
    historyHead,
    hash: checkpointHash(parts, history.length, historyHead, sha256Hex(waitsText)),
    size:
      textBytes(b.state) +
      textBytes(b.context) +
      (b.memory === undefined ? 0 : textBytes(b.memory)) +
      Buffer.byteLength(waitsText),
  };
}

function stored(entries: HistoryEntry[], from = 0): StoredHistoryEntry[] {
  return entries.map((e, i) => ({ ...e, index: from + i }));
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

type Started = Extract<BeginTurnResult, { kind: 'started' }>;

/** The result as a started turn (fails the test otherwise). */
function started(r: BeginTurnResult | BeginTurnsResult | undefined): Started {
  if (r?.kind !== 'started') {
    throw new Error(`expected a started turn, got ${r?.kind === 'error' ? r.error.code : r?.kind}`);
  }
  return r;
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

/** A version to register. */
function versionInput(agent: string, label: string, identity = 'id-1') {
  return {
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

    /** Append `body(n)` with `turnEntries(n)` as a plain schema-1 checkpoint written by v1. */
    function appendV1(
      sessionId: string,
      expectedSeq: number,
      n: number,
      via: Store = store,
      extra: Partial<AppendCheckpointInput> = {},
    ) {
      return via.appendCheckpoint({
        sessionId,
        expectedSeq,
        schemaVersion: 1,
        writtenBy: 'v1',
        body: body(n),
        history: turnEntries(n),
        ...extra,
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

    /** `store.beginTurn`, which every backend implements (a backend without it fails here). */
    function beginTurn(via: Store, ...args: Parameters<NonNullable<Store['beginTurn']>>) {
      expect(via.beginTurn, 'beginTurn').toBeTypeOf('function');
      return via.beginTurn(...args);
    }

    /**
     * On PostgreSQL, the child's connections carry `application_name = tag`, so that a test can wait
     * until the server has finished what a killed child sent (a COMMIT in flight when the client dies
     * still completes on the server, after the parent may have started reading).
     */
    function childTarget(tag?: string): string {
      const t = h.childTarget;
      if (!tag || !/^postgres(ql)?:/.test(t)) return t;
      return `${t}${t.includes('?') ? '&' : '?'}application_name=${tag}`;
    }

    /** Wait until no server backend of the children tagged `tag` is left (PostgreSQL; at once elsewhere). */
    async function childBackendsGone(tag: string): Promise<void> {
      if (childTarget(tag) === h.childTarget) return;
      for (let i = 0; i < 200; i++) {
        const rows = await h.rawQuery(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = '${tag}'`,
        );
        if (Number(rows[0]!.n) === 0) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`the killed child's connections (${tag}) are still on the server after 10 s`);
    }

    /** Run a child script of this folder under tsx on the suite's database: target, options, then `args`. */
    function spawnChild(script: string, ...args: string[]) {
      return spawnChildOn(h.childTarget, script, ...args);
    }

    /** `spawnChild` with the database named by `target` (`childTarget(tag)`). */
    function spawnChildOn(target: string, script: string, ...args: string[]) {
      return spawn(
        process.execPath,
        ['--import', 'tsx', join(here, script), target, JSON.stringify(h.childOptions), ...args],
        { stdio: ['ignore', 'pipe', 'pipe'], cwd: join(here, '..') },
      );
    }

    /** Run a child to completion and return its stdout. */
    function runChild(script: string, ...args: string[]): Promise<string> {
      return new Promise((resolve, reject) => {
        const child = spawnChild(script, ...args);
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('exit', (code) => {
          if (code === 0) resolve(out);
          else reject(new Error(`${script} exited with ${code}: ${err}`));
        });
      });
    }

    /** A raw column value as text, opened at `place` when the suite runs with encryption at rest. */
    function plain(v: unknown, place: RecordPlace): string {
      if (h.cipher) {
        expect(String(v).startsWith('benc1:'), 'stored sealed').toBe(true);
        return h.cipher.openText(Buffer.isBuffer(v) ? v : String(v), place);
      }
      return String(v);
    }

    /** Rows of `table` for a session, counted by raw SQL. */
    async function countRows(table: 'history' | 'checkpoint_parts' | 'checkpoints', sessionId: string) {
      const rows = await h.rawQuery(`SELECT count(*) AS n FROM ${table} WHERE session_id = '${sessionId}'`);
      return Number(rows[0]!.n);
    }

    async function partHashes(sessionId: string): Promise<string[]> {
      const rows = await h.rawQuery(`SELECT hash FROM checkpoint_parts WHERE session_id = '${sessionId}'`);
      return rows.map((r) => String(r.hash)).sort();
    }

    /** The part hashes the given checkpoints reference. */
    function referenced(metas: CheckpointMeta[]): string[] {
      const set = new Set<string>();
      for (const m of metas) {
        for (const h of [m.parts.state, m.parts.context, m.parts.memory]) if (h) set.add(h);
      }
      return [...set].sort();
    }

    /** Every page of the session's history, newest first, walked through `nextBefore`. */
    async function walkHistory(via: Store, sessionId: string, q: { limit?: number; maxBytes?: number } = {}) {
      const pages: HistoryPage[] = [];
      let before: number | undefined;
      for (;;) {
        const page = await via.readHistory(sessionId, before === undefined ? q : { ...q, before });
        pages.push(page);
        if (page.nextBefore === null) break;
        expect(page.nextBefore).toBe(page.entries[0]!.index);
        expect(page.nextBefore).toBeLessThan(before ?? Number.MAX_SAFE_INTEGER);
        before = page.nextBefore;
        if (pages.length > 10_000) throw new Error('history paging does not terminate');
      }
      return { pages, entries: [...pages].reverse().flatMap((p) => p.entries) };
    }

    /** Everything a checkpoint write may touch for a session, read through the API and raw row counts. */
    async function snapshot(s: Store, sessionId: string) {
      const session = await s.getSession(sessionId);
      const latest = await s.getLatestCheckpoint(sessionId).catch((e: unknown) => e);
      return {
        session,
        latest,
        checkpoints: await s.listCheckpoints(sessionId),
        history: await s.readHistory(sessionId, { limit: 1000 }).catch((e: unknown) => e),
        waits: await s.listWaits({ sessionId }),
        migrations: await s.listMigrations({ sessionId }),
        steps: await s.listSteps(sessionId, 'turn-x'),
        turnResult: await s.getTurnResult(sessionId, 'key-x'),
        aggregates: (await s.listSessionAggregates({ agent: session.agent })).filter(
          (a) => a.sessionId === sessionId,
        ),
        rows: {
          checkpoints: await countRows('checkpoints', sessionId),
          parts: await countRows('checkpoint_parts', sessionId),
          history: await countRows('history', sessionId),
        },
      };
    }

    describe('schema', () => {
      it('records applied migrations and reopening is idempotent', async () => {
        const rows = await h.rawQuery('SELECT version, name FROM baton_schema_migrations ORDER BY version');
        expect(rows.length).toBeGreaterThanOrEqual(2);
        expect(rows.map((r) => Number(r.version))).toEqual(rows.map((_, i) => i + 1));
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
      const v = versionInput;

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
        expect(httpStatus(e.code)).toBe(409);
        expect(await store.getVersion(agent, 'v1')).toEqual(a);
      });

      it('VERSION_CONFLICT for the same identity with contradicting manifest fields; nothing changes', async () => {
        const agent = u('agent');
        const a = await store.registerVersion(v(agent, 'v1'));
        for (const over of [
          { modelId: 'gpt-y' },
          { schemaVersion: 3 },
          { codeHash: 'c2' },
          { acceptsSchemas: [0] },
          { downSchemas: [] },
        ]) {
          const e = await expectCode(
            store.registerVersion({ ...v(agent, 'v1'), ...over }),
            'VERSION_CONFLICT',
          );
          expect(e.details?.fields).toEqual(Object.keys(over));
        }
        // the same sets in another order, and other metadata, are the same manifest
        expect(
          await store.registerVersion({ ...v(agent, 'v1'), acceptsSchemas: [1, 1], metadata: {} }),
        ).toEqual(a);
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
          leaseEpoch: 0,
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
        await expectCode(store.readHistory(id), 'SESSION_NOT_FOUND');
        await expectCode(store.readHistory(id, { before: 3, limit: 2 }), 'SESSION_NOT_FOUND');
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
        expect((await store.listSessions({ agent, tenant: 'nobody' })).items).toEqual([]);
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
      it('lists by tenant, with the other filters and paging', async () => {
        const agent = u('agent');
        const acme: string[] = [];
        let acmeOnV2 = '';
        for (let i = 0; i < 5; i++) {
          const s = await newSession(agent, i < 3 ? 'v1' : 'v2', { tenant: i % 2 === 0 ? 'acme' : 'globex' });
          if (i % 2 === 0) acme.push(s.id);
          if (i === 4) acmeOnV2 = s.id;
        }
        await newSession(agent, 'v1');
        const first = await store.listSessions({ agent, tenant: 'acme', limit: 2 });
        expect(first.items.length).toBe(2);
        expect(first.items.every((s) => s.tenant === 'acme')).toBe(true);
        const rest = await store.listSessions({ agent, tenant: 'acme', cursor: first.nextCursor });
        expect([...first.items, ...rest.items].map((s) => s.id)).toEqual(acme.sort());
        const v2 = await store.listSessions({ agent, tenant: 'acme', version: 'v2' });
        expect(v2.items.map((s) => s.id)).toEqual([acmeOnV2]);
      });
    });

    describe('leases', () => {
      it('a live lease blocks others with SESSION_BUSY and retryAfterMs; the owner refreshes; expiry allows takeover', async () => {
        const s = await newSession();
        const a = await store.acquireLease(s.id, 'router-a', 30_000);
        expect(a).toEqual({ sessionId: s.id, owner: 'router-a', expiresAt: t + 30_000, epoch: 1 });
        expect(await store.getSession(s.id)).toMatchObject({
          leaseOwner: 'router-a',
          leaseExpiresAt: t + 30_000,
          leaseEpoch: 1,
          status: 'idle',
        });
        t += 10_000;
        const e = await expectCode(store.acquireLease(s.id, 'router-b', 30_000), 'SESSION_BUSY');
        expect(e.details).toMatchObject({ sessionId: s.id, retryAfterMs: 20_000 });
        expect((e as unknown as { retryAfterMs: number }).retryAfterMs).toBe(20_000);
        expect(await store.getSession(s.id)).toMatchObject({ leaseOwner: 'router-a', leaseEpoch: 1 });
        const refreshed = await store.acquireLease(s.id, 'router-a', 30_000);
        expect(refreshed.expiresAt).toBe(t + 30_000);
        t += 30_000;
        const b = await store.acquireLease(s.id, 'router-b', 5_000);
        expect(b.owner).toBe('router-b');
        expect(b.epoch).toBeGreaterThan(refreshed.epoch);
        expect((await store.getSession(s.id)).leaseEpoch).toBe(b.epoch);
        await expectCode(store.renewLease(a, 10_000), 'LEASE_LOST');
        await store.releaseLease(a); // not ours any more: no effect
        expect((await store.getSession(s.id)).leaseOwner).toBe('router-b');
        t += 1000;
        const renewed = await store.renewLease(b, 10_000);
        expect(renewed).toEqual({ ...b, expiresAt: t + 10_000 });
        await store.releaseLease(b);
        expect(await store.getSession(s.id)).toMatchObject({
          leaseOwner: null,
          leaseExpiresAt: null,
          leaseEpoch: b.epoch,
        });
        await expectCode(store.acquireLease(s.id, 'router-c', 0), 'VALIDATION');
        await expectCode(store.acquireLease(s.id, 'router-c', Number.NaN), 'VALIDATION');
        expect(await store.getSession(s.id)).toMatchObject({
          leaseOwner: null,
          leaseExpiresAt: null,
          leaseEpoch: b.epoch,
        });
        await store.acquireLease(s.id, 'router-c', 1000);
        await expectCode(
          store.renewLease({ sessionId: u('missing'), owner: 'x', expiresAt: 0, epoch: 1 }, 10),
          'SESSION_NOT_FOUND',
        );
      });

      it('the lease epoch increments on every acquisition (acquireLease, beginTurn, beginTurns), never otherwise', async () => {
        const s = await newSession();
        expect((await store.getSession(s.id)).leaseEpoch).toBe(0);
        const epochNow = async () => (await store.getSession(s.id)).leaseEpoch;
        // acquireLease
        const l1 = await store.acquireLease(s.id, 'r1', 30_000);
        expect(l1.epoch).toBe(1);
        expect(await epochNow()).toBe(1);
        // a refused acquisition and a renewal change nothing
        await expectCode(store.acquireLease(s.id, 'r2', 30_000), 'SESSION_BUSY');
        await expectCode(beginTurn(store, s.id, 'k0', 'r2', 30_000), 'SESSION_BUSY');
        expect((await store.renewLease(l1, 30_000)).epoch).toBe(1);
        expect(await epochNow()).toBe(1);
        await store.releaseLease(l1);
        expect(await epochNow()).toBe(1);
        // beginTurn
        const b = started(await beginTurn(store, s.id, 'k1', 'r2', 30_000));
        expect(b.lease.epoch).toBe(2);
        expect(b.session.leaseEpoch).toBe(2);
        expect(await epochNow()).toBe(2);
        // committing with the lease releases it without a new epoch
        await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 0,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: body(1),
          history: turnEntries(1),
          turnResult: { key: 'k1', result: 'done' },
          leaseOwner: 'r2',
        });
        expect(await store.getSession(s.id)).toMatchObject({ leaseOwner: null, leaseEpoch: 2 });
        // a replayed key takes no lease
        expect(await beginTurn(store, s.id, 'k1', 'r3', 30_000)).toEqual({
          kind: 'replayed',
          result: 'done',
        });
        expect(await epochNow()).toBe(2);
        // beginTurns: one acquisition for the item that takes it, none for the refused one
        const rs = await store.beginTurns([
          { sessionId: s.id, key: 'k2', owner: 'r3', ttlMs: 30_000 },
          { sessionId: s.id, key: 'k3', owner: 'r4', ttlMs: 30_000 },
        ]);
        expect(rs.map((r) => (r.kind === 'error' ? r.error.code : r.kind))).toEqual([
          'started',
          'SESSION_BUSY',
        ]);
        const b2 = started(rs[0]);
        expect(b2.lease.epoch).toBe(3);
        expect(b2.session.leaseEpoch).toBe(3);
        expect(await epochNow()).toBe(3);
        // an expired lease taken over by another owner
        t += 31_000;
        const l4 = await store.acquireLease(s.id, 'r5', 30_000);
        expect(l4.epoch).toBe(4);
        expect(await store.getSession(s.id)).toMatchObject({ leaseOwner: 'r5', leaseEpoch: 4 });
        // epochs are per session
        const other = await newSession();
        expect((await store.acquireLease(other.id, 'r1', 1000)).epoch).toBe(1);
        expect(await epochNow()).toBe(4);
      });

      it('beginTurn: stored result, lease, session and latest checkpoint in one call', async () => {
        const s = await newSession();
        // no checkpoint yet: the lease is taken, the session read under it
        const first = started(await beginTurn(store, s.id, 'k1', 'router-a', 30_000));
        expect(first.lease).toEqual({ sessionId: s.id, owner: 'router-a', expiresAt: t + 30_000, epoch: 1 });
        expect(first.session).toMatchObject({ id: s.id, seq: 0, leaseOwner: 'router-a', leaseEpoch: 1 });
        expect(first.checkpoint).toBeNull();
        expect(first.history).toEqual([]);
        expect(first.checkpointError).toBeUndefined();
        // busy for another owner, and a refused call changes nothing
        t += 1000;
        const busy = await expectCode(beginTurn(store, s.id, 'k2', 'router-b', 30_000), 'SESSION_BUSY');
        expect(busy.details).toMatchObject({ sessionId: s.id, retryAfterMs: 29_000 });
        expect(await store.getSession(s.id)).toMatchObject({
          leaseOwner: 'router-a',
          leaseExpiresAt: t - 1000 + 30_000,
          leaseEpoch: 1,
        });
        const m1 = await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 0,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: body(1),
          history: turnEntries(1, 2),
          turnResult: { key: 'k1', result: { out: 1 } },
          leaseOwner: 'router-a',
        });
        // a committed key replays its result without taking the lease
        expect(await beginTurn(store, s.id, 'k1', 'router-b', 30_000)).toEqual({
          kind: 'replayed',
          result: { out: 1 },
        });
        expect((await store.getSession(s.id)).leaseOwner).toBeNull();
        // without a window no history is read
        const next = started(await beginTurn(store, s.id, 'k2', 'router-b', 30_000));
        expect(next.session).toMatchObject({ seq: 1, leaseOwner: 'router-b' });
        expect(next.checkpoint).toEqual({ ...m1, body: body(1) });
        expect(next.history).toEqual([]);
        await store.releaseLease(next.lease);
        // with a window: the entries
        const windowed = started(
          await beginTurn(store, s.id, 'k2', 'router-b', 30_000, { entries: 10, bytes: 1 << 20 }),
        );
        expect(windowed.history).toEqual(stored(turnEntries(1, 2)));
        await store.releaseLease(windowed.lease);
        // a corrupt latest checkpoint is reported with the lease held, never returned as data
        await h.rawExec(
          `UPDATE checkpoints SET body = '{"state":"tampered"}' WHERE session_id = '${s.id}' AND seq = 1`,
        );
        const bad = started(
          await beginTurn(store, s.id, 'k3', 'router-c', 30_000, { entries: 10, bytes: 1 << 20 }),
        );
        expect(bad.checkpoint).toBeNull();
        expect(bad.history).toEqual([]);
        expect(bad.checkpointError?.code).toBe('CHECKPOINT_CORRUPT');
        expect(bad.checkpointError?.details).toMatchObject({
          sessionId: s.id,
          seq: 1,
          expectedHash: m1.hash,
        });
        expect((await store.getSession(s.id)).leaseOwner).toBe('router-c');
        await store.quarantineSession(s.id, 'corrupt');
        await store.releaseLease(bad.lease);
        // a terminal session: closed, no lease taken
        const closed = await beginTurn(store, s.id, 'k4', 'router-d', 30_000);
        expect(closed).toMatchObject({ kind: 'closed', session: { id: s.id, status: 'quarantined' } });
        expect((await store.getSession(s.id)).leaseOwner).toBeNull();
        await expectCode(beginTurn(store, u('missing'), 'k', 'o', 1000), 'SESSION_NOT_FOUND');
        await expectCode(beginTurn(store, s.id, 'k', 'o', 0), 'VALIDATION');
      });

      it('beginTurn with a window returns exactly the newest N entries within the byte cap, in order', async () => {
        const s = await newSession();
        const all: HistoryEntry[] = [];
        let seq = 0;
        // 50 entries of varied sizes over 10 appends
        for (let i = 0; i < 10; i++) {
          const entries = Array.from({ length: 5 }, (_, j) =>
            entryOfBytes(80 + (((i * 5 + j) * 53) % 700), i * 5 + j),
          );
          await store.appendCheckpoint({
            sessionId: s.id,
            expectedSeq: seq++,
            schemaVersion: 1,
            writtenBy: 'v1',
            body: body(i),
            history: entries,
          });
          all.push(...entries);
        }
        const sizes = all.map(entryBytes);
        const take = async (entries: number, bytes: number) => {
          const r = started(await beginTurn(store, s.id, u('k'), 'w', 30_000, { entries, bytes }));
          expect(r.checkpointError).toBeUndefined();
          expect(r.checkpoint?.seq).toBe(10);
          await store.releaseLease(r.lease);
          return r.history;
        };
        expect(await take(10, 1 << 20)).toEqual(stored(all.slice(40), 40));
        expect(await take(100, 1 << 20)).toEqual(stored(all));
        expect(await take(1, 1 << 20)).toEqual(stored(all.slice(49), 49));
        // the byte cap: the newest 4 fit exactly, the 5th does not
        const four = sizes.slice(46).reduce((a, b) => a + b, 0);
        expect(await take(10, four)).toEqual(stored(all.slice(46), 46));
        expect(await take(10, four + sizes[45]! - 1)).toEqual(stored(all.slice(46), 46));
        expect(await take(10, four + sizes[45]!)).toEqual(stored(all.slice(45), 45));
        // the entry count binds before the bytes
        expect(await take(3, four)).toEqual(stored(all.slice(47), 47));
        expect(await take(0, 1 << 20)).toEqual([]);
        // beginTurns honours each item's window
        const rs = await store.beginTurns([
          { sessionId: s.id, key: u('k'), owner: 'w', ttlMs: 30_000, window: { entries: 7, bytes: 1 << 20 } },
        ]);
        const r = started(rs[0]);
        expect(r.history).toEqual(stored(all.slice(43), 43));
        await store.releaseLease(r.lease);
      });

      it("beginTurn with a window choice reads the window it reports (the session's own, or the guess where the backend reads both at once)", async () => {
        const agent = u('agent');
        const s = await newSession(agent, 'v7');
        const all = turnEntries(1, 30);
        await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 0,
          schemaVersion: 1,
          writtenBy: 'v7',
          body: body(1),
          history: all,
        });
        const guess = { entries: 20, bytes: 1 << 20 };
        const own = { entries: 3, bytes: 1 << 20 };
        const asked: Array<{ id: string; agent: string; version: string }> = [];
        const of = (x: SessionRecord) => {
          asked.push({ id: x.id, agent: x.agent, version: x.version });
          return x.version === 'v7' ? own : undefined;
        };
        // this backend's window (its harness says which), reported, and exactly its newest entries
        const check = (r: Started) => {
          const w = h.windowChoice === 'own' ? own : guess;
          expect(r.historyWindow).toEqual(w);
          expect(r.history).toEqual(stored(all.slice(30 - w.entries), 30 - w.entries));
        };
        const one = started(await beginTurn(store, s.id, u('k'), 'w', 30_000, { guess, of }));
        check(one);
        await store.releaseLease(one.lease);
        // a backend that asks `of` asks it about the session it read
        expect(asked.length).toBe(h.windowChoice === 'own' ? 1 : 0);
        for (const a of asked) expect(a).toEqual({ id: s.id, agent, version: 'v7' });
        // `of` knows no window for it: the guess
        const none = started(
          await beginTurn(store, s.id, u('k'), 'w', 30_000, { guess, of: () => undefined }),
        );
        expect(none.historyWindow).toEqual(guess);
        expect(none.history).toEqual(stored(all.slice(10), 10));
        await store.releaseLease(none.lease);
        // a plain window is read as asked, and reported
        const plain = started(await beginTurn(store, s.id, u('k'), 'w', 30_000, own));
        expect(plain.historyWindow).toEqual(own);
        expect(plain.history).toEqual(stored(all.slice(27), 27));
        await store.releaseLease(plain.lease);
        // beginTurns takes a choice per item
        const rs = await store.beginTurns([
          { sessionId: s.id, key: u('k'), owner: 'w', ttlMs: 30_000, window: { guess, of } },
        ]);
        check(started(rs[0]));
        await store.releaseLease(started(rs[0]).lease);
      });

      it('beginTurns answers or refuses each item on its own, in one transaction', async () => {
        const free = await newSession();
        const busy = await newSession();
        const done = await newSession();
        await store.acquireLease(busy.id, 'other', 30_000);
        const m = await store.appendCheckpoint({
          sessionId: done.id,
          expectedSeq: 0,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: body(1),
          history: turnEntries(1, 3),
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
          {
            sessionId: done.id,
            key: 'k3',
            owner: 'r7',
            ttlMs: 30_000,
            window: { entries: 2, bytes: 1 << 20 },
          },
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
        const last = started(rs[6]);
        expect(last.checkpoint).toEqual({ ...m, body: body(1) });
        expect(last.history).toEqual(stored(turnEntries(1, 3).slice(1), 1));
        expect(started(rs[0]).history).toEqual([]);
        expect(await store.getSession(free.id)).toMatchObject({ leaseOwner: 'r1', leaseEpoch: 1 });
        expect(await store.getSession(busy.id)).toMatchObject({ leaseOwner: 'other', leaseEpoch: 1 });
        expect(await store.getSession(done.id)).toMatchObject({ leaseOwner: 'r7', leaseEpoch: 1 });
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
            expect(await store.getSession(s.id)).toMatchObject({ leaseOwner: winner, leaseEpoch: 1 });
          }
        } finally {
          await other.close();
        }
      });
    });

    describe('checkpoints', () => {
      it('appends a gap-free chain and reads latest and by seq (manifest hash over parts, waits and history)', async () => {
        const s = await newSession();
        expect(await store.getLatestCheckpoint(s.id)).toBeNull();
        const metas: CheckpointMeta[] = [];
        const history: HistoryEntry[] = [];
        const created: number[] = [];
        for (let i = 0; i < 3; i++) {
          t += 100;
          metas.push(await appendV1(s.id, i, i));
          history.push(...turnEntries(i));
          created.push(t);
          expect(metas[i]).toEqual({
            sessionId: s.id,
            seq: i + 1,
            schemaVersion: 1,
            writtenBy: 'v1',
            createdAt: t,
            ...manifestOf(body(i), history),
          });
        }
        expect(metas.map((m) => m.seq)).toEqual([1, 2, 3]);
        expect(metas[2]!.historyLength).toBe(3);
        const latest = await store.getLatestCheckpoint(s.id);
        expect(latest).toEqual({ ...metas[2], body: body(2) });
        expect(latest!.body).not.toHaveProperty('history');
        expect(await store.getCheckpoint(s.id, 1)).toEqual({ ...metas[0], body: body(0) });
        await expectCode(store.getCheckpoint(s.id, 4), 'CHECKPOINT_NOT_FOUND');
        expect(await store.listCheckpoints(s.id)).toEqual([...metas].reverse());
        expect((await store.listCheckpoints(s.id, { beforeSeq: 3, limit: 1 })).map((m) => m.seq)).toEqual([
          2,
        ]);
        expect((await store.getSession(s.id)).seq).toBe(3);
        // the row: the waits JSON as body, the manifest hash; each part stored under the hash of its bytes
        const row = await h.rawQuery(
          `SELECT hash, body, size FROM checkpoints WHERE session_id = '${s.id}' AND seq = 3`,
        );
        expect(plain(row[0]!.body, waitsPlace(s.id, 3))).toBe('[]');
        expect(row[0]!.hash).toBe(metas[2]!.hash);
        expect(Number(row[0]!.size)).toBe(metas[2]!.size);
        const parts = await h.rawQuery(
          `SELECT hash, body FROM checkpoint_parts WHERE session_id = '${s.id}'`,
        );
        for (const p of parts) expect(sha256Hex(plain(p.body, partPlace(s.id, String(p.hash))))).toBe(p.hash);
        expect(parts.map((p) => String(p.hash)).sort()).toEqual(referenced(metas));
        // the history log holds each turn's entries
        expect(await store.readHistory(s.id)).toEqual({
          sessionId: s.id,
          entries: stored(history),
          total: 3,
          nextBefore: null,
          trimmed: null,
        });
      });

      it('round-trips 1 KB and 5 MB checkpoints', async () => {
        const s = await newSession();
        const small = sizedBody(1024, 1);
        const big = sizedBody(5 * 1024 * 1024, 2);
        const e1 = [entryOfBytes(1024, 1)];
        const m1 = await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 0,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: small,
          history: e1,
        });
        expect(m1).toMatchObject(manifestOf(small, e1));
        expect(m1.size).toBeGreaterThan(1024);
        expect((await store.getLatestCheckpoint(s.id))!.body).toEqual(small);
        const m2 = await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 1,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: big,
        });
        expect(m2).toMatchObject(manifestOf(big, e1));
        expect(m2.size).toBeGreaterThan(5 * 1024 * 1024);
        expect(m2.parts.memory).toBe(sha256Hex(JSON.stringify(big.memory)));
        const got = await store.getLatestCheckpoint(s.id);
        expect(got!.hash).toBe(m2.hash);
        expect(got!.body).toEqual(big);
        expect((await store.readHistory(s.id)).entries).toEqual(stored(e1));
      });

      it('rejects bad appends with typed errors and changes nothing', async () => {
        const limited = await h.open({ now, maxCheckpointBytes: 4096 });
        try {
          const s = await newSession();
          const m1 = await appendV1(s.id, 0, 0);
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
            history: turnEntries(9, 3),
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
          expect(httpStatus(big.code)).toBe(413);
          expect(big.details).toMatchObject({ sessionId: s.id, limit: 4096, part: 'memory' });
          expect(await snapshot(store, s.id)).toEqual(before);
          // lease not held
          await expectCode(
            store.appendCheckpoint({ ...everything, expectedSeq: 1, body: body(9), leaseOwner: 'nobody' }),
            'LEASE_LOST',
          );
          expect(await snapshot(store, s.id)).toEqual(before);
          // a stale unchanged part
          const wrong = await expectCode(
            store.appendCheckpoint({
              ...everything,
              expectedSeq: 1,
              body: body(9, { context: null }),
              unchanged: { context: sha256Hex('"not the context"') },
            }),
            'SEQUENCE_CONFLICT',
          );
          expect(wrong.details).toMatchObject({ sessionId: s.id, part: 'context' });
          expect(await snapshot(store, s.id)).toEqual(before);
          // a body that does not serialize
          const cyclic: Record<string, unknown> = {};
          cyclic.self = cyclic;
          await expectCode(
            store.appendCheckpoint({ ...everything, expectedSeq: 1, body: body(9, { state: cyclic }) }),
            'VALIDATION',
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
          expect(before.latest).toEqual({ ...m1, body: body(0) });
        } finally {
          await limited.close();
        }
      });

      it('enforces the default 8 MiB write limit, history entries included', async () => {
        const s = await newSession();
        const e = await expectCode(
          store.appendCheckpoint({
            sessionId: s.id,
            expectedSeq: 0,
            schemaVersion: 1,
            writtenBy: 'v1',
            body: sizedBody(8 * 1024 * 1024 + 10),
          }),
          'CHECKPOINT_TOO_LARGE',
        );
        expect(e.details).toMatchObject({ limit: 8 * 1024 * 1024, part: 'memory' });
        // nine entries just under the 1 MiB entry limit: each fits, together they do not
        const entries = Array.from({ length: 9 }, (_, i) => entryOfBytes(1024 * 1024 - 100, i));
        const e2 = await expectCode(
          store.appendCheckpoint({
            sessionId: s.id,
            expectedSeq: 0,
            schemaVersion: 1,
            writtenBy: 'v1',
            body: body(1),
            history: entries,
          }),
          'CHECKPOINT_TOO_LARGE',
        );
        expect(e2.details).toMatchObject({ limit: 8 * 1024 * 1024, part: 'history' });
        expect((await store.getSession(s.id)).seq).toBe(0);
        expect(await store.listCheckpoints(s.id)).toEqual([]);
        expect(await countRows('history', s.id)).toBe(0);
        expect(await countRows('checkpoint_parts', s.id)).toBe(0);
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
          history: turnEntries(1, 2),
          session: { status: 'waiting' },
          waits: [w1, w2],
          turnResult: { key: 'idem-1', result: { output: 'hi', seq: 1 } },
          leaseOwner: lease.owner,
          telemetry: telemetry(s.id, agent, 'v1', t),
        });
        expect(m1.seq).toBe(1);
        expect(m1).toMatchObject(manifestOf(body(1, { waits: [w1, w2] }), turnEntries(1, 2)));
        const after1 = await store.getSession(s.id);
        expect(after1).toMatchObject({
          seq: 1,
          status: 'waiting',
          leaseOwner: null,
          leaseExpiresAt: null,
          updatedAt: t,
        });
        expect((await store.getLatestCheckpoint(s.id))!.body.waits).toEqual([w1, w2]);
        expect((await store.readHistory(s.id)).entries).toEqual(stored(turnEntries(1, 2)));
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
          history: turnEntries(2, 1),
          session: { status: 'idle', version: 'v2' },
          resolvedWaits: [w1.token],
          waits: [w2, w3],
          migration: v1ToV2({ contextPolicy: 'rebuild', rolloutId: 'r-1' }),
          telemetry: telemetry(s.id, agent, 'v2', t, { error: 'boom', signals: [] }),
        });
        expect(m2).toMatchObject({ seq: 2, schemaVersion: 2, writtenBy: 'v2', historyLength: 3 });
        expect(await store.getSession(s.id)).toMatchObject({ seq: 2, status: 'idle', version: 'v2' });
        expect((await store.readHistory(s.id)).entries).toEqual(
          stored([...turnEntries(1, 2), ...turnEntries(2, 1)]),
        );
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
        // a turn without entries leaves the history as it was
        expect(await store.readHistory(s.id)).toMatchObject({ total: 3, nextBefore: null });
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
          history: turnEntries(1),
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
            history: turnEntries(2),
            leaseOwner: l2.owner,
          }),
          'LEASE_LOST',
        );
        expect(e.details).toMatchObject({ sessionId: s.id, holder: 'fast' });
        expect((await store.getSession(s.id)).seq).toBe(1);
        expect(await countRows('history', s.id)).toBe(1);
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
                history: [{ role: 'agent', content: 'A', turnId: 'A', at: 1 }],
              }),
              other.appendCheckpoint({
                sessionId: s.id,
                expectedSeq: 1,
                schemaVersion: 1,
                writtenBy: 'B',
                body: body(2),
                history: [{ role: 'agent', content: 'B', turnId: 'B', at: 1 }],
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
            expect(latest).toMatchObject({ seq: 2, writtenBy: winner, historyLength: 2 });
            expect((await store.listCheckpoints(s.id)).map((c) => c.seq)).toEqual([2, 1]);
            const hist = await store.readHistory(s.id);
            expect(hist.entries.map((e) => e.content)).toEqual(['message 0.0', winner]);
            expect(await countRows('history', s.id)).toBe(2);
          }
        } finally {
          await other.close();
        }
      });

      it('two processes racing for the same lease and seq: exactly one of each wins', async () => {
        const s = await newSession();
        await appendV1(s.id, 0, 0);
        const startAt = Date.now() + 2500;
        const run = async (owner: string) =>
          JSON.parse((await runChild('race-child.ts', s.id, '1', owner, String(startAt))).trim()) as {
            lease: string;
            append: string;
          };
        const [a, b] = await Promise.all([run('proc-a'), run('proc-b')]);
        expect([a.lease, b.lease].sort()).toEqual(['SESSION_BUSY', 'ok']);
        expect([a.append, b.append].sort()).toEqual(['SEQUENCE_CONFLICT', 'ok']);
        const after = await store.getSession(s.id);
        expect(after.seq).toBe(2);
        expect(after.leaseOwner).toBe(a.lease === 'ok' ? 'proc-a' : 'proc-b');
        expect(after.leaseEpoch).toBe(1);
        const writer = a.append === 'ok' ? 'proc-a' : 'proc-b';
        const latest = await store.getLatestCheckpoint(s.id);
        expect(latest!.writtenBy).toBe(writer);
        expect((await store.listCheckpoints(s.id)).map((c) => c.seq)).toEqual([2, 1]);
        const hist = await store.readHistory(s.id);
        expect(hist.entries.map((e) => e.content)).toEqual(['message 0.0', `written by ${writer}`]);
      });

      it('detects a checkpoint row corrupted in the database; the caller can quarantine; nothing else changes', async () => {
        const s = await newSession();
        const m1 = await appendV1(s.id, 0, 1);
        const m2 = await appendV1(s.id, 1, 2);
        await h.rawExec(
          `UPDATE checkpoints SET body = '{"state":"tampered"}' WHERE session_id = '${s.id}' AND seq = 2`,
        );
        const e = await expectCode(store.getLatestCheckpoint(s.id), 'CHECKPOINT_CORRUPT');
        expect(e.details).toMatchObject({
          sessionId: s.id,
          seq: 2,
          expectedHash: m2.hash,
          actualHash: checkpointHash(
            m2.parts,
            m2.historyLength,
            m2.historyHead,
            sha256Hex('{"state":"tampered"}'),
          ),
        });
        await expectCode(store.getCheckpoint(s.id, 2), 'CHECKPOINT_CORRUPT');
        expect((await store.getSession(s.id)).status).toBe('idle'); // reads never quarantine on their own
        expect(await store.getCheckpoint(s.id, 1)).toEqual({ ...m1, body: body(1) });
        // a manifest column changed (here the history length) is caught the same way
        await h.rawExec(`UPDATE checkpoints SET history_length = 7 WHERE session_id = '${s.id}' AND seq = 1`);
        await expectCode(store.getCheckpoint(s.id, 1), 'CHECKPOINT_CORRUPT');
        const q = await store.quarantineSession(s.id, 'checkpoint 2 failed its hash check');
        expect(q).toMatchObject({ status: 'quarantined', seq: 2 });
        await expectCode(store.getLatestCheckpoint(s.id), 'CHECKPOINT_CORRUPT');
      });

      it('detects a corrupt or missing part (state, context) on every read path', async () => {
        const s = await newSession();
        await appendV1(s.id, 0, 1);
        const m2 = await appendV1(s.id, 1, 2);
        await h.rawExec(
          `UPDATE checkpoint_parts SET body = '{"tampered":true}' WHERE session_id = '${s.id}' AND hash = '${m2.parts.state}'`,
        );
        const e = await expectCode(store.getLatestCheckpoint(s.id), 'CHECKPOINT_CORRUPT');
        expect(e.details).toMatchObject({
          sessionId: s.id,
          seq: 2,
          part: 'state',
          expectedHash: m2.parts.state,
          actualHash: sha256Hex('{"tampered":true}'),
        });
        expect((await expectCode(store.getCheckpoint(s.id, 2), 'CHECKPOINT_CORRUPT')).details).toMatchObject({
          part: 'state',
        });
        const bad = started(
          await beginTurn(store, s.id, 'k', 'router', 30_000, { entries: 10, bytes: 1 << 20 }),
        );
        expect(bad.checkpoint).toBeNull();
        expect(bad.checkpointError?.code).toBe('CHECKPOINT_CORRUPT');
        expect(bad.checkpointError?.details).toMatchObject({ part: 'state', seq: 2 });
        expect(await store.getSession(s.id)).toMatchObject({ leaseOwner: 'router', status: 'idle' });
        await store.releaseLease(bad.lease);
        // checkpoint 1 has its own state and still reads
        expect((await store.getCheckpoint(s.id, 1)).body).toEqual(body(1));
        // a part row that is gone
        const s2 = await newSession();
        const n1 = await appendV1(s2.id, 0, 1);
        await h.rawExec(
          `DELETE FROM checkpoint_parts WHERE session_id = '${s2.id}' AND hash = '${n1.parts.context}'`,
        );
        expect(
          (await expectCode(store.getLatestCheckpoint(s2.id), 'CHECKPOINT_CORRUPT')).details,
        ).toMatchObject({
          part: 'context',
        });
        const bad2 = started(await beginTurn(store, s2.id, 'k', 'router', 30_000));
        expect(bad2.checkpointError?.details).toMatchObject({ part: 'context' });
        expect((await store.getSession(s2.id)).leaseOwner).toBe('router');
      });

      it('unchanged parts are carried by hash, never rewritten; a wrong hash is SEQUENCE_CONFLICT and changes nothing', async () => {
        const s = await newSession();
        const b1 = body(1, { memory: { facts: ['a', 'b'] }, context: { prompt: filler(3000) } });
        const m1 = await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 0,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: b1,
          history: turnEntries(1),
        });
        expect(await countRows('checkpoint_parts', s.id)).toBe(3);
        // state changes; context and memory declared unchanged
        const state2 = { n: 2 };
        const m2 = await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 1,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: { state: state2, context: null, memory: null, waits: [] },
          unchanged: { context: m1.parts.context, memory: m1.parts.memory! },
          history: turnEntries(2),
        });
        expect(await countRows('checkpoint_parts', s.id)).toBe(4);
        const full2 = { ...b1, state: state2 };
        expect(m2).toMatchObject(manifestOf(full2, [...turnEntries(1), ...turnEntries(2)]));
        expect(m2.parts.context).toBe(m1.parts.context);
        expect(m2.parts.memory).toBe(m1.parts.memory);
        expect(m2.size).toBe(m1.size - textBytes(b1.state) + textBytes(state2));
        expect((await store.getLatestCheckpoint(s.id))!.body).toEqual(full2);
        // a part whose bytes are the same as a stored one is stored once (content-addressed)
        await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 2,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: { ...b1, state: state2 },
        });
        expect(await countRows('checkpoint_parts', s.id)).toBe(4);
        // a wrong unchanged hash: the caller's view is stale
        const before = await snapshot(store, s.id);
        const e = await expectCode(
          store.appendCheckpoint({
            sessionId: s.id,
            expectedSeq: 3,
            schemaVersion: 1,
            writtenBy: 'v1',
            body: { state: { n: 4 }, context: null, waits: [] },
            unchanged: { context: sha256Hex('"some other context"') },
            history: turnEntries(4),
            turnResult: { key: 'key-x', result: 'x' },
          }),
          'SEQUENCE_CONFLICT',
        );
        expect(e.details).toMatchObject({ sessionId: s.id, expectedSeq: 3, part: 'context' });
        // the hash of an older checkpoint's part is stale too
        const s1 = (await store.getCheckpoint(s.id, 1)).parts.state;
        await expectCode(
          store.appendCheckpoint({
            sessionId: s.id,
            expectedSeq: 3,
            schemaVersion: 1,
            writtenBy: 'v1',
            body: { state: null, context: { c: 1 }, waits: [] },
            unchanged: { state: s1 },
          }),
          'SEQUENCE_CONFLICT',
        );
        expect(await snapshot(store, s.id)).toEqual(before);
        // unchanged on a session's first checkpoint: nothing to carry
        const fresh = await newSession();
        await expectCode(
          store.appendCheckpoint({
            sessionId: fresh.id,
            expectedSeq: 0,
            schemaVersion: 1,
            writtenBy: 'v1',
            body: { state: { n: 1 }, context: null, waits: [] },
            unchanged: { context: m1.parts.context },
          }),
          'SEQUENCE_CONFLICT',
        );
        expect(await store.listCheckpoints(fresh.id)).toEqual([]);
        expect(await countRows('checkpoint_parts', fresh.id)).toBe(0);
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
          history: turnEntries(50 + expectedSeq, 2),
          session: { version: 'v2' },
          migration: v1ToV2(),
          requireNoLease: true,
        });
        const results = await store.appendCheckpoints([
          item(ok.id, 0),
          item(stale.id, 0),
          item(u('missing'), 0),
          item(busy.id, 1),
          item(leased.id, 1),
          { ...item(ok.id, 1), history: [entryOfBytes(2 * 1024 * 1024, 1)] },
        ]);
        expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
          'ok',
          'SEQUENCE_CONFLICT',
          'SESSION_NOT_FOUND',
          'SESSION_BUSY',
          'ok',
          'CHECKPOINT_TOO_LARGE',
        ]);
        expect(results[0]).toMatchObject({
          ok: true,
          meta: { sessionId: ok.id, seq: 1, writtenBy: 'v2', ...manifestOf(body(50), turnEntries(50, 2)) },
        });
        expect(await store.getSession(ok.id)).toMatchObject({ seq: 1, version: 'v2' });
        expect((await store.getLatestCheckpoint(ok.id))!.body).toEqual(body(50));
        expect((await store.readHistory(ok.id)).entries).toEqual(stored(turnEntries(50, 2)));
        expect((await store.listMigrations({ sessionId: ok.id })).map((m) => m.seq)).toEqual([1]);
        expect(await store.getSession(leased.id)).toMatchObject({
          seq: 2,
          version: 'v2',
          leaseOwner: expiredLease.owner,
        });
        expect((await store.readHistory(leased.id)).entries).toEqual(
          stored([...turnEntries(1), ...turnEntries(51, 2)]),
        );
        expect(await snapshot(store, stale.id)).toEqual(before.stale);
        expect(await snapshot(store, busy.id)).toEqual(before.busy);
        expect(await store.appendCheckpoints([])).toEqual([]);
      });

      it('appendCheckpoints: an item refused after its seq moved (a stale unchanged part) writes nothing; the others commit', async () => {
        const first = await newSession();
        const stale = await newSession();
        const last = await newSession();
        await appendV1(stale.id, 0, 1);
        const before = await snapshot(store, stale.id);
        const item = (sessionId: string, expectedSeq: number, n: number, extra = {}) => ({
          sessionId,
          expectedSeq,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: body(n),
          history: turnEntries(n, 2),
          ...extra,
        });
        const results = await store.appendCheckpoints([
          item(first.id, 0, 60),
          // its seq compare-and-set passes; the part it declares unchanged is not checkpoint #1's
          item(stale.id, 1, 61, { unchanged: { state: sha256Hex('not the stored state') } }),
          item(last.id, 0, 62),
        ]);
        expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['ok', 'SEQUENCE_CONFLICT', 'ok']);
        expect(await snapshot(store, stale.id)).toEqual(before);
        for (const [s, n] of [
          [first, 60],
          [last, 62],
        ] as const) {
          expect(await store.getSession(s.id)).toMatchObject({ seq: 1 });
          expect((await store.getLatestCheckpoint(s.id))!.body).toEqual(body(n));
          expect((await store.readHistory(s.id)).entries).toEqual(stored(turnEntries(n, 2)));
        }
        // the refused session goes on from where it was, its log chained from checkpoint #1
        await appendV1(stale.id, 1, 63);
        expect((await store.readHistory(stale.id)).entries).toEqual(
          stored([...turnEntries(1), ...turnEntries(63)]),
        );
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

      it('an append interrupted by a killed process leaves the previous checkpoint and its history intact', async () => {
        const s = await newSession();
        const m1 = await appendV1(s.id, 0, 1);
        const before = await snapshot(store, s.id);
        const extra = {
          history: turnEntries(2, 3),
          unchanged: { context: m1.parts.context },
          waits: [{ token: u('crash-wait'), name: 'cb', deadline: t + 1000, schema: null, createdAt: t }],
        };
        const child = spawnChild('crash-child.ts', s.id, '1', JSON.stringify(extra));
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
        expect((await store.readHistory(s.id)).total).toBe(1);
        child.kill('SIGKILL');
        expect(await exited).toBeNull();
        const fresh = await h.open({ now });
        try {
          // neither the checkpoint nor its entries, waits or turn result
          expect(await snapshot(fresh, s.id)).toEqual(before);
          expect(await fresh.getLatestCheckpoint(s.id)).toEqual({ ...m1, body: body(1) });
          expect(await fresh.readHistory(s.id)).toMatchObject({ total: 1, entries: stored(turnEntries(1)) });
          expect(await countRows('history', s.id)).toBe(1);
          expect(await fresh.getTurnResult(s.id, 'crash-key')).toBeUndefined();
          // and the store is writable again, the log continuing from where it was
          const m2 = await appendV1(s.id, 1, 2, fresh);
          expect(m2).toMatchObject({ seq: 2, historyLength: 2 });
          expect((await fresh.readHistory(s.id)).entries).toEqual(
            stored([...turnEntries(1), ...turnEntries(2)]),
          );
        } finally {
          await fresh.close();
        }
      });

      it('a process killed at a random moment of an append loop leaves each checkpoint with all of its entries or neither', async () => {
        for (let round = 0; round < 3; round++) {
          const s = await newSession();
          await store.appendCheckpoint({
            sessionId: s.id,
            expectedSeq: 0,
            schemaVersion: 1,
            writtenBy: 'loop',
            body: { state: { n: 1 }, context: { n: 1 }, waits: [] },
            history: loopEntries(1),
          });
          const tag = `append-loop-${round}-${s.id.replace(/[^A-Za-z0-9]/g, '').slice(-12)}`;
          const child = spawnChildOn(childTarget(tag), 'append-loop-child.ts', s.id);
          let err = '';
          child.stderr.on('data', (d: Buffer) => (err += d.toString()));
          // 'close': the process is gone and everything it printed has been read
          const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
          let out = '';
          let killing = false;
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`append loop never ran: ${err}`)), 30_000);
            child.stdout.on('data', (d: Buffer) => {
              out += d.toString();
              if (!killing && out.split('\n').filter(Boolean).length >= 3 + round * 5) {
                killing = true;
                clearTimeout(timer);
                setTimeout(
                  () => {
                    child.kill('SIGKILL');
                    resolve();
                  },
                  Math.floor(Math.random() * 15),
                );
              }
            });
            child.on('exit', () => {
              clearTimeout(timer);
              if (!killing) reject(new Error(`append loop exited early: ${err}`));
            });
          });
          await closed;
          await childBackendsGone(tag);
          const lines = out.split('\n').filter(Boolean);
          const printed = Number(lines[lines.length - 1]);
          const fresh = await h.open({ now });
          try {
            const session = await fresh.getSession(s.id);
            expect(session.seq).toBeGreaterThanOrEqual(printed);
            expect(session.seq).toBeLessThanOrEqual(printed + 1);
            const expected: HistoryEntry[] = [];
            for (let n = 1; n <= session.seq; n++) expected.push(...loopEntries(n));
            const latest = await fresh.getLatestCheckpoint(s.id);
            expect(latest).toMatchObject({ seq: session.seq, body: { state: { n: session.seq } } });
            expect(latest!.historyLength).toBe(expected.length);
            expect(latest!.historyHead).toBe(chainOf(expected));
            expect(await countRows('history', s.id)).toBe(expected.length);
            const walked = await walkHistory(fresh, s.id, { limit: 1000 });
            expect(walked.entries).toEqual(stored(expected));
            const seqs = (await fresh.listCheckpoints(s.id)).map((c) => c.seq);
            expect(seqs).toEqual(seqs.map((_, i) => session.seq - i));
            // the next append continues the log
            const next = await fresh.appendCheckpoint({
              sessionId: s.id,
              expectedSeq: session.seq,
              schemaVersion: 1,
              writtenBy: 'after',
              body: body(0),
              history: turnEntries(0),
            });
            expect(next.historyLength).toBe(expected.length + 1);
          } finally {
            await fresh.close();
          }
        }
      });
    });

    describe('history log', () => {
      /** A session with `total` entries appended over many appends of varied entry counts (some none). */
      async function longSession(total: number, seed: number) {
        const s = await newSession();
        const counts = fc.sample(fc.integer({ min: 0, max: 17 }), { numRuns: total, seed });
        const roles: HistoryEntry['role'][] = ['user', 'agent', 'tool', 'system', 'callback'];
        const all: HistoryEntry[] = [];
        let seq = 0;
        for (const c of counts) {
          if (all.length >= total) break;
          const n = Math.min(c, total - all.length);
          const entries: HistoryEntry[] = Array.from({ length: n }, (_, j) => {
            const i = all.length + j;
            return {
              role: roles[i % roles.length]!,
              content: i % 3 === 0 ? `entry ${i} ✓` : { i, text: filler(i % 97, i % 30), list: [i, 'x'] },
              turnId: `turn-${seq + 1}`,
              at: 10_000 + i,
            };
          });
          await store.appendCheckpoint({
            sessionId: s.id,
            expectedSeq: seq++,
            schemaVersion: 1,
            writtenBy: 'v1',
            body: { state: { seq }, context: null, waits: [] },
            history: entries,
          });
          all.push(...entries);
        }
        expect(all.length).toBe(total);
        return { s, all, seq };
      }

      let long: Awaited<ReturnType<typeof longSession>>;
      const TOTAL = 2345;

      beforeAll(async () => {
        long = await longSession(TOTAL, 20261201);
      });

      it('readHistory walks every entry exactly once, in order, from the newest page down', async () => {
        const { s, all, seq } = long;
        expect((await store.getLatestCheckpoint(s.id))!.historyLength).toBe(TOTAL);
        expect(seq).toBeGreaterThan(200);
        // default page: the newest 100
        const first = await store.readHistory(s.id);
        expect(first).toEqual({
          sessionId: s.id,
          entries: stored(all.slice(TOTAL - 100), TOTAL - 100),
          total: TOTAL,
          nextBefore: TOTAL - 100,
          trimmed: null,
        });
        for (const limit of [undefined, 1, 7, 100, 999, 1000]) {
          const walked = await walkHistory(store, s.id, limit === undefined ? {} : { limit });
          expect(walked.entries).toEqual(stored(all));
          expect(walked.pages.length).toBe(Math.ceil(TOTAL / (limit ?? 100)));
          for (const p of walked.pages) expect(p.total).toBe(TOTAL);
        }
      });

      it('readHistory pages: `before` is exclusive, `limit` bounds the page, nextBefore is the first index or null', async () => {
        const { s, all } = long;
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 0, max: TOTAL }),
            fc.integer({ min: 1, max: 1000 }),
            async (before, limit) => {
              const page = await store.readHistory(s.id, { before, limit });
              const from = Math.max(0, before - limit);
              expect(page.entries).toEqual(stored(all.slice(from, before), from));
              expect(page.nextBefore).toBe(from > 0 ? from : null);
              expect(page.total).toBe(TOTAL);
            },
          ),
          { numRuns: 40, seed: 7 },
        );
        expect((await store.readHistory(s.id, { before: 0 })).entries).toEqual([]);
        expect((await store.readHistory(s.id, { before: 10, limit: 3 })).entries.map((e) => e.index)).toEqual(
          [7, 8, 9],
        );
      });

      it('readHistory refuses bad queries with VALIDATION and answers an empty log', async () => {
        const { s } = long;
        for (const q of [
          { limit: 0 },
          { limit: 1001 },
          { limit: -1 },
          { limit: 2.5 },
          { limit: Number.NaN },
          { before: -1 },
          { before: 1.5 },
          { before: Number.NaN },
          { maxBytes: -1 },
        ]) {
          const e = await expectCode(store.readHistory(s.id, q), 'VALIDATION');
          expect(httpStatus(e.code)).toBe(400);
        }
        await expectCode(store.readHistory(u('missing')), 'SESSION_NOT_FOUND');
        const empty = await newSession();
        expect(await store.readHistory(empty.id)).toEqual({
          sessionId: empty.id,
          entries: [],
          total: 0,
          nextBefore: null,
          trimmed: null,
        });
        // a session whose checkpoints appended no entries
        await store.appendCheckpoint({
          sessionId: empty.id,
          expectedSeq: 0,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: body(1),
        });
        expect(await store.readHistory(empty.id)).toMatchObject({ entries: [], total: 0, nextBefore: null });
      });

      it('readHistory maxBytes keeps the newest entries that fit, and paging by bytes still sees every entry once', async () => {
        const { s, all } = long;
        const sizes = all.map(entryBytes);
        const newest3 = sizes.slice(TOTAL - 3).reduce((a, b) => a + b, 0);
        const page = await store.readHistory(s.id, { maxBytes: newest3 });
        expect(page.entries).toEqual(stored(all.slice(TOTAL - 3), TOTAL - 3));
        expect(page.nextBefore).toBe(TOTAL - 3);
        const almost = await store.readHistory(s.id, { maxBytes: newest3 + sizes[TOTAL - 4]! - 1 });
        expect(almost.entries.map((e) => e.index)).toEqual([TOTAL - 3, TOTAL - 2, TOTAL - 1]);
        const exact4 = await store.readHistory(s.id, { maxBytes: newest3 + sizes[TOTAL - 4]! });
        expect(exact4.entries.map((e) => e.index)).toEqual([TOTAL - 4, TOTAL - 3, TOTAL - 2, TOTAL - 1]);
        // limit and maxBytes together: whichever is smaller
        expect((await store.readHistory(s.id, { maxBytes: newest3, limit: 2 })).entries.length).toBe(2);
        // below `before`
        const older = sizes.slice(100, 105).reduce((a, b) => a + b, 0);
        expect(
          (await store.readHistory(s.id, { before: 105, maxBytes: older })).entries.map((e) => e.index),
        ).toEqual([100, 101, 102, 103, 104]);
        const walked = await walkHistory(store, s.id, { limit: 1000, maxBytes: 4000 });
        expect(walked.entries).toEqual(stored(all));
        for (const p of walked.pages) {
          expect(p.entries.reduce((a, e) => a + entryBytes(e), 0)).toBeLessThanOrEqual(4000);
        }
      });

      it('readHistory with maxBytes below an entry’s size still makes progress: nextBefore never repeats the cursor', async () => {
        const s = await newSession();
        const entries = [entryOfBytes(80, 0), entryOfBytes(400, 1), entryOfBytes(80, 2)];
        await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 0,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: body(1),
          history: entries,
        });
        const first = await store.readHistory(s.id, { maxBytes: 100 });
        expect(first.entries).toEqual(stored(entries.slice(2), 2));
        expect(first.nextBefore).toBe(2);
        // entry 1 alone is over the budget: whatever the page holds, walking on must not ask for the same page again
        const second = await store.readHistory(s.id, { before: 2, maxBytes: 100 });
        expect(second.nextBefore === null || second.nextBefore < 2, `nextBefore ${second.nextBefore}`).toBe(
          true,
        );
      });

      it('a history entry corrupted in the database (its bytes) is caught by readHistory and by beginTurn', async () => {
        // `store` wrote the entries and may serve its own verified copy of the window; another
        // handle (another router, or this one after a restart) reads them from the database
        const reader = await h.open({ now });
        const s = await newSession();
        const all: HistoryEntry[] = [];
        for (let i = 0; i < 6; i++) {
          await appendV1(s.id, i, i);
          all.push(...turnEntries(i));
        }
        const tampered = JSON.stringify({
          role: 'user',
          content: 'I never said that',
          turnId: 't3',
          at: 1003,
        });
        await h.rawExec(`UPDATE history SET body = '${tampered}' WHERE session_id = '${s.id}' AND idx = 3`);
        const e = await expectCode(store.readHistory(s.id), 'CHECKPOINT_CORRUPT');
        expect(e.details).toMatchObject({
          sessionId: s.id,
          part: 'history[3]',
          expectedHash: sha256Hex(historyEntryText(all[3]!)),
          actualHash: sha256Hex(tampered),
        });
        expect(
          (await expectCode(store.readHistory(s.id, { before: 4, limit: 1 }), 'CHECKPOINT_CORRUPT')).details,
        ).toMatchObject({
          part: 'history[3]',
        });
        const bad = started(
          await beginTurn(reader, s.id, 'k', 'router', 30_000, { entries: 4, bytes: 1 << 20 }),
        );
        expect(bad.checkpoint).toBeNull();
        expect(bad.history).toEqual([]);
        expect(bad.checkpointError?.code).toBe('CHECKPOINT_CORRUPT');
        expect(bad.checkpointError?.details).toMatchObject({ sessionId: s.id, part: 'history[3]' });
        expect(await store.getSession(s.id)).toMatchObject({ leaseOwner: 'router', status: 'idle' });
        await reader.releaseLease(bad.lease);
        // a window that does not reach the corrupt entry starts the turn
        const ok = started(
          await beginTurn(reader, s.id, 'k', 'router', 30_000, { entries: 2, bytes: 1 << 20 }),
        );
        expect(ok.checkpointError).toBeUndefined();
        expect(ok.history).toEqual(stored(all.slice(4), 4));
        await reader.releaseLease(ok.lease);
        // an entry that is gone from the log (no retention marker explains it)
        const s2 = await newSession();
        for (let i = 0; i < 6; i++) await appendV1(s2.id, i, i);
        await h.rawExec(`DELETE FROM history WHERE session_id = '${s2.id}' AND idx = 3`);
        const gone = await expectCode(store.readHistory(s2.id), 'CHECKPOINT_CORRUPT');
        expect(String(gone.details?.part)).toMatch(/^history\[[34]\]/);
        const bad2 = started(
          await beginTurn(reader, s2.id, 'k', 'router', 30_000, { entries: 4, bytes: 1 << 20 }),
        );
        expect(bad2.checkpointError?.code).toBe('CHECKPOINT_CORRUPT');
        expect(bad2.history).toEqual([]);
        expect((await store.getSession(s2.id)).leaseOwner).toBe('router');
        await reader.close();
      });

      it('an entry rewritten with a matching hash (only the chain can tell) is caught by readHistory and by beginTurn', async () => {
        const reader = await h.open({ now }); // reads from the database, not from a writer's cache
        const s = await newSession();
        for (let i = 0; i < 6; i++) await appendV1(s.id, i, i);
        const forged = JSON.stringify({ role: 'user', content: 'forged', turnId: 't2', at: 1002 });
        await h.rawExec(
          `UPDATE history SET body = '${forged}', hash = '${sha256Hex(forged)}' WHERE session_id = '${s.id}' AND idx = 2`,
        );
        for (const q of [{}, { before: 3, limit: 1 }, { before: 4, limit: 2 }]) {
          const e = await expectCode(store.readHistory(s.id, q), 'CHECKPOINT_CORRUPT');
          expect(String(e.details?.part)).toMatch(/^history\[2\]/);
        }
        const bad = started(
          await beginTurn(reader, s.id, 'k', 'router', 30_000, { entries: 10, bytes: 1 << 20 }),
        );
        expect(bad.checkpointError?.code).toBe('CHECKPOINT_CORRUPT');
        expect(String(bad.checkpointError?.details?.part)).toMatch(/^history\[2\]/);
        expect(bad.history).toEqual([]);
        expect((await store.getSession(s.id)).leaseOwner).toBe('router');
        await reader.releaseLease(bad.lease);
        // the newest entry forged with hash and chain consistent: the checkpoint's head tells
        const s2 = await newSession();
        for (let i = 0; i < 3; i++) await appendV1(s2.id, i, i);
        const prev = chainOf(turnEntries(0).concat(turnEntries(1)));
        const forged2 = JSON.stringify({ role: 'user', content: 'forged', turnId: 't2', at: 1002 });
        await h.rawExec(
          `UPDATE history SET body = '${forged2}', hash = '${sha256Hex(forged2)}', chain = '${historyChain(prev, sha256Hex(forged2))}' WHERE session_id = '${s2.id}' AND idx = 2`,
        );
        const bad2 = started(
          await beginTurn(reader, s2.id, 'k', 'router', 30_000, { entries: 10, bytes: 1 << 20 }),
        );
        expect(bad2.checkpointError?.code).toBe('CHECKPOINT_CORRUPT');
        expect(bad2.history).toEqual([]);
        expect((await store.getSession(s2.id)).leaseOwner).toBe('router');
        await reader.close();
      });

      it('windows stay exact when two handles append to one session in turn (no stale copy is served)', async () => {
        const other = await h.open({ now });
        try {
          const s = await newSession();
          const all: HistoryEntry[] = [];
          const w = { entries: 5, bytes: 1 << 20 };
          for (let i = 0; i < 12; i++) {
            // alternate writers, and read the window through both after every append
            const via = i % 3 === 2 ? other : store;
            await appendV1(s.id, i, i, via);
            all.push(...turnEntries(i));
            for (const reader of [store, other]) {
              const b = started(await beginTurn(reader, s.id, `k${i}`, 'router', 30_000, w));
              expect(b.checkpointError).toBeUndefined();
              expect(b.history).toEqual(stored(all.slice(-5), Math.max(0, all.length - 5)));
              await reader.releaseLease(b.lease);
            }
          }
          // a refused append (stale seq) leaves the writer's view unchanged
          await expectCode(appendV1(s.id, 3, 99), 'SEQUENCE_CONFLICT');
          const b = started(await beginTurn(store, s.id, 'k-last', 'router', 30_000, w));
          expect(b.history).toEqual(stored(all.slice(-5), all.length - 5));
          await store.releaseLease(b.lease);
        } finally {
          await other.close();
        }
      });

      it('a history entry over maxHistoryEntryBytes is refused with CHECKPOINT_TOO_LARGE naming it; nothing changes', async () => {
        const limited = await h.open({ now, maxHistoryEntryBytes: 512 });
        try {
          const s = await newSession();
          await appendV1(s.id, 0, 0);
          const before = await snapshot(store, s.id);
          const big = entryOfBytes(600, 1);
          const e = await expectCode(
            limited.appendCheckpoint({
              sessionId: s.id,
              expectedSeq: 1,
              schemaVersion: 1,
              writtenBy: 'v1',
              body: body(1),
              history: [entryOfBytes(512, 0), big],
              turnResult: { key: 'key-x', result: 1 },
            }),
            'CHECKPOINT_TOO_LARGE',
          );
          expect(httpStatus(e.code)).toBe(413);
          expect(e.details).toMatchObject({ sessionId: s.id, part: 'history[1]', size: 600, limit: 512 });
          expect(await snapshot(store, s.id)).toEqual(before);
          // at the limit is fine
          const ok = await limited.appendCheckpoint({
            sessionId: s.id,
            expectedSeq: 1,
            schemaVersion: 1,
            writtenBy: 'v1',
            body: body(1),
            history: [entryOfBytes(512, 0)],
          });
          expect(ok.historyLength).toBe(2);
          // the default limit is 1 MiB
          const e2 = await expectCode(
            store.appendCheckpoint({
              sessionId: s.id,
              expectedSeq: 2,
              schemaVersion: 1,
              writtenBy: 'v1',
              body: body(2),
              history: [entryOfBytes(1024 * 1024 + 1, 3)],
            }),
            'CHECKPOINT_TOO_LARGE',
          );
          expect(e2.details).toMatchObject({ part: 'history[0]', size: 1024 * 1024 + 1, limit: 1024 * 1024 });
          expect((await store.getSession(s.id)).seq).toBe(2);
        } finally {
          await limited.close();
        }
      });

      it('a write over maxCheckpointBytes is refused with the sizes of its parts; unchanged parts and the log length do not count', async () => {
        const limited = await h.open({ now, maxCheckpointBytes: 64 * 1024 });
        try {
          const s = await newSession();
          const ctx = { prompt: filler(40 * 1024) };
          const m1 = await limited.appendCheckpoint({
            sessionId: s.id,
            expectedSeq: 0,
            schemaVersion: 1,
            writtenBy: 'v1',
            body: { state: { n: 0 }, context: ctx, waits: [] },
          });
          const before = await snapshot(store, s.id);
          const state = { blob: filler(30 * 1024) };
          const entries = [entryOfBytes(1000, 0), entryOfBytes(1000, 1)];
          const e = await expectCode(
            limited.appendCheckpoint({
              sessionId: s.id,
              expectedSeq: 1,
              schemaVersion: 1,
              writtenBy: 'v1',
              body: { state, context: ctx, waits: [] },
              history: entries,
            }),
            'CHECKPOINT_TOO_LARGE',
          );
          const written = textBytes(state) + textBytes(ctx) + 2 + 2000;
          expect(e.details).toMatchObject({
            sessionId: s.id,
            part: 'context',
            size: written,
            limit: 64 * 1024,
            parts: { state: textBytes(state), context: textBytes(ctx), waits: 2, history: 2000 },
          });
          expect(await snapshot(store, s.id)).toEqual(before);
          // the same checkpoint with the context carried by hash writes 32 KiB: accepted
          const m2 = await limited.appendCheckpoint({
            sessionId: s.id,
            expectedSeq: 1,
            schemaVersion: 1,
            writtenBy: 'v1',
            body: { state, context: null, waits: [] },
            unchanged: { context: m1.parts.context },
            history: entries,
          });
          expect(m2.size).toBe(written - 2000);
          expect(m2.size).toBeGreaterThan(64 * 1024);
          // 300 appends of 1 KiB entries: the log grows far past the limit, every append still fits
          let seq = 2;
          const all = [...entries];
          for (let i = 0; i < 300; i++) {
            const entry = entryOfBytes(1024, i, `long-${i}`, 50_000 + i);
            const m = await limited.appendCheckpoint({
              sessionId: s.id,
              expectedSeq: seq++,
              schemaVersion: 1,
              writtenBy: 'v1',
              body: { state: { i }, context: null, waits: [] },
              unchanged: { context: m1.parts.context },
              history: [entry],
            });
            all.push(entry);
            expect(m.historyLength).toBe(all.length);
          }
          expect(all.reduce((a, x) => a + entryBytes(x), 0)).toBeGreaterThan(4 * 64 * 1024);
          const walked = await walkHistory(limited, s.id, { limit: 1000 });
          expect(walked.entries).toEqual(stored(all));
          const turn = started(
            await beginTurn(limited, s.id, 'k', 'w', 30_000, { entries: 100, bytes: 1 << 20 }),
          );
          expect(turn.checkpointError).toBeUndefined();
          expect(turn.checkpoint!.body.context).toEqual(ctx);
          expect(turn.history).toEqual(stored(all.slice(all.length - 100), all.length - 100));
        } finally {
          await limited.close();
        }
      });

      it('retention maxEntries removes old entries with a marker; indexes never shift and the chain still verifies', async () => {
        const s = await newSession();
        const all: HistoryEntry[] = [];
        for (let i = 0; i < 4; i++) {
          await appendV1(s.id, i, i);
          all.push(...turnEntries(i));
        }
        t += 1000;
        const m = await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 4,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: body(4),
          history: turnEntries(4, 3),
          retention: { maxEntries: 5 },
        });
        all.push(...turnEntries(4, 3));
        expect(m.historyLength).toBe(7);
        expect(m.historyHead).toBe(chainOf(all));
        const page = await store.readHistory(s.id);
        expect(page.total).toBe(7);
        expect(page.entries).toEqual(stored(all.slice(2), 2));
        expect(page.nextBefore).toBeNull();
        expect(page.trimmed).toEqual({ before: 2, at: t, reason: expect.any(String) });
        expect(page.trimmed!.reason.length).toBeGreaterThan(0);
        expect(await countRows('history', s.id)).toBe(5);
        // paging below the marker returns nothing older
        expect(await store.readHistory(s.id, { before: 2 })).toMatchObject({
          entries: [],
          nextBefore: null,
          trimmed: { before: 2 },
        });
        expect(await store.readHistory(s.id, { before: 4, limit: 100 })).toMatchObject({
          entries: stored(all.slice(2, 4), 2),
          nextBefore: null,
        });
        expect(await store.readHistory(s.id, { before: 5, limit: 2 })).toMatchObject({
          entries: stored(all.slice(3, 5), 3),
          nextBefore: 3,
        });
        // the window after the trim verifies against the marker
        const turn = started(
          await beginTurn(store, s.id, 'k', 'w', 30_000, { entries: 100, bytes: 1 << 20 }),
        );
        expect(turn.checkpointError).toBeUndefined();
        expect(turn.history).toEqual(stored(all.slice(2), 2));
        await store.releaseLease(turn.lease);
        // the next entries continue the indexes; never this append's own entries are removed
        t += 1000;
        await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 5,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: body(5),
          history: turnEntries(5, 3),
          retention: { maxEntries: 1 },
        });
        all.push(...turnEntries(5, 3));
        const after = await store.readHistory(s.id);
        expect(after.entries).toEqual(stored(all.slice(7), 7));
        expect(after.total).toBe(10);
        expect(after.trimmed).toMatchObject({ before: 7, at: t });
        // an append without retention keeps everything
        await appendV1(s.id, 6, 6);
        all.push(...turnEntries(6));
        expect((await store.readHistory(s.id)).entries).toEqual(stored(all.slice(7), 7));
        // a corrupt kept entry is still caught after a trim
        await h.rawExec(`UPDATE history SET body = '{"x":1}' WHERE session_id = '${s.id}' AND idx = 7`);
        expect((await expectCode(store.readHistory(s.id), 'CHECKPOINT_CORRUPT')).details).toMatchObject({
          part: 'history[7]',
        });
      });

      it('retention maxAgeMs removes entries older than the age, with a marker', async () => {
        const s = await newSession();
        const all: HistoryEntry[] = [];
        for (let i = 0; i < 6; i++) {
          t += 1000;
          const entries = [
            { role: 'user' as const, content: `q${i}`, turnId: `age-${i}`, at: t },
            { role: 'agent' as const, content: `a${i}`, turnId: `age-${i}`, at: t },
          ];
          await store.appendCheckpoint({
            sessionId: s.id,
            expectedSeq: i,
            schemaVersion: 1,
            writtenBy: 'v1',
            body: body(i),
            history: entries,
            retention: { maxAgeMs: 2500 },
          });
          all.push(...entries);
        }
        // entries at t-5000 .. t: the ones at t-2000, t-1000 and t are younger than 2.5 s
        const page = await store.readHistory(s.id);
        expect(page.total).toBe(12);
        expect(page.entries).toEqual(stored(all.slice(6), 6));
        expect(page.trimmed).toMatchObject({ before: 6, at: t });
        expect(await countRows('history', s.id)).toBe(6);
        expect((await store.readHistory(s.id, { before: 6 })).entries).toEqual([]);
        const turn = started(
          await beginTurn(store, s.id, 'k', 'w', 30_000, { entries: 100, bytes: 1 << 20 }),
        );
        expect(turn.checkpointError).toBeUndefined();
        expect(turn.history).toEqual(stored(all.slice(6), 6));
        await store.releaseLease(turn.lease);
        // an append without entries whose retention removes every entry: the log is empty but keeps its length
        t += 10_000;
        await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 6,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: body(6),
          retention: { maxAgeMs: 2500 },
        });
        expect(await store.readHistory(s.id)).toEqual({
          sessionId: s.id,
          entries: [],
          total: 12,
          nextBefore: null,
          trimmed: { before: 12, at: t, reason: expect.any(String) },
        });
        expect(await countRows('history', s.id)).toBe(0);
        const empty = started(
          await beginTurn(store, s.id, 'k2', 'w', 30_000, { entries: 100, bytes: 1 << 20 }),
        );
        expect(empty.checkpointError).toBeUndefined();
        expect(empty.history).toEqual([]);
        await store.releaseLease(empty.lease);
        // and the log continues at index 12, chained from the marker
        const next = [{ role: 'user' as const, content: 'again', turnId: 'age-7', at: t }];
        await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 7,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: body(7),
          history: next,
        });
        all.push(...next);
        expect(await store.readHistory(s.id)).toMatchObject({
          entries: stored(next, 12),
          total: 13,
          nextBefore: null,
        });
        expect((await store.getLatestCheckpoint(s.id))!.historyHead).toBe(chainOf(all));
        const again = started(
          await beginTurn(store, s.id, 'k3', 'w', 30_000, { entries: 100, bytes: 1 << 20 }),
        );
        expect(again.checkpointError).toBeUndefined();
        expect(again.history).toEqual(stored(next, 12));
        await store.releaseLease(again.lease);
      });

      it('compaction runs on every append, keeps the last keepCheckpoints and GCs parts; history untouched', async () => {
        const k3 = await h.open({ now, keepCheckpoints: 3 });
        try {
          const s = await newSession();
          const all: HistoryEntry[] = [];
          const ctx = { prompt: 'shared context' };
          for (let i = 0; i < 8; i++) {
            await k3.appendCheckpoint({
              sessionId: s.id,
              expectedSeq: i,
              schemaVersion: 1,
              writtenBy: 'v1',
              body: { state: { i }, context: ctx, memory: { m: i % 2 }, waits: [] },
              history: turnEntries(i, 2),
            });
            all.push(...turnEntries(i, 2));
            const seqs = (await k3.listCheckpoints(s.id)).map((c) => c.seq);
            expect(seqs).toEqual(Array.from({ length: Math.min(3, i + 1) }, (_, j) => i + 1 - j));
          }
          const kept = await k3.listCheckpoints(s.id);
          expect(await partHashes(s.id)).toEqual(referenced(kept));
          // 3 states + 1 shared context + 2 memories
          expect(await countRows('checkpoint_parts', s.id)).toBe(6);
          await expectCode(k3.getCheckpoint(s.id, 5), 'CHECKPOINT_NOT_FOUND');
          for (const m of kept)
            expect((await k3.getCheckpoint(s.id, m.seq)).body.state).toEqual({ i: m.seq - 1 });
          // the log is never compacted
          expect((await walkHistory(k3, s.id, { limit: 5 })).entries).toEqual(stored(all));
          expect(await countRows('history', s.id)).toBe(16);
        } finally {
          await k3.close();
        }
      });

      it('compaction never drops the checkpoints on both sides of a migration', async () => {
        const k3 = await h.open({ now, keepCheckpoints: 3 });
        try {
          const s = await newSession();
          for (let i = 0; i < 3; i++) await appendV1(s.id, i, i, k3);
          await k3.appendCheckpoint({
            sessionId: s.id,
            expectedSeq: 3,
            schemaVersion: 2,
            writtenBy: 'v2',
            body: body(3),
            history: turnEntries(3),
            session: { version: 'v2' },
            migration: v1ToV2(),
          });
          for (let i = 4; i < 9; i++) await appendV1(s.id, i, i, k3);
          const kept = await k3.listCheckpoints(s.id);
          expect(kept.map((c) => c.seq)).toEqual([9, 8, 7, 4, 3]);
          expect((await k3.getCheckpoint(s.id, 3)).body).toEqual(body(2));
          expect((await k3.getCheckpoint(s.id, 4)).body).toEqual(body(3));
          expect(await partHashes(s.id)).toEqual(referenced(kept));
          // explicit compaction respects them too
          expect(await k3.compactCheckpoints(s.id, 1)).toBe(2);
          const left = await k3.listCheckpoints(s.id);
          expect(left.map((c) => c.seq)).toEqual([9, 4, 3]);
          expect(await partHashes(s.id)).toEqual(referenced(left));
          expect((await k3.readHistory(s.id)).total).toBe(9);
        } finally {
          await k3.close();
        }
        // keepCheckpoints 1: the migration's append itself would compact the checkpoint it pins
        const k1 = await h.open({ now, keepCheckpoints: 1 });
        try {
          const s = await newSession();
          for (let i = 0; i < 3; i++) await appendV1(s.id, i, i, k1);
          expect((await k1.listCheckpoints(s.id)).map((c) => c.seq)).toEqual([3]);
          await k1.appendCheckpoint({
            sessionId: s.id,
            expectedSeq: 3,
            schemaVersion: 2,
            writtenBy: 'v2',
            body: body(3),
            migration: v1ToV2(),
          });
          expect((await k1.listCheckpoints(s.id)).map((c) => c.seq)).toEqual([4, 3]);
          await appendV1(s.id, 4, 4, k1);
          const kept = await k1.listCheckpoints(s.id);
          expect(kept.map((c) => c.seq)).toEqual([5, 4, 3]);
          expect((await k1.getCheckpoint(s.id, 3)).body).toEqual(body(2));
          expect(await partHashes(s.id)).toEqual(referenced(kept));
        } finally {
          await k1.close();
        }
      });

      it('compactCheckpoints keeps the last K without holes, skips pinned ones and GCs parts', async () => {
        const s = await newSession();
        for (let i = 0; i < 6; i++) {
          await appendV1(s.id, i, i);
        }
        expect(await store.compactCheckpoints(s.id, 3)).toBe(3);
        expect((await store.listCheckpoints(s.id)).map((c) => c.seq)).toEqual([6, 5, 4]);
        expect(await partHashes(s.id)).toEqual(referenced(await store.listCheckpoints(s.id)));
        expect(await store.compactCheckpoints(s.id, 3)).toBe(0);
        await expectCode(store.getCheckpoint(s.id, 3), 'CHECKPOINT_NOT_FOUND');
        await appendV1(s.id, 6, 7);
        expect(await store.compactCheckpoints(s.id, 1)).toBe(3);
        expect((await store.listCheckpoints(s.id)).map((c) => c.seq)).toEqual([7]);
        expect((await store.getLatestCheckpoint(s.id))!.body).toEqual(body(7));
        expect(await partHashes(s.id)).toEqual(referenced(await store.listCheckpoints(s.id)));
        await expectCode(store.compactCheckpoints(s.id, 0), 'VALIDATION');
        expect((await store.listCheckpoints(s.id)).length).toBe(1);
        expect((await store.readHistory(s.id)).total).toBe(7);
        // pinned: both sides of a migration
        const p = await newSession();
        await appendV1(p.id, 0, 0);
        await appendV1(p.id, 1, 1);
        await store.appendCheckpoint({
          sessionId: p.id,
          expectedSeq: 2,
          schemaVersion: 2,
          writtenBy: 'v2',
          body: body(2),
          migration: v1ToV2(),
        });
        for (let i = 3; i < 6; i++) await appendV1(p.id, i, i);
        expect(await store.compactCheckpoints(p.id, 1)).toBe(3);
        expect((await store.listCheckpoints(p.id)).map((c) => c.seq)).toEqual([6, 3, 2]);
        expect(await partHashes(p.id)).toEqual(referenced(await store.listCheckpoints(p.id)));
      });

      it('the default keepCheckpoints is 10', async () => {
        const s = await newSession();
        for (let i = 0; i < 12; i++) await appendV1(s.id, i, i);
        expect((await store.listCheckpoints(s.id)).map((c) => c.seq)).toEqual([
          12, 11, 10, 9, 8, 7, 6, 5, 4, 3,
        ]);
        expect((await store.readHistory(s.id)).total).toBe(12);
      });
    });

    describe('shared secrets', () => {
      it('sharedSecret is 32 random bytes, stable across handles and processes, different by name', async () => {
        const name = u('secret');
        const other = await h.open({ now });
        try {
          const [a, b] = await Promise.all([store.sharedSecret(name), other.sharedSecret(name)]);
          expect(Buffer.isBuffer(a)).toBe(true);
          expect(a.length).toBe(32);
          expect(b.equals(a)).toBe(true);
          expect((await store.sharedSecret(name)).equals(a)).toBe(true);
          const fromChild = (await runChild('secret-child.ts', name)).trim();
          expect(fromChild).toBe(a.toString('hex'));
          const c = await store.sharedSecret(u('secret'));
          expect(c.length).toBe(32);
          expect(c.equals(a)).toBe(false);
          expect(a.equals(Buffer.alloc(32))).toBe(false);
        } finally {
          await other.close();
        }
        const reopened = await h.open({ now });
        try {
          expect((await reopened.sharedSecret(name)).toString('hex')).toBe(
            (await store.sharedSecret(name)).toString('hex'),
          );
        } finally {
          await reopened.close();
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

      it('records an intent once per key and walks intent → committed idempotently', async () => {
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
          compensationState: 'pending',
          compensationAttempts: 0,
          compensates: null,
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
        const again = await store.recordEffectIntent(intent(key, s.id, agent));
        expect(again).toEqual({ effect: c, existing: true });
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
        const { effect: rec } = await store.recordEffectIntent(intent(key, s.id, agent));
        await expectCode(
          store.claimCompensation(rec.id, { owner: 'o', version: 'v1', ttlMs: 1000 }),
          'EFFECT_NOT_COMPENSABLE',
        );
        const f = await store.failEffect(key, 'smtp down');
        expect(f).toMatchObject({ status: 'failed', error: 'smtp down' });
        expect(await store.failEffect(key, 'smtp down')).toEqual(f);
        const e = await expectCode(store.commitEffect(key, { ok: true }), 'CONFLICT');
        expect(e.details).toMatchObject({ idempotencyKey: key, status: 'failed' });
        expect(await store.getEffect(key)).toEqual(f);
        await expectCode(store.getEffect(u('none')), 'EFFECT_NOT_FOUND');
        await expectCode(store.commitEffect(u('none'), 1), 'EFFECT_NOT_FOUND');
        await expectCode(store.failEffect(u('none'), 'x'), 'EFFECT_NOT_FOUND');
        await expectCode(store.getEffectById(u('none')), 'EFFECT_NOT_FOUND');
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

    describe('compensation state', () => {
      /** A committed effect of a new session, declaring `compensation`. */
      async function committed(compensation: string | null = 'cancel_ticket', extra: object = {}) {
        const agent = u('agent');
        const s = await newSession(agent);
        const key = u('eff');
        await store.recordEffectIntent({
          idempotencyKey: key,
          sessionId: s.id,
          agent,
          version: 'v1',
          turnId: 'turn-1',
          name: 'create_ticket',
          args: { subject: 'refund' },
          compensation,
          ...extra,
        });
        return store.commitEffect(key, { ticketId: 'T-1' });
      }
      const claim = (owner: string, ttlMs = 1000, version = 'v1') => ({ owner, version, ttlMs });

      it('pending → running (owner, expiry, version, attempts) → compensated, once', async () => {
        const e = await committed();
        expect(e).toMatchObject({
          compensationState: 'pending',
          compensationAttempts: 0,
          compensationOwner: null,
        });
        const run = await store.claimCompensation(e.id, claim('run-a', 500, 'v2'));
        expect(run).toMatchObject({
          status: 'committed',
          compensationState: 'running',
          compensationOwner: 'run-a',
          compensationExpiresAt: t + 500,
          compensationVersion: 'v2',
          compensationAttempts: 1,
        });
        const done = await store.finishCompensation(e.id, 'run-a', {
          ok: true,
          result: { cancelled: 'T-1' },
        });
        expect(done).toMatchObject({
          status: 'committed',
          result: { ticketId: 'T-1' },
          compensationState: 'compensated',
          compensationResult: { cancelled: 'T-1' },
          compensationExpiresAt: null,
        });
        expect(await store.finishCompensation(e.id, 'run-a', { ok: true, result: 'again' })).toEqual(done);
        const again = await expectCode(
          store.claimCompensation(e.id, claim('run-b')),
          'EFFECT_NOT_COMPENSABLE',
        );
        expect(again.details).toMatchObject({ effectId: e.id, compensationState: 'compensated' });
        await expectCode(store.skipCompensation(e.id, 'ops', 'late'), 'EFFECT_NOT_COMPENSABLE');
        expect(await store.getEffectById(e.id)).toEqual(done);
      });

      it('a held run is CONFLICT until its expiry; then another run takes it and the first cannot finish', async () => {
        const e = await committed();
        await store.claimCompensation(e.id, claim('run-a', 1000));
        const held = await expectCode(store.claimCompensation(e.id, claim('run-b')), 'CONFLICT');
        expect(held.details).toMatchObject({ owner: 'run-a' });
        await expectCode(store.skipCompensation(e.id, 'ops', 'no'), 'CONFLICT');
        t += 1000;
        const taken = await store.claimCompensation(e.id, claim('run-b'));
        expect(taken).toMatchObject({ compensationOwner: 'run-b', compensationAttempts: 2 });
        await expectCode(store.finishCompensation(e.id, 'run-a', { ok: true, result: null }), 'CONFLICT');
        expect(await store.getEffectById(e.id)).toEqual(taken);
      });

      it('a failed run records its error and can be retried', async () => {
        const e = await committed();
        await store.claimCompensation(e.id, claim('run-a'));
        const f = await store.finishCompensation(e.id, 'run-a', { ok: false, error: 'ticket API down' });
        expect(f).toMatchObject({ compensationState: 'failed', compensationError: 'ticket API down' });
        const retry = await store.claimCompensation(e.id, claim('run-b'));
        expect(retry).toMatchObject({ compensationState: 'running', compensationAttempts: 2 });
        const ok = await store.finishCompensation(e.id, 'run-b', { ok: true, result: 1 });
        expect(ok).toMatchObject({ compensationState: 'compensated', compensationResult: 1 });
      });

      it('not-compensable: none declared, or skipped by an operator with who and why; held reasons', async () => {
        const none = await committed(null);
        expect(none).toMatchObject({
          compensationState: 'not-compensable',
          compensationReason: 'no compensation declared',
        });
        await expectCode(store.claimCompensation(none.id, claim('r')), 'EFFECT_NOT_COMPENSABLE');
        const e = await committed();
        const held = await store.holdCompensation(e.id, 'no healthy worker declares cancel_ticket');
        expect(held).toMatchObject({
          compensationState: 'pending',
          compensationReason: 'no healthy worker declares cancel_ticket',
        });
        const skipped = await store.skipCompensation(e.id, 'bo', 'the customer closed the ticket');
        expect(skipped).toMatchObject({
          compensationState: 'not-compensable',
          compensationBy: 'bo',
          compensationReason: 'the customer closed the ticket',
        });
        await expectCode(store.claimCompensation(e.id, claim('r')), 'EFFECT_NOT_COMPENSABLE');
        await expectCode(store.holdCompensation(e.id, 'x'), 'EFFECT_NOT_COMPENSABLE');
        await expectCode(store.claimCompensation(u('none'), claim('r')), 'EFFECT_NOT_FOUND');
        await expectCode(store.skipCompensation(u('none'), 'bo', 'x'), 'EFFECT_NOT_FOUND');
      });

      it("lists by compensation state and by kind (a compensation's own effects name what they compensate)", async () => {
        const e = await committed();
        const own = await committed(null, { compensates: e.id, turnId: `compensate:${e.id}` });
        expect(own.compensates).toBe(e.id);
        await store.claimCompensation(e.id, claim('run-a'));
        const of = async (q: object) =>
          (await store.listEffects({ agent: e.agent, ...q })).items.map((x) => x.id).sort();
        const ofOwn = async (q: object) =>
          (await store.listEffects({ agent: own.agent, ...q })).items.map((x) => x.id).sort();
        expect(await of({ compensationState: 'running' })).toEqual([e.id]);
        expect(await of({ compensationState: ['pending', 'compensated'] })).toEqual([]);
        expect(await of({ kind: 'turn' })).toEqual([e.id]);
        expect(await of({ kind: 'compensation' })).toEqual([]);
        expect(await ofOwn({ kind: 'compensation', compensationState: 'not-compensable' })).toEqual([own.id]);
        expect(await ofOwn({ kind: 'turn' })).toEqual([]);
      });
    });

    describe('crash recovery: effect attempts and resolutions', () => {
      const intentOf = (key: string, sessionId: string, agent: string, attemptId?: string) => ({
        idempotencyKey: key,
        sessionId,
        agent,
        version: 'v1',
        turnId: 'turn-1',
        name: 'send_email',
        args: { to: 'a@example.com' },
        compensation: null,
        ...(attemptId === undefined ? {} : { attemptId }),
      });

      it('a retried intent of the same attempt is its own; another attempt (or none) finds it in doubt', async () => {
        const agent = u('agent');
        const s = await newSession(agent);
        const key = u('eff');
        const first = await store.recordEffectIntent(intentOf(key, s.id, agent, 'att-1'));
        expect(first).toMatchObject({ existing: false, effect: { attemptId: 'att-1', resolution: null } });
        expect(await store.recordEffectIntent(intentOf(key, s.id, agent, 'att-1'))).toEqual(first);
        expect(await store.recordEffectIntent(intentOf(key, s.id, agent, 'att-2'))).toEqual({
          effect: first.effect,
          existing: true,
        });
        expect((await store.recordEffectIntent(intentOf(key, s.id, agent))).existing).toBe(true);
        // once committed, the same attempt sees the record as existing (it holds the result)
        const c = await store.commitEffect(key, { id: 1 });
        expect(await store.recordEffectIntent(intentOf(key, s.id, agent, 'att-1'))).toEqual({
          effect: c,
          existing: true,
        });
        const legacy = await store.recordEffectIntent(intentOf(u('eff'), s.id, agent));
        expect(legacy.effect.attemptId).toBeNull();
      });

      it('resolves an in-doubt effect once, with who and why; a late commit or a second resolution is CONFLICT', async () => {
        const agent = u('agent');
        const s = await newSession(agent);
        const key = u('eff');
        const { effect } = await store.recordEffectIntent(intentOf(key, s.id, agent, 'att-1'));
        t += 7;
        const r = await store.resolveEffect(effect.id, {
          status: 'committed',
          result: { messageId: 'm-9' },
          by: 'ana',
          reason: 'in the mail log',
        });
        expect(r).toMatchObject({
          id: effect.id,
          status: 'committed',
          result: { messageId: 'm-9' },
          error: null,
          updatedAt: t,
          resolution: { status: 'committed', by: 'ana', reason: 'in the mail log', at: t },
        });
        expect(await store.getEffect(key)).toEqual(r);
        const late = await expectCode(store.commitEffect(key, { messageId: 'late' }), 'CONFLICT');
        expect(late.details).toMatchObject({ idempotencyKey: key, status: 'committed' });
        await expectCode(store.failEffect(key, 'late'), 'CONFLICT');
        await expectCode(
          store.resolveEffect(effect.id, { status: 'failed', error: 'x', by: 'bo', reason: 'again' }),
          'CONFLICT',
        );
        expect(await store.getEffect(key)).toEqual(r);
        // a committed resolution has the compensation state of any committed effect (none declared here)
        expect(r.compensationState).toBe('not-compensable');
        await expectCode(
          store.claimCompensation(effect.id, { owner: 'o', version: 'v1', ttlMs: 1000 }),
          'EFFECT_NOT_COMPENSABLE',
        );
        await expectCode(
          store.resolveEffect(u('none'), { status: 'failed', error: 'x', by: 'bo', reason: 'y' }),
          'EFFECT_NOT_FOUND',
        );
      });

      it('a commit that won first makes the resolution CONFLICT; failed resolutions record the error', async () => {
        const agent = u('agent');
        const s = await newSession(agent);
        const k1 = u('eff');
        const e1 = (await store.recordEffectIntent(intentOf(k1, s.id, agent))).effect;
        const committed = await store.commitEffect(k1, { ok: true });
        const lost = await expectCode(
          store.resolveEffect(e1.id, { status: 'failed', error: 'never sent', by: 'ana', reason: 'r' }),
          'CONFLICT',
        );
        expect(lost.details).toMatchObject({ effectId: e1.id, status: 'committed' });
        expect(await store.getEffect(k1)).toEqual(committed);
        const k2 = u('eff');
        const e2 = (await store.recordEffectIntent(intentOf(k2, s.id, agent))).effect;
        const f = await store.resolveEffect(e2.id, {
          status: 'failed',
          error: 'never sent',
          by: 'ana',
          reason: 'r',
        });
        expect(f).toMatchObject({
          status: 'failed',
          error: 'never sent',
          result: null,
          resolution: { status: 'failed' },
        });
      });

      it('a resolution racing a commit from another handle: exactly one wins', async () => {
        const other = await h.open({ now });
        try {
          const agent = u('agent');
          const s = await newSession(agent);
          for (let i = 0; i < 5; i++) {
            const key = u('race');
            const { effect } = await store.recordEffectIntent(intentOf(key, s.id, agent));
            const [a, b] = await Promise.allSettled([
              other.commitEffect(key, { by: 'worker' }),
              store.resolveEffect(effect.id, { status: 'failed', error: 'no', by: 'ana', reason: 'r' }),
            ]);
            expect([a.status, b.status].filter((x) => x === 'fulfilled')).toHaveLength(1);
            const final = await store.getEffect(key);
            expect(final.status).toBe(a.status === 'fulfilled' ? 'committed' : 'failed');
          }
        } finally {
          await other.close();
        }
      });
    });

    describe('crash recovery: session creation keys', () => {
      it('reserves a key once per agent; a replay answers the first reservation', async () => {
        const agent = u('agent');
        const key = u('key');
        const a = await store.reserveSessionKey({ agent, key, sessionId: 'ses-a', bodyHash: 'h1' });
        expect(a).toEqual({ sessionId: 'ses-a', bodyHash: 'h1', reserved: true });
        const b = await store.reserveSessionKey({ agent, key, sessionId: 'ses-b', bodyHash: 'h2' });
        expect(b).toEqual({ sessionId: 'ses-a', bodyHash: 'h1', reserved: false });
        const other = await store.reserveSessionKey({
          agent: u('agent'),
          key,
          sessionId: 'ses-c',
          bodyHash: 'h1',
        });
        expect(other.reserved).toBe(true);
      });

      it('two handles reserving the same key at once: one reservation', async () => {
        const other = await h.open({ now });
        try {
          const agent = u('agent');
          for (let i = 0; i < 5; i++) {
            const key = u('race');
            const [a, b] = await Promise.all([
              store.reserveSessionKey({ agent, key, sessionId: `a${i}`, bodyHash: 'h' }),
              other.reserveSessionKey({ agent, key, sessionId: `b${i}`, bodyHash: 'h' }),
            ]);
            expect([a.reserved, b.reserved].sort()).toEqual([false, true]);
            expect(a.sessionId).toBe(b.sessionId);
          }
        } finally {
          await other.close();
        }
      });
    });

    describe('crash recovery: evaluation queue', () => {
      const job = (id: string, sessionId: string) => ({
        id,
        sessionId,
        version: 'v1',
        turn: { turnId: id, n: 1 },
      });

      it('queues once, claims oldest first, skips live claims, re-claims expired ones, records exactly once', async () => {
        const agent = u('agent');
        const s = await newSession(agent);
        const ids = [u('ev'), u('ev'), u('ev')];
        for (const id of ids) {
          t += 1;
          expect(await store.enqueueEvaluation(job(id, s.id))).toBe(true);
        }
        expect(await store.enqueueEvaluation(job(ids[0]!, s.id))).toBe(false);
        const c1 = await store.claimEvaluations('owner-a', 2, 1000);
        expect(c1.map((j) => j.id)).toEqual(ids.slice(0, 2));
        expect(c1[0]).toMatchObject({
          sessionId: s.id,
          version: 'v1',
          turn: { turnId: ids[0], n: 1 },
          status: 'pending',
          attempts: 1,
          recordedAt: null,
        });
        const c2 = await store.claimEvaluations('owner-b', 5, 1000);
        expect(c2.map((j) => j.id)).toEqual([ids[2]]);
        expect(await store.claimEvaluations('owner-b', 5, 1000)).toEqual([]);
        t += 1000; // the claims expire: a crashed owner's jobs are taken again
        const c3 = await store.claimEvaluations('owner-b', 5, 1000);
        expect(c3.map((j) => [j.id, j.attempts])).toEqual(ids.map((id) => [id, 2]));

        expect(await store.completeEvaluation(ids[0]!, { 'eval.a': 0.5, 'evalerr.b': 1 })).toBe(true);
        expect(await store.completeEvaluation(ids[0]!, { 'eval.a': 0.5 })).toBe(false);
        expect(await store.completeEvaluation(ids[1]!, {})).toBe(true);
        const [agg] = await store.listSessionAggregates({ agent });
        expect(agg!.metrics['eval.a']).toEqual({ sum: 0.5, count: 1 });
        expect(agg!.metrics['evalerr.b']).toEqual({ sum: 1, count: 1 });
        t += 5000;
        expect((await store.claimEvaluations('owner-c', 5, 1000)).map((j) => j.id)).toEqual([ids[2]]);
        const done = await store.listEvaluations({ sessionId: s.id, status: 'done' });
        expect(done.map((j) => j.id).sort()).toEqual(ids.slice(0, 2).sort());
        expect(done.every((j) => j.recordedAt !== null)).toBe(true);
        await expectCode(store.completeEvaluation(u('none'), {}), 'NOT_FOUND');
      });

      it('two handles completing the same job at once record it once; concurrent claims never share a job', async () => {
        const other = await h.open({ now });
        try {
          const agent = u('agent');
          const s = await newSession(agent);
          const ids = Array.from({ length: 10 }, () => u('ev'));
          for (const id of ids) await store.enqueueEvaluation(job(id, s.id));
          const [a, b] = await Promise.all([
            store.claimEvaluations('a', 10, 60_000),
            other.claimEvaluations('b', 10, 60_000),
          ]);
          const claimed = [...a, ...b].map((j) => j.id).filter((id) => ids.includes(id));
          expect(claimed.sort()).toEqual([...ids].sort());
          for (const id of ids) {
            const r = await Promise.all([
              store.completeEvaluation(id, { 'eval.x': 1 }),
              other.completeEvaluation(id, { 'eval.x': 1 }),
            ]);
            expect(r.sort()).toEqual([false, true]);
          }
          const [agg] = await store.listSessionAggregates({ agent });
          expect(agg!.metrics['eval.x']).toEqual({ sum: 10, count: 10 });
        } finally {
          await other.close();
        }
      });
    });

    describe('rollouts and decisions', () => {
      it("keeps a rollout's samples of sessions by version and status, ascending, paged by time", async () => {
        const id = u('ro');
        const other = u('ro');
        await store.appendSessionSample({ rolloutId: id, at: 300, counts: { v1: { idle: 1 } } });
        await store.appendSessionSample({ rolloutId: id, at: 100, counts: { v1: { idle: 3, waiting: 1 } } });
        await store.appendSessionSample({
          rolloutId: id,
          at: 200,
          counts: { v1: { idle: 2 }, v2: { idle: 1 } },
        });
        await store.appendSessionSample({ rolloutId: other, at: 150, counts: { v9: { idle: 9 } } });
        // a second sample at the same time replaces the first
        await store.appendSessionSample({ rolloutId: id, at: 300, counts: { v2: { running: 4 } } });
        const all = await store.listSessionSamples(id);
        expect(all.map((x) => x.at)).toEqual([100, 200, 300]);
        expect(all[0]).toEqual({ rolloutId: id, at: 100, counts: { v1: { idle: 3, waiting: 1 } } });
        expect(all[2]!.counts).toEqual({ v2: { running: 4 } });
        expect((await store.listSessionSamples(id, { after: 100, limit: 1 })).map((x) => x.at)).toEqual([
          200,
        ]);
        expect(await store.listSessionSamples(u('ro'))).toEqual([]);
      });

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
        // decisions given at creation are the first of the log, and the next ones follow them
        const rd = await store.createRollout({
          agent: u('agent'),
          from: 'v1',
          to: 'v2',
          spec,
          phase: 'pending',
          state: {},
          decisions: [
            { kind: 'created', message: 'made' },
            { kind: 'forecast', message: 'soon', evidence: { ms: 5 } },
          ],
        });
        expect((await store.appendDecision(rd.id, { kind: 'gate', message: 'pass' })).seq).toBe(3);
        expect((await store.listDecisions(rd.id)).map((d) => [d.seq, d.kind, d.evidence ?? null])).toEqual([
          [1, 'created', null],
          [2, 'forecast', { ms: 5 }],
          [3, 'gate', null],
        ]);
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

    describe('NUL characters', () => {
      const nul = 'a\u0000b';

      it('refuses a NUL in a value kept in its own column, the same on every backend, and changes nothing', async () => {
        const agent = u('agent');
        await expectCode(newSession(agent, 'v1', { tenant: nul }), 'INVALID_CHARACTER');
        await expectCode(newSession(agent, `v${nul}`), 'INVALID_CHARACTER');
        expect((await store.listSessions({ agent, limit: 10 })).items).toEqual([]);
        await expectCode(store.getSession(`ses_${nul}`), 'INVALID_CHARACTER');
        await expectCode(store.listSessions({ agent: nul, limit: 10 }), 'INVALID_CHARACTER');
        const s = await newSession(agent);
        await expectCode(store.listSessions({ agent, cursor: nul, limit: 10 }), 'INVALID_CHARACTER');
        await expectCode(store.registerVersion(versionInput(agent, nul)), 'INVALID_CHARACTER');
        expect(await store.listVersions(agent)).toEqual([]);
        expect((await store.getSession(s.id)).seq).toBe(0);
      });

      it('stores NUL inside JSON content (metadata, state, history) and returns it unchanged', async () => {
        const content = { text: `before${nul}after`, [`key${nul}`]: [nul, { deep: '\u0000' }] };
        const s = await newSession(u('agent'), 'v1', { metadata: { note: nul, content } });
        expect((await store.getSession(s.id)).metadata).toEqual({ note: nul, content });
        await store.appendCheckpoint({
          sessionId: s.id,
          expectedSeq: 0,
          schemaVersion: 1,
          writtenBy: 'v1',
          body: { state: content, context: { prompt: nul }, waits: [] },
          history: [{ role: 'user', content, turnId: 't1', at: t }],
        });
        const cp = await store.getLatestCheckpoint(s.id);
        expect(cp?.body.state).toEqual(content);
        expect(cp?.body.context).toEqual({ prompt: nul });
        const page = await store.readHistory(s.id);
        expect(page.entries.map((e) => e.content)).toEqual([content]);
      });
    });

    describe('LangGraph documents with NUL characters', () => {
      it('keeps NUL (and U+E000) in checkpoint documents and metadata; a metadata filter with NUL finds them', async () => {
        const graph = store.graph;
        expect(graph, 'store.graph').toBeDefined();
        const threadId = u('thread');
        const odd = 'nul\u0000 and \uE000 and \uE0000';
        const checkpoint = {
          v: 4,
          id: 'c1',
          ts: 'now',
          channel_versions: { messages: '1' },
          note: odd,
          [odd]: [odd],
        };
        const metadata = { source: 'loop', step: 1, writes: { node: { text: odd } }, tag: odd };
        await graph.put({ threadId, ns: '', checkpointId: 'c1', parentId: null, checkpoint, metadata }, [
          { channel: 'messages', version: '1', type: 'json', value: new TextEncoder().encode(odd) },
        ]);
        const plain = { threadId, ns: '', checkpointId: 'c2', parentId: 'c1' };
        await graph.put(
          { ...plain, checkpoint: { ...checkpoint, id: 'c2', note: '\uE0000' }, metadata: { tag: 'x' } },
          [],
        );
        const got = await graph.get(threadId, '', 'c1');
        expect(got?.checkpoint).toEqual(checkpoint);
        expect(got?.metadata).toEqual(metadata);
        expect(new TextDecoder().decode(got!.blobs[0]!.value!)).toBe(odd);
        expect((await graph.get(threadId, '', 'c2'))?.checkpoint.note).toBe('\uE0000');
        const found = await graph.list({ threadId, metadata: { tag: odd } });
        expect(found.map((r) => r.checkpointId)).toEqual(['c1']);
        await graph.deleteThread(threadId);
      });

      it('refuses a NUL in a thread id, namespace, checkpoint id or channel, the same on every backend', async () => {
        const graph = store.graph;
        const nul = 'a\u0000b';
        const rec = {
          threadId: u('thread'),
          ns: '',
          checkpointId: 'c1',
          parentId: null,
          checkpoint: {},
          metadata: {},
        };
        for (const over of [{ threadId: nul }, { ns: nul }, { checkpointId: nul }]) {
          await expectCode(graph.put({ ...rec, ...over }, []), 'INVALID_CHARACTER');
        }
        await expectCode(
          graph.put(rec, [{ channel: nul, version: '1', type: 'json', value: new Uint8Array([1]) }]),
          'INVALID_CHARACTER',
        );
        await expectCode(graph.get(nul, ''), 'INVALID_CHARACTER');
        await expectCode(graph.listChannelWrites(rec.threadId, [nul], 'c'), 'INVALID_CHARACTER');
        await expectCode(graph.deleteThread(nul), 'INVALID_CHARACTER');
        expect(await graph.get(rec.threadId, '')).toBeNull();
      });
    });

    describe('aggregates keyed by chosen names', () => {
      it('metrics and signals named after Object.prototype members are ordinary keys', async () => {
        const agent = u('agent');
        const s = await newSession(agent);
        const names = JSON.parse('{"toString": 2, "constructor": 3, "__proto__": 5}') as Record<
          string,
          number
        >;
        await store.recordSessionMetrics(s.id, 'v1', { metrics: names, signals: { hasOwnProperty: 1 } });
        await store.recordSessionMetrics(s.id, 'v1', { metrics: names, signals: { hasOwnProperty: 2 } });
        const a = (await store.listSessionAggregates({ agent }))[0]!;
        expect(Object.entries(a.metrics).sort()).toEqual([
          ['__proto__', { sum: 10, count: 2 }],
          ['constructor', { sum: 6, count: 2 }],
          ['toString', { sum: 4, count: 2 }],
        ]);
        expect(Object.entries(a.signals)).toEqual([['hasOwnProperty', 3]]);
      });
    });

    describe('ending a session', () => {
      it('markSessionCompleted expires its pending waits, so none is listed or due', async () => {
        const s = await newSession();
        const token = u('wait');
        await appendV1(s.id, 0, 1, store, {
          session: { status: 'waiting' },
          waits: [{ token, name: 'cb', deadline: t + 1000, schema: null, createdAt: t }],
        });
        expect((await store.listWaits({ sessionId: s.id, status: 'pending' })).map((w) => w.token)).toEqual([
          token,
        ]);
        await store.markSessionCompleted(s.id);
        expect(await store.listWaits({ sessionId: s.id, status: 'pending' })).toEqual([]);
        expect((await store.getWait(token)).status).toBe('expired');
        expect(await store.listWaits({ status: 'pending', dueBefore: t + 10_000 })).not.toContainEqual(
          expect.objectContaining({ token }),
        );
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
