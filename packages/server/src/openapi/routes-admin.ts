/** The admin API, probes, metrics and the dashboard's files in the OpenAPI document. */
import {
  checkpointsQuerySchema,
  compensateEffectBodySchema,
  effectPageSchema,
  effectsQuerySchema,
  migrationListSchema,
  migrationsQuerySchema,
  registerWorkerBodySchema,
  resolveEffectBodySchema,
  sessionPageSchema,
  sessionsQuerySchema,
  versionListSchema,
  versionManifestSchema,
  versionRecordSchema,
  versionsQuerySchema,
  workerListSchema,
  workerRecordSchema,
  workersQuerySchema,
} from '@baton/core';
import { z } from 'zod';
import { json, ok, noContent, items, effectAnswer, staticFile, type RouteDoc } from './route-doc';

export const ADMIN_ROUTES: Record<string, RouteDoc> = {
  // admin
  'POST /v1/versions': {
    summary: 'register a version (idempotent for the same manifest)',
    tag: 'admin',
    auth: 'admin',
    body: { schema: versionManifestSchema },
    answers: [{ status: 201, description: 'the version record', body: json(versionRecordSchema) }],
  },
  'GET /v1/versions': {
    summary: 'list versions',
    tag: 'admin',
    auth: 'reader',
    query: versionsQuerySchema,
    answers: [ok('the versions', versionListSchema)],
  },
  'POST /v1/workers': {
    summary: 'register a worker (an operator, or a worker itself with the worker token)',
    tag: 'admin',
    auth: 'admin-or-worker',
    body: { schema: registerWorkerBodySchema },
    answers: [{ status: 201, description: 'the worker record', body: json(workerRecordSchema) }],
  },
  'GET /v1/workers': {
    summary: 'list workers with their health',
    tag: 'admin',
    auth: 'reader',
    query: workersQuerySchema,
    answers: [ok('the workers', workerListSchema)],
  },
  'DELETE /v1/workers/:id': {
    summary: 'unregister a worker (a worker only itself, presenting its key)',
    tag: 'admin',
    auth: 'admin-or-worker',
    headers: [{ name: 'baton-worker-key', description: 'with the worker token: the workerKey it was given' }],
    answers: [noContent],
  },
  'GET /v1/sessions': {
    summary: 'list sessions',
    tag: 'admin',
    auth: 'reader',
    query: sessionsQuerySchema,
    answers: [ok('a page of sessions', sessionPageSchema)],
  },
  'GET /v1/sessions/:id/checkpoints': {
    summary: "the session's checkpoint metadata, newest first",
    tag: 'admin',
    auth: 'admin',
    query: checkpointsQuerySchema,
    answers: [ok('the checkpoints', items)],
  },
  'GET /v1/sessions/:id/checkpoints/:seq': {
    summary: 'one checkpoint with its body',
    tag: 'admin',
    auth: 'admin',
    answers: [ok('the checkpoint')],
  },
  'GET /v1/migrations': {
    summary: 'migration records, failed attempts included',
    tag: 'admin',
    auth: 'reader',
    query: migrationsQuerySchema,
    answers: [ok('the records', migrationListSchema)],
  },
  'GET /v1/effects': {
    summary: 'the effects ledger',
    tag: 'admin',
    auth: 'admin',
    query: effectsQuerySchema,
    answers: [ok('a page of effects', effectPageSchema)],
  },
  'POST /v1/effects/:id/resolve': {
    summary: 'resolve an effect left in doubt',
    tag: 'admin',
    auth: 'admin',
    body: { schema: resolveEffectBodySchema },
    answers: [ok('the effect', effectAnswer)],
  },
  'POST /v1/effects/:id/compensate': {
    summary: "plan, run or skip one effect's compensation",
    tag: 'admin',
    auth: 'admin',
    body: { schema: compensateEffectBodySchema, optional: true },
    answers: [ok('the outcome and the effect')],
  },
  'GET /v1/openapi.json': {
    summary: 'this document',
    tag: 'probes',
    auth: 'any',
    answers: [ok('the OpenAPI 3.1 document of this server')],
  },
  // probes and metrics
  'GET /metrics': {
    summary: 'Prometheus metrics',
    tag: 'probes',
    auth: 'reader',
    answers: [
      {
        status: 200,
        description: 'the metrics',
        body: { kind: 'text', contentType: 'text/plain', description: 'Prometheus text format' },
      },
    ],
  },
  'GET /healthz': {
    summary: 'liveness',
    tag: 'probes',
    auth: 'none',
    answers: [ok('the process serves', z.object({ ok: z.literal(true) }))],
  },
  'GET /readyz': {
    summary: 'readiness: the store answers and the view of the workers is fresh',
    tag: 'probes',
    auth: 'none',
    answers: [
      ok('ready'),
      {
        status: 503,
        description: 'not ready (with the same body plus error)',
        body: json(z.record(z.string(), z.unknown())),
      },
    ],
  },
  // the dashboard
  'GET /dashboard': {
    summary: 'redirects to the dashboard',
    tag: 'dashboard',
    auth: 'none',
    answers: [{ status: 308, description: 'to /dashboard/', body: { kind: 'none' } }],
  },
  'GET /dashboard/': {
    summary: "the dashboard's files are not installed",
    tag: 'dashboard',
    auth: 'none',
    answers: [{ status: 503, description: 'not installed', body: json(z.record(z.string(), z.unknown())) }],
  },
  'GET /dashboard/*': staticFile,
  'GET /dashboard/vendor/preact/*': staticFile,
  'GET /dashboard/vendor/htm/*': staticFile,
  'GET /dashboard/vendor/uplot/*': staticFile,
};
