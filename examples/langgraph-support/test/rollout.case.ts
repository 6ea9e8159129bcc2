/**
 * Drain-and-fill of a LangGraph agent through Baton over real HTTP on 127.0.0.1: 100 threads in
 * flight on v1 (60 interrupted mid-approval), a rollout to v2 (which renames `orderId` →
 * `orderRef` and adds a `survey` node), then every thread resumes on v2 with the renamed key
 * carrying the old value. And: the pre-flight refuses threads interrupted at a node that the
 * candidate graph removed.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { END, START, StateGraph } from '@langchain/langgraph';
import type { Store } from '@baton/store';
import { startBaton } from '@baton/server';
import type { RunningBaton } from '@baton/server';
import { GRAPH_VERSION_KEY, MIGRATED_FROM_KEY, langGraphAgent } from '@baton/langgraph';
import { AGENT, StateV2, buildV2, supportV1, supportV2 } from '../src/index';
import { call, openThreads, resumeAll, waitFor, type OpenStore } from './helpers';

const N = 100;

let store: Store;
let baton: RunningBaton | null = null;

export function rolloutCases(backend: string, open: OpenStore): void {
  describe(`LangGraph drain-and-fill through Baton (${backend})`, () => {
    let dispose: () => Promise<void>;

    beforeEach(async () => {
      ({ store, dispose } = await open());
    });

    afterEach(async () => {
      await baton?.close({ deadlineMs: 2000 });
      baton = null;
      await dispose();
    });

    test('100 threads on v1 (60 interrupted mid-approval) roll out to v2 and resume there with orderId → orderRef', async () => {
      const v1 = supportV1(store);
      const v2 = supportV2(store);
      baton = await startBaton({
        store,
        agents: [v1.definition, v2.definition],
        controller: { intervalMs: 100 },
      });
      const b = baton;
      const admin = b.tokens.admin[0]!;

      const threads = await openThreads(b, N, (i) => i % 5 < 3);
      expect(threads.filter((t) => t.refund)).toHaveLength(60);
      const asked = new Map<string, unknown[]>();
      for (const t of threads) {
        const snap = await v1.graph.getState({ configurable: { thread_id: t.sessionId } });
        expect((snap.values as Record<string, unknown>).orderId).toBe(t.order);
        expect(snap.next).toEqual(t.refund ? ['approval'] : []);
        const interrupts = snap.tasks.flatMap((k) => k.interrupts.map((i) => i.value));
        expect(interrupts).toHaveLength(t.refund ? 1 : 0);
        asked.set(t.sessionId, interrupts);
      }

      const spec = {
        agent: AGENT,
        from: 'v1',
        to: 'v2',
        migration: { policy: 'at-boundary', eager: true, batch: 200 },
        steps: [{ fill: 100, migrate: 100 }],
      };
      const created = await call('POST', `${b.url}/v1/rollouts`, admin, spec);
      expect(created.status).toBe(201);
      const rolloutId = created.body.id as string;

      // the eager migrator moves idle and waiting sessions onto v2 (each passes the LangGraph pre-flight)
      await waitFor('every session on v2', async () => {
        const counts = await store.countSessions({ agent: AGENT });
        const onV1 = Object.values(counts.v1 ?? {}).reduce((a, n) => a + n, 0);
        return onV1 === 0;
      });
      const migrations = await store.listMigrations({ rolloutId, status: 'ok', limit: 1000 });
      expect(new Set(migrations.map((m) => m.sessionId)).size).toBe(N);
      expect(await store.listMigrations({ rolloutId, status: 'failed', limit: 1000 })).toEqual([]);

      // before any new turn, LangGraph itself sees every thread migrated: the renamed channel, the
      // v2 stamp and, for the interrupted threads, the pending interrupt it had on v1
      for (const t of threads) {
        const snap = await v2.graph.getState({ configurable: { thread_id: t.sessionId } });
        const values = snap.values as Record<string, unknown>;
        expect(values.orderRef).toBe(t.order);
        expect('orderId' in values).toBe(false);
        expect(snap.metadata?.[GRAPH_VERSION_KEY]).toBe('v2');
        expect(snap.metadata?.[MIGRATED_FROM_KEY]).toBe('v1');
        expect(snap.next).toEqual(t.refund ? ['approval'] : []);
        expect(snap.tasks.flatMap((k) => k.interrupts.map((i) => i.value))).toEqual(asked.get(t.sessionId));
        const session = await store.getSession(t.sessionId);
        expect(session.status).toBe(t.refund ? 'waiting' : 'idle');
      }

      // every thread resumes on v2: callbacks for the interrupted ones, a message for the others
      await resumeAll(b, threads, 'v2', 10);

      // none lost: every session exists, on v2, with its thread migrated and carrying the old value
      for (const t of threads) {
        const s = await call('GET', `${b.url}/v1/sessions/${t.sessionId}`, admin);
        expect(s.status).toBe(200);
        expect(s.body.version).toBe('v2');
        expect(s.body.status).toBe('idle');
        const snap = await v2.graph.getState({ configurable: { thread_id: t.sessionId } });
        const values = snap.values as Record<string, unknown>;
        expect(values.orderRef).toBe(t.order);
        expect('orderId' in values).toBe(false);
        expect(values.surveySent).toBe(true);
        expect(snap.metadata?.[GRAPH_VERSION_KEY]).toBe('v2');
        const history = [];
        for await (const c of v2.saver.list({ configurable: { thread_id: t.sessionId } })) history.push(c);
        const bridge = history.filter(
          (c) => (c.metadata as Record<string, unknown>)[MIGRATED_FROM_KEY] === 'v1',
        );
        expect(bridge).toHaveLength(1);
        if (t.refund) expect(values.log).toEqual(['triage:refund', 'approval:yes', 'resolve', 'survey']);
      }
      const counts = await store.countSessions({ agent: AGENT });
      expect(Object.values(counts.v2 ?? {}).reduce((a, n) => a + n, 0)).toBe(N);
    });

    test('an aborted rollout with greenSessions: reverse moves threads back through the down migration', async () => {
      const v1 = supportV1(store);
      const v2 = supportV2(store); // orderId → orderRef: a rename, which inverts by itself
      expect(v2.definition.downSchemas()).toEqual([1]);
      baton = await startBaton({
        store,
        agents: [v1.definition, v2.definition],
        controller: { intervalMs: 100 },
      });
      const b = baton;
      const admin = b.tokens.admin[0]!;
      const traffic = b.tokens.traffic[0]!;
      const threads = await openThreads(b, 8, (i) => i % 2 === 0);
      const spec = {
        agent: AGENT,
        from: 'v1',
        to: 'v2',
        migration: { policy: 'at-boundary', eager: true, batch: 50 },
        steps: [{ fill: 100, migrate: 100, verify: { minSessions: 1000 } }],
        onAbort: { greenSessions: 'reverse' },
      };
      const created = await call('POST', `${b.url}/v1/rollouts`, admin, spec);
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const onVersion = async (v: string) => {
        const counts = await store.countSessions({ agent: AGENT });
        return Object.values(counts[v] ?? {}).reduce((a, n) => a + n, 0);
      };
      await waitFor('every session on v2', async () => (await onVersion('v1')) === 0);
      const aborted = await call('POST', `${b.url}/v1/rollouts/${id}/abort`, admin, { reason: 'test' });
      expect(aborted.status).toBe(200);
      await waitFor('every session back on v1', async () => (await onVersion('v2')) === 0);

      // LangGraph sees each thread back on v1's channels, stamped v1, still interrupted where it was
      for (const t of threads) {
        const snap = await v1.graph.getState({ configurable: { thread_id: t.sessionId } });
        const values = snap.values as Record<string, unknown>;
        expect(values.orderId).toBe(t.order);
        expect('orderRef' in values).toBe(false);
        expect(snap.metadata?.[GRAPH_VERSION_KEY]).toBe('v1');
        expect(snap.metadata?.[MIGRATED_FROM_KEY]).toBe('v2');
        expect(snap.next).toEqual(t.refund ? ['approval'] : []);
        expect(snap.tasks.some((k) => k.interrupts.length > 0)).toBe(t.refund);
      }
      for (const t of threads.filter((x) => x.refund)) {
        const r = await call('POST', `${b.url}/v1/callbacks/${t.waitToken}`, traffic, {
          payload: { approved: true, by: 'ops' },
        });
        expect(r.status).toBe(200);
        expect(r.body.version).toBe('v1');
        expect(r.body.output.reply).toBe(`Refund of ${10 + t.i} issued for order ${t.order}.`);
      }
    });

    test('reverse is refused up front when the candidate drops a channel (a drop cannot be undone)', async () => {
      const v1 = supportV1(store);
      const lossy = langGraphAgent({
        name: AGENT,
        version: 'v2-lossy',
        graph: buildV2(),
        store,
        migrations: [{ from: 'v1', rename: { orderId: 'orderRef' }, drop: ['category'] }],
      });
      expect(lossy.definition.downSchemas()).toEqual([]);
      baton = await startBaton({ store, agents: [v1.definition, lossy.definition], controller: false });
      const b = baton;
      const spec = {
        agent: AGENT,
        from: 'v1',
        to: 'v2-lossy',
        steps: [{ fill: 100, migrate: 100 }],
        onAbort: { greenSessions: 'reverse' },
      };
      const r = await call('POST', `${b.url}/v1/rollouts`, b.tokens.admin[0]!, spec);
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('PREFLIGHT_FAILED');
      expect(r.body.error.message).toMatch(/reverse needs a down migration/);
      // the same rollout without reverse is fine
      const stay = await call('POST', `${b.url}/v1/rollouts`, b.tokens.admin[0]!, {
        ...spec,
        onAbort: { greenSessions: 'stay' },
      });
      expect(stay.status).toBe(201);
    });

    test('the pre-flight refuses threads interrupted at a node the new graph no longer has', async () => {
      const v1 = supportV1(store);
      // v3: like v2, without the approval step
      const v3 = langGraphAgent({
        name: AGENT,
        version: 'v3',
        graph: new StateGraph(StateV2)
          .addNode('triage', (s) => ({
            category: /refund/.test(s.request) ? 'refund' : 'question',
            log: ['triage'],
          }))
          .addNode('resolve', (s) => ({ reply: `Handled order ${s.orderRef}.`, log: ['resolve'] }))
          .addEdge(START, 'triage')
          .addEdge('triage', 'resolve')
          .addEdge('resolve', END),
        store,
        migrations: [{ from: 'v1', rename: { orderId: 'orderRef' } }],
      });
      baton = await startBaton({ store, agents: [v1.definition, v3.definition], controller: false });
      const b = baton;
      const admin = b.tokens.admin[0]!;
      const threads = await openThreads(b, 6, (i) => i < 4);

      const direct = await v3.preflight(threads[0]!.sessionId);
      expect(direct).toEqual({
        ok: false,
        reason: `thread ${threads[0]!.sessionId} is interrupted at node 'approval' of graph v1, which graph v3 no longer has`,
      });
      expect(await v3.preflight(threads[5]!.sessionId)).toEqual({ ok: true, from: 'v1', to: 'v3' });

      const spec = { agent: AGENT, from: 'v1', to: 'v3', steps: [{ fill: 100, migrate: 100 }] };
      const check = await call('POST', `${b.url}/v1/migrate/check`, admin, spec);
      expect(check.status).toBe(200);
      expect(check.body.ok).toBe(false);
      expect(check.body.checked).toBe(6);
      const failed = (check.body.failures as Array<{ sessionId: string; error: string }>).map(
        (f) => f.sessionId,
      );
      expect(failed.sort()).toEqual(
        threads
          .filter((t) => t.refund)
          .map((t) => t.sessionId)
          .sort(),
      );
      for (const f of check.body.failures as Array<{ error: string }>) {
        expect(f.error).toMatch(/interrupted at node 'approval' of graph v1, which graph v3 no longer has/);
        // the refusal reads as what it is, not as a migration function that threw
        expect(f.error).not.toMatch(/threw|up migration/);
      }

      // refused means untouched: the threads are still v1 threads, interrupted at approval
      for (const t of threads) {
        const snap = await v1.graph.getState({ configurable: { thread_id: t.sessionId } });
        expect(snap.metadata?.[GRAPH_VERSION_KEY]).toBe('v1');
        expect(snap.next).toEqual(t.refund ? ['approval'] : []);
        const s = await store.getSession(t.sessionId);
        expect(s.version).toBe('v1');
      }
    });
  });
}
