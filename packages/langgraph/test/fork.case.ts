/**
 * Time travel on Baton's saver, compared with LangGraph's MemorySaver on the same inputs:
 * `updateState` on an older checkpoint then continue, a replay from an older checkpoint after an
 * external change (an interrupt before the booking node), three forks of one thread listed by
 * `getStateHistory`, and two children of one checkpoint writing the same channel (saver level).
 * Checkpoint ids and timestamps differ between savers; values, `next`, interrupts and history do not.
 */
import { describe, expect, test } from 'vitest';
import { Annotation, Command, END, START, StateGraph, interrupt } from '@langchain/langgraph';
import type { RunnableConfig } from '@langchain/core/runnables';
import { MemorySaver, emptyCheckpoint, type BaseCheckpointSaver } from '@langchain/langgraph-checkpoint';
import type { OpenStore } from './helpers';
import { BatonCheckpointSaver } from '../src/index';

/** External data the search node reads: it changes between the first run and the replay. */
interface World {
  prices: Record<string, number>;
  booked: string[];
}

const Trip = Annotation.Root({
  city: Annotation<string>,
  log: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  choice: Annotation<string>,
  nights: Annotation<number>,
  booking: Annotation<string>,
});
type TripState = typeof Trip.State;

const Quote = Annotation.Root({
  choice: Annotation<string>,
  nights: Annotation<number>,
  total: Annotation<number>,
});

/** A subgraph: prices the chosen room for the stay. */
function quoteGraph(world: World) {
  return new StateGraph(Quote)
    .addNode('price', (s) => ({ total: (world.prices[s.choice] ?? 0) * (s.nights ?? 1) }))
    .addEdge(START, 'price')
    .addEdge('price', END)
    .compile();
}

/** search → (cheap ? quote : note) → confirm (interrupt) → book. */
function tripGraph(world: World, checkpointer: BaseCheckpointSaver) {
  const quote = quoteGraph(world);
  return new StateGraph(Trip)
    .addNode('search', () => {
      const [name, price] = Object.entries(world.prices).sort((a, b) => a[1] - b[1])[0]!;
      return { choice: `${name} ${price}`, log: [`search:${name}`] };
    })
    .addNode('quote', async (s: TripState) => {
      const r = await quote.invoke({ choice: s.choice.replace(/ \d+$/, ''), nights: s.nights });
      return { log: [`quote:${r.total}`] };
    })
    .addNode('note', () => ({ log: ['note:expensive'] }))
    .addNode('confirm', (s: TripState) => {
      const answer = interrupt<{ name: string; choice: string }, { ok: boolean }>({
        name: 'confirm',
        choice: s.choice,
      });
      return { log: [answer.ok ? 'confirm:yes' : 'confirm:no'] };
    })
    .addNode('book', (s: TripState) => {
      world.booked.push(s.choice);
      return { booking: s.choice, log: [`book:${s.choice}`] };
    })
    .addEdge(START, 'search')
    .addConditionalEdges(
      'search',
      (s: TripState) => (Number(/\d+$/.exec(s.choice)?.[0]) < 100 ? 'quote' : 'note'),
      ['quote', 'note'],
    )
    .addEdge('quote', 'confirm')
    .addEdge('note', 'confirm')
    .addEdge('confirm', 'book')
    .addEdge('book', END)
    .compile({ checkpointer });
}

type Snapshot = Awaited<ReturnType<ReturnType<typeof tripGraph>['getState']>>;

/** What a LangGraph user sees in a snapshot: everything but ids and timestamps. */
function seen(s: Snapshot) {
  return {
    values: s.values,
    next: [...s.next],
    interrupts: s.tasks.flatMap((t) => t.interrupts.map((i) => i.value)),
    source: s.metadata?.source,
    step: s.metadata?.step,
  };
}

async function history(graph: ReturnType<typeof tripGraph>, config: RunnableConfig) {
  const out: Snapshot[] = [];
  for await (const s of graph.getStateHistory(config)) out.push(s);
  return out;
}

/** The checkpoint of the history entry just after `node` ran (its `next` starts with `after`). */
function at(list: Snapshot[], next: string): Snapshot {
  const hit = list.find((s) => s.next[0] === next);
  if (!hit) throw new Error(`no checkpoint before ${next}`);
  return hit;
}

