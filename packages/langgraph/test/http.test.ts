/**
 * A LangGraph agent version served over HTTP with the SDK's `serveWorker` (the worker protocol
 * on 127.0.0.1): an interrupt comes back as a wait, a migrate dry run answers the pre-flight, and
 * the callback resumes the graph.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Annotation, END, START, StateGraph, interrupt } from '@langchain/langgraph';
import type { LedgerClient } from '@baton/core';
import { httpWorkerClient, serveWorker } from '@baton/sdk';
import type { ServedWorker } from '@baton/sdk';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { langGraphAgent } from '../src/index';

const State = Annotation.Root({
  item: Annotation<string>,
  answer: Annotation<string>,
});

function graph() {
  return new StateGraph(State)
    .addNode('ask', (s) => {
      const ok = interrupt<{ name: string; item: string }, { ok: boolean }>({
        name: 'confirm',
        item: s.item,
      });
      return { answer: ok.ok ? `confirmed ${s.item}` : 'cancelled' };
    })
    .addEdge(START, 'ask')
    .addEdge('ask', END);
}

const ledger: LedgerClient = {
  intent: () => Promise.reject(new Error('no effects here')),
  commit: () => Promise.reject(new Error('no effects here')),
  fail: () => Promise.reject(new Error('no effects here')),
  steps: () => Promise.resolve([]),
  putStep: () => Promise.resolve(),
};

let dir: string;
let store: Store;
let served: ServedWorker;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-lg-http-'));
  store = await openStore(path.join(dir, 'store.db'));
  const agent = langGraphAgent({ name: 'lg-http', version: 'v1', graph: graph(), store });
  served = await serveWorker(agent.definition, { port: 0, host: '127.0.0.1', ledger });
});

afterAll(async () => {
  await served.close();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('turn, wait and resume over the HTTP worker protocol', async () => {
  const client = httpWorkerClient(served.url);
  const health = await client.health();
  expect(health).toMatchObject({ ok: true, agent: 'lg-http', version: 'v1', schemaVersion: 1 });
  const session = { id: 'ses-http-1', agent: 'lg-http', version: 'v1', tenant: null };
  const first = await client.turn({
    session,
    checkpoint: null,
    input: { kind: 'message', message: { item: 'lamp' } },
    turnId: 't1',
    deadline: Date.now() + 30_000,
  });
  expect(first.status).toBe('waiting');
  expect(first.waits.map((w) => w.name)).toEqual(['confirm']);
  const body = { state: first.state, history: first.history, context: first.context, waits: first.waits };
  const dry = await client.migrate({
    session: { id: session.id, agent: 'lg-http', version: 'v1' },
    checkpoint: { seq: 1, schemaVersion: 1, body },
    targetSchemaVersion: 1,
    dryRun: true,
  });
  expect(dry.ok).toBe(true);
  const second = await client.turn({
    session,
    checkpoint: { seq: 1, schemaVersion: 1, body },
    input: { kind: 'callback', token: first.waits[0]!.token, name: 'confirm', payload: { ok: true } },
    turnId: 't2',
    deadline: Date.now() + 30_000,
  });
  expect(second.status).toBe('idle');
  expect(second.output).toMatchObject({ values: { item: 'lamp', answer: 'confirmed lamp' }, next: [] });
});
