/**
 * The long-session bench's peers figure (imported by bench/long-session.ts; also runs alone as
 * `npm run bench -- long-session-peers [--quick]`): what one more turn costs a session of about
 * 5,000 turns in Baton's store and in LangGraph's own savers, side by side in one run.
 *
 * - The conversation: turns of one 1 KB user message and one 1 KB agent message (pseudo-text),
 *   plus a small state (~200 B) and a bounded context (a system prompt, a summary and the last
 *   four messages, ~5 KB) that change every turn.
 * - LangGraph (`SqliteSaver`, and `PostgresSaver` when BATON_BENCH_PG_URL or BATON_TEST_PG_URL is
 *   set) in its usual layout: the whole message list is the value of a `messages` channel, beside
 *   `state` and `context` channels; every put names all three in `newVersions` (all changed). The
 *   messages are the same plain objects Baton stores (`{role, content, turnId, at}`), the
 *   cheapest form for their serializer. Seeded to SEED_TURNS turns in one put.
 * - Baton: a session seeded with the same history (`appendCheckpoint` with the entries, in
 *   appends of at most 1,000 entries so each stays under the default 8 MiB write limit), then
 *   each turn is one `appendCheckpoint`: its 2 history entries, the changed state part and the
 *   bounded context part.
 * - Then TIMED_TURNS timed puts/appends of one turn each, contenders alternated turn by turn
 *   (rotating order), so the ages match (SEED_TURNS+1 … SEED_TURNS+TIMED_TURNS) and every
 *   contender sees the same machine conditions.
 * - Bytes written per turn. SQLite: growth of the WAL file (frames × page size) with
 *   `wal_autocheckpoint = 0` on every connection, each contender its own file, WAL mode,
 *   `synchronous=FULL` (durable commits) for all. PostgreSQL: the `pg_current_wal_lsn()` delta
 *   around each put (server-wide, so run it on a database server nothing else is writing to).
 * - Append time: wall time of the call (serialization included), p50 over the timed turns.
 */
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { SqliteSaver } from '@langchain/langgraph-checkpoint-sqlite';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { uuid6, type BaseCheckpointSaver, type Checkpoint } from '@langchain/langgraph-checkpoint';
import type { HistoryEntry } from '@baton/core';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { atMost, percentile, rng, round, sqliteHandleOf, table, type Target } from './lib';

export const SEED_TURNS = 4_990;
export const TIMED_TURNS = 10;
const MESSAGE_BYTES = 1024;
const SEED_APPEND_ENTRIES = 1_000;

const WORDS =
  'the customer asked about their order refund shipping invoice account password reset agent replied with steps to verify identity and escalate ticket priority tool search result found three matching records email sent confirmation number pending approval from billing team'.split(
    ' ',
  );

function text(r: () => number, bytes: number): string {
  const out: string[] = [];
  let n = 0;
  while (n < bytes) {
    const w = WORDS[Math.floor(r() * WORDS.length)]!;
    out.push(w);
    n += w.length + 1;
  }
  return out.join(' ').slice(0, bytes);
}

/** One turn of the conversation: its two history entries and the state and context after it. */
export interface Turn {
  entries: [HistoryEntry, HistoryEntry];
  state: unknown;
  context: unknown;
}

/** The conversation, precomputed so that every contender gets the same objects. */
export function conversation(turns: number, seed = 4242): Turn[] {
  const r = rng(seed);
  const system = text(r, 600);
  const summary = text(r, 1000);
  const out: Turn[] = [];
  const recent: HistoryEntry[] = [];
  for (let t = 0; t < turns; t++) {
    const at = 1_700_000_000_000 + t * 60_000;
    const user: HistoryEntry = { role: 'user', content: text(r, MESSAGE_BYTES), turnId: `t${t}`, at };
    const agent: HistoryEntry = {
      role: 'agent',
      content: text(r, MESSAGE_BYTES),
      turnId: `t${t}`,
      at: at + 1,
    };
    recent.push(user, agent);
    while (recent.length > 4) recent.shift();
    out.push({
      entries: [user, agent],
      state: {
        turn: t,
        stage: t % 3 ? 'answering' : 'triage',
        slots: { orderId: 'A-1234', priority: 'high' },
      },
      context: {
        system,
        summary,
        turns: t + 1,
        recent: recent.map((e) => ({ role: e.role, content: e.content })),
      },
    });
  }
  return out;
}

