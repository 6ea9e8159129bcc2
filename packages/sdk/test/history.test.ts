import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BatonError, DEFAULT_HISTORY_WINDOW, canonicalJson, historyEntryText, sha256Hex } from '@baton/core';
import type { HistoryEntry, HistoryPolicy, StoredHistoryEntry } from '@baton/core';
import { defineAgent, migrateCheckpoint } from '../src/index';
import type { AgentSpec, HistoryReader } from '../src/index';
import { MapLedger } from './ledger';
import { held, migrateRequest } from './session';

const state = z.object({ n: z.number().int() });

function base(over: Partial<AgentSpec<{ n: number }>> = {}): AgentSpec<{ n: number }> {
  return {
    name: 'reader',
    version: 'v2',
    schemaVersion: 1,
    state,
    initialState: () => ({ n: 0 }),
    modelId: 'sim',
    turn: () => undefined,
    ...over,
  };
}

function entries(n: number, content: (i: number) => unknown = (i) => `m${i}`): HistoryEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    role: 'user' as const,
    content: content(i),
    turnId: `t${i}`,
    at: i,
  }));
}

/**
 * Migrates a session of `n` history entries onto an agent whose rebuildContext runs `read` on
 * the reader; returns what `read` returned and the ledger (to inspect its history calls).
 */
async function readVia<T>(
  n: number,
  read: (h: HistoryReader) => Promise<T>,
  opts: { history?: HistoryPolicy; content?: (i: number) => unknown; ledger?: MapLedger } = {},
): Promise<{ got: T; ledger: MapLedger }> {
  const log = entries(n, opts.content);
  const ledger = opts.ledger ?? new MapLedger();
  if (!ledger.logs.has('s')) ledger.setHistory('s', log);
  let got: T | undefined;
  const agent = defineAgent(
    base({
      contextPolicy: 'rebuild',
      ...(opts.history ? { history: opts.history } : {}),
      rebuildContext: async (h) => {
        got = await read(h);
        return null;
      },
    }),
  );
  const h = held({ state: { n: 1 }, context: null, waits: [] }, log);
  const r = await migrateCheckpoint(
    agent,
    migrateRequest({ id: 's', agent: 'reader', version: 'v1' }, h, 1),
    ledger,
  );
  if (!r.ok) throw new Error(r.error.message);
  return { got: got as T, ledger };
}

const indexes = (es: StoredHistoryEntry[]): number[] => es.map((e) => e.index);

describe('the history reader of migrations and rebuildContext', () => {
  it('window() is the newest entries per the default window, fetched once', async () => {
    const { got, ledger } = await readVia(250, async (h) => {
      const a = await h.window();
      const b = await h.window();
      return { length: h.length, a: indexes(a), same: JSON.stringify(a) === JSON.stringify(b) };
    });
    expect(got.length).toBe(250);
    expect(got.a).toEqual(Array.from({ length: DEFAULT_HISTORY_WINDOW.entries }, (_, i) => 150 + i));
    expect(got.same).toBe(true);
    expect(ledger.historyCalls.map((c) => c.q)).toEqual([{ limit: 100 }]);
    expect(ledger.historyCalls[0]!.capability).toBe('cap:s:migrate');
  });

  it('window() honours the agent’s declared entries and bytes', async () => {
    const content = (i: number): string => `${i}`.padStart(50, '.');
    const size = Buffer.byteLength(historyEntryText(entries(30, content)[29]!)); // entries 26..29 are this size
    const { got } = await readVia(30, async (h) => indexes(await h.window()), {
      history: { window: { entries: 10, bytes: size * 4 + 1 } },
      content,
    });
    expect(got).toEqual([26, 27, 28, 29]);
  });

  it('page() passes before and limit through', async () => {
    const { got } = await readVia(20, (h) => h.page({ before: 5, limit: 2 }));
    expect(got).toMatchObject({ total: 20, nextBefore: 3, entries: [{ index: 3 }, { index: 4 }] });
  });

  it('all() yields every kept entry oldest first, in pages of 1000, skipping what retention removed', async () => {
    const ledger = new MapLedger();
    ledger.setHistory('s', entries(2500));
    ledger.trims.set('s', { before: 1200, at: 5, reason: 'retention: maxEntries 1300' });
    const { got } = await readVia(
      2500,
      async (h) => {
        const out: number[] = [];
        for await (const e of h.all()) out.push(e.index);
        return out;
      },
      { ledger },
    );
    expect(got).toEqual(Array.from({ length: 1300 }, (_, i) => 1200 + i));
    expect(ledger.historyCalls.every((c) => (c.q.limit ?? 0) <= 1000)).toBe(true);
  });

  it('all() completes a page the router answered only in part', async () => {
    const ledger = new MapLedger();
    ledger.setHistory('s', entries(1500));
    ledger.pageCap = 300;
    const { got } = await readVia(
      1500,
      async (h) => {
        const out: number[] = [];
        for await (const e of h.all()) out.push(e.index);
        return out;
      },
      { ledger },
    );
    expect(got).toEqual(Array.from({ length: 1500 }, (_, i) => i));
  });

  it('a failed history read is thrown, not reported as a failed migration', async () => {
    const ledger = new MapLedger();
    ledger.history = () => Promise.reject(new BatonError('UNREACHABLE', 'router down'));
    const err = await readVia(5, (h) => h.window(), { ledger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).code).toBe('UNREACHABLE');

    const agent = defineAgent(base({ contextPolicy: 'rebuild', rebuildContext: async (h) => h.window() }));
    const h = held({ state: { n: 1 }, context: null, waits: [] }, entries(3));
    const none = await migrateCheckpoint(
      agent,
      migrateRequest({ id: 's', agent: 'reader', version: 'v1' }, h, 1),
    ).catch((e: unknown) => e);
    expect((none as BatonError).code).toBe('INTERNAL');
    expect((none as BatonError).message).toMatch(/cannot read history/);
  });
});

describe('defineAgent({history})', () => {
  it('validates the policy', () => {
    for (const bad of [
      { window: { entries: 0 } },
      { window: { entries: 1001 } },
      { window: { entries: 2.5 } },
      { window: { bytes: 8 * 1024 * 1024 + 1 } },
      { retention: { maxEntries: -1 } },
      { retention: { maxAgeMs: 0 } },
    ])
      expect(() => defineAgent(base({ history: bad })), JSON.stringify(bad)).toThrow(/history/);
  });

  it('reports it in the manifest and in the identity; an agent without one hashes as before', () => {
    const policy = { window: { entries: 20 }, retention: { maxEntries: 5000 } };
    const plain = defineAgent(base());
    const withPolicy = defineAgent(base({ history: policy }));
    expect(withPolicy.manifest().history).toEqual(policy);
    expect(plain.manifest()).not.toHaveProperty('history');
    expect(withPolicy.identity).not.toBe(plain.identity);
    expect(defineAgent(base({ history: { window: { entries: 21 } } })).identity).not.toBe(
      withPolicy.identity,
    );

    // the code hash of an agent without a policy is the one the previous release computed
    const spec = base();
    const json = (s: z.ZodType): unknown => z.toJSONSchema(s, { unrepresentable: 'any' });
    const codeHash = sha256Hex(
      canonicalJson({
        turn: spec.turn.toString(),
        initialState: spec.initialState.toString(),
        up: {},
        down: {},
        rebuildContext: null,
        contextPolicy: 'carry',
        state: json(spec.state),
        waits: {},
        build: null,
      }),
    );
    expect(plain.manifest().codeHash).toBe(codeHash);
  });
});
