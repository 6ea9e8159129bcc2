/**
 * Admin endpoints (bearer token with the `admin` scope), the read-only ones a `read` token may
 * call too (GETs that show no session content), worker registration (admin, or a worker token for
 * its own worker) and the unauthenticated probes.
 */
import { COMPENSATION_STATES, MAX_HISTORY_WINDOW, SESSION_STATUSES, type SessionStatus } from '@baton/core';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { READ_SCOPES } from './auth';
import { versionMetadata, type ServerContext } from './context';
import { decodeCursor, encodeCursor, limitParam, positionParam } from './paging';
import { WORKER_KEY_HEADER, WorkerKeys } from './worker-key';
import { parse } from './validation';
import { readiness } from './readiness';

const name = z.string().min(1).max(200);
const manifest = z.object({
  agent: name,
  label: name,
  schemaVersion: z.number().int().min(0),
  modelId: z.string().max(500),
  promptHash: z.string().max(200),
  toolManifestHash: z.string().max(200),
  codeHash: z.string().max(200),
  identity: z.string().min(1).max(200),
  acceptsSchemas: z.array(z.number().int().min(0)).default([]),
  downSchemas: z.array(z.number().int().min(0)).default([]),
  metadata: z.record(z.string(), z.unknown()).optional(),
  /** The names of the compensations the version declares (`defineAgent({compensations})`). */
  compensations: z.array(z.string().min(1).max(200)).max(1000).optional(),
  /** The version's history window and retention (`defineAgent({history})`). */
  history: z
    .object({
      window: z
        .object({
          entries: z.number().int().min(0).max(MAX_HISTORY_WINDOW.entries),
          bytes: z.number().int().min(0).max(MAX_HISTORY_WINDOW.bytes),
        })
        .partial()
        .strict()
        .optional(),
      retention: z
        .object({ maxEntries: z.number().int().min(1), maxAgeMs: z.number().int().min(1) })
        .partial()
        .strict()
        .optional(),
    })
    .strict()
    .optional(),
});
const workerBody = z.object({ url: z.string().min(1).max(2000), manifest: manifest.optional() }).strict();
const limit = limitParam();
const statusList = z
  .string()
  .transform((s) => s.split(',').filter(Boolean))
  .pipe(z.array(z.enum(SESSION_STATUSES as [SessionStatus, ...SessionStatus[]])))
  .optional();
const sessionsQuery = z.object({
  agent: name.optional(),
  version: name.optional(),
  tenant: name.optional(),
  status: statusList,
  cursor: z.string().optional(),
  limit,
});
const effectsQuery = z.object({
  agent: name.optional(),
  version: name.optional(),
  rollout: name.optional(),
  session: name.optional(),
  status: z
    .string()
    .transform((s) => s.split(',').filter(Boolean))
    .pipe(z.array(z.enum(['intent', 'committed', 'failed'])))
    .optional(),
  compensation: z
    .string()
    .transform((s) => s.split(',').filter(Boolean))
    .pipe(z.array(z.enum(COMPENSATION_STATES)))
    .optional(),
  kind: z.enum(['turn', 'compensation']).optional(),
  cursor: z.string().optional(),
  limit,
});
const resolveBody = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('committed'),
    result: z.unknown(),
    by: z.string().min(1).max(200),
    reason: z.string().min(1).max(2000),
  }),
  z.object({
    status: z.literal('failed'),
    error: z.string().min(1).max(100_000),
    by: z.string().min(1).max(200),
    reason: z.string().min(1).max(2000),
  }),
]);
const migrationsQuery = z.object({
  session: name.optional(),
  rollout: name.optional(),
  status: z.enum(['ok', 'failed']).optional(),
  limit,
});
const checkpointsQuery = z.object({ limit, beforeSeq: positionParam(1).optional() });

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
    const { history, compensations, ...m } = parse(manifest, req.body);
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
    const q = parse(z.object({ agent: name.optional() }), req.query, 'query');
    return { items: await store.listVersions(q.agent) };
  });

  /**
   * An operator (admin) registers any worker; a worker registers itself with the worker token and
   * gets back `workerKey`, which it presents to unregister itself (and only itself).
   */
  app.post('/v1/workers', async (req, reply) => {
    const scope = auth.require(req.headers.authorization, 'admin', 'worker');
    const b = parse(workerBody, req.body);
    const rec = await ctx.pool.addRemote(b.url, b.manifest ? { ...b.manifest } : undefined);
    if (scope === 'worker')
      return reply.code(201).send({ ...rec, workerKey: await workerKeys.issue(rec.id) });
    return reply.code(201).send(rec);
  });
  app.get('/v1/workers', { onRequest: reader }, async (req) => {
    const q = parse(z.object({ agent: name.optional(), version: name.optional() }), req.query, 'query');
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
    const q = parse(sessionsQuery, req.query, 'query');
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
    const q = parse(checkpointsQuery, req.query, 'query');
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
    const q = parse(effectsQuery, req.query, 'query');
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
    const b = parse(resolveBody, req.body);
    const r =
      b.status === 'committed'
        ? { status: b.status, result: b.result ?? null, by: b.by, reason: b.reason }
        : { status: b.status, error: b.error, by: b.by, reason: b.reason };
    const effect = await store.resolveEffect(req.params.id, r);
    ctx.log.info({ effectId: effect.id, resolution: effect.resolution }, 'effect resolved by an operator');
    return { effect };
  });

  app.get('/v1/migrations', { onRequest: reader }, async (req) => {
    const q = parse(migrationsQuery, req.query, 'query');
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
