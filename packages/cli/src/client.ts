/**
 * A small typed HTTP client for Baton's admin and traffic API (HTTP API v1). Request bodies and
 * answers are typed from the API's schemas in core (the same ones the server validates with).
 * Error bodies `{error: {code, message}}` become `BatonError`s with the same code;
 * connection failures become `UNREACHABLE` with a one-line message naming the server.
 */
import {
  BatonError,
  errorFromWire,
  type CompensateEffectBody,
  type CompensateRolloutBody,
  type ControllerStatus,
  type CreateSessionBody,
  type CreatedSession,
  type RegisterWorkerBody,
  type ResolveEffectBody,
  type RolloutCommandBody,
  type SessionView,
  type TurnResult,
  type VersionManifestBody,
} from '@baton/core';
import type { CompensationOutcome, DrainForecast, ForecastView, RolloutCompensation } from '@baton/server';

export type { CompensationOutcome, ControllerStatus, CreatedSession, TurnResult };
/** What `POST /v1/rollouts/{id}/compensate` answers. */
export type CompensationRun = RolloutCompensation;
import type {
  Decision,
  EffectRecord,
  GateResult,
  HistoryPage,
  Page,
  RolloutPhase,
  SessionRecord,
  SessionStatus,
  VersionRecord,
  WorkerRecord,
} from '@baton/core';

export interface ClientOptions {
  server: string;
  token?: string | undefined;
  /** Per-request timeout in ms (default 30 s). */
  timeoutMs?: number;
}

export type Query = Record<string, string | number | boolean | undefined | null>;

/** What `GET /v1/rollouts/{id}` returns (fields the CLI reads; the server may send more). */
export interface RolloutStatus {
  id: string;
  agent: string;
  from: string;
  to: string;
  phase: RolloutPhase;
  step: number;
  steps?: number;
  spec?: unknown;
  weights?: Record<string, number>;
  /** Sessions by version and status. */
  sessions?: Record<string, Partial<Record<SessionStatus, number>>>;
  drain?: {
    total?: number;
    remaining?: number;
    idle?: number;
    running?: number;
    waiting?: number;
    moved?: number;
    progress?: number;
    deadline?: number | null;
    [k: string]: unknown;
  } | null;
  gates?: GateResult[];
  decisions?: Decision[];
  /** The drain forecast made at creation, a re-forecast while draining, and the actual figures. */
  forecast?: ForecastView;
  report?: unknown;
  createdAt?: number;
  updatedAt?: number;
  [k: string]: unknown;
}

function trimSlash(u: string): string {
  return u.replace(/\/+$/, '');
}

function describeCause(e: unknown): string {
  const c = (e as { cause?: { code?: string; message?: string } })?.cause;
  if (c?.code) return c.code;
  if (c?.message) return c.message;
  return e instanceof Error ? e.message : String(e);
}

