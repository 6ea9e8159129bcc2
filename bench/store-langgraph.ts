/**
 * `npm run bench -- store-langgraph [--quick]`: Baton's LangGraph checkpoint saver
 * (`BatonCheckpointSaver` on `store.graph`) against LangGraph's own savers
 * (`@langchain/langgraph-checkpoint-sqlite`, `-postgres`) on the same put/getTuple workload.
 *
 * - Workload: graph threads of STEPS super-steps each. A checkpoint has six channels: a growing
 *   message list (one ~300 B message per step), a ~4 KB working document written once, a
 *   counter, a status, a route and a scratch value; each step changes three of them (messages,
 *   counter, status), as a LangGraph node does, and `newVersions` names exactly those.
 * - put: every step of every thread, in order (a thread's steps are sequential, as in a graph run).
 * - getTuple: the latest checkpoint of a thread (what a graph run loads first), over all threads.
 * - Same serializer (LangGraph's default) for all. SQLite in WAL, once with `synchronous=FULL`
 *   (durable commits; the targets) and once with `NORMAL` (figures only), the same for both
 *   contenders; PostgreSQL with `synchronous_commit=on`.
 * - SQLite is driven by one caller; PostgreSQL by 8 concurrent callers (8 threads at a time).
 * - The two contenders of a backend are interleaved chunk by chunk (a few threads' puts, a batch
 *   of reads), so both see the same machine and disk conditions; each figure is the median of
 *   the rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { SqliteSaver } from '@langchain/langgraph-checkpoint-sqlite';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { uuid6, type BaseCheckpointSaver, type Checkpoint } from '@langchain/langgraph-checkpoint';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { BatonCheckpointSaver, nextChannelVersion } from '@baton/langgraph';
import { atLeast, rng, round, table, type BenchFn, type Target } from './lib';

const WORDS =
  'the customer asked about their order refund shipping invoice account password reset agent replied with steps to verify identity and escalate ticket priority'.split(
    ' ',
  );

function sentence(r: () => number, bytes: number): string {
  const out: string[] = [];
  let n = 0;
  while (n < bytes) {
    const w = WORDS[Math.floor(r() * WORDS.length)]!;
    out.push(w);
    n += w.length + 1;
  }
  return out.join(' ');
}

interface Step {
  checkpoint: Checkpoint;
  newVersions: Record<string, number>;
}

/** The STEPS checkpoints of one thread, precomputed so every contender gets the same objects. */
function threadSteps(seed: number, steps: number): Step[] {
  const r = rng(seed);
  const doc = { title: sentence(r, 40), body: sentence(r, 4000) };
  const messages: Array<{ role: string; content: string }> = [];
  const out: Step[] = [];
  const versions: Record<string, number> = {};
  for (let s = 0; s < steps; s++) {
    messages.push({ role: s % 2 ? 'ai' : 'human', content: sentence(r, 300) });
    const changed =
      s === 0
        ? ['messages', 'doc', 'counter', 'status', 'route', 'scratch']
        : ['messages', 'counter', 'status'];
    // the versions Baton's saver gives (getNextVersion: unique per branch), for both contenders
    const next = nextChannelVersion(
      Object.values(versions).reduce<number | undefined>(
        (a, v) => (a === undefined || v > a ? v : a),
        undefined,
      ),
    );
    for (const c of changed) versions[c] = next;
    out.push({
      checkpoint: {
        v: 4,
        id: uuid6(-1),
        ts: new Date(1_700_000_000_000 + s * 1000).toISOString(),
        channel_values: {
          messages: [...messages],
          doc,
          counter: s,
          status: s % 3 === 0 ? 'thinking' : 'answering',
          route: 'support',
          scratch: { seed },
        },
        channel_versions: { ...versions },
        versions_seen: { agent: { messages: s } },
      },
      newVersions: Object.fromEntries(changed.map((c) => [c, versions[c]!])),
    });
  }
  return out;
}

async function putThread(saver: BaseCheckpointSaver, threadId: string, steps: Step[]): Promise<void> {
  let config = { configurable: { thread_id: threadId, checkpoint_ns: '' } } as {
    configurable: Record<string, unknown>;
  };
  for (const [i, st] of steps.entries()) {
    config = (await saver.put(
      config,
      st.checkpoint,
      { source: 'loop', step: i, parents: {} },
      st.newVersions,
    )) as typeof config;
  }
}

