/**
 * Admin endpoints (bearer token with the `admin` scope), the read-only ones a `read` token may
 * call too (GETs that show no session content), worker registration (admin, or a worker token for
 * its own worker) and the unauthenticated probes.
 */
import {
  checkpointsQuerySchema,
  effectsQuerySchema,
  migrationsQuerySchema,
  positionParam,
  registerWorkerBodySchema,
  resolveEffectBodySchema,
  sessionsQuerySchema,
  versionManifestSchema,
  versionsQuerySchema,
  workersQuerySchema,
} from '@baton/core';
import type { FastifyInstance } from 'fastify';
import { READ_SCOPES } from './auth';
import { versionMetadata, type ServerContext } from './context';
import { decodeCursor, encodeCursor } from './paging';
import { WORKER_KEY_HEADER, WorkerKeys } from './worker-key';
import { parse } from './validation';
import { readiness } from './readiness';

export function registerAdminRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { store, auth } = ctx;
  const admin = async (req: { headers: { authorization?: string } }): Promise<void> => {
    auth.require(req.headers.authorization, 'admin');
  };
  const reader = async (req: { headers: { authorization?: string } }): Promise<void> => {
    auth.require(req.headers.authorization, ...READ_SCOPES);
  };
  const workerKeys = new WorkerKeys(store);

  app.post('/v1/versions', { onRequest: admin }, async (req, reply) => {
    const { history, compensations, ...m } = parse(versionManifestSchema, req.body);
    const v = await store.registerVersion({
      ...m,
      metadata: versionMetadata(m.metadata, history, compensations),
    });
    ctx.versions.remember(v);
    if ((await store.getRoute(v.agent)) === null) {
      await store.setRoute({
        agent: v.agent,
        stable: v.label,
        candidate: null,
        weight: 0,
        move: null,
        rolloutId: null,
      });
    }
    return reply.code(201).send(v);
  });
  app.get<{ Querystring: { agent?: string } }>('/v1/versions', { onRequest: reader }, async (req) => {
    const q = parse(versionsQuerySchema, req.query, 'query');
    return { items: await store.listVersions(q.agent) };
  });

  /**
   * An operator (admin) registers any worker; a worker registers itself with the worker token and
   * gets back `workerKey`, which it presents to unregister itself (and only itself).
   */
  app.post('/v1/workers', async (req, reply) => {
    const scope = auth.require(req.headers.authorization, 'admin', 'worker');
    const b = parse(registerWorkerBodySchema, req.body);
    const rec = await ctx.pool.addRemote(b.url, b.manifest ? { ...b.manifest } : undefined);
    if (scope === 'worker')
      return reply.code(201).send({ ...rec, workerKey: await workerKeys.issue(rec.id) });
    return reply.code(201).send(rec);
  });
  app.get('/v1/workers', { onRequest: reader }, async (req) => {
    const q = parse(workersQuerySchema, req.query, 'query');
    const recs = await store.listWorkers(q);
    return {
      items: recs.map((r) => {
        const live = ctx.pool.get(r.id);
        return live ? { ...r, outstanding: live.outstanding } : r;
      }),
    };
  });
  app.delete<{ Params: { id: string } }>('/v1/workers/:id', async (req, reply) => {
    const scope = auth.require(req.headers.authorization, 'admin', 'worker');
    if (scope === 'worker') await workerKeys.check(req.params.id, req.headers[WORKER_KEY_HEADER]);
    await ctx.pool.remove(req.params.id);
    return reply.code(204).send();
  });

  app.get('/v1/sessions', { onRequest: reader }, async (req) => {
    const q = parse(sessionsQuerySchema, req.query, 'query');
    const page = await store.listSessions({
      agent: q.agent,
      version: q.version,
      tenant: q.tenant,
      status: q.status && q.status.length > 0 ? q.status : undefined,
      cursor: decodeCursor('sessions', q.cursor),
      limit: q.limit ?? 100,
    });
    return {
      items: page.items.map(({ tokenHash: _t, ...s }) => s),
      nextCursor: encodeCursor('sessions', page.nextCursor),
    };
  });
  app.get<{ Params: { id: string } }>('/v1/sessions/:id/checkpoints', { onRequest: admin }, async (req) => {
    const q = parse(checkpointsQuerySchema, req.query, 'query');
    await store.getSession(req.params.id);
    const items = await store.listCheckpoints(req.params.id, {
      limit: q.limit ?? 100,
      beforeSeq: q.beforeSeq,
    });
    return { items };
  });
  app.get<{ Params: { id: string; seq: string } }>(
    '/v1/sessions/:id/checkpoints/:seq',
    { onRequest: admin },
    async (req) => {
      const seq = parse(positionParam(1), req.params.seq, 'seq');
      return store.getCheckpoint(req.params.id, seq);
    },
  );
  app.get('/v1/effects', { onRequest: admin }, async (req) => {
    const q = parse(effectsQuerySchema, req.query, 'query');
    const page = await store.listEffects({
      agent: q.agent,
      version: q.version,
      rolloutId: q.rollout,
      sessionId: q.session,
      status: q.status && q.status.length > 0 ? q.status : undefined,
      compensationState: q.compensation && q.compensation.length > 0 ? q.compensation : undefined,
      kind: q.kind,
      cursor: decodeCursor('effects', q.cursor),
      limit: q.limit ?? 100,
    });
    return { ...page, nextCursor: encodeCursor('effects', page.nextCursor) };
  });

  /** An operator resolves an in-doubt effect; compare-and-set from `intent` (a late commit wins, or loses, with 409). */
  app.post<{ Params: { id: string } }>('/v1/effects/:id/resolve', { onRequest: admin }, async (req) => {
    const b = parse(resolveEffectBodySchema, req.body);
    const r =
      b.status === 'committed'
        ? { status: b.status, result: b.result ?? null, by: b.by, reason: b.reason }
        : { status: b.status, error: b.error, by: b.by, reason: b.reason };
    const effect = await store.resolveEffect(req.params.id, r);
    ctx.log.info({ effectId: effect.id, resolution: effect.resolution }, 'effect resolved by an operator');
    return { effect };
  });

  app.get('/v1/migrations', { onRequest: reader }, async (req) => {
    const q = parse(migrationsQuerySchema, req.query, 'query');
    const items = await store.listMigrations({
      sessionId: q.session,
      rolloutId: q.rollout,
      status: q.status,
      limit: q.limit ?? 100,
    });
    return { items };
  });

  app.get('/metrics', { onRequest: reader }, async (_req, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.header('content-type', ctx.metrics.registry.contentType).send(text);
  });
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    const r = await readiness(ctx);
    return reply.code(r.ok ? 200 : 503).send(r);
  });
}
