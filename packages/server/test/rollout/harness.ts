/** Rollout test harness: a real SQLite file in a temp dir, Baton on 127.0.0.1, the example agent. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  sha256Hex,
  systemClock,
  type Clock,
  canonicalJson,
  type TurnRequest,
  type TurnResponse,
  type WorkerClient,
  type MigrateRequest,
  type MigrateResponse,
  type WorkerHealthResponse,
  type CompensateRequest,
  type CompensateResponse,
} from '@baton/core';
import { openStore, type Store } from '@baton/store';
import { InProcessWorker } from '@baton/sdk';
import { supportAgent, orderFacts, REFUND_LIMIT, type VersionLabel } from '@baton/example-support-agent';
import { startBaton, type RunningBaton } from '../../src/baton';
import type { EvaluatorOptions } from '../../src/app';
import { StoreLedgerClient } from '../../src/ledger';
import { Capabilities } from '../../src/capability';
import type { ControllerOptions } from '../../src/rollout/controller';

export const TOKENS = { traffic: ['traffic-token'], admin: ['admin-token'], worker: ['worker-token'] };
export const ADMIN = { authorization: 'Bearer admin-token' };
export const TRAFFIC = { authorization: 'Bearer traffic-token' };

/** Counts every effect the agent actually executed, by a key of (session, turn, name, args). */
export class EffectCounter {
  readonly executions = new Map<string, number>();
  sink = (name: string, args: unknown, meta: { sessionId: string; turnId: string }): void => {
    const k = `${meta.sessionId}|${meta.turnId}|${name}|${sha256Hex(canonicalJson(args))}`;
    this.executions.set(k, (this.executions.get(k) ?? 0) + 1);
  };
  total(): number {
    let n = 0;
    for (const v of this.executions.values()) n += v;
    return n;
  }
  duplicates(): string[] {
    return [...this.executions.entries()].filter(([, n]) => n > 1).map(([k]) => k);
  }
}

/** A worker that takes `delayMs` longer per turn (so sessions are mid-turn for a while). */
export class SlowWorker implements WorkerClient {
  constructor(
    private readonly inner: WorkerClient,
    private readonly delayMs: (req: TurnRequest) => number,
  ) {}
  get id(): string {
    return this.inner.id;
  }
  async turn(req: TurnRequest, signal?: AbortSignal): Promise<TurnResponse> {
    await new Promise((r) => setTimeout(r, this.delayMs(req)));
    return this.inner.turn(req, signal);
  }
  migrate(req: MigrateRequest): Promise<MigrateResponse> {
    return this.inner.migrate(req);
  }
  compensate(req: CompensateRequest): Promise<CompensateResponse> {
    return this.inner.compensate!(req);
  }
  health(): Promise<WorkerHealthResponse> {
    return this.inner.health();
  }
}

export interface TestBaton {
  baton: RunningBaton;
  store: Store;
  dir: string;
  file: string;
  effects: EffectCounter;
  /** What the example's compensations executed (their own effects), counted outside Baton. */
  compensations: EffectCounter;
  api: Api;
  close(): Promise<void>;
}

