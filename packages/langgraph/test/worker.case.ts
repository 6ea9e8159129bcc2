/**
 * The LangGraph adapter against one store backend: turns, interrupts as waits, the graph version
 * stamp, per-channel migrations (rename, transform, drop; multi-step chains), and the pre-flight
 * refusals (not quiescent, removed node, no migration path, a throwing transform).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Annotation, END, START, StateGraph, interrupt } from '@langchain/langgraph';
import type { LedgerClient, TurnRequest, TurnResponse } from '@baton/core';
import { waitDigest } from '@baton/core';
import type { Store } from '@baton/store';
import type { OpenStore } from './helpers';
import { GRAPH_VERSION_KEY, MIGRATED_FROM_KEY, TURN_ID_KEY, langGraphAgent } from '../src/index';
import type { ChannelMigration, CompiledOf, LangGraphAgent } from '../src/index';
import { interruptIdOf } from '../src/interrupt-id';

/** The node names each step appends, in order. */
const stepsChannel = () => Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] });

/** The node every graph version shares: it waits on an `approval` interrupt. */
function approve() {
  const ok = interrupt<{ name: string }, { ok: boolean }>({ name: 'approval' });
  return { answer: ok.ok ? 'yes' : 'no', steps: ['approve'] };
}

const S1 = Annotation.Root({
  orderId: Annotation<string>,
  note: Annotation<string>,
  scratch: Annotation<string>,
  steps: stepsChannel(),
  answer: Annotation<string>,
});

function graphV1() {
  return new StateGraph(S1)
    .addNode('intake', (s) => ({ scratch: `tmp:${s.orderId}`, steps: ['intake'] }))
    .addNode('approve', approve)
    .addEdge(START, 'intake')
    .addEdge('intake', 'approve')
    .addEdge('approve', END);
}

const S2 = Annotation.Root({
  orderIds: Annotation<string[]>,
  note: Annotation<string>,
  steps: stepsChannel(),
  answer: Annotation<string>,
  shipped: Annotation<boolean>,
});

function graphV2() {
  return new StateGraph(S2)
    .addNode('intake', () => ({ steps: ['intake'] }))
    .addNode('approve', approve)
    .addNode('ship', () => ({ shipped: true, steps: ['ship'] }))
    .addEdge(START, 'intake')
    .addEdge('intake', 'approve')
    .addEdge('approve', 'ship')
    .addEdge('ship', END);
}

const S3 = Annotation.Root({
  orderIds: Annotation<string[]>,
  memo: Annotation<string>,
  steps: stepsChannel(),
  answer: Annotation<string>,
  shipped: Annotation<boolean>,
});

function graphV3() {
  return new StateGraph(S3)
    .addNode('intake', () => ({ steps: ['intake'] }))
    .addNode('approve', approve)
    .addNode('ship', (s) => ({ shipped: true, steps: [`ship:${s.memo}`] }))
    .addEdge(START, 'intake')
    .addEdge('intake', 'approve')
    .addEdge('approve', 'ship')
    .addEdge('ship', END);
}

/** v1 → v2: orderId → orderIds (a list), scratch dropped. */
const toV2: ChannelMigration = {
  from: 'v1',
  rename: { orderId: 'orderIds' },
  transform: { orderIds: (v) => (typeof v === 'string' ? [v] : v) },
  drop: ['scratch'],
};
/** v2 → v3: note → memo, upper-cased. */
const toV3: ChannelMigration = {
  from: 'v2',
  rename: { note: 'memo' },
  transform: { memo: (v) => String(v ?? '').toUpperCase() },
};

const noLedger: LedgerClient = {
  intent: () => Promise.reject(new Error('no effects here')),
  commit: () => Promise.reject(new Error('no effects here')),
  fail: () => Promise.reject(new Error('no effects here')),
  steps: () => Promise.resolve([]),
  putStep: () => Promise.resolve(),
};

