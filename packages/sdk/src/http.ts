/**
 * The worker protocol over HTTP (docs/worker-protocol.md): `serveWorker` serves one agent
 * version (`httpWorkerClient`, in worker-client.ts, calls such a server), `httpLedgerClient`
 * reaches the effects ledger and step journal through the Baton server's worker endpoints.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BatonError,
  HTTP_STATUS,
  CAPABILITY_HEADER,
  ValidationError,
  errorFromWire,
  systemClock,
} from '@baton/core';
import type {
  Clock,
  EffectIntentInput,
  EffectRecord,
  HistoryPage,
  HistoryQuery,
  LedgerCallOptions,
  LedgerClient,
  TurnRequest,
  TurnRequestV1,
} from '@baton/core';
import type { AgentDefinition } from './agent';
import type { CapabilityLedgerClient } from './capability';
import { InProcessWorker } from './worker';
import { parseCompensateRequest, parseMigrateRequest, parseTurnRequest } from './wire';
import { httpGraphStore } from './graph-http';
import { pooledRequester, type PooledAnswer } from './pooled-http';

export interface ServeWorkerOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  ledger: LedgerClient;
  /** When set, `/v1/turn` and `/v1/migrate` require `Authorization: Bearer <token>`. */
  token?: string;
  /** Maximum request body in bytes (default 16 MiB). */
  bodyLimit?: number;
  clock?: Clock;
  id?: string;
}

export interface ServedWorker {
  url: string;
  port: number;
  server: Server;
  worker: InProcessWorker<any>;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const data = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(data),
  });
  res.end(data);
}

function sendError(res: ServerResponse, e: unknown): void {
  const err =
    e instanceof BatonError
      ? e
      : new BatonError('INTERNAL', e instanceof Error ? e.message : String(e), undefined, { cause: e });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  send(res, HTTP_STATUS[err.code], { error: err.toJSON() });
}

