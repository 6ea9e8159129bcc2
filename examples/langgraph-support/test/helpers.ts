/** What the LangGraph example's end-to-end tests share: HTTP calls, opening threads, polling. */
import { expect } from 'vitest';
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
