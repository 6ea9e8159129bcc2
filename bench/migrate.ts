/**
 * `npm run bench -- migrate [sessions] [batch] [concurrency]`: eager migration rate. 10,000 idle
 * sessions with ~10 KB checkpoints on v1 (schema 1) in a SQLite file; the rollout controller's
 * eager migrator moves them to v2 (schema 2, a real `up` migration) through an in-process v2
 * worker, batch after batch, exactly as the controller does at `migrate: 100`.
 * Batched path (default): read + hash-check each checkpoint, the worker's migrate + schema
 * validation, then one transaction appending the whole batch (compare-and-set on each session's
 * seq, refusing sessions with a live lease). `npm run bench -- migrate 10000 200 8 single` measures
 * the per-session path instead (`migrateSession`: lease, re-read, migrate, append + release).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { sha256Hex, systemClock, type CheckpointBody, type HistoryEntry } from '@baton/core';
import { openStore } from '@baton/store';
import { defineAgent, InProcessWorker } from '@baton/sdk';
import { Capabilities, createServer, StoreLedgerClient, eagerBatch } from '@baton/server';
import { atLeast, round, type BenchFn } from './lib';

const noteV1 = z.object({ at: z.number(), text: z.string() });
const stateV1 = z.object({ customer: z.string(), orderId: z.string().nullable(), notes: z.array(noteV1) });
const stateV2 = z.object({
  customer: z.string(),
  orders: z.array(z.string()),
  notes: z.array(z.object({ at: z.number(), text: z.string(), tags: z.array(z.string()) })),
});
type V1 = z.infer<typeof stateV1>;
type V2 = z.infer<typeof stateV2>;

const base = { name: 'bench', modelId: 'sim', turn: () => ({ ok: true }) };
const v1 = defineAgent<V1>({
  ...base,
  version: 'v1',
  schemaVersion: 1,
  state: stateV1,
  initialState: () => ({ customer: '', orderId: null, notes: [] }),
});
const v2 = defineAgent<V2>({
  ...base,
  version: 'v2',
  schemaVersion: 2,
  state: stateV2,
  initialState: () => ({ customer: '', orders: [], notes: [] }),
  migrations: {
    schemas: { 1: stateV1 },
    up: {
      1: (s: V1): V2 => ({
        customer: s.customer,
        orders: s.orderId ? [s.orderId] : [],
        notes: s.notes.map((n) => ({ ...n, tags: [] })),
      }),
    },
  },
});

/** A ~10 KB checkpoint body: state with notes (the history goes to the log, see `history`). */
function body(i: number): CheckpointBody {
  const notes = Array.from({ length: 40 }, (_, k) => ({
    at: 1_700_000_000_000 + k,
    text: `${sha256Hex(`${i}:${k}`)}${sha256Hex(`${k}:${i}`)}`.repeat(2).slice(0, 200),
  }));
  const state: V1 = { customer: `customer-${i}@example.com`, orderId: `A-${1000 + (i % 9000)}`, notes };
  return { state, context: { messages: [] }, waits: [] };
}

/** A short conversation: six entries in the session's history log. */
function history(i: number): HistoryEntry[] {
  return Array.from({ length: 6 }, (_, k) => ({
    role: k % 2 ? 'agent' : 'user',
    content: `message ${k} of session ${i}`,
    turnId: `t${k}`,
    at: 1_700_000_000_000 + k,
  }));
}

const bench: BenchFn = async (args) => {
  const n = Number(args[0] ?? 10_000);
  const batch = Number(args[1] ?? 200);
  const concurrency = Number(args[2] ?? 8);
  /** `single` measures the per-session path (lease + append per session) instead of the batched one. */
  const batched = args[3] !== 'single';
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-migrate-'));
  const store = await openStore(join(dir, 'baton.db'));
  try {
    const server = createServer({
      store,
      tokens: { traffic: ['t'], admin: ['a'], worker: ['w'] },
      limits: { healthIntervalMs: 0 },
    });
    const ledger = new StoreLedgerClient(store, new Capabilities(store, systemClock));
    await server.pool.addInProcess(new InProcessWorker(v1, ledger), v1.manifest());
    await server.pool.addInProcess(new InProcessWorker(v2, ledger), v2.manifest());

    // n idle sessions on v1, one ~10 KB checkpoint each
    const t0 = performance.now();
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const s = await store.createSession({ agent: 'bench', version: 'v1', tokenHash: 'x', status: 'idle' });
      const meta = await store.appendCheckpoint({
        sessionId: s.id,
        expectedSeq: 0,
        schemaVersion: 1,
        writtenBy: 'v1',
        body: body(i),
        history: history(i),
        session: { status: 'idle' },
      });
      bytes += meta.size;
    }
    const setupS = (performance.now() - t0) / 1000;

    // the eager migrator, batch after batch, as the controller runs it
    const t1 = performance.now();
    const cpu0 = process.cpuUsage();
    let migrated = 0;
    let failed = 0;
    let batches = 0;
    let after: string | null = null;
    for (;;) {
      const r = await eagerBatch(server.ctx, {
        agent: 'bench',
        rolloutId: 'bench',
        from: 'v1',
        to: 'v2',
        percent: 100,
        policy: 'at-boundary',
        maxAgeMs: null,
        deadlinePassed: false,
        batch,
        concurrency,
        after,
        batched,
      });
      batches++;
      migrated += r.migrated;
      failed += r.failed;
      after = r.next;
      if (!r.more) break;
    }
    const seconds = (performance.now() - t1) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const left = (await store.countSessions({ agent: 'bench', version: 'v1' })).v1;
    const remaining = left ? Object.values(left as Record<string, number>).reduce((a, b) => a + b, 0) : 0;
    await server.close();
    const rate = migrated / seconds;
    return {
      figures: {
        sessions: n,
        'checkpoint bytes (mean)': Math.round(bytes / n),
        path: batched ? 'batched (one transaction per batch)' : 'per session (migrateSession)',
        batch,
        concurrency,
        batches,
        migrated,
        failed,
        'left on v1': remaining,
        'setup seconds': round(setupS, 2),
        'migration seconds': round(seconds, 2),
        'migrations/s': Math.round(rate),
        'ms per migration': round((seconds * 1000) / Math.max(1, migrated), 3),
        'process CPU seconds': round(cpuSeconds, 2),
        'CPU ms per migration': round((cpuSeconds * 1000) / Math.max(1, migrated), 3),
        'migrations per CPU-second': Math.round(migrated / cpuSeconds),
        'load average (1 min) at end': round(os.loadavg()[0]!, 2),
      },
      targets: [atLeast('eager migrations/s (10k idle sessions, ~10 KB, SQLite)', rate, 2000)],
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

export default bench;
