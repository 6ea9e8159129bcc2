/** HTTP routes of the traffic API (bearer token with the `traffic` scope, plus the session token). */
import {
  BatonError,
  callbackBodySchema,
  createSessionBodySchema,
  feedbackBodySchema,
  historyPageQuerySchema,
  randomToken,
  turnBodySchema,
  type SessionRecord,
} from '@baton/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { ServerContext } from './context';
import { readHistoryChecked } from './history';
import { toWireError } from './http-errors';
import type { Router, TurnEvent, TurnResult } from './router';
import { header, parse } from './validation';

const KEY_RE = /^[\x21-\x7e]{1,200}$/;

type IdParams = { Params: { id: string } };

function wantsStream(req: FastifyRequest): boolean {
  const a = req.headers.accept;
  return typeof a === 'string' && a.includes('text/event-stream');
}

/** Run `fn`, streaming its events as SSE once the first one arrives; errors before that are plain JSON. */
async function streamed(
  reply: FastifyReply,
  fn: (emit: (ev: TurnEvent) => void) => Promise<TurnResult>,
): Promise<FastifyReply> {
  let started = false;
  const emit = (ev: TurnEvent): void => {
    if (!started) {
      started = true;
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
    }
    reply.raw.write(`event: ${ev.event}\ndata: ${JSON.stringify(ev.data)}\n\n`);
  };
  try {
    await fn(emit);
  } catch (e) {
    if (!started) throw e;
    emit({ event: 'error', data: toWireError(e).body });
  }
  reply.raw.end();
  return reply;
}

/** The request's `Idempotency-Key`, if any (VALIDATION unless 1-200 visible ASCII characters). */
function idempotencyKey(h: string | string[] | undefined): string | undefined {
  const given = header(h);
  if (given !== undefined && !KEY_RE.test(given)) {
    throw new BatonError('VALIDATION', 'Idempotency-Key must be 1-200 visible ASCII characters');
  }
  return given;
}

export function registerTrafficRoutes(app: FastifyInstance, ctx: ServerContext, router: Router): void {
  const { auth, store } = ctx;

  /** Bearer `traffic` (or `admin`, for reads) and the session's token. */
  async function sessionFor(req: FastifyRequest<IdParams>, adminMayRead = false): Promise<SessionRecord> {
    const scope = auth.require(
      req.headers.authorization,
      ...(adminMayRead ? (['traffic', 'admin'] as const) : (['traffic'] as const)),
    );
    const s = await store.getSession(req.params.id);
    if (scope !== 'admin') auth.checkSessionToken(s.tokenHash, req.headers['x-session-token']);
    return s;
  }

  app.post<{ Params: { agent: string } }>('/v1/agents/:agent/sessions', async (req, reply) => {
    auth.require(req.headers.authorization, 'traffic');
    const body = parse(createSessionBodySchema, req.body ?? {});
    const key = idempotencyKey(req.headers['idempotency-key']);
    const { replayed, ...out } = await router.createSession(req.params.agent, body, key);
    return reply.code(replayed ? 200 : 201).send(out);
  });

  /** A turn: the session read and its token checked by the turn's `beginTurn`, not by a read here. */
  app.post<IdParams>('/v1/sessions/:id/turns', async (req, reply) => {
    auth.require(req.headers.authorization, 'traffic');
    let body: z.infer<typeof turnBodySchema>;
    let given: string | undefined;
    try {
      body = parse(turnBodySchema, req.body);
      if (body.input === undefined) throw new BatonError('VALIDATION', 'input is required');
      given = idempotencyKey(req.headers['idempotency-key']);
    } catch (e) {
      // a bad request is answered as ever: an unknown session or a wrong token first
      await sessionFor(req);
      throw e;
    }
    const key = given ?? `gen:${randomToken(16)}`;
    const input = { kind: 'message', message: body.input } as const;
    const sessionToken = { presented: req.headers['x-session-token'] };
    if (wantsStream(req)) {
      return streamed(reply, (onEvent) => router.turn(req.params.id, input, key, { sessionToken, onEvent }));
    }
    return router.turn(req.params.id, input, key, { sessionToken });
  });

  app.get<IdParams>('/v1/sessions/:id', async (req) => {
    const s = await sessionFor(req, true);
    return router.view(s);
  });

  /** The session's history log, a page at a time (ascending; `before` exclusive). */
  app.get<IdParams>('/v1/sessions/:id/history', async (req) => {
    const s = await sessionFor(req, true);
    const q = parse(historyPageQuerySchema, req.query, 'query');
    return readHistoryChecked(store, s.id, {
      limit: q.limit ?? 100,
      ...(q.before !== undefined ? { before: q.before } : {}),
    });
  });

  app.post<IdParams>('/v1/sessions/:id/feedback', async (req, reply) => {
    const s = await sessionFor(req);
    const body = parse(feedbackBodySchema, req.body);
    await router.feedback(s, body.signal, body.value);
    return reply.code(204).send();
  });

  app.post<IdParams>('/v1/sessions/:id/end', async (req) => {
    const s = await sessionFor(req);
    return router.end(s);
  });

  app.post<{ Params: { token: string } }>('/v1/callbacks/:token', async (req, reply) => {
    auth.require(req.headers.authorization, 'traffic');
    const body = parse(callbackBodySchema, req.body);
    if (wantsStream(req)) {
      return streamed(reply, (onEvent) => router.callback(req.params.token, body.payload, onEvent));
    }
    return router.callback(req.params.token, body.payload);
  });
}
