/** How the OpenAPI document describes a route, and the pieces the route tables share. */
import {
  effectRecordSchema,
  rolloutCommandBodySchema,
  rolloutSpecSchema,
  rolloutStatusSchema,
} from '@baton/core';
import { z } from 'zod';

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

export const json = (schema: z.ZodType): Body => ({ kind: 'json', schema });
export const ok = (description: string, schema?: z.ZodType): Answer => ({
  status: 200,
  description,
  ...(schema ? { body: json(schema) } : { body: json(z.record(z.string(), z.unknown())) }),
});
export const noContent: Answer = { status: 204, description: 'done', body: { kind: 'none' } };
export const items = z.object({ items: z.array(z.record(z.string(), z.unknown())) });
export const effectAnswer = z.object({ effect: effectRecordSchema });
export const graphNoContent = { body: { kind: 'none' } as const, status: 204, description: 'stored' };
export const idempotencyKey = {
  name: 'Idempotency-Key',
  description: '1-200 visible ASCII characters; a retry with the same key returns the first result',
};
export const capability = {
  name: 'baton-capability',
  description: 'the turn capability of the call in progress',
};
export const spec = { schema: rolloutSpecSchema, yaml: true };
export const rolloutCommand = (what: string): RouteDoc => ({
  summary: `${what} a rollout`,
  tag: 'rollouts',
  auth: 'admin',
  body: { schema: rolloutCommandBodySchema, optional: true },
  answers: [ok('the rollout status after the command', rolloutStatusSchema)],
});
export const staticFile: RouteDoc = {
  summary: "one of the dashboard's static files (public: they hold no data)",
  tag: 'dashboard',
  auth: 'none',
  answers: [
    { status: 200, description: 'the file', body: { kind: 'text', contentType: '*/*', description: 'file' } },
  ],
};
