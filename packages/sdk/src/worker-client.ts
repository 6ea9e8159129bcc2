/**
 * The one HTTP client of the worker protocol (docs/worker-protocol.md): what a router calls a worker
 * with, in any language, over a keep-alive undici Pool. The Baton server's pool uses it for every
 * remote worker (it imports `@baton/sdk/worker-client`, which loads nothing else of the SDK).
 */
import { Pool } from 'undici';
import {
  BatonError,
  errorFromWire,
  newId,
  type CompensateRequest,
  type CompensateResponse,
  type MigrateRequest,
  type MigrateRequestV1,
  type MigrateResponse,
  type TurnRequest,
  type TurnRequestV1,
  type TurnResponse,
  type WorkerClient,
  type WorkerHealthResponse,
} from '@baton/core';

export interface HttpWorkerClientOptions {
  /** The worker's id in the router's pool (default: a new `wrk_…` id). */
  id?: string;
  /** Sent as `Authorization: Bearer` to the worker, when the worker requires one. */
  token?: string;
  /** Concurrent connections to the worker (default 64). */
  connections?: number;
  /** Timeout of health probes (default 2 s). */
  healthTimeoutMs?: number;
  /** Timeout of migrate calls (default 30 s). */
  migrateTimeoutMs?: number;
  /** Clock for deadlines (epoch ms); defaults to Date.now. */
  now?: () => number;
}

const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Errors come back as BatonErrors: the worker's own, TURN_TIMEOUT, or WORKER_ERROR (see `isTransportError`). */
export class HttpWorkerClient implements WorkerClient {
  readonly id: string;
  readonly url: string;
  private readonly pool: Pool;
  private readonly headers: Record<string, string>;
  private readonly healthTimeoutMs: number;
  private readonly migrateTimeoutMs: number;
  private readonly now: () => number;

  constructor(url: string, opts: HttpWorkerClientOptions = {}) {
    this.id = opts.id ?? newId('wrk');
    this.url = url.replace(/\/+$/, '');
    this.pool = new Pool(this.url, {
      connections: opts.connections ?? 64,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connectTimeout: 5_000,
    });
    this.headers = { 'content-type': 'application/json' };
    if (opts.token) this.headers.authorization = `Bearer ${opts.token}`;
    this.healthTimeoutMs = opts.healthTimeoutMs ?? 2_000;
    this.migrateTimeoutMs = opts.migrateTimeoutMs ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  async turn(req: TurnRequest | TurnRequestV1, signal?: AbortSignal): Promise<TurnResponse> {
    const timeout = Math.max(1, req.deadline - this.now());
    // the trace context also travels as the standard headers, for a worker's HTTP instrumentation
    const trace: Record<string, string> = {};
    if ('traceparent' in req && req.traceparent) trace.traceparent = req.traceparent;
    if ('tracestate' in req && req.tracestate) trace.tracestate = req.tracestate;
    return (await this.call('POST', '/v1/turn', req, timeout, signal, trace)) as TurnResponse;
  }

  async migrate(req: MigrateRequest | MigrateRequestV1): Promise<MigrateResponse> {
    return (await this.call('POST', '/v1/migrate', req, this.migrateTimeoutMs)) as MigrateResponse;
  }

  async compensate(req: CompensateRequest): Promise<CompensateResponse> {
    const timeout = Math.max(1, req.deadline - this.now());
    return (await this.call('POST', '/v1/compensate', req, timeout)) as CompensateResponse;
  }

  async health(): Promise<WorkerHealthResponse> {
    return (await this.call('GET', '/v1/health', undefined, this.healthTimeoutMs)) as WorkerHealthResponse;
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => this.pool.destroy());
  }

  private async call(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    timeoutMs: number,
    signal?: AbortSignal,
    extraHeaders?: Record<string, string>,
  ): Promise<unknown> {
    let res;
    try {
      res = await this.pool.request({
        method,
        path,
        headers: extraHeaders ? { ...this.headers, ...extraHeaders } : this.headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal,
      });
    } catch (e) {
      throw this.transportError(e, path, timeoutMs);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (e) {
      throw this.transportError(e, path, timeoutMs);
    }
    let parsed: unknown;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      throw new BatonError('WORKER_ERROR', `worker ${this.id} answered ${path} with invalid JSON`, {
        workerId: this.id,
        status: res.statusCode,
      });
    }
    if (res.statusCode >= 400) {
      throw errorFromWire(parsed, `worker ${this.id} answered ${path} with ${res.statusCode}`);
    }
    return parsed;
  }

  private transportError(e: unknown, path: string, timeoutMs: number): BatonError {
    const code = (e as { code?: string }).code ?? '';
    const name = (e as { name?: string }).name ?? '';
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || name === 'TimeoutError') {
      return new BatonError(
        'TURN_TIMEOUT',
        `worker ${this.id} did not answer ${path} within ${timeoutMs} ms`,
        { workerId: this.id },
        { cause: e },
      );
    }
    return new BatonError(
      'WORKER_ERROR',
      `worker ${this.id} unreachable (${code || name || 'error'})`,
      { workerId: this.id, transport: true, connection: CONNECTION_ERRORS.has(code) },
      { cause: e },
    );
  }
}

/** True for errors meaning the worker process could not be reached (not an answer from it). */
export function isTransportError(e: unknown): boolean {
  return e instanceof BatonError && e.code === 'WORKER_ERROR' && e.details?.transport === true;
}

/** A WorkerClient for a worker speaking the HTTP protocol (any language). */
export function httpWorkerClient(baseUrl: string, opts: HttpWorkerClientOptions = {}): HttpWorkerClient {
  return new HttpWorkerClient(baseUrl, opts);
}