export class BatonClient {
  readonly server: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(opts: ClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.server);
    } catch {
      throw new BatonError('VALIDATION', `invalid server URL: ${opts.server}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new BatonError('VALIDATION', `invalid server URL (http or https expected): ${opts.server}`);
    this.server = trimSlash(url.toString());
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** Perform a request; returns the parsed JSON body (or undefined for an empty body). */
  async request<T = unknown>(
    method: string,
    path: string,
    opts: { body?: unknown; query?: Query; headers?: Record<string, string>; token?: string } = {},
  ): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
    const token = opts.token ?? this.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      if ((e as Error)?.name === 'TimeoutError')
        throw new BatonError(
          'UNREACHABLE',
          `Baton server at ${this.server} did not answer within ${this.timeoutMs} ms`,
        );
      throw new BatonError(
        'UNREACHABLE',
        `cannot reach Baton server at ${this.server} (${describeCause(e)})`,
        undefined,
        {
          cause: e,
        },
      );
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!res.ok) {
      if (parsed && typeof parsed === 'object' && 'error' in parsed) throw errorFromWire(parsed);
      const code =
        res.status === 401
          ? 'UNAUTHORIZED'
          : res.status === 403
            ? 'FORBIDDEN'
            : res.status === 404
              ? 'NOT_FOUND'
              : res.status === 409
                ? 'CONFLICT'
                : res.status === 400
                  ? 'VALIDATION'
                  : 'INTERNAL';
      throw new BatonError(
        code,
        `${method} ${path}: HTTP ${res.status}${typeof parsed === 'string' ? ` ${parsed.slice(0, 200)}` : ''}`,
      );
    }
    return parsed as T;
  }

  // --- health ---
  health(): Promise<unknown> {
    return this.request('GET', '/healthz');
  }

  // --- versions and workers ---
  async listVersions(agent?: string): Promise<VersionRecord[]> {
    return unwrapList<VersionRecord>(
      await this.request('GET', '/v1/versions', { query: { agent } }),
      'versions',
    );
  }
  registerVersion(v: VersionManifestBody): Promise<VersionRecord> {
    return this.request('POST', '/v1/versions', { body: v });
  }
  registerWorker(w: RegisterWorkerBody): Promise<WorkerRecord> {
    return this.request('POST', '/v1/workers', { body: w });
  }
  async listWorkers(q: { agent?: string; version?: string } = {}): Promise<WorkerRecord[]> {
    return unwrapList<WorkerRecord>(await this.request('GET', '/v1/workers', { query: q }), 'workers');
  }

  getController(): Promise<ControllerStatus> {
    return this.request('GET', '/v1/controller');
  }

  // --- rollouts ---
  startRollout(spec: unknown): Promise<RolloutStatus> {
    return this.request('POST', '/v1/rollouts', { body: spec });
  }
  getRollout(id: string): Promise<RolloutStatus> {
    return this.request('GET', `/v1/rollouts/${encodeURIComponent(id)}`);
  }
  async listRollouts(q: { agent?: string; phase?: string } = {}): Promise<RolloutStatus[]> {
    return unwrapList<RolloutStatus>(await this.request('GET', '/v1/rollouts', { query: q }), 'rollouts');
  }
  /** `POST /v1/rollouts/{id}/shadow`: one shadow run on demand (the body's fields over the rollout's stage). */
  shadowRollout(id: string, body: unknown = {}): Promise<Record<string, unknown>> {
    return this.request('POST', `/v1/rollouts/${encodeURIComponent(id)}/shadow`, { body });
  }
  rolloutAction(
    id: string,
    action: 'promote' | 'pause' | 'resume' | 'abort',
    body: RolloutCommandBody = {},
  ): Promise<RolloutStatus> {
    return this.request('POST', `/v1/rollouts/${encodeURIComponent(id)}/${action}`, { body });
  }
  forecastRollout(spec: unknown): Promise<{
    agent: string;
    from: string;
    to: string;
    forecast: DrainForecast;
    warnings?: Array<{ message: string }>;
  }> {
    return this.request('POST', '/v1/rollouts/forecast', { body: spec });
  }
  migrateCheck(spec: unknown): Promise<Record<string, unknown>> {
    return this.request('POST', '/v1/migrate/check', { body: spec });
  }

  // --- sessions and effects (admin) ---
  listSessions(q: {
    agent?: string;
    version?: string;
    status?: string;
    limit?: number;
    cursor?: string;
  }): Promise<Page<SessionRecord>> {
    return this.request<unknown>('GET', '/v1/sessions', { query: q }).then((r) =>
      asPage<SessionRecord>(r, 'sessions'),
    );
  }
  getSession(id: string): Promise<Record<string, unknown>> {
    return this.request('GET', `/v1/sessions/${encodeURIComponent(id)}`);
  }
  /** One page of a session's history log (`GET /v1/sessions/{id}/history`), ascending. */
  sessionHistory(id: string, q: { before?: number; limit?: number } = {}): Promise<HistoryPage> {
    return this.request('GET', `/v1/sessions/${encodeURIComponent(id)}/history`, {
      query: {
        ...(q.before !== undefined ? { before: String(q.before) } : {}),
        ...(q.limit !== undefined ? { limit: String(q.limit) } : {}),
      },
    });
  }
  listEffects(q: {
    agent?: string;
    version?: string;
    rollout?: string;
    status?: string;
    /** Compensation states, comma-separated. */
    compensation?: string;
    kind?: 'turn' | 'compensation';
    session?: string;
    limit?: number;
    cursor?: string;
  }): Promise<Page<EffectRecord>> {
    return this.request<unknown>('GET', '/v1/effects', { query: q }).then((r) =>
      asPage<EffectRecord>(r, 'effects'),
    );
  }
  resolveEffect(id: string, body: ResolveEffectBody): Promise<{ effect: EffectRecord }> {
    return this.request<{ effect: EffectRecord }>('POST', `/v1/effects/${encodeURIComponent(id)}/resolve`, {
      body,
    });
  }
  /** Plan (dry run) or run the compensations of a rollout's candidate's effects (all, or `effects`). */
  compensateRollout(id: string, body: CompensateRolloutBody): Promise<CompensationRun> {
    return this.request<CompensationRun>('POST', `/v1/rollouts/${encodeURIComponent(id)}/compensate`, {
      body,
    });
  }
  /** Plan or run one effect's compensation. */
  compensateEffect(
    id: string,
    body: CompensateEffectBody,
  ): Promise<{ dryRun: boolean; outcome: CompensationOutcome; effect: EffectRecord }> {
    return this.request('POST', `/v1/effects/${encodeURIComponent(id)}/compensate`, { body });
  }
  // --- traffic ---
  createSession(agent: string, body: CreateSessionBody = {}): Promise<CreatedSession> {
    return this.request('POST', `/v1/agents/${encodeURIComponent(agent)}/sessions`, { body });
  }
  turn(sessionId: string, sessionToken: string, input: unknown, idempotencyKey: string): Promise<TurnResult> {
    return this.request('POST', `/v1/sessions/${encodeURIComponent(sessionId)}/turns`, {
      body: { input },
      headers: { 'idempotency-key': idempotencyKey, 'x-session-token': sessionToken },
    });
  }
  feedback(sessionId: string, sessionToken: string, signal: string, value?: unknown): Promise<void> {
    return this.request('POST', `/v1/sessions/${encodeURIComponent(sessionId)}/feedback`, {
      body: value === undefined ? { signal } : { signal, value },
      headers: { 'x-session-token': sessionToken },
    });
  }
  endSession(sessionId: string, sessionToken: string): Promise<SessionView> {
    return this.request('POST', `/v1/sessions/${encodeURIComponent(sessionId)}/end`, {
      body: {},
      headers: { 'x-session-token': sessionToken },
    });
  }
  callback(token: string, payload: unknown): Promise<TurnResult> {
    return this.request('POST', `/v1/callbacks/${encodeURIComponent(token)}`, { body: { payload } });
  }
}

function unwrapList<T>(r: unknown, key: string): T[] {
  if (Array.isArray(r)) return r as T[];
  const o = r as Record<string, unknown> | undefined;
  const v = o?.[key] ?? o?.items;
  return Array.isArray(v) ? (v as T[]) : [];
}

function asPage<T>(r: unknown, key: string): Page<T> {
  const o = r as Record<string, unknown> | undefined;
  return {
    items: unwrapList<T>(r, key),
    nextCursor: typeof o?.nextCursor === 'string' ? o.nextCursor : null,
  };
}
