/**
 * Every route of the server as the OpenAPI document describes it: who may call it, what it takes
 * and what it answers, with the shapes from core's API schemas (`wire/api`), the same ones the
 * routes validate with. Keyed like the server's route table (`POST /v1/sessions/:id/turns`); a
 * route the server registers without an entry here is a test failure.
 */
import {
  agentVerdictQuerySchema,
  callbackBodySchema,
  checkpointsQuerySchema,
  compensateEffectBodySchema,
  compensateRolloutBodySchema,
  controllerStatusSchema,
  createSessionBodySchema,
  createdSessionSchema,
  decisionsQuerySchema,
  dryRunQuerySchema,
  effectCommitBodySchema,
  effectFailBodySchema,
  effectIntentBodySchema,
  effectPageSchema,
  effectRecordSchema,
  effectsQuerySchema,
  feedbackBodySchema,
  graphWire,
  historyPageQuerySchema,
  historyPageSchema,
  migrationListSchema,
  migrationsQuerySchema,
  putStepBodySchema,
  registerWorkerBodySchema,
  resolveEffectBodySchema,
  rolloutCommandBodySchema,
  rolloutStatusQuerySchema,
  rolloutStatusSchema,
  rolloutsQuerySchema,
  samplesQuerySchema,
  sessionPageSchema,
  sessionViewSchema,
  sessionsQuerySchema,
  stepsQuerySchema,
  stepsSchema,
  stragglersQuerySchema,
  turnBodySchema,
  turnResultSchema,
  verdictQuerySchema,
  versionListSchema,
  versionManifestSchema,
  versionRecordSchema,
  versionsQuerySchema,
  workerHistoryQuerySchema,
  workerListSchema,
  workerRecordSchema,
  workersQuerySchema,
} from '@baton/core';
import { z } from 'zod';
import { rolloutSpecSchema, shadowSchema } from '../rollout/spec';

/**
 * Who may call a route: `session` is the traffic token plus the session's `X-Session-Token`;
 * `session-or-admin` also takes an admin token alone; `reader` is admin or read; `any` is a token
 * of any scope.
 */
export type RouteAuth =
  | 'none'
  | 'traffic'
  | 'session'
  | 'session-or-admin'
  | 'admin'
  | 'reader'
  | 'worker'
  | 'admin-or-worker'
  | 'any';

export type Body =
  | { kind: 'json'; schema: z.ZodType }
  | { kind: 'text'; contentType: string; description: string }
  | { kind: 'none' };

export interface Answer {
  status: number;
  description: string;
  body?: Body;
  /** Also answered as server-sent events with `Accept: text/event-stream`. */
  stream?: boolean;
}

export interface RouteDoc {
  summary: string;
  tag: 'traffic' | 'worker' | 'admin' | 'rollouts' | 'probes' | 'dashboard';
  auth: RouteAuth;
  /** The request body; `optional` when an empty body is accepted. */
  body?: { schema: z.ZodType; optional?: boolean; yaml?: boolean };
  query?: z.ZodObject;
  headers?: Array<{ name: string; description: string; required?: boolean }>;
  answers: Answer[];
}

const json = (schema: z.ZodType): Body => ({ kind: 'json', schema });
const ok = (description: string, schema?: z.ZodType): Answer => ({
  status: 200,
  description,
  ...(schema ? { body: json(schema) } : { body: json(z.record(z.string(), z.unknown())) }),
});
const noContent: Answer = { status: 204, description: 'done', body: { kind: 'none' } };
const items = z.object({ items: z.array(z.record(z.string(), z.unknown())) });
const effectAnswer = z.object({ effect: effectRecordSchema });
const graphNoContent = { body: { kind: 'none' } as const, status: 204, description: 'stored' };
const idempotencyKey = {
  name: 'Idempotency-Key',
  description: '1-200 visible ASCII characters; a retry with the same key returns the first result',
};
const capability = {
  name: 'baton-capability',
  description: 'the turn capability of the call in progress',
};
const spec = { schema: rolloutSpecSchema, yaml: true };
const rolloutCommand = (what: string): RouteDoc => ({
  summary: `${what} a rollout`,
  tag: 'rollouts',
  auth: 'admin',
  body: { schema: rolloutCommandBodySchema, optional: true },
  answers: [ok('the rollout status after the command', rolloutStatusSchema)],
});
const staticFile: RouteDoc = {
  summary: "one of the dashboard's static files (public: they hold no data)",
  tag: 'dashboard',
  auth: 'none',
  answers: [
    { status: 200, description: 'the file', body: { kind: 'text', contentType: '*/*', description: 'file' } },
  ],
};