export function workerCases(name: string, open: OpenStore): void {
  describe(`LangGraph adapter (${name})`, () => {
    let store: Store;
    let close: () => Promise<void>;
    let v1: LangGraphAgent<CompiledOf<ReturnType<typeof graphV1>>>;
    let v2: LangGraphAgent;
    let v3: LangGraphAgent;
    let seq = 0;
    const agent = `lg-case-${Date.now().toString(36)}`;

    beforeAll(async () => {
      ({ store, close } = await open());
      v1 = langGraphAgent({ name: agent, version: 'v1', graph: graphV1(), store });
      v2 = langGraphAgent({ name: agent, version: 'v2', graph: graphV2(), store, migrations: [toV2] });
      v3 = langGraphAgent({ name: agent, version: 'v3', graph: graphV3(), store, migrations: [toV2, toV3] });
    });
    afterAll(async () => {
      await close();
    });

    const newThread = () => `thr-${name}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

    async function turn(
      a: LangGraphAgent,
      threadId: string,
      input: TurnRequest['input'],
      prev: { res: TurnResponse; schemaVersion: number } | null,
      turnId = `t-${++seq}`,
    ): Promise<TurnResponse> {
      return a.worker(noLedger).turn({
        session: { id: threadId, agent, version: a.version, tenant: null },
        checkpoint: prev
          ? {
              seq: 1,
              schemaVersion: prev.schemaVersion,
              body: {
                state: prev.res.state,
                history: prev.res.history,
                context: prev.res.context,
                waits: prev.res.waits,
              },
            }
          : null,
        input,
        turnId,
        deadline: Date.now() + 30_000,
      });
    }

    async function interruptedOnV1(): Promise<{ threadId: string; res: TurnResponse }> {
      const threadId = newThread();
      const res = await turn(
        v1,
        threadId,
        { kind: 'message', message: { orderId: 'o-7', note: 'fragile' } },
        null,
      );
      return { threadId, res };
    }

    test('an interrupt ends the turn as a Baton wait; the callback resumes the graph on the same version', async () => {
      const { threadId, res } = await interruptedOnV1();
      expect(res.status).toBe('waiting');
      expect(res.waits).toHaveLength(1);
      expect(res.waits[0]!.name).toBe('approval');
      expect(res.state).toMatchObject({ threadId, graphVersion: 'v1', next: ['approve'] });
      const done = await turn(
        v1,
        threadId,
        { kind: 'callback', token: res.waits[0]!.token, name: 'approval', payload: { ok: true } },
        { res, schemaVersion: 1 },
      );
      expect(done.status).toBe('idle');
      expect(done.waits).toEqual([]);
      const snap = await v1.graph.getState({ configurable: { thread_id: threadId } });
      expect(snap.values).toMatchObject({ answer: 'yes', steps: ['intake', 'approve'] });
    });

    test('a timeout resumes the interrupt with the onTimeout value', async () => {
      const v1t = langGraphAgent({
        name: agent,
        version: 'v1',
        graph: graphV1(),
        store,
        onTimeout: () => ({ ok: false }),
      });
      const { threadId, res } = await interruptedOnV1();
      const done = await turn(
        v1t,
        threadId,
        { kind: 'timeout', token: res.waits[0]!.token, name: 'approval' },
        { res, schemaVersion: 1 },
      );
      expect(done.status).toBe('idle');
      const snap = await v1.graph.getState({ configurable: { thread_id: threadId } });
      expect((snap.values as Record<string, unknown>).answer).toBe('no');
    });

    test('agent.graph is the compiled graph: history, updateState and stream without casts', async () => {
      const { threadId } = await interruptedOnV1();
      const config = { configurable: { thread_id: threadId } };
      const history = [];
      for await (const s of v1.graph.getStateHistory(config)) history.push(s.values.steps ?? []);
      expect(history[0]).toEqual(['intake']);
      const forked = await v1.graph.updateState(config, { note: 'edited' });
      expect((await v1.graph.getState(forked)).values.note).toBe('edited');
      const chunks = [];
      for await (const c of await v1.graph.stream(null, { ...config, streamMode: 'values' })) chunks.push(c);
      expect(chunks[0]).toMatchObject({ orderId: 'o-7', note: 'edited' });
    });

    test('every checkpoint a version writes carries its graph version', async () => {
      const { threadId } = await interruptedOnV1();
      const all = [];
      for await (const t of v1.saver.list({ configurable: { thread_id: threadId } })) all.push(t);
      expect(all.length).toBeGreaterThan(1);
      for (const t of all) expect((t.metadata as Record<string, unknown>)[GRAPH_VERSION_KEY]).toBe('v1');
    });

    test('a retried turn (same turn id) never feeds its input to the graph twice', async () => {
      const threadId = newThread();
      const message = { kind: 'message' as const, message: { orderId: 'o-9', note: 'n' } };
      const first = await turn(v1, threadId, message, null, 'turn-a');
      // the router lost the first answer and retries the turn from the same Baton checkpoint
      const again = await turn(v1, threadId, message, null, 'turn-a');
      expect(again.status).toBe('waiting');
      expect(again.state).toMatchObject({ next: ['approve'] });
      let snap = await v1.graph.getState({ configurable: { thread_id: threadId } });
      expect((snap.values as Record<string, unknown>).steps).toEqual(['intake']);
      expect((snap.metadata as Record<string, unknown>)[TURN_ID_KEY]).toBe('turn-a');

      const cb = {
        kind: 'callback' as const,
        token: first.waits[0]!.token,
        name: 'approval',
        payload: { ok: true },
      };
      const resumed = await turn(v1, threadId, cb, { res: first, schemaVersion: 1 }, 'turn-b');
      const retried = await turn(v1, threadId, cb, { res: first, schemaVersion: 1 }, 'turn-b');
      expect(resumed.status).toBe('idle');
      expect(retried.status).toBe('idle');
      expect(retried.output).toEqual(resumed.output);
      snap = await v1.graph.getState({ configurable: { thread_id: threadId } });
      expect((snap.values as Record<string, unknown>).steps).toEqual(['intake', 'approve']);
    });

    test('migration renames, transforms and drops channels, then the thread resumes on the new graph', async () => {
      const { threadId, res } = await interruptedOnV1();
      expect(await v2.inspect(threadId)).toMatchObject({
        graphVersion: 'v1',
        next: ['approve'],
        quiescent: true,
        interrupted: true,
      });
      const migrate = (dryRun: boolean) =>
        v2.worker(noLedger).migrate({
          session: { id: threadId, agent, version: 'v1' },
          checkpoint: {
            seq: 1,
            schemaVersion: 1,
            body: { state: res.state, history: res.history, context: res.context, waits: res.waits },
          },
          targetSchemaVersion: 2,
          dryRun,
        });
      // a dry run (the pre-flight) writes nothing
      expect((await migrate(true)).ok).toBe(true);
      expect((await v2.inspect(threadId)).graphVersion).toBe('v1');
      const migrated = await migrate(false);
      expect(migrated.ok).toBe(true);
      if (!migrated.ok) return;
      // Baton's migration writes the migrated graph checkpoint at once: LangGraph sees it before any turn
      expect(await v2.inspect(threadId)).toMatchObject({
        graphVersion: 'v2',
        next: ['approve'],
        interrupted: true,
      });
      const seen = await v2.graph.getState({ configurable: { thread_id: threadId } });
      expect(seen.values).toMatchObject({ orderIds: ['o-7'], note: 'fragile' });
      expect(seen.tasks.flatMap((t) => t.interrupts.map((i) => i.value))).toEqual([{ name: 'approval' }]);
      expect(migrated.body.state).toMatchObject({
        graphVersion: 'v2',
        checkpointId: seen.config.configurable?.checkpoint_id,
        next: ['approve'],
      });
      // the pointer names the interrupt LangGraph now holds (its id changed with the task's)
      const pointer = migrated.body.state as { interrupts: Array<{ id: string; token: string }> };
      expect(pointer.interrupts.map((i) => i.id)).toEqual(
        seen.tasks.flatMap((t) => t.interrupts.map((i) => i.id)),
      );
      // the pointer is stored state: it holds the wait's digest, never the token
      expect(pointer.interrupts[0]!.token).toBe(waitDigest(res.waits[0]!.token));
      const done = await turn(
        v2,
        threadId,
        { kind: 'callback', token: res.waits[0]!.token, name: 'approval', payload: { ok: true } },
        { res: { ...res, state: migrated.body.state }, schemaVersion: 2 },
      );
      expect(done.status).toBe('idle');
      const snap = await v2.graph.getState({ configurable: { thread_id: threadId } });
      const values = snap.values as Record<string, unknown>;
      expect(values.orderIds).toEqual(['o-7']);
      expect(values.note).toBe('fragile');
      expect('orderId' in values).toBe(false);
      expect('scratch' in values).toBe(false);
      expect(values).toMatchObject({ answer: 'yes', shipped: true, steps: ['intake', 'approve', 'ship'] });
      const bridge = [];
      for await (const t of v2.saver.list(
        { configurable: { thread_id: threadId } },
        { filter: { [MIGRATED_FROM_KEY]: 'v1' } },
      ))
        bridge.push(t);
      expect(bridge).toHaveLength(1);
      // only the channels the migration changed were written at new versions
      const before = await v1.saver.getTuple({
        configurable: {
          thread_id: threadId,
          checkpoint_id: bridge[0]!.parentConfig!.configurable!.checkpoint_id,
        },
      });
      const after = bridge[0]!.checkpoint.channel_versions;
      expect(after.note).toBe(before!.checkpoint.channel_versions.note);
      expect(after.steps).toBe(before!.checkpoint.channel_versions.steps);
      expect(after.orderIds).not.toBeUndefined();
      expect(after.scratch).toBeUndefined();
      expect(after.orderId).toBeUndefined();
    });

    test('migrateThread chains steps (v1 → v2 → v3) and is a no-op on a thread already there', async () => {
      const { threadId } = await interruptedOnV1();
      const r = await v3.migrateThread(threadId);
      expect(r).toMatchObject({ migrated: true, from: 'v1', to: 'v3' });
      const snap = await v3.graph.getState({ configurable: { thread_id: threadId } });
      expect(snap.values).toMatchObject({ orderIds: ['o-7'], memo: 'FRAGILE' });
      expect(snap.next).toEqual(['approve']);
      expect(await v3.migrateThread(threadId)).toMatchObject({ migrated: false, from: 'v3', to: 'v3' });
    });

    test('the interrupt id Baton computes is the one LangGraph gives a live interrupt', async () => {
      const { threadId } = await interruptedOnV1();
      const snap = await v1.graph.getState({ configurable: { thread_id: threadId } });
      const task = snap.tasks.find((t) => t.interrupts.length > 0)!;
      expect(task.interrupts[0]!.id).toBe(interruptIdOf(task.name, task.id));
    });

    test('two pending interrupts survive an eager migration: each callback resumes its own node', async () => {
      const Two = (key: 'ref' | 'orderRef') =>
        Annotation.Root({
          [key]: Annotation<string>,
          answers: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
        });
      const ask = (who: string) => () => {
        const r = interrupt<{ name: string }, { ok: boolean }>({ name: who });
        return { answers: [`${who}:${r.ok ? 'yes' : 'no'}`] };
      };
      const build = (key: 'ref' | 'orderRef') =>
        new StateGraph(Two(key))
          .addNode('legal', ask('legal'))
          .addNode('finance', ask('finance'))
          .addEdge(START, 'legal')
          .addEdge(START, 'finance')
          .addEdge('legal', END)
          .addEdge('finance', END);
      const p1 = langGraphAgent({ name: agent, version: 'p1', graph: build('ref'), store });
      const p2 = langGraphAgent({
        name: agent,
        version: 'p2',
        graph: build('orderRef'),
        store,
        migrations: [{ from: 'p1', rename: { ref: 'orderRef' } }],
      });
      const threadId = newThread();
      const res = await turn(p1, threadId, { kind: 'message', message: { ref: 'o-2' } }, null);
      expect(res.waits.map((w) => w.name).sort()).toEqual(['finance', 'legal']);
      const migrated = await p2.worker(noLedger).migrate({
        session: { id: threadId, agent, version: 'p1' },
        checkpoint: {
          seq: 1,
          schemaVersion: 1,
          body: { state: res.state, history: [], context: null, waits: res.waits },
        },
        targetSchemaVersion: 2,
        dryRun: false,
      });
      expect(migrated.ok).toBe(true);
      if (!migrated.ok) return;
      const snap = await p2.graph.getState({ configurable: { thread_id: threadId } });
      expect(snap.values).toMatchObject({ orderRef: 'o-2' });
      expect(
        snap.tasks.flatMap((t) => t.interrupts.map((i) => (i.value as { name: string }).name)).sort(),
      ).toEqual(['finance', 'legal']);
      const ids = (migrated.body.state as { interrupts: Array<{ id: string }> }).interrupts.map((i) => i.id);
      expect(ids.sort()).toEqual(snap.tasks.flatMap((t) => t.interrupts.map((i) => i.id!)).sort());
      const moved = { ...res, state: migrated.body.state };
      const finance = res.waits.find((w) => w.name === 'finance')!;
      const first = await turn(
        p2,
        threadId,
        { kind: 'callback', token: finance.token, name: 'finance', payload: { ok: false } },
        { res: moved, schemaVersion: 2 },
      );
      expect(first.status).toBe('waiting');
      expect(first.waits.map((w) => w.name)).toEqual(['legal']);
      const legal = res.waits.find((w) => w.name === 'legal')!;
      const done = await turn(
        p2,
        threadId,
        { kind: 'callback', token: legal.token, name: 'legal', payload: { ok: true } },
        { res: first, schemaVersion: 2 },
      );
      expect(done.status).toBe('idle');
      const end = await p2.graph.getState({ configurable: { thread_id: threadId } });
      expect([...(end.values as { answers: string[] }).answers].sort()).toEqual(['finance:no', 'legal:yes']);
    });

    test('down migrations: inverse transforms and renames move a thread back; no inverse, no down', async () => {
      const back = langGraphAgent({
        name: agent,
        version: 'v2',
        graph: graphV2(),
        store,
        migrations: [
          {
            from: 'v1',
            rename: { orderId: 'orderIds' },
            transform: { orderIds: (v) => [v] },
            inverse: { orderIds: (v) => (v as string[])[0] },
          },
        ],
      });
      expect(back.definition.downSchemas()).toEqual([1]);
      expect(v2.definition.downSchemas()).toEqual([]); // toV2 drops `scratch` and has no inverse
      const { threadId, res } = await interruptedOnV1();
      const body = { state: res.state, history: res.history, context: res.context, waits: res.waits };
      const up = await back.worker(noLedger).migrate({
        session: { id: threadId, agent, version: 'v1' },
        checkpoint: { seq: 1, schemaVersion: 1, body },
        targetSchemaVersion: 2,
        dryRun: false,
      });
      expect(up.ok).toBe(true);
      if (!up.ok) return;
      expect((await back.graph.getState({ configurable: { thread_id: threadId } })).values.orderIds).toEqual([
        'o-7',
      ]);
      // the reverse fill runs green's down migration (on green's workers)
      const down = await back.worker(noLedger).migrate({
        session: { id: threadId, agent, version: 'v2' },
        checkpoint: { seq: 2, schemaVersion: 2, body: { ...body, state: up.body.state } },
        targetSchemaVersion: 1,
        dryRun: false,
      });
      expect(down.ok).toBe(true);
      if (!down.ok) return;
      const snap = await v1.graph.getState({ configurable: { thread_id: threadId } });
      expect(snap.values).toMatchObject({ orderId: 'o-7', note: 'fragile' });
      expect('orderIds' in snap.values).toBe(false);
      expect(snap.metadata).toMatchObject({ [GRAPH_VERSION_KEY]: 'v1', [MIGRATED_FROM_KEY]: 'v2' });
      expect(snap.next).toEqual(['approve']);
      expect(down.body.state).toMatchObject({
        graphVersion: 'v1',
        checkpointId: snap.config.configurable?.checkpoint_id,
      });
      // and v1 resumes it
      const done = await turn(
        v1,
        threadId,
        { kind: 'callback', token: res.waits[0]!.token, name: 'approval', payload: { ok: true } },
        { res: { ...res, state: down.body.state }, schemaVersion: 1 },
      );
      expect(done.status).toBe('idle');
      expect((await v1.graph.getState({ configurable: { thread_id: threadId } })).values.answer).toBe('yes');
    });

    test('pre-flight refuses a thread that is not at a quiescent checkpoint', async () => {
      const { threadId, res } = await interruptedOnV1();
      const tuple = await v1.saver.getTuple({ configurable: { thread_id: threadId } });
      await v1.saver.putWrites(tuple!.config, [['note', 'half-done']], 'task-in-flight');
      const pf = await v2.preflight(threadId);
      expect(pf.ok).toBe(false);
      if (!pf.ok)
        expect(pf.reason).toMatch(
          /is not at a quiescent checkpoint: 1 pending write\(s\) from task\(s\) task-in-flight on note/,
        );
      const m = await v2.worker(noLedger).migrate({
        session: { id: threadId, agent, version: 'v1' },
        checkpoint: {
          seq: 1,
          schemaVersion: 1,
          body: { state: res.state, history: res.history, context: res.context, waits: res.waits },
        },
        targetSchemaVersion: 2,
        dryRun: true,
      });
      expect(m.ok).toBe(false);
      if (!m.ok) {
        expect(m.error.code).toBe('MIGRATION_FAILED');
        expect(m.error.message).toMatch(/not at a quiescent checkpoint/);
      }
      await expect(v2.migrateThread(threadId)).rejects.toMatchObject({ code: 'MIGRATION_FAILED' });
      expect((await v2.inspect(threadId)).graphVersion).toBe('v1');
    });

    test('pre-flight refuses a thread interrupted at a node the new graph lacks', async () => {
      const noApprove = langGraphAgent({
        name: agent,
        version: 'v2b',
        graph: new StateGraph(S2)
          .addNode('intake', () => ({}))
          .addEdge(START, 'intake')
          .addEdge('intake', END),
        store,
        migrations: [toV2],
      });
      const { threadId } = await interruptedOnV1();
      expect(await noApprove.preflight(threadId)).toEqual({
        ok: false,
        reason: `thread ${threadId} is interrupted at node 'approve' of graph v1, which graph v2b no longer has`,
      });
      await expect(noApprove.migrateThread(threadId)).rejects.toMatchObject({ code: 'MIGRATION_FAILED' });
    });

    test('a version that changes nodes but not state moves threads as they are, with the same checks', async () => {
      // v1 plus a node after `approve`; no migrations; schemaVersion set so Baton runs the pre-flight
      const v1b = langGraphAgent({
        name: agent,
        version: 'v1b',
        schemaVersion: 2,
        graph: graphV1()
          .addNode('audit', () => ({ steps: ['audit'] }))
          .addEdge('approve', 'audit')
          .addEdge('audit', END),
        store,
      });
      const { threadId, res } = await interruptedOnV1();
      expect(await v1b.preflight(threadId)).toEqual({ ok: true, from: 'v1', to: 'v1b' });
      const m = await v1b.worker(noLedger).migrate({
        session: { id: threadId, agent, version: 'v1' },
        checkpoint: {
          seq: 1,
          schemaVersion: 1,
          body: { state: res.state, history: res.history, context: res.context, waits: res.waits },
        },
        targetSchemaVersion: 2,
        dryRun: false,
      });
      expect(m.ok).toBe(true);
      if (!m.ok) return;
      const done = await turn(
        v1b,
        threadId,
        { kind: 'callback', token: res.waits[0]!.token, name: 'approval', payload: { ok: false } },
        { res: { ...res, state: m.body.state }, schemaVersion: 2 },
      );
      expect(done.status).toBe('idle');
      const snap = await v1b.graph.getState({ configurable: { thread_id: threadId } });
      expect(snap.values).toMatchObject({
        orderId: 'o-7',
        answer: 'no',
        steps: ['intake', 'approve', 'audit'],
      });
      expect((snap.metadata as Record<string, unknown> | undefined)?.[GRAPH_VERSION_KEY]).toBe('v1b');

      const noApprove = langGraphAgent({
        name: agent,
        version: 'v1c',
        schemaVersion: 2,
        graph: new StateGraph(S1)
          .addNode('intake', () => ({}))
          .addEdge(START, 'intake')
          .addEdge('intake', END),
        store,
      });
      const other = await interruptedOnV1();
      const pf = await noApprove.preflight(other.threadId);
      expect(pf.ok).toBe(false);
      if (!pf.ok)
        expect(pf.reason).toMatch(/interrupted at node 'approve' of graph v1, which graph v1c no longer has/);
    });

    test('pre-flight refuses a thread without a migration path, and a transform that throws', async () => {
      const { threadId } = await interruptedOnV1();
      const noPath = langGraphAgent({
        name: agent,
        version: 'v9',
        graph: graphV3(),
        store,
        migrations: [toV3],
      });
      const pf = await noPath.preflight(threadId);
      expect(pf).toEqual({
        ok: false,
        reason: `graph ${agent}@v9 has no channel migration from graph version v1 (it migrates from v2)`,
      });
      const broken = langGraphAgent({
        name: agent,
        version: 'v8',
        graph: graphV2(),
        store,
        migrations: [
          {
            from: 'v1',
            transform: {
              orderIds: () => {
                throw new Error('bad order');
              },
            },
          },
        ],
      });
      const b = await broken.preflight(threadId);
      expect(b.ok).toBe(false);
      if (!b.ok) expect(b.reason).toMatch(/bad order/);
      expect((await v1.inspect(threadId)).graphVersion).toBe('v1');
    });

    test('bad specs are refused', () => {
      expect(() =>
        langGraphAgent({ name: agent, version: 'v2', graph: graphV2(), store, migrations: [toV2, toV2] }),
      ).toThrow(/two channel migrations from v1/);
      expect(() =>
        langGraphAgent({ name: agent, version: 'v1', graph: graphV1(), store, migrations: [{ from: 'v1' }] }),
      ).toThrow(/cannot start at v1/);
    });
  });
}