// ---------- contenders ----------

interface Peer {
  name: string;
  backend: 'sqlite' | 'postgres';
  /** Write turns [0, upTo) at once (the seed). */
  seed(turns: Turn[]): Promise<void>;
  /** Write one more turn; returns the bytes it wrote (WAL growth or LSN delta). */
  put(turns: Turn[], t: number): Promise<{ ms: number; bytes: number }>;
  close(): Promise<void>;
}

/** WAL bytes of a SQLite file: frames × page size (the WAL keeps growing with auto-checkpoint off). */
function walMeter(file: string, pageSize: number): () => number {
  const wal = `${file}-wal`;
  return () => {
    const size = existsSync(wal) ? statSync(wal).size : 0;
    return size <= 32 ? 0 : Math.round((size - 32) / (pageSize + 24)) * pageSize;
  };
}

/** Time `fn` and meter the bytes it wrote with `meter` (read before and after). */
async function metered(
  meter: () => number | Promise<number>,
  fn: () => Promise<void>,
): Promise<{ ms: number; bytes: number }> {
  const b0 = await meter();
  const t0 = process.hrtime.bigint();
  await fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, bytes: (await meter()) - b0 };
}

function batonPeer(backend: Peer['backend'], store: Store, meter: () => number | Promise<number>): Peer {
  let sessionId = '';
  let seq = 0;
  const append = async (turns: Turn[], from: number, to: number): Promise<void> => {
    const last = turns[to - 1]!;
    await store.appendCheckpoint({
      sessionId,
      expectedSeq: seq,
      schemaVersion: 1,
      writtenBy: 'v1',
      body: { state: last.state, context: last.context, waits: [] },
      history: turns.slice(from, to).flatMap((x) => x.entries),
    });
    seq++;
  };
  return {
    name: 'baton',
    backend,
    async seed(turns) {
      sessionId = (await store.createSession({ agent: 'peers', version: 'v1', tokenHash: 'x' })).id;
      for (let t = 0; t < turns.length; t += SEED_APPEND_ENTRIES / 2) {
        await append(turns, t, Math.min(turns.length, t + SEED_APPEND_ENTRIES / 2));
      }
    },
    put: (turns, t) => metered(meter, () => append(turns, t, t + 1)),
    close: () => store.close(),
  };
}

function langgraphPeer(
  name: string,
  backend: Peer['backend'],
  saver: BaseCheckpointSaver,
  meter: () => number | Promise<number>,
  close: () => Promise<void>,
): Peer {
  const threadId = `peers-${process.pid}-${backend}`;
  let config: { configurable: Record<string, unknown> } = {
    configurable: { thread_id: threadId, checkpoint_ns: '' },
  };
  let messages: HistoryEntry[] = [];
  let version = 0;
  const put = async (turn: Turn, step: number, added: HistoryEntry[]): Promise<void> => {
    messages = [...messages, ...added];
    version++;
    const checkpoint: Checkpoint = {
      v: 4,
      id: uuid6(-1),
      ts: new Date(turn.entries[1].at).toISOString(),
      channel_values: { messages, state: turn.state, context: turn.context },
      channel_versions: { messages: version, state: version, context: version },
      versions_seen: { agent: { messages: version - 1 } },
    };
    config = (await saver.put(
      config,
      checkpoint,
      { source: 'loop', step, parents: {} },
      { messages: version, state: version, context: version },
    )) as typeof config;
  };
  return {
    name,
    backend,
    seed: (turns) =>
      put(
        turns[turns.length - 1]!,
        turns.length - 1,
        turns.flatMap((x) => x.entries),
      ),
    put: (turns, t) => metered(meter, () => put(turns[t]!, t, turns[t]!.entries)),
    close,
  };
}

