/**
 * `npm run bench -- langgraph-remote [--quick]`: a turn of the LangGraph example graph (v1 of
 * examples/langgraph-support: triage → approval interrupt; the approval callback resumes it to
 * the end) served by an in-process worker (graph checkpoints straight in the store) against the
 * same graph served over HTTP by a worker that has only the server URL and the worker token
 * (`serveWorker` with `httpLedgerClient`: the turn goes to the worker over HTTP, and every graph
 * checkpoint read and write of each super-step comes back through `/v1/worker/graph/*` under the
 * turn capability). One Baton server on a SQLite file (WAL, synchronous=FULL), 127.0.0.1, port 0.
 *
 * Each session runs two turns: a refund request (stops at the approval interrupt) and the
 * approval callback (runs to the end). Sessions of the two kinds alternate, one at a time; each
 * turn's latency is measured at the client (HTTP round trip to the router). Target: the remote
 * turn's median at most 2x the in-process one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { langGraphAgent } from '@baton/langgraph';
import { httpLedgerClient, serveWorker } from '@baton/sdk';
import { startBaton } from '@baton/server';
import { openStore } from '@baton/store';
import { buildV1 } from '../examples/langgraph-support/src/graphs';
import { atMost, percentile, round, table, type BenchFn } from './lib';

async function call(
  url: string,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const input = (m: unknown) => {
  const msg = m as { customer: string; order: string; request: string };
  return { customer: msg.customer, request: msg.request, orderId: msg.order };
};

const bench: BenchFn = async (args) => {
  const quick = args.includes('--quick');
  const sessions = quick ? 30 : 120;
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-lg-remote-'));
  const store = await openStore(join(dir, 'baton.db'), { synchronous: 'FULL' });
  const local = langGraphAgent({ name: 'lg-local', version: 'v1', graph: buildV1(), store, input });
  const remote = langGraphAgent({ name: 'lg-remote', version: 'v1', graph: buildV1(), input }); // no store
  const baton = await startBaton({ store, agents: [local.definition], controller: false });
  const workerToken = baton.tokens.worker[0]!;
  const admin = baton.tokens.admin[0]!;
  const traffic = baton.tokens.traffic[0]!;
  const worker = await serveWorker(remote.definition, {
    port: 0,
    host: '127.0.0.1',
    ledger: httpLedgerClient(baton.url, workerToken),
    token: workerToken,
  });
  try {
    const reg = await call(`${baton.url}/v1/workers`, admin, {
      url: worker.url,
      manifest: remote.definition.manifest(),
    });
    if (reg.status !== 201) throw new Error(`worker registration failed: ${JSON.stringify(reg.body)}`);
    const ms: Record<'local' | 'remote', { turn: number[]; callback: number[] }> = {
      local: { turn: [], callback: [] },
      remote: { turn: [], callback: [] },
    };
    const one = async (kind: 'local' | 'remote', i: number, measured: boolean): Promise<void> => {
      const agent = kind === 'local' ? 'lg-local' : 'lg-remote';
      const s = await call(`${baton.url}/v1/agents/${agent}/sessions`, traffic, {});
      const { sessionId, sessionToken } = s.body as { sessionId: string; sessionToken: string };
      let t0 = performance.now();
      const turn = await call(
        `${baton.url}/v1/sessions/${sessionId}/turns`,
        traffic,
        { input: { customer: `c${i}`, order: `o-${i}`, request: `refund ${i} please` } },
        { 'x-session-token': sessionToken, 'idempotency-key': `t-${i}` },
      );
      const turnMs = performance.now() - t0;
      if (turn.status !== 200 || turn.body.status !== 'waiting')
        throw new Error(`turn: ${JSON.stringify(turn.body)}`);
      t0 = performance.now();
      const cb = await call(`${baton.url}/v1/callbacks/${turn.body.waits[0].token}`, traffic, {
        payload: { approved: true },
      });
      const cbMs = performance.now() - t0;
      if (cb.status !== 200 || cb.body.status !== 'idle')
        throw new Error(`callback: ${JSON.stringify(cb.body)}`);
      if (measured) {
        ms[kind].turn.push(turnMs);
        ms[kind].callback.push(cbMs);
      }
    };
    for (let i = 0; i < 5; i++) {
      await one('local', -1 - i, false); // warm-up
      await one('remote', -100 - i, false);
    }
    for (let i = 0; i < sessions; i++) {
      await one(i % 2 ? 'remote' : 'local', i, true);
      await one(i % 2 ? 'local' : 'remote', sessions + i, true);
    }
    const med = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        50,
      );
    const p90 = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        90,
      );
    const rows = (['local', 'remote'] as const).map((k) => ({
      worker: k === 'local' ? 'in-process' : 'remote (HTTP)',
      'turn p50 ms': round(med(ms[k].turn), 2),
      'turn p90 ms': round(p90(ms[k].turn), 2),
      'callback p50 ms': round(med(ms[k].callback), 2),
      'callback p90 ms': round(p90(ms[k].callback), 2),
    }));
    console.log(`\n${table(rows)}`);
    const turnRatio = med(ms.remote.turn) / med(ms.local.turn);
    const cbRatio = med(ms.remote.callback) / med(ms.local.callback);
    return {
      figures: {
        workload: `${sessions * 2} sessions (half each), 2 turns each (message to the interrupt, callback to the end), one at a time`,
        'in-process turn p50 ms': round(med(ms.local.turn), 2),
        'remote turn p50 ms': round(med(ms.remote.turn), 2),
        'in-process callback p50 ms': round(med(ms.local.callback), 2),
        'remote callback p50 ms': round(med(ms.remote.callback), 2),
        'turn ratio (remote / in-process)': round(turnRatio),
        'callback ratio (remote / in-process)': round(cbRatio),
      },
      targets: [
        atMost('remote graph worker turn p50 / in-process turn p50', turnRatio, 2, 'x'),
        atMost('remote graph worker callback p50 / in-process callback p50', cbRatio, 2, 'x'),
      ],
    };
  } finally {
    await worker.close();
    await baton.close({ deadlineMs: 2000 });
    await store.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
};

export default bench;
