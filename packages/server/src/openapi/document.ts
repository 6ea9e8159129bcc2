/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the route docs (`routes.ts`) and the
 * API's zod schemas (JSON Schema 2020-12, which OpenAPI 3.1 uses), for the routes a server
 * registered. Served at `GET /v1/openapi.json`; the tests lint it.
 */
import { ERROR_CODES, HTTP_STATUS, errorBodySchema, isRetryable, type ErrorCode } from '@baton/core';
import { z } from 'zod';
import { ROUTE_DOCS, type Answer, type RouteAuth, type RouteDoc } from './routes';

type Json = Record<string, unknown>;

/** The JSON Schema of a zod schema, as the request sends it (defaults and transforms are the server's). */
export function jsonSchema(schema: z.ZodType): Json {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as Json;
  return rest;
}

const SECURITY: Record<RouteAuth, Array<Record<string, string[]>>> = {
  none: [],
  traffic: [{ traffic: [] }],
  session: [{ traffic: [], sessionToken: [] }],
  'session-or-admin': [{ traffic: [], sessionToken: [] }, { admin: [] }],
  admin: [{ admin: [] }],
  reader: [{ admin: [] }, { read: [] }],
  worker: [{ worker: [] }],
  'admin-or-worker': [{ admin: [] }, { worker: [] }],
  any: [{ traffic: [] }, { admin: [] }, { read: [] }, { worker: [] }],
};

const bearer = (scope: string): Json => ({
  type: 'http',
  scheme: 'bearer',
  description: `a bearer token of the \`${scope}\` scope`,
});

const errorRef = { $ref: '#/components/responses/Error' };

/** `/v1/sessions/:id` → `/v1/sessions/{id}`; a trailing `*` becomes `{path}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{path}');
}

function pathParams(url: string): Json[] {
  const names = [...url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  if (url.endsWith('*')) names.push('path');
  return names.map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: name === 'path' ? { type: 'string' } : { type: 'string', minLength: 1, maxLength: 200 },
  }));
}

function queryParams(query: z.ZodObject | undefined): Json[] {
  if (!query) return [];
  const s = jsonSchema(query) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, schema]) => ({
    name,
    in: 'query',
    required: (s.required ?? []).includes(name),
    schema,
  }));
}

function operationId(method: string, url: string): string {
  const words = url
    .replace(/^\//, '')
    .split('/')
    .filter((w) => w !== 'v1' && w !== '*')
    .map((w) => (w.startsWith(':') ? `by-${w.slice(1)}` : w));
  return [method.toLowerCase(), ...words, ...(url.endsWith('*') ? ['file'] : [])]
    .join('-')
    .replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))
    .replace(/\.json$/, 'Json');
}

function answer(a: Answer): Json {
  const b = a.body ?? { kind: 'none' };
  if (b.kind === 'none') return { description: a.description };
  if (b.kind === 'text')
    return {
      description: a.description,
      content: { [b.contentType]: { schema: { type: 'string', description: b.description } } },
    };
  const content: Json = { 'application/json': { schema: jsonSchema(b.schema) } };
  if (a.stream)
    content['text/event-stream'] = {
      schema: { type: 'string', description: 'events `started`, `migrated`, `output`, `done`, `error`' },
    };
  return { description: a.description, content };
}

function operation(method: string, url: string, doc: RouteDoc): Json {
  const params = [
    ...pathParams(url),
    ...queryParams(doc.query),
    ...(doc.headers ?? []).map((h) => ({
      name: h.name,
      in: 'header',
      required: h.required === true,
      description: h.description,
      schema: { type: 'string' },
    })),
  ];
  const responses: Json = {};
  for (const a of doc.answers) responses[String(a.status)] = answer(a);
  responses['4XX'] = errorRef;
  responses['5XX'] = errorRef;
  const op: Json = {
    operationId: operationId(method, url),
    summary: doc.summary,
    tags: [doc.tag],
    security: SECURITY[doc.auth],
    ...(params.length > 0 ? { parameters: params } : {}),
    responses,
  };
  if (doc.body) {
    const content: Json = { 'application/json': { schema: jsonSchema(doc.body.schema) } };
    if (doc.body.yaml)
      content['application/yaml'] = { schema: { type: 'string', description: 'the same, as YAML' } };
    op.requestBody = { required: doc.body.optional !== true, content };
  }
  return op;
}

function errorCodesTable(): string {
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];
  return codes.map((c) => `- \`${c}\` ${HTTP_STATUS[c]}${isRetryable(c) ? ' (retryable)' : ''}`).join('\n');
}

const TAGS = [
  {
    name: 'traffic',
    description: 'sessions, turns, feedback and callbacks (traffic token, plus the session token)',
  },
  {
    name: 'worker',
    description: 'the ledger, step journal, history and LangGraph checkpoints for remote workers',
  },
  { name: 'admin', description: 'versions, workers, sessions, checkpoints, migrations and effects' },
  { name: 'rollouts', description: 'rollouts, their live views, verdicts and the controller' },
  { name: 'probes', description: 'health, readiness, metrics and this document' },
  { name: 'dashboard', description: "the dashboard's static files" },
];

/** The document for `routes` (method and fastify URL pattern); a route without a doc throws. */
export function openApiDocument(routes: ReadonlyArray<{ method: string; url: string }>): Json {
  const paths: Record<string, Json> = {};
  for (const { method, url } of routes) {
    const doc = ROUTE_DOCS[`${method} ${url}`];
    if (!doc) throw new Error(`no OpenAPI description of ${method} ${url}`);
    const p = (paths[openApiPath(url)] ??= {});
    p[method.toLowerCase()] = operation(method, url, doc);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Baton HTTP API',
      version: '1',
      description:
        'Drain-and-fill rollouts for stateful AI agents. Every error is `{error: {code, message, details?}}` ' +
        'with a stable code; retryable codes may succeed when the same request is sent again unchanged:\n\n' +
        errorCodesTable(),
    },
    servers: [{ url: '/', description: 'this server' }],
    tags: TAGS,
    paths,
    components: {
      securitySchemes: {
        traffic: bearer('traffic'),
        admin: bearer('admin'),
        read: bearer('read'),
        worker: bearer('worker'),
        sessionToken: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Session-Token',
          description: 'the session token returned when the session was created',
        },
      },
      responses: {
        Error: {
          description: 'an error with a stable code',
          content: { 'application/json': { schema: jsonSchema(errorBodySchema) } },
        },
      },
    },
  };
}