const hotels = (): Record<string, number> => ({ 'Alfama Loft': 95, 'Tagus View': 120, 'Baixa Inn': 130 });

/** Each scenario runs on a saver and returns what a user would observe. */
const scenarios: Record<string, (saver: BaseCheckpointSaver, thread: string) => Promise<unknown>> = {
  /** updateState on an older checkpoint, then continue from the fork. */
  async 'updateState on an older checkpoint, then continue'(saver, thread) {
    const world: World = { prices: hotels(), booked: [] };
    const graph = tripGraph(world, saver);
    const config = { configurable: { thread_id: thread } };
    await graph.invoke({ city: 'Lisbon', nights: 2 }, config);
    await graph.invoke(new Command({ resume: { ok: true } }), config);
    const done = await graph.getState(config);
    const before = at(await history(graph, config), 'confirm');
    // fork: the human picked another room before confirming
    const forked = await graph.updateState(before.config, { choice: 'Tagus View 120', nights: 3 }, 'quote');
    const afterUpdate = await graph.getState(forked);
    await graph.invoke(new Command({ resume: { ok: true } }), forked);
    const end = await graph.getState(config);
    return {
      done: seen(done),
      afterUpdate: seen(afterUpdate),
      end: seen(end),
      booked: world.booked,
      history: (await history(graph, config)).map(seen),
    };
  },

  /** Replay from an older checkpoint after prices changed; the interrupt and the booking agree. */
  async 'replay from an interrupted checkpoint after an external change'(saver, thread) {
    const world: World = { prices: hotels(), booked: [] };
    const graph = tripGraph(world, saver);
    const config = { configurable: { thread_id: thread } };
    await graph.invoke({ city: 'Lisbon', nights: 1 }, config);
    const interrupted = await graph.getState(config);
    await graph.invoke(new Command({ resume: { ok: true } }), config);
    // the prices change; replay from the checkpoint before search
    world.prices = { 'Alfama Loft': 140, 'Tagus View': 99, 'Baixa Inn': 130 };
    const start = at(await history(graph, config), 'search');
    await graph.invoke(null, start.config);
    const replayed = await graph.getState(config);
    await graph.invoke(new Command({ resume: { ok: true } }), config);
    const end = await graph.getState(config);
    return {
      interrupted: seen(interrupted),
      replayed: seen(replayed),
      end: seen(end),
      booked: world.booked,
      historyLength: (await history(graph, config)).length,
    };
  },

  /** Three forks of one checkpoint; the history lists every branch. */
  async 'three forks of one thread, getStateHistory lists every branch'(saver, thread) {
    const world: World = { prices: hotels(), booked: [] };
    const graph = tripGraph(world, saver);
    const config = { configurable: { thread_id: thread } };
    await graph.invoke({ city: 'Lisbon', nights: 2 }, config);
    const base = at(await history(graph, config), 'confirm');
    const ends = [];
    for (const [choice, nights] of [
      ['Baixa Inn 130', 1],
      ['Tagus View 120', 4],
      ['Alfama Loft 95', 7],
    ] as const) {
      const fork = await graph.updateState(base.config, { choice, nights }, 'quote');
      await graph.invoke(new Command({ resume: { ok: nights > 2 } }), fork);
      ends.push(seen(await graph.getState(config)));
    }
    const all = await history(graph, config);
    return {
      ends,
      booked: world.booked,
      history: all.map(seen),
      // every branch is reachable from its own head, through its parents, down to the root
      branches: await Promise.all(
        all
          .filter((s) => s.next.length === 0)
          .map(async (head) => {
            const chain: unknown[] = [];
            let cursor: RunnableConfig | undefined = head.config;
            while (cursor) {
              const s = await graph.getState(cursor);
              chain.push(s.values);
              cursor = s.parentConfig;
            }
            return chain;
          }),
      ),
    };
  },

  /** Two children of one checkpoint write the same channel: each child reads its own value. */
  async 'saver: two children of one checkpoint write the same channel'(saver, thread) {
    const root = { configurable: { thread_id: thread, checkpoint_ns: '' } };
    const parent = { ...emptyCheckpoint(), id: '1ef00000-0000-6000-8000-000000000001' };
    const v1 = saver.getNextVersion(undefined);
    parent.channel_values = { topic: 'start', other: 'kept' };
    parent.channel_versions = { topic: v1, other: v1 };
    const parentConfig = await saver.put(
      root,
      parent,
      { source: 'input', step: -1, parents: {} },
      {
        topic: v1,
        other: v1,
      },
    );
    const children = [];
    for (const [i, topic] of ['left', 'right'].entries()) {
      const next = saver.getNextVersion(v1);
      const child = {
        ...parent,
        id: `1ef00000-0000-6000-8000-00000000001${i}`,
        channel_values: { topic, other: 'kept' },
        channel_versions: { topic: next, other: v1 },
      };
      children.push(
        await saver.put(parentConfig, child, { source: 'loop', step: 0, parents: {} }, { topic: next }),
      );
    }
    const read = [];
    for (const c of children) read.push((await saver.getTuple(c))?.checkpoint.channel_values);
    const listed = [];
    for await (const t of saver.list(root)) listed.push(t.checkpoint.channel_values);
    return { read, listed };
  },
};

