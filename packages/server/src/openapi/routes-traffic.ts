/** The traffic API and the worker API in the OpenAPI document. */
import {
  callbackBodySchema,
  createSessionBodySchema,
  createdSessionSchema,
  effectCommitSchema,
  effectFailSchema,
  effectIntentSchema,
  effectRecordSchema,
  feedbackBodySchema,
  graphWire,
  historyPageQuerySchema,
  historyPageSchema,
  putStepSchema,
  sessionViewSchema,
  stepsQuerySchema,
  stepsSchema,
  turnBodySchema,
  turnResultSchema,
  workerHistoryQuerySchema,
} from '@baton/core';
import { z } from 'zod';
import {
  json,
  ok,
  noContent,
  effectAnswer,
  graphNoContent,
  idempotencyKey,
  capability,
  type Answer,
  type RouteDoc,
} from './route-doc';

/** A worker API call: the worker token, the turn capability (`required` where nothing is read without one). */
function workerCall(
  summary: string,
  input: { body: z.ZodType } | { query: z.ZodObject },
  answer: Answer,
  required = false,
): RouteDoc {
  return {
    summary,
    tag: 'worker',
    auth: 'worker',
    ...('body' in input ? { body: { schema: input.body } } : { query: input.query }),
    headers: [required ? { ...capability, required: true } : capability],
    answers: [answer],
  };
}

export const TRAFFIC_ROUTES: Record<string, RouteDoc> = {
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
  // worker: every call under the turn capability
  'POST /v1/worker/effects/intent': workerCall(
    "record an effect's intent (or return the existing record of its key)",
    { body: effectIntentSchema },
    ok('the record', z.object({ effect: effectRecordSchema, existing: z.boolean() })),
  ),
  'POST /v1/worker/effects/commit': workerCall(
    "commit an effect's result",
    { body: effectCommitSchema },
    ok('the record', effectAnswer),
  ),
  'POST /v1/worker/effects/fail': workerCall(
    "record an effect's failure",
    { body: effectFailSchema },
    ok('the record', effectAnswer),
  ),
  'GET /v1/worker/steps': workerCall(
    'the steps an earlier attempt of the turn journaled',
    { query: stepsQuerySchema },
    ok('the steps', stepsSchema),
  ),
  'POST /v1/worker/steps': workerCall(
    "journal a step of the turn's attempt",
    { body: putStepSchema },
    noContent,
  ),
  'GET /v1/worker/history': workerCall(
    'a page of the history of the session whose turn is in progress',
    { query: workerHistoryQuerySchema },
    ok('the page', historyPageSchema),
    true,
  ),
  'POST /v1/worker/graph/put': workerCall(
    'store a LangGraph checkpoint of the session',
    { body: graphWire.put },
    graphNoContent,
  ),
  'POST /v1/worker/graph/writes': workerCall(
    "store a LangGraph checkpoint's pending writes",
    { body: graphWire.writes },
    graphNoContent,
  ),
  'POST /v1/worker/graph/get': workerCall(
    'read a LangGraph checkpoint',
    { body: graphWire.get },
    ok('the row, or null'),
  ),
  'POST /v1/worker/graph/list': workerCall(
    "list a thread's LangGraph checkpoints",
    { body: graphWire.list },
    ok('the rows'),
  ),
  'POST /v1/worker/graph/channel-writes': workerCall(
    "the writes of a channel across a thread's checkpoints",
    { body: graphWire['channel-writes'] },
    ok('the writes'),
  ),
};