async function mapLimit<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

type Backend = 'sqlite FULL' | 'sqlite NORMAL' | 'postgres';

interface Contender {
  backend: Backend;
  name: 'baton' | 'langgraph';
  saver: BaseCheckpointSaver;
  close(): Promise<void>;
}

/**
 * One round for the two contenders of a backend, interleaved at a fine grain so both see the
 * same machine and disk conditions: the threads are put in chunks (`concurrency` threads at a
 * time), alternating contenders chunk by chunk, and the reads likewise. Returns ops/s of each.
 */
async function measurePair(
  pair: [Contender, Contender],
  threads: Step[][],
  round_: number,
  concurrency: number,
  reads: number,
): Promise<Array<{ putPerSec: number; getPerSec: number }>> {
  const putMs = [0, 0];
  const getMs = [0, 0];
  const ids = threads.map((_, i) => `r${round_}-t${i}`);
  const puts = threads.reduce((a, t) => a + t.length, 0);
  for (let i = 0, k = 0; i < threads.length; i += concurrency, k++) {
    const chunk = ids.slice(i, i + concurrency).map((id, j) => ({ id, steps: threads[i + j]! }));
    for (const which of k % 2 ? [1, 0] : [0, 1]) {
      const t0 = performance.now();
      await Promise.all(chunk.map((x) => putThread(pair[which]!.saver, x.id, x.steps)));
      putMs[which]! += performance.now() - t0;
    }
  }
  const order = Array.from({ length: reads }, (_, i) => ids[i % ids.length]!);
  const lastCounter = threads[0]!.length - 1;
  const batch = Math.max(concurrency, 25);
  for (let i = 0, k = 0; i < order.length; i += batch, k++) {
    const chunk = order.slice(i, i + batch);
    for (const which of k % 2 ? [1, 0] : [0, 1]) {
      const c = pair[which]!;
      const t0 = performance.now();
      await mapLimit(chunk, concurrency, async (id) => {
        const t = await c.saver.getTuple({ configurable: { thread_id: id, checkpoint_ns: '' } });
        if (!t) throw new Error(`${c.backend}/${c.name}: thread ${id} lost`);
        if ((t.checkpoint.channel_values as { counter?: number }).counter !== lastCounter)
          throw new Error(`${c.backend}/${c.name}: thread ${id} read back a wrong checkpoint`);
      });
      getMs[which]! += performance.now() - t0;
    }
  }
  return [0, 1].map((w) => ({ putPerSec: (puts * 1000) / putMs[w]!, getPerSec: (reads * 1000) / getMs[w]! }));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const bench: BenchFn = async (args) => {
  const quick = args.includes('--quick');
  const rounds = quick ? 1 : 5;
  const threadCount = quick ? 16 : 32;
  const steps = 20;
  const reads = quick ? 400 : 1000;
  const pgUrl = process.env.BATON_BENCH_PG_URL ?? process.env.BATON_TEST_PG_URL;
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-lg-'));
  const schemaTag = `${process.pid}_${Date.now().toString(36)}`;
  const contenders: Contender[] = [];
  const stores: Store[] = [];
  try {
    for (const sync of ['FULL', 'NORMAL'] as const) {
      const backend: Backend = `sqlite ${sync}`;
      const bstore = await openStore(join(dir, `baton-${sync}.db`), { synchronous: sync });
      stores.push(bstore);
      contenders.push({
        backend,
        name: 'baton',
        saver: new BatonCheckpointSaver(bstore),
        close: async () => undefined,
      });
      const ldb = new Database(join(dir, `langgraph-${sync}.db`));
      ldb.pragma('journal_mode = WAL');
      ldb.pragma(`synchronous = ${sync}`);
      contenders.push({
        backend,
        name: 'langgraph',
        saver: new SqliteSaver(ldb),
        close: async () => {
          ldb.close();
        },
      });
    }
    let pgSchemas: string[] = [];
    if (pgUrl) {
      const bschema = `bench_lg_baton_${schemaTag}`;
      const lschema = `bench_lg_lang_${schemaTag}`;
      pgSchemas = [bschema, lschema];
      const pstore = await openStore(pgUrl, { schema: bschema, poolSize: 8 });
      stores.push(pstore);
      contenders.push({
        backend: 'postgres',
        name: 'baton',
        saver: new BatonCheckpointSaver(pstore),
        close: async () => undefined,
      });
      const lpool = new pg.Pool({ connectionString: pgUrl, max: 8 });
      const lsaver = new PostgresSaver(lpool, undefined, { schema: lschema });
      await lsaver.setup();
      contenders.push({
        backend: 'postgres',
        name: 'langgraph',
        saver: lsaver,
        close: () => lpool.end(),
      });
    } else {
      console.warn('BATON_BENCH_PG_URL / BATON_TEST_PG_URL not set: PostgreSQL contenders skipped');
    }

    const threads = Array.from({ length: threadCount }, (_, i) => threadSteps(i + 1, steps));
    const pairs: Array<[Contender, Contender]> = [];
    const backends: Backend[] = ['sqlite FULL', 'sqlite NORMAL', 'postgres'];
    for (const backend of backends) {
      const b = contenders.find((c) => c.backend === backend && c.name === 'baton');
      const l = contenders.find((c) => c.backend === backend && c.name === 'langgraph');
      if (b && l) pairs.push([b, l]);
    }
    // warm-up (prepared statements, lazy migrations), not measured
    for (const p of pairs) await measurePair(p, threads.slice(0, 2), -1, 1, 10);

    const samples = new Map<string, { put: number[]; get: number[] }>();
    for (let r = 0; r < rounds; r++) {
      for (const p of pairs) {
        const m = await measurePair(p, threads, r, p[0].backend === 'postgres' ? 8 : 1, reads);
        p.forEach((c, i) => {
          const key = `${c.backend}/${c.name}`;
          const s = samples.get(key) ?? { put: [], get: [] };
          s.put.push(m[i]!.putPerSec);
          s.get.push(m[i]!.getPerSec);
          samples.set(key, s);
        });
      }
    }

    const figures: Record<string, number | string> = {
      workload: `${threadCount} threads x ${steps} steps, 6 channels (3 change per step), ${reads} getTuple, ${rounds} round(s)`,
    };
    const rows: Array<Record<string, unknown>> = [];
    const targets: Target[] = [];
    for (const backend of backends) {
      const b = samples.get(`${backend}/baton`);
      const l = samples.get(`${backend}/langgraph`);
      if (!b || !l) continue;
      const bp = median(b.put);
      const bg = median(b.get);
      const lp = median(l.put);
      const lg = median(l.get);
      figures[`${backend} baton put/s`] = round(bp, 1);
      figures[`${backend} langgraph put/s`] = round(lp, 1);
      figures[`${backend} baton getTuple/s`] = round(bg, 1);
      figures[`${backend} langgraph getTuple/s`] = round(lg, 1);
      figures[`${backend} put ratio (baton / langgraph)`] = round(bp / lp);
      figures[`${backend} getTuple ratio (baton / langgraph)`] = round(bg / lg);
      rows.push(
        { backend, contender: 'baton', 'put/s': round(bp, 1), 'getTuple/s': round(bg, 1) },
        { backend, contender: 'langgraph', 'put/s': round(lp, 1), 'getTuple/s': round(lg, 1) },
      );
      // targets on durable commits: SQLite FULL and PostgreSQL; SQLite NORMAL is reported as figures
      if (backend === 'sqlite NORMAL') continue;
      const who = backend === 'postgres' ? 'PostgresSaver' : 'SqliteSaver';
      targets.push(atLeast(`${backend}: Baton saver put / LangGraph ${who} put`, bp / lp, 1, 'x'));
      targets.push(atLeast(`${backend}: Baton saver getTuple / LangGraph ${who} getTuple`, bg / lg, 1, 'x'));
    }
    console.log(`\n${table(rows)}`);

    for (const c of contenders) await c.close();
    for (const s of stores) await s.close();
    if (pgUrl && pgSchemas.length) {
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      for (const s of pgSchemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      await client.end();
    }
    return { figures, targets };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

export default bench;