function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new BatonError('PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`, { limit }));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(new BatonError('PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`, { limit }));
        return;
      }
      chunks.push(c);
    });
    req.on('error', (e) => {
      if (!failed) reject(e);
      failed = true;
    });
    req.on('end', () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text.length === 0 ? {} : JSON.parse(text));
      } catch {
        reject(new ValidationError('request body is not valid JSON'));
      }
    });
  });
}

/** Serve one agent version over HTTP. Resolves once the server listens. */
export async function serveWorker<S>(
  agent: AgentDefinition<S>,
  opts: ServeWorkerOptions,
): Promise<ServedWorker> {
  const clock = opts.clock ?? systemClock;
  const worker = new InProcessWorker(agent, opts.ledger, { clock, ...(opts.id ? { id: opts.id } : {}) });
  const limit = opts.bodyLimit ?? 16 * 1024 * 1024;
  let closing = false;

  const authorized = (req: IncomingMessage): boolean =>
    opts.token === undefined || req.headers.authorization === `Bearer ${opts.token}`;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/v1/health') {
      const h = await worker.health();
      const body = Object.assign({}, h, { ok: h.ok && !closing });
      send(res, body.ok ? 200 : 503, body);
      return;
    }
    if (
      req.method === 'POST' &&
      (path === '/v1/turn' || path === '/v1/migrate' || path === '/v1/compensate')
    ) {
      if (!authorized(req)) throw new BatonError('UNAUTHORIZED', 'missing or wrong worker bearer token');
      if (closing) throw new BatonError('NO_WORKER', 'worker is shutting down');
      const body = await readJson(req, limit);
      if (path === '/v1/migrate') {
        send(res, 200, await worker.migrate(parseMigrateRequest(body)));
        return;
      }
      if (path === '/v1/compensate') {
        send(res, 200, await worker.compensate(parseCompensateRequest(body)));
        return;
      }
      const ac = new AbortController();
      const onClose = (): void => {
        if (!res.writableEnded) ac.abort(new Error('client went away'));
      };
      res.on('close', onClose);
      try {
        send(res, 200, await worker.turn(withTraceHeaders(parseTurnRequest(body), req), ac.signal));
      } finally {
        res.off('close', onClose);
      }
      return;
    }
    throw new BatonError('NOT_FOUND', `no route ${req.method ?? ''} ${path ?? ''}`);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => sendError(res, e));
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 61_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    server,
    worker,
    close: async () => {
      closing = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await worker.close();
    },
  };
}

function trimSlash(u: string): string {
  return u.endsWith('/') ? u.slice(0, -1) : u;
}

/** A request that got no answer (network error or timeout). */
function unreachable(where: string, e: unknown): BatonError {
  return new BatonError('UNREACHABLE', `${where}: ${e instanceof Error ? e.message : String(e)}`, undefined, {
    cause: e,
  });
}

async function parse(res: PooledAnswer): Promise<unknown> {
  const text = await res.text();
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return {
      error: { code: 'INTERNAL', message: `non-JSON response (${res.status}): ${text.slice(0, 200)}` },
    };
  }
}

const RETRYABLE = new Set([502, 503, 504]);

export interface HttpLedgerOptions {
  /** Attempts per call on network errors and 502/503/504 (default 4). Every ledger call is idempotent. */
  attempts?: number;
  /** Per-request timeout in ms (default 10 000). */
  timeoutMs?: number;
  /**
   * How long `commit` and `fail` keep retrying on network errors and 502/503/504, in ms (default
   * 30 000), bounded by the call's deadline (the turn's): an effect that ran must not be left in
   * doubt because its router restarted meanwhile.
   */
  settleForMs?: number;
}

/** Backoff before retry `i` (from 1): 50 ms, 200 ms, 800 ms, then 1 s. */
function backoff(i: number): number {
  return Math.min(1000, 50 * 4 ** (i - 1));
}

/**
 * A LedgerClient over the Baton server's `/v1/worker/*` endpoints, authenticated with a worker
 * token. `withCapability(c)` gives the same client sending `baton-capability: c` on every call
 * (the SDK binds each turn's capability this way); `history` always sends the one it is given.
 *
 * With several server URLs (routers of one fleet, sharing a store), a call that gets no answer or a
 * 502/503/504 from one is retried on the next, which then stays the one used (fail over); the
 * attempts are at least two per server.
 */
export function httpLedgerClient(
  baseUrl: string | readonly string[],
  workerToken: string,
  opts: HttpLedgerOptions = {},
): CapabilityLedgerClient {
  const bases = (typeof baseUrl === 'string' ? [baseUrl] : [...baseUrl]).map(trimSlash);
  if (bases.length === 0) throw new BatonError('VALIDATION', 'httpLedgerClient: no server URL');
  let current = 0;
  const attempts = Math.max(1, opts.attempts ?? 4, bases.length > 1 ? 2 * bases.length : 1);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const settleForMs = Math.max(0, opts.settleForMs ?? 30_000);
  const request = pooledRequester();
  /** Retries `attempts` times, or — with `until` — until that time (at least `attempts` times). */
  const call = async (
    capability: string | null,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    until?: number,
  ): Promise<unknown> => {
    let last: unknown;
    for (let i = 0; ; i++) {
      // a first retry on another server goes at once; retries on the same one back off
      const moved = i > 0 && bases.length > 1 && i < bases.length;
      if (i > 0) {
        const wait = moved ? 0 : backoff(i);
        const more = i < attempts || (until !== undefined && Date.now() + wait < until);
        if (!more) break;
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const at = current;
      const base = bases[at]!;
      const failOver = (): void => {
        if (current === at) current = (at + 1) % bases.length;
      };
      let res: PooledAnswer;
      try {
        res = await request(`${base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${workerToken}`,
            ...(capability === null ? {} : { [CAPABILITY_HEADER]: capability }),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (e) {
        last = unreachable(`ledger ${method} ${base}${path}`, e);
        failOver();
        continue;
      }
      const parsed = await parse(res);
      if (res.ok) return parsed;
      last = errorFromWire(parsed, `ledger ${method} ${path} failed with ${res.status}`);
      if (!RETRYABLE.has(res.status)) break;
      failOver();
    }
    throw last;
  };
  /** Until when a commit or fail is retried: `settleForMs` from now, but not past the deadline. */
  const settleUntil = (o: LedgerCallOptions | undefined): number => {
    const end = Date.now() + settleForMs;
    return o?.deadline === undefined ? end : Math.min(end, o.deadline);
  };
  const client = (capability: string | null): CapabilityLedgerClient => ({
    async intent(input: EffectIntentInput) {
      return (await call(capability, 'POST', '/v1/worker/effects/intent', input)) as {
        effect: EffectRecord;
        existing: boolean;
      };
    },
    async commit(idempotencyKey: string, result: unknown, o?: LedgerCallOptions) {
      const body = { idempotencyKey, result, ...(o?.attemptId ? { attemptId: o.attemptId } : {}) };
      const r = (await call(capability, 'POST', '/v1/worker/effects/commit', body, settleUntil(o))) as {
        effect: EffectRecord;
      };
      return r.effect;
    },
    async fail(idempotencyKey: string, error: string, o?: LedgerCallOptions) {
      const body = { idempotencyKey, error, ...(o?.attemptId ? { attemptId: o.attemptId } : {}) };
      const r = (await call(capability, 'POST', '/v1/worker/effects/fail', body, settleUntil(o))) as {
        effect: EffectRecord;
      };
      return r.effect;
    },
    async steps(sessionId: string, turnId: string) {
      const q = new URLSearchParams({ sessionId, turnId });
      const r = (await call(capability, 'GET', `/v1/worker/steps?${q.toString()}`)) as {
        steps: Array<{ index: number; name: string; result: unknown }>;
      };
      return r.steps;
    },
    async putStep(sessionId: string, turnId: string, index: number, name: string, result: unknown) {
      await call(capability, 'POST', '/v1/worker/steps', { sessionId, turnId, index, name, result });
    },
    async history(cap: string, sessionId: string, q: HistoryQuery) {
      const params = new URLSearchParams({ sessionId });
      if (q.before !== undefined) params.set('before', String(q.before));
      if (q.limit !== undefined) params.set('limit', String(q.limit));
      if (q.maxBytes !== undefined) params.set('maxBytes', String(q.maxBytes));
      return (await call(cap, 'GET', `/v1/worker/history?${params.toString()}`)) as HistoryPage;
    },
    graph: httpGraphStore((path, body) => call(capability, 'POST', `/v1/worker/graph/${path}`, body)),
    withCapability(c: string) {
      return client(c);
    },
  });
  return client(null);
}

/** The trace context of a turn: the request's own fields, else the standard W3C headers. */
function withTraceHeaders(
  turn: TurnRequest | TurnRequestV1,
  req: IncomingMessage,
): TurnRequest | TurnRequestV1 {
  if (!('protocol' in turn) || turn.traceparent !== undefined) return turn;
  const tp = req.headers.traceparent;
  if (typeof tp !== 'string') return turn;
  const ts = req.headers.tracestate;
  return Object.assign(
    {},
    turn,
    typeof ts === 'string' ? { traceparent: tp, tracestate: ts } : { traceparent: tp },
  );
}