export async function startTestBaton(opts: {
  versions: VersionLabel[];
  controller?: boolean | ControllerOptions;
  turnDelayMs?: (req: TurnRequest) => number;
  dir?: string;
  clock?: Clock;
  /** Another store (e.g. PostgreSQL) instead of a SQLite file in a temp dir; closed by `close()`. */
  store?: Store;
  /** Evaluators run by the router on committed turns. */
  evaluators?: EvaluatorOptions;
  /** Tokens by scope (default TOKENS). */
  tokens?: typeof TOKENS & { read?: string[] };
}): Promise<TestBaton> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'baton-rollout-'));
  const file = join(dir, 'baton.db');
  const clock = opts.clock;
  const store = opts.store ?? (await openStore(file, clock ? { now: () => clock.now() } : {}));
  const effects = new EffectCounter();
  const compensations = new EffectCounter();
  const ledger = new StoreLedgerClient(store, new Capabilities(store, clock ?? systemClock));
  const agents = opts.versions.map((label) => {
    const def = supportAgent(label, { onEffect: effects.sink, onCompensation: compensations.sink });
    const inner = new InProcessWorker(def, ledger, clock ? { clock } : {});
    const client = opts.turnDelayMs ? new SlowWorker(inner, opts.turnDelayMs) : inner;
    return { client, manifest: def.manifest() };
  });
  const baton = await startBaton({
    store,
    tokens: opts.tokens ?? TOKENS,
    agents,
    controller: opts.controller ?? { intervalMs: 50 },
    limits: { healthIntervalMs: 0 },
    ...(clock ? { clock } : {}),
    ...(opts.evaluators ? { evaluators: opts.evaluators } : {}),
  });
  const api = new Api(baton.url);
  return {
    baton,
    store,
    dir,
    file,
    effects,
    compensations,
    api,
    async close() {
      await baton.close({ deadlineMs: 2000 });
      await store.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Reply<T = any> {
  status: number;
  body: T;
}

export class Api {
  constructor(readonly url: string) {}
  async req<T = any>(
    method: string,
    path: string,
    opts: { body?: unknown; headers?: Record<string, string>; raw?: string; contentType?: string } = {},
  ): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    let body: string | undefined;
    if (opts.raw !== undefined) {
      body = opts.raw;
      headers['content-type'] = opts.contentType ?? 'application/yaml';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const r = await fetch(this.url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await r.text();
    return { status: r.status, body: text ? (JSON.parse(text) as T) : (undefined as T) };
  }
  admin<T = any>(method: string, path: string, body?: unknown): Promise<Reply<T>> {
    return this.req<T>(method, path, { headers: ADMIN, ...(body !== undefined ? { body } : {}) });
  }
  async createSession(agent = 'support'): Promise<{ id: string; token: string; version: string }> {
    const r = await this.req('POST', `/v1/agents/${agent}/sessions`, { headers: TRAFFIC, body: {} });
    if (r.status !== 201) throw new Error(`create session: ${r.status} ${JSON.stringify(r.body)}`);
    return { id: r.body.sessionId, token: r.body.sessionToken, version: r.body.version };
  }
  /** A turn, retried while the session is busy. */
  async turn(s: { id: string; token: string }, key: string, input: unknown): Promise<Reply> {
    for (let i = 0; ; i++) {
      const r = await this.req('POST', `/v1/sessions/${s.id}/turns`, {
        headers: { ...TRAFFIC, 'x-session-token': s.token, 'idempotency-key': key },
        body: { input },
      });
      if (r.status === 409 && r.body?.error?.code === 'SESSION_BUSY' && i < 500) {
        await new Promise((res) => setTimeout(res, 5 + Math.random() * 20));
        continue;
      }
      return r;
    }
  }
  async feedback(s: { id: string; token: string }, signal: string): Promise<Reply> {
    return this.req('POST', `/v1/sessions/${s.id}/feedback`, {
      headers: { ...TRAFFIC, 'x-session-token': s.token },
      body: { signal },
    });
  }
  async callback(token: string, payload: unknown): Promise<Reply> {
    for (let i = 0; ; i++) {
      const r = await this.req('POST', `/v1/callbacks/${token}`, { headers: TRAFFIC, body: { payload } });
      if (r.status === 409 && r.body?.error?.code === 'SESSION_BUSY' && i < 500) {
        await new Promise((res) => setTimeout(res, 5 + Math.random() * 20));
        continue;
      }
      return r;
    }
  }
}

/** Order ids (A-1000 …) whose facts match a predicate. */
export function ordersWhere(
  pred: (f: ReturnType<typeof orderFacts>) => boolean,
  n: number,
  start = 1000,
): string[] {
  const out: string[] = [];
  for (let i = start; out.length < n && i < 9999; i++) {
    const id = `A-${i}`;
    if (pred(orderFacts(id))) out.push(id);
  }
  return out;
}

export const bigRefundOrders = (n: number, start = 1000): string[] =>
  ordersWhere((f) => f.amount > REFUND_LIMIT, n, start);

export async function until<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 25,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Every session of the agent, all pages. */
export async function allSessions(store: Store, agent = 'support') {
  const out = [];
  let cursor: string | null = null;
  for (;;) {
    const p = await store.listSessions({ agent, limit: 1000, cursor });
    out.push(...p.items);
    if (!p.nextCursor) return out;
    cursor = p.nextCursor;
  }
}