export const ROUTE_DOCS: Record<string, RouteDoc> = {
  // traffic
  'POST /v1/agents/:agent/sessions': {
    summary: 'create a session, pinned to a version by the routing table',
    tag: 'traffic',
    auth: 'traffic',
    body: { schema: createSessionBodySchema, optional: true },
    headers: [idempotencyKey],
    answers: [
      { status: 201, description: 'created', body: json(createdSessionSchema) },
      {
        status: 200,
        description: 'a retry of the same key and body: the same session',
        body: json(createdSessionSchema),
      },
    ],
  },
  'POST /v1/sessions/:id/turns': {
    summary: 'run a turn of the session',
    tag: 'traffic',
    auth: 'session',
    body: { schema: turnBodySchema },
    headers: [idempotencyKey],
    answers: [{ ...ok('the turn committed', turnResultSchema), stream: true }],
  },
  'GET /v1/sessions/:id': {
    summary: "the session's status, version, waits and migrations",
    tag: 'traffic',
    auth: 'session-or-admin',
    answers: [ok('the session view', sessionViewSchema)],
  },
  'GET /v1/sessions/:id/history': {
    summary: "a page of the session's history log, ascending",
    tag: 'traffic',
    auth: 'session-or-admin',
    query: historyPageQuerySchema,
    answers: [ok('the page', historyPageSchema)],
  },
  'POST /v1/sessions/:id/feedback': {
    summary: 'record a user signal for the session',
    tag: 'traffic',
    auth: 'session',
    body: { schema: feedbackBodySchema },
    answers: [noContent],
  },
  'POST /v1/sessions/:id/end': {
    summary: 'mark the session completed',
    tag: 'traffic',
    auth: 'session',
    body: { schema: z.object({}).strict(), optional: true },
    answers: [ok('the session view', sessionViewSchema)],
  },
  'POST /v1/callbacks/:token': {
    summary: 'resolve a wait: runs a callback turn on the version that owns the session now',
    tag: 'traffic',
    auth: 'traffic',
    body: { schema: callbackBodySchema },
    answers: [{ ...ok('the callback turn committed', turnResultSchema), stream: true }],
  },
  // worker
  'POST /v1/worker/effects/intent': {
    summary: "record an effect's intent (or return the existing record of its key)",
    tag: 'worker',
    auth: 'worker',
    body: { schema: effectIntentBodySchema },
    headers: [capability],
    answers: [ok('the record', z.object({ effect: effectRecordSchema, existing: z.boolean() }))],
  },
  'POST /v1/worker/effects/commit': {
    summary: "commit an effect's result",
    tag: 'worker',
    auth: 'worker',
    body: { schema: effectCommitBodySchema },
    headers: [capability],
    answers: [ok('the record', effectAnswer)],
  },
  'POST /v1/worker/effects/fail': {
    summary: "record an effect's failure",
    tag: 'worker',
    auth: 'worker',
    body: { schema: effectFailBodySchema },
    headers: [capability],
    answers: [ok('the record', effectAnswer)],
  },
  'GET /v1/worker/steps': {
    summary: 'the steps an earlier attempt of the turn journaled',
    tag: 'worker',
    auth: 'worker',
    query: stepsQuerySchema,
    headers: [capability],
    answers: [ok('the steps', stepsSchema)],
  },
  'POST /v1/worker/steps': {
    summary: "journal a step of the turn's attempt",
    tag: 'worker',
    auth: 'worker',
    body: { schema: putStepBodySchema },
    headers: [capability],
    answers: [noContent],
  },
  'GET /v1/worker/history': {
    summary: 'a page of the history of the session whose turn is in progress',
    tag: 'worker',
    auth: 'worker',
    query: workerHistoryQuerySchema,
    headers: [{ ...capability, required: true }],
    answers: [ok('the page', historyPageSchema)],
  },
  'POST /v1/worker/graph/put': {
    summary: 'store a LangGraph checkpoint of the session',
    tag: 'worker',
    auth: 'worker',
    body: { schema: graphWire.put },
    headers: [capability],
    answers: [graphNoContent],
  },
  'POST /v1/worker/graph/writes': {
    summary: "store a LangGraph checkpoint's pending writes",
    tag: 'worker',
    auth: 'worker',
    body: { schema: graphWire.writes },
    headers: [capability],
    answers: [graphNoContent],
  },
  'POST /v1/worker/graph/get': {
    summary: 'read a LangGraph checkpoint',
    tag: 'worker',
    auth: 'worker',
    body: { schema: graphWire.get },
    headers: [capability],
    answers: [ok('the row, or null')],
  },
  'POST /v1/worker/graph/list': {
    summary: "list a thread's LangGraph checkpoints",
    tag: 'worker',
    auth: 'worker',
    body: { schema: graphWire.list },
    headers: [capability],
    answers: [ok('the rows')],
  },
  'POST /v1/worker/graph/channel-writes': {
    summary: "the writes of a channel across a thread's checkpoints",
    tag: 'worker',
    auth: 'worker',
    body: { schema: graphWire['channel-writes'] },
    headers: [capability],
    answers: [ok('the writes')],
  },
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
  // rollouts
  'POST /v1/rollouts': {
    summary: 'start a rollout (a spec, JSON or YAML); `dryRun=true` runs only the pre-flight',
    tag: 'rollouts',
    auth: 'admin',
    body: spec,
    query: dryRunQuerySchema,
    answers: [
      { status: 201, description: 'the rollout status', body: json(rolloutStatusSchema) },
      ok('a dry run: the pre-flight, forecast and warnings (nothing stored)'),
    ],
  },
  'POST /v1/rollouts/forecast': {
    summary: 'the drain forecast of a spec (nothing is created)',
    tag: 'rollouts',
    auth: 'admin',
    body: spec,
    answers: [ok('the forecast')],
  },
  'POST /v1/migrate/check': {
    summary: "pre-flight: dry-run the candidate's migrations over live blue checkpoints",
    tag: 'rollouts',
    auth: 'admin',
    body: spec,
    answers: [ok('the pre-flight summary')],
  },
  'POST /v1/rollouts/preflight': {
    summary: "pre-flight: dry-run the candidate's migrations over live blue checkpoints",
    tag: 'rollouts',
    auth: 'admin',
    body: spec,
    answers: [ok('the pre-flight summary')],
  },
  'GET /v1/rollouts': {
    summary: 'list rollouts',
    tag: 'rollouts',
    auth: 'reader',
    query: rolloutsQuerySchema,
    answers: [ok('the rollouts', items)],
  },
  'GET /v1/rollouts/:id': {
    summary: "a rollout's status: phase, step, weights, drain, sessions, gates, decisions",
    tag: 'rollouts',
    auth: 'reader',
    query: rolloutStatusQuerySchema,
    answers: [ok('the status', rolloutStatusSchema)],
  },
  'GET /v1/rollouts/:id/decisions': {
    summary: "the rollout's decisions with their evidence",
    tag: 'rollouts',
    auth: 'reader',
    query: decisionsQuerySchema,
    answers: [ok('the decisions', items)],
  },
  'GET /v1/rollouts/:id/report': {
    summary: 'the effects the candidate committed, with their compensations',
    tag: 'rollouts',
    auth: 'admin',
    answers: [ok('the report')],
  },
  'GET /v1/rollouts/:id/verdict': {
    summary: 'the verdict of a rollout or one of its steps',
    tag: 'rollouts',
    auth: 'reader',
    query: verdictQuerySchema,
    answers: [ok('the verdict')],
  },
  'GET /v1/agents/:agent/verdict': {
    summary: "the verdict of the agent's newest rollout",
    tag: 'rollouts',
    auth: 'reader',
    query: agentVerdictQuerySchema,
    answers: [ok('the verdict')],
  },
  'GET /v1/rollouts/:id/stragglers': {
    summary: 'open sessions still on blue, each with why',
    tag: 'rollouts',
    auth: 'reader',
    query: stragglersQuerySchema,
    answers: [ok('a page of stragglers')],
  },
  'GET /v1/rollouts/:id/samples': {
    summary: "the agent's sessions by version and status over time",
    tag: 'rollouts',
    auth: 'reader',
    query: samplesQuerySchema,
    answers: [ok('a page of samples')],
  },
  'GET /v1/rollouts/:id/distributions': {
    summary: "blue's and green's per-session values of each gate's metric",
    tag: 'rollouts',
    auth: 'reader',
    answers: [ok('the distributions')],
  },
  'GET /v1/rollouts/:id/events': {
    summary: "the rollout's status as server-sent events, whenever it changes",
    tag: 'rollouts',
    auth: 'reader',
    answers: [
      {
        status: 200,
        description: 'the event stream',
        body: { kind: 'text', contentType: 'text/event-stream', description: '`status` and `error` events' },
      },
    ],
  },
  'POST /v1/rollouts/:id/promote': rolloutCommand('promote'),
  'POST /v1/rollouts/:id/pause': rolloutCommand('pause'),
  'POST /v1/rollouts/:id/resume': rolloutCommand('resume'),
  'POST /v1/rollouts/:id/abort': rolloutCommand('abort'),
  'POST /v1/rollouts/:id/compensate': {
    summary: "plan or run the compensations of the candidate's committed effects",
    tag: 'rollouts',
    auth: 'admin',
    body: { schema: compensateRolloutBodySchema, optional: true },
    answers: [ok('the plan or the run')],
  },
  'POST /v1/rollouts/:id/shadow': {
    summary: 'one shadow run on demand (the fields over the rollout’s own shadow stage)',
    tag: 'rollouts',
    auth: 'admin',
    body: { schema: shadowSchema.partial(), optional: true },
    answers: [ok("the run's evidence")],
  },
  'GET /v1/controller': {
    summary: 'which process holds the controller lock',
    tag: 'rollouts',
    auth: 'reader',
    answers: [ok('the controller status', controllerStatusSchema)],
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