function sqliteFile(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('wal_autocheckpoint = 0');
  return db;
}

async function lsnMeter(url: string): Promise<{ meter: () => Promise<number>; end: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    meter: async () =>
      Number(
        (await client.query<{ b: string }>("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS b"))
          .rows[0]!.b,
      ),
    end: () => client.end(),
  };
}

// ---------- the run ----------

export interface PeersOptions {
  /** PostgreSQL URL (default: BATON_BENCH_PG_URL, then BATON_TEST_PG_URL; none: SQLite only). */
  pgUrl?: string | null;
  seedTurns?: number;
  timedTurns?: number;
  /** Parent of this run's temp directory (default: os.tmpdir()). */
  dir?: string;
}

export interface PeersResult {
  figures: Record<string, number | string>;
  targets: Target[];
  /** One row per contender (for a docs table). */
  rows: Array<Record<string, unknown>>;
}

/** Baton's store vs LangGraph's savers on one session of ~5,000 turns; see the file comment. */
export async function longSessionPeers(opts: PeersOptions = {}): Promise<PeersResult> {
  const seedTurns = opts.seedTurns ?? SEED_TURNS;
  const timedTurns = opts.timedTurns ?? TIMED_TURNS;
  const pgUrl =
    opts.pgUrl === undefined
      ? (process.env.BATON_BENCH_PG_URL ?? process.env.BATON_TEST_PG_URL ?? null)
      : opts.pgUrl;
  const turns = conversation(seedTurns + timedTurns);
  const seed = turns.slice(0, seedTurns);
  const dir = mkdtempSync(join(opts.dir ?? tmpdir(), 'baton-bench-peers-'));
  const schema = 'baton_bench_peers';
  const lgSchema = 'baton_bench_peers_lg';
  const peers: Peer[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  let admin: pg.Client | null = null;
  try {
    // ----- SQLite: one file each, WAL, synchronous=FULL, auto-checkpoint off -----
    const bfile = join(dir, 'baton.db');
    // checkpointed by its own connection only (no checkpoint thread), so the WAL keeps every frame
    const bstore = await openStore(bfile, { synchronous: 'FULL', walCheckpoint: 'inline' });
    const bdb = sqliteHandleOf(bstore, 'wal_autocheckpoint');
    bdb.pragma('wal_autocheckpoint = 0');
    peers.push(
      batonPeer('sqlite', bstore, walMeter(bfile, Number(bdb.pragma('page_size', { simple: true })))),
    );
    const lfile = join(dir, 'langgraph.db');
    const ldb = sqliteFile(lfile);
    peers.push(
      langgraphPeer(
        'langgraph SqliteSaver',
        'sqlite',
        new SqliteSaver(ldb),
        walMeter(lfile, Number(ldb.pragma('page_size', { simple: true }))),
        async () => {
          ldb.close();
        },
      ),
    );

    // ----- PostgreSQL: schemas of our own, the LSN delta around each put -----
    if (pgUrl) {
      admin = new pg.Client({ connectionString: pgUrl });
      await admin.connect();
      for (const s of [schema, lgSchema]) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      const lsn = await lsnMeter(pgUrl);
      cleanups.push(lsn.end);
      const pstore = await openStore(pgUrl, { schema, poolSize: 2 });
      peers.push(batonPeer('postgres', pstore, lsn.meter));
      const lpool = new pg.Pool({ connectionString: pgUrl, max: 2 });
      const psaver = new PostgresSaver(lpool, undefined, { schema: lgSchema });
      await psaver.setup();
      peers.push(langgraphPeer('langgraph PostgresSaver', 'postgres', psaver, lsn.meter, () => lpool.end()));
    }

    // seed (not timed), then one warm-up-free timed turn at a time, alternating contenders
    const seedMs: Record<string, number> = {};
    for (const p of peers) {
      const t0 = performance.now();
      await p.seed(seed);
      seedMs[`${p.backend}/${p.name}`] = performance.now() - t0;
    }
    const samples = new Map<Peer, Array<{ ms: number; bytes: number }>>(peers.map((p) => [p, []]));
    for (let i = 0; i < timedTurns; i++) {
      const order = peers.map((_, k) => peers[(k + i) % peers.length]!);
      for (const p of order) samples.get(p)!.push(await p.put(turns, seedTurns + i));
    }

    // ----- figures and targets -----
    const figures: Record<string, number | string> = {
      'peers workload': `1 session seeded to ${seedTurns} turns (1 KB in, 1 KB out), then ${timedTurns} timed turns, contenders alternated`,
    };
    const targets: Target[] = [];
    const rows: Array<Record<string, unknown>> = [];
    const stat = (p: Peer) => {
      const s = samples.get(p)!;
      const ms = s.map((x) => x.ms).sort((a, b) => a - b);
      const bytes = s.reduce((a, x) => a + x.bytes, 0) / s.length;
      return { p50: percentile(ms, 50), max: ms[ms.length - 1]!, bytes };
    };
    for (const backend of ['sqlite', 'postgres'] as const) {
      const b = peers.find((p) => p.backend === backend && p.name === 'baton');
      const l = peers.find((p) => p.backend === backend && p.name !== 'baton');
      if (!b || !l) continue;
      const bs = stat(b);
      const ls = stat(l);
      for (const [p, s] of [
        [b, bs],
        [l, ls],
      ] as const) {
        rows.push({
          backend,
          contender: p.name,
          'bytes written per turn': Math.round(s.bytes),
          'p50 ms': round(s.p50, 2),
          'max ms': round(s.max, 2),
          'seed s': round(seedMs[`${backend}/${p.name}`]! / 1000, 2),
        });
        figures[`peers ${backend} ${p.name} bytes written per turn`] = Math.round(s.bytes);
        figures[`peers ${backend} ${p.name} p50 append ms`] = round(s.p50, 2);
      }
      const who = l.name.replace('langgraph ', '');
      const unit = backend === 'sqlite' ? 'WAL frames x page size' : 'pg_current_wal_lsn() delta';
      targets.push(
        atMost(
          `peers ${backend}: bytes written per turn, Baton / ${who} (${unit})`,
          bs.bytes / ls.bytes,
          0.05,
          'x',
        ),
        atMost(`peers ${backend}: p50 append time, Baton / ${who}`, bs.p50 / ls.p50, 0.2, 'x'),
      );
    }
    if (!pgUrl) figures['peers postgres'] = 'skipped (BATON_BENCH_PG_URL / BATON_TEST_PG_URL not set)';
    return { figures, targets, rows };
  } finally {
    for (const p of peers) await p.close().catch(() => {});
    for (const c of cleanups) await c().catch(() => {});
    if (admin) {
      for (const s of [schema, lgSchema])
        await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => {});
      await admin.end().catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `npm run bench -- long-session-peers [--quick]`, and the peers part of bench/long-session.ts
 * (which passes its context: `quick`, and a temp directory of its run).
 */
const bench = async (
  args: string[],
  ctx?: { quick?: boolean; dir?: string },
): Promise<{ figures: Record<string, number | string>; targets: Target[] }> => {
  const quick = ctx?.quick ?? args.includes('--quick');
  const r = await longSessionPeers({ ...(quick ? { seedTurns: 1_000, timedTurns: 5 } : {}), dir: ctx?.dir });
  console.log(`\n${table(r.rows)}`);
  return { figures: r.figures, targets: r.targets };
};

export default bench;