/** A saver with LangGraph's default integer versions, as threads written before per-branch versions have. */
class IntegerVersionSaver extends BatonCheckpointSaver {
  override getNextVersion(current: number | undefined): number {
    return current === undefined ? 1 : Number(current) + 1;
  }
}

export function forkCases(name: string, open: OpenStore): void {
  describe(`time travel on Baton's saver matches MemorySaver (${name})`, () => {
    for (const [title, run] of Object.entries(scenarios))
      test(title, async () => {
        const { store, close } = await open();
        try {
          const thread = `fork-${Math.random().toString(36).slice(2)}`;
          const expected = await run(new MemorySaver(), thread);
          const actual = await run(new BatonCheckpointSaver(store), thread);
          expect(actual).toEqual(expected);
        } finally {
          await close();
        }
      });

    test('a thread written with integer versions forks right once the saver uses per-branch versions', async () => {
      const { store, close } = await open();
      try {
        const run = async (before: BaseCheckpointSaver, after: BaseCheckpointSaver, thread: string) => {
          const world: World = { prices: hotels(), booked: [] };
          const config = { configurable: { thread_id: thread } };
          await tripGraph(world, before).invoke({ city: 'Porto', nights: 2 }, config);
          const graph = tripGraph(world, after);
          await graph.invoke(new Command({ resume: { ok: true } }), config);
          const base = at(await history(graph, config), 'confirm');
          const fork = await graph.updateState(base.config, { choice: 'Baixa Inn 130' }, 'quote');
          await graph.invoke(new Command({ resume: { ok: true } }), fork);
          return {
            end: seen(await graph.getState(config)),
            booked: world.booked,
            history: (await history(graph, config)).map(seen),
          };
        };
        const memory = new MemorySaver();
        const thread = `legacy-${Math.random().toString(36).slice(2)}`;
        const expected = await run(memory, memory, thread);
        const actual = await run(new IntegerVersionSaver(store), new BatonCheckpointSaver(store), thread);
        expect(actual).toEqual(expected);
      } finally {
        await close();
      }
    });

    test('a channel no step writes keeps its version: its value is stored once, not at every step', async () => {
      const { store, close } = await open();
      try {
        const saver = new BatonCheckpointSaver(store);
        const config = { configurable: { thread_id: `flat-${Math.random().toString(36).slice(2)}` } };
        const graph = tripGraph({ prices: hotels(), booked: [] }, saver);
        await graph.invoke({ city: 'Lisbon', nights: 2 }, config);
        await graph.invoke(new Command({ resume: { ok: true } }), config);
        const cities = new Set<unknown>();
        const logs = new Set<unknown>();
        for await (const t of saver.list({ configurable: { ...config.configurable, checkpoint_ns: '' } })) {
          if (t.metadata?.step === -1) continue; // before the input was applied
          cities.add(t.checkpoint.channel_versions.city);
          logs.add(t.checkpoint.channel_versions.log);
        }
        expect(cities.size).toBe(1); // written by the input only
        expect(logs.size).toBeGreaterThan(4); // written by every node
      } finally {
        await close();
      }
    });
  });
}
