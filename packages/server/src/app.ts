/**
 * The HTTP server: fastify with one error mapping, auth helpers, metrics, the worker pool and the
 * router. Other modules (the rollout controller) add routes through `opts.routes`.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { HTTP_STATUS, newId, systemClock, type Clock } from '@baton/core';
import type { Store } from '@baton/store';
import { registerCompensationRoutes } from './compensation-api';
import { registerAdminRoutes } from './admin';
import { createAuth, type TokenConfig } from './auth';
import { DEFAULT_LIMITS, VersionCache, type Limits, type ServerContext } from './context';
import { clientGone, edgeOptions, registerEdge, shownPath } from './edge';
import { toWireError } from './http-errors';
import { EvaluationRunner } from './evaluators/runner';
import type { Evaluator } from './evaluators/types';
import { createMetrics } from './metrics';
import { WorkerPool } from './pool';
import { Router } from './router';
import { Capabilities } from './capability';
import { registerTrafficRoutes } from './traffic';
import { registerWorkerRoutes } from './worker-api';
import { registerGraphRoutes } from './graph-api';
import { registerOpenApiRoute } from './openapi/route';

export type RouteRegistrar = (app: FastifyInstance, ctx: ServerContext) => void;

export interface CreateServerOptions {
  store: Store;
  clock?: Clock;
  tokens: TokenConfig;
  limits?: Partial<Limits>;
  /** A pino logger (or fastify logger options); default: errors only, to stderr. Request logging is off. */
  logger?: FastifyBaseLogger | boolean | Record<string, unknown>;
  routes?: RouteRegistrar[];
  /**
   * This process's identity in the fleet (lease and lock owners derive from it; default: random).
   * A stable one must be unique among live processes: `startBaton` enforces it with a presence lease.
   */
  instanceId?: string;
  /** Token the router presents to remote workers (defaults to the first worker token). */
  workerCallToken?: string;
  /** Evaluators the router runs, after the commit, on a sample of committed turns. */
  evaluators?: EvaluatorOptions;
}

export interface EvaluatorOptions {
  evaluators: Evaluator[];
  /** Fraction of committed turns evaluated, 0..1 (default 1), deterministic per turn id. */
  sampleRate?: number;
  /** Evaluations in flight at most (default 4). */
  concurrency?: number;
  /** Turns waiting at most; more are dropped and counted (default 10 000). */
  maxQueue?: number;
  /** The queue is in the store: how long a claimed evaluation is held before another process may take it (default 60 s). */
  claimTtlMs?: number;
  /** How often evaluations left by a crashed process are looked for (default 5 s). */
  resumeIntervalMs?: number;
}

export interface BatonServer {
  app: FastifyInstance;
  ctx: ServerContext;
  router: Router;
  pool: WorkerPool;
  /** Every route the server answers (method and URL pattern), as registered; HEAD twins of GET routes left out. */
  routeTable: ReadonlyArray<{ method: string; url: string }>;
  /** Listen on `host:port` (port 0 picks a free one); resolves to the base URL. */
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

function isLoggerInstance(l: unknown): l is FastifyBaseLogger {
  return typeof l === 'object' && l !== null && typeof (l as { child?: unknown }).child === 'function';
}

export function createServer(opts: CreateServerOptions): BatonServer {
  const clock = opts.clock ?? systemClock;
  const limits: Limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const auth = createAuth(opts.tokens);
  const logger = opts.logger ?? { level: 'error' };
  const app: FastifyInstance = Fastify({
    ...(isLoggerInstance(logger)
      ? { loggerInstance: logger }
      : { logger: logger as boolean | Record<string, unknown> }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.bodyBytes,
    return503OnClosing: true,
    keepAliveTimeout: 65_000,
    ...edgeOptions(limits, () => app.log),
  });
  registerEdge(app, limits);

  const store = opts.store;
  const versions = new VersionCache(store);
  const metrics = createMetrics(store, { now: () => clock.now() });
  const pool = new WorkerPool({
    store,
    clock,
    versions,
    workerToken: opts.workerCallToken ?? opts.tokens.worker[0],
    healthIntervalMs: limits.healthIntervalMs,
    syncIntervalMs: limits.workerSyncMs,
    migrateTimeoutMs: limits.migrateTimeoutMs,
    onError: (e, what) => app.log.warn({ err: e }, `worker pool: ${what} failed`),
  });
  const ctx = {
    store,
    clock,
    instanceId: opts.instanceId ?? newId('rtr', clock.now()),
    limits,
    auth,
    metrics,
    pool,
    versions,
    log: app.log,
    evaluations: null,
    capabilities: new Capabilities(store, clock),
  } as Omit<ServerContext, 'waitExpiry'> as ServerContext;
  if (opts.evaluators && opts.evaluators.evaluators.length > 0) {
    const e = opts.evaluators;
    ctx.evaluations = new EvaluationRunner({
      evaluators: e.evaluators,
      sink: store,
      ...(e.sampleRate !== undefined ? { sampleRate: e.sampleRate } : {}),
      ...(e.concurrency !== undefined ? { concurrency: e.concurrency } : {}),
      ...(e.maxQueue !== undefined ? { maxQueue: e.maxQueue } : {}),
      ...(e.claimTtlMs !== undefined ? { claimTtlMs: e.claimTtlMs } : {}),
      ...(e.resumeIntervalMs !== undefined ? { resumeIntervalMs: e.resumeIntervalMs } : {}),
      onSinkError: (err) => app.log.warn({ err }, 'evaluations: recording a result failed'),
    });
    const runner = ctx.evaluations;
    app.addHook('onClose', async () => runner.stop());
  }
  const router = new Router(ctx);
  ctx.waitExpiry = router;

  app.setErrorHandler((err, req, reply) => {
    if (clientGone(req, err)) {
      req.log.info({ code: (err as { code?: unknown }).code, url: req.routeOptions.url }, 'client went away');
      return reply
        .code(HTTP_STATUS.MALFORMED_REQUEST)
        .send({ error: { code: 'MALFORMED_REQUEST', message: 'the client went away' } });
    }
    const w = toWireError(err);
    if (w.internal) req.log.error({ err }, 'unhandled error');
    if (w.retryAfterSeconds !== undefined) void reply.header('retry-after', String(w.retryAfterSeconds));
    return reply.code(w.status).send(w.body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${shownPath(req.url)}` } }),
  );

  const routeTable: { method: string; url: string }[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) {
      if (method !== 'HEAD') routeTable.push({ method, url: r.url });
    }
  });
  registerTrafficRoutes(app, ctx, router);
  registerWorkerRoutes(app, ctx);
  registerGraphRoutes(app, ctx);
  registerAdminRoutes(app, ctx);
  registerCompensationRoutes(app, ctx);
  for (const r of opts.routes ?? []) r(app, ctx);
  registerOpenApiRoute(app, ctx, routeTable);

  let started = false;
  return {
    app,
    ctx,
    router,
    pool,
    routeTable,
    async listen(port, host = '127.0.0.1') {
      await pool.syncFromStore();
      pool.start();
      started = true;
      return app.listen({ port, host });
    },
    async close() {
      await app.close();
      if (started || pool.entries().length > 0) await pool.close();
    },
  };
}
