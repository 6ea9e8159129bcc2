/**
 * Part `enc` of `npm run bench -- long-session`: what encryption at rest costs a turn, on an old
 * session and on a young one, side by side in one run. Two stores of the same backend, one
 * without and one with a current key, each with an old session (seeded straight through the store
 * to `oldTurns` turns: 1 KB user message + 1 KB reply per turn) and young ones (10 turns). Then
 * the store's side of a turn as the router does it — `beginTurn` with the history window, then the
 * append of the turn's two entries, state and context with the lease release and the turn
 * result — alternated turn by turn over the four groups (order rotated), p50 per group.
 */
import { performance } from 'node:perf_hooks';
import type { HistoryEntry } from '@baton/core';
import { openStore, type Store } from '@baton/store';

export const BENCH_KEYS = { keys: `bench:${Buffer.alloc(32, 9).toString('base64')}` };

const TEXT =
  'the customer asked about their order refund shipping invoice account password reset agent replied with steps to verify identity and escalate ticket priority '.repeat(
    8,
  );

function entries(t: number): HistoryEntry[] {
  const text = (`turn ${t} ` + TEXT).slice(0, 1024);
  const at = 1_767_225_600_000 + t * 1000;
  return [
    { role: 'user', content: { text }, turnId: `trn_${t}`, at },
    { role: 'agent', content: { text: text.split('').reverse().join('') }, turnId: `trn_${t}`, at: at + 1 },
  ];
}

interface Sess {
  id: string;
  seq: number;
  turns: number;
}

async function seed(store: Store, turns: number): Promise<Sess> {
  const s = await store.createSession({ agent: 'bench-enc', version: 'v1', tokenHash: 'x' });
  let seq = 0;
  for (let t = 0; t < turns; t += 500) {
    const n = Math.min(500, turns - t);
    const history: HistoryEntry[] = [];
    for (let k = t; k < t + n; k++) history.push(...entries(k));
    const meta = await store.appendCheckpoint({
      sessionId: s.id,
      expectedSeq: seq,
      schemaVersion: 1,
      writtenBy: 'v1',
      body: { state: { turns: t + n }, context: { summary: TEXT.slice(0, 2048), last: t + n }, waits: [] },
      history,
    });
    seq = meta.seq;
  }
  return { id: s.id, seq, turns };
}

/** One turn of the store's side, as the router runs it; returns ms. */
async function turn(store: Store, s: Sess, window: number): Promise<number> {
  const t0 = performance.now();
  const key = `k_${s.id}_${s.turns}`;
  const started = await store.beginTurn!(s.id, key, 'bench-router', 30_000, {
    entries: window,
    bytes: 1 << 20,
  });
  if (started.kind !== 'started' || started.checkpointError)
    throw new Error(`turn not started: ${started.kind}`);
  const ctx = started.history.length;
  const meta = await store.appendCheckpoint({
    sessionId: s.id,
    expectedSeq: s.seq,
    schemaVersion: 1,
    writtenBy: 'v1',
    body: {
      state: { turns: s.turns + 1 },
      context: { summary: TEXT.slice(0, 2048), last: s.turns, ctx },
      waits: [],
    },
    history: entries(s.turns),
    leaseOwner: 'bench-router',
    session: { status: 'idle' },
    turnResult: { key, result: { output: { text: TEXT.slice(0, 1024) }, seq: s.seq + 1 } },
  });
  s.seq = meta.seq;
  s.turns++;
  return performance.now() - t0;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};

export interface EncryptionPlan {
  oldTurns: number;
  youngTurns: number;
  /** Turns measured per group. */
  turns: number;
  /** Entries of history the turn's window reads. */
  window: number;
}

/**
 * Run the part on the backend of `target(label)` (a SQLite path or a PostgreSQL URL, with its
 * options); returns per-group p50 ms and the on/off ratios.
 */
export async function encryptionPart(
  open: (encrypted: boolean) => Promise<Store>,
  plan: EncryptionPlan,
): Promise<Record<string, number>> {
  const stores = { off: await open(false), on: await open(true) };
  try {
    const groups: Array<{ name: string; store: Store; s: Sess[]; lat: number[] }> = [];
    for (const enc of ['off', 'on'] as const) {
      const store = stores[enc];
      groups.push({ name: `${enc} old`, store, s: [await seed(store, plan.oldTurns)], lat: [] });
      const young: Sess[] = [];
      // a fresh young session every 5 turns, so "young" stays 10 to 15 turns
      for (let i = 0; i < Math.ceil(plan.turns / 5); i++) young.push(await seed(store, plan.youngTurns));
      groups.push({ name: `${enc} young`, store, s: young, lat: [] });
    }
    // warm-up
    for (const g of groups) await turn(g.store, g.s[0]!, plan.window);
    for (let i = 0; i < plan.turns; i++) {
      for (let k = 0; k < groups.length; k++) {
        const g = groups[(i + k) % groups.length]!;
        const s = g.s.length === 1 ? g.s[0]! : g.s[Math.floor(i / 5) % g.s.length]!;
        g.lat.push(await turn(g.store, s, plan.window));
      }
    }
    const out: Record<string, number> = {};
    for (const g of groups) out[`${g.name} p50 ms`] = median(g.lat);
    out['old on/off'] = out['on old p50 ms']! / out['off old p50 ms']!;
    out['young on/off'] = out['on young p50 ms']! / out['off young p50 ms']!;
    return out;
  } finally {
    await stores.off.close();
    await stores.on.close();
  }
}

/** The stores of the part: two SQLite files in `dir`, or two PostgreSQL schemas. */
export function encryptionStores(target: { dir: string } | { pgUrl: string; schema: string }) {
  return (encrypted: boolean): Promise<Store> =>
    'dir' in target
      ? openStore(
          `${target.dir}/enc-${encrypted ? 'on' : 'off'}.db`,
          encrypted ? { encryption: BENCH_KEYS } : {},
        )
      : openStore(target.pgUrl, {
          schema: `${target.schema}_${encrypted ? 'on' : 'off'}`,
          poolSize: 4,
          ...(encrypted ? { encryption: BENCH_KEYS } : {}),
        });
}
