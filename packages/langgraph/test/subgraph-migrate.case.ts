/**
 * A thread interrupted inside a subgraph, migrated to a graph version that renames a channel the
 * root and the subgraph share, then resumed: the same outcome as LangGraph's MemorySaver running
 * the new graph from the start on the same inputs, and the subgraph's state and pending interrupt
 * visible to LangGraph after the move, before any new turn.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Annotation, Command, END, MemorySaver, START, StateGraph, interrupt } from '@langchain/langgraph';
import type { Store } from '@baton/store';
import { langGraphAgent } from '@baton/langgraph';
import type { OpenStore } from './helpers';

const log = { reducer: (a: string[], b: string[]) => a.concat(b), default: () => [] as string[] };

/** root: start → review (a subgraph: prepare → ask, which interrupts) → done; `key` names the order channel. */
function build(key: 'order' | 'orderRef') {
  const Sub = Annotation.Root({
    [key]: Annotation<string>(),
    log: Annotation<string[]>(log),
    note: Annotation<string>(),
  });
  type S = Record<string, unknown> & { note?: string };
  const sub = new StateGraph(Sub)
    .addNode('prepare', (s: S) => ({ note: `prepared ${String(s[key])}`, log: ['prepare'] }))
    .addNode('ask', (s: S) => {
      const a = interrupt<{ name: string; q: string }, { approved: boolean }>({
        name: 'approval',
        q: `approve ${String(s[key])}? (${s.note})`,
      });
      return { log: [`ask:${a.approved}`] };
    })
    .addEdge(START, 'prepare')
    .addEdge('prepare', 'ask')
    .addEdge('ask', END)
    .compile();
  const Root = Annotation.Root({ [key]: Annotation<string>(), log: Annotation<string[]>(log) });
  return new StateGraph(Root)
    .addNode('start', () => ({ log: ['start'] }))
    .addNode('review', sub as never)
    .addNode('done', (s: Record<string, unknown>) => ({ log: [`done ${String(s[key])}`] }))
    .addEdge(START, 'start')
    .addEdge('start', 'review')
    .addEdge('review', 'done')
    .addEdge('done', END);
}

type Graph = {
  invoke(input: unknown, config: unknown): Promise<Record<string, unknown>>;
  getState(
    config: unknown,
    o?: { subgraphs?: boolean },
  ): Promise<{
    values: Record<string, unknown>;
    next: string[];
    tasks: Array<{ name: string; interrupts: Array<{ id?: string; value?: unknown }>; state?: unknown }>;
  }>;
};

export function subgraphMigrateCases(backend: string, open: OpenStore): void {
  describe(`subgraph namespaces migrate (${backend})`, () => {
    let store: Store;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ store, close } = await open());
    });
    afterAll(async () => close());

    const agents = () => ({
      v1: langGraphAgent({ name: 'sub-mig', version: 'v1', graph: build('order'), store }),
      v2: langGraphAgent({
        name: 'sub-mig',
        version: 'v2',
        graph: build('orderRef'),
        store,
        migrations: [{ from: 'v1', rename: { order: 'orderRef' } }],
      }),
    });

    async function memoryRun(resume: (id: string) => unknown) {
      const mem = build('orderRef').compile({ checkpointer: new MemorySaver() }) as unknown as Graph;
      const c = { configurable: { thread_id: 'm' } };
      const first = await mem.invoke({ orderRef: 'A1' }, c);
      const id = (first.__interrupt__ as Array<{ id: string }>)[0]!.id;
      const interrupted = await mem.getState(c, { subgraphs: true });
      const last = await mem.invoke(new Command({ resume: resume(id) }), c);
      return { interrupted, last, state: await mem.getState(c) };
    }

    for (const how of ['a resume value', 'a resume by interrupt id'] as const) {
      test(`interrupted inside the subgraph, migrated, resumed with ${how}: as MemorySaver`, async () => {
        const { v1, v2 } = agents();
        const thread = `t-${how.length}-${Date.now()}`;
        const c = { configurable: { thread_id: thread } };
        const g1 = v1.graph as unknown as Graph;
        const g2 = v2.graph as unknown as Graph;
        await g1.invoke({ order: 'A1' }, c);

        const moved = await v2.migrateThread(thread);
        expect(moved).toMatchObject({ migrated: true, from: 'v1', to: 'v2', next: ['review'] });

        // LangGraph sees the move before any new turn: the subgraph's state, the pending interrupt
        const mem = await memoryRun((id) =>
          how === 'a resume value' ? { approved: true } : { [id]: { approved: true } },
        );
        const seen = await g2.getState(c, { subgraphs: true });
        expect(seen.next).toEqual(mem.interrupted.next);
        expect(seen.values).toEqual(mem.interrupted.values);
        const task = seen.tasks.find((t) => t.name === 'review')!;
        const memTask = mem.interrupted.tasks.find((t) => t.name === 'review')!;
        expect(task.interrupts.map((i) => i.value)).toEqual(memTask.interrupts.map((i) => i.value));
        expect((task.state as { values: unknown }).values).toEqual(
          (memTask.state as { values: unknown }).values,
        );
        // the interrupt id the pointer names is the one LangGraph shows
        const id = task.interrupts[0]!.id!;
        expect(Object.values(moved.interruptIds)).toContain(id);

        const resume = how === 'a resume value' ? { approved: true } : { [id]: { approved: true } };
        const last = await g2.invoke(new Command({ resume }), c);
        expect(last).toEqual(mem.last);
        const after = await g2.getState(c);
        expect(after.next).toEqual(mem.state.next);
        expect(after.values).toEqual(mem.state.values);
      });
    }
  });
}
