/** What the LangGraph example's end-to-end tests share: HTTP calls, opening threads, polling. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { AGENT } from '../src/index';

/** The parts of a running Baton the tests use. */
export interface BatonAt {
  url: string;
  tokens: { traffic: string[]; admin: string[]; worker: string[] };
}

export async function call(
  method: string,
  url: string,
  token: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export async function inBatches<T, R>(
  items: T[],
  size: number,
  fn: (t: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(...(await Promise.all(items.slice(i, i + size).map((t, k) => fn(t, i + k)))));
  }
  return out;
}

export interface Opened {
  i: number;
  sessionId: string;
  sessionToken: string;
  order: string;
  refund: boolean;
  waitToken: string | null;
}

export async function openThreads(
  b: BatonAt,
  count: number,
  refund: (i: number) => boolean,
): Promise<Opened[]> {
  const traffic = b.tokens.traffic[0]!;
  return inBatches(
    Array.from({ length: count }, (_, i) => i),
    10,
    async (i) => {
      const created = await call('POST', `${b.url}/v1/agents/${AGENT}/sessions`, traffic, {});
      expect(created.status).toBe(201);
      const { sessionId, sessionToken } = created.body as { sessionId: string; sessionToken: string };
      const order = `o-${1000 + i}`;
      const isRefund = refund(i);
      const turn = await call(
        'POST',
        `${b.url}/v1/sessions/${sessionId}/turns`,
        traffic,
        {
          input: {
            customer: `c${i}`,
            order,
            request: isRefund ? `refund ${10 + i} please` : 'where is my parcel?',
          },
        },
        { 'x-session-token': sessionToken, 'idempotency-key': `first-${i}` },
      );
      expect(turn.status).toBe(200);
      expect(turn.body.version).toBe('v1');
      const waits = turn.body.waits as Array<{ token: string; name: string }>;
      if (isRefund) {
        expect(turn.body.status).toBe('waiting');
        expect(waits.map((w) => w.name)).toEqual(['approval']);
      } else {
        expect(turn.body.status).toBe('idle');
        expect(waits).toEqual([]);
      }
      return { i, sessionId, sessionToken, order, refund: isRefund, waitToken: waits[0]?.token ?? null };
    },
  );
}

export async function waitFor(what: string, cond: () => Promise<boolean>, ms = 40_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** What a test file provides: a fresh store on its backend, and how to dispose of it. */
export type OpenStore = () => Promise<{ store: Store; dispose(): Promise<void> }>;

/** A fresh SQLite store file under the temp directory. */
export function sqliteStore(prefix: string): OpenStore {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    const store = await openStore(path.join(dir, 'baton.db'));
    return {
      store,
      async dispose() {
        await store.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

/** The PostgreSQL URL of the tests (BATON_TEST_PG_URL); without it they skip, except under CI=true. */
export function pgUrl(): string | undefined {
  const url = process.env.BATON_TEST_PG_URL;
  if (!url && process.env.CI === 'true') throw new Error('BATON_TEST_PG_URL must be set when CI=true');
  if (!url) console.warn('BATON_TEST_PG_URL is not set: skipping the PostgreSQL tests');
  return url;
}

/** A store in a fresh PostgreSQL schema of its own, dropped afterwards. */
export function postgresStore(url: string, prefix: string): OpenStore {
  return async () => {
    const schema = `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
    const store = await openStore(url, { schema });
    return {
      store,
      async dispose() {
        await store.close();
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        } finally {
          await client.end();
        }
      },
    };
  };
}

/** Every thread takes its next turn: the approval callback for the interrupted ones, a message for the others. */
export async function resumeAll(
  b: BatonAt,
  threads: Opened[],
  version: string,
  batch: number,
): Promise<void> {
  const traffic = b.tokens.traffic[0]!;
  await inBatches(threads, batch, async (t) => {
    if (t.refund) {
      const r = await call('POST', `${b.url}/v1/callbacks/${t.waitToken}`, traffic, {
        payload: { approved: true, by: 'ops' },
      });
      expect(r.status).toBe(200);
      expect(r.body.version).toBe(version);
      expect(r.body.status).toBe('idle');
      expect(r.body.output.reply).toBe(`Refund of ${10 + t.i} issued for order ${t.order}.`);
    } else {
      const r = await call(
        'POST',
        `${b.url}/v1/sessions/${t.sessionId}/turns`,
        traffic,
        { input: { customer: `c${t.i}`, request: 'any news?' } },
        { 'x-session-token': t.sessionToken, 'idempotency-key': `second-${t.i}` },
      );
      expect(r.status).toBe(200);
      expect(r.body.version).toBe(version);
      expect(r.body.output.reply).toBe(`Thanks c${t.i}, we answered your question about order ${t.order}.`);
    }
  });
}
