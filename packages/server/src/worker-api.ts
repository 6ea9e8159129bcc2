/**
 * The ledger API for remote workers (bearer token with the `worker` scope). Same semantics as
 * StoreLedgerClient: every call is made under the turn capability in the `baton-capability` header.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  CAPABILITY_HEADER,
  effectCommitSchema,
  effectFailSchema,
  effectIntentSchema,
  putStepSchema,
  stepsQuerySchema,
  workerHistoryQuerySchema,
} from '@baton/core';
import type { ServerContext } from './context';
import { StoreLedgerClient } from './ledger';
import { parse } from './validation';

export function registerWorkerRoutes(app: FastifyInstance, ctx: ServerContext): void {
  // protocol-1 workers cannot send a capability: their versions' calls are accepted without one
  const ledger = new StoreLedgerClient(ctx.store, ctx.capabilities, (agent, version) =>
    ctx.pool.entries().some((e) => e.agent === agent && e.version === version && e.protocol === 1),
  );
  const capabilityOf = (req: FastifyRequest): string | null => {
    const cap = req.headers[CAPABILITY_HEADER];
    return typeof cap === 'string' && cap !== '' ? cap : null;
  };
  const under = (req: FastifyRequest): StoreLedgerClient => {
    const cap = capabilityOf(req);
    return cap === null ? ledger : ledger.withCapability(cap);
  };
  app.addHook('onRequest', async (req) => {
    if (req.url.startsWith('/v1/worker/')) ctx.auth.require(req.headers.authorization, 'worker');
  });

  app.post('/v1/worker/effects/intent', async (req) => {
    const b = parse(effectIntentSchema, req.body);
    return under(req).intent(b);
  });
  app.post('/v1/worker/effects/commit', async (req) => {
    const b = parse(effectCommitSchema, req.body);
    return {
      effect: await under(req).commit(
        b.idempotencyKey,
        b.result,
        b.attemptId ? { attemptId: b.attemptId } : {},
      ),
    };
  });
  app.post('/v1/worker/effects/fail', async (req) => {
    const b = parse(effectFailSchema, req.body);
    return {
      effect: await under(req).fail(b.idempotencyKey, b.error, b.attemptId ? { attemptId: b.attemptId } : {}),
    };
  });
  app.get('/v1/worker/steps', async (req) => {
    const q = parse(stepsQuerySchema, req.query, 'query');
    return { steps: await under(req).steps(q.sessionId, q.turnId) };
  });
  app.get('/v1/worker/history', async (req) => {
    const q = parse(workerHistoryQuerySchema, req.query, 'query');
    return ledger.history(capabilityOf(req) ?? '', q.sessionId, {
      ...(q.before !== undefined ? { before: q.before } : {}),
      ...(q.limit !== undefined ? { limit: q.limit } : {}),
    });
  });
  app.post('/v1/worker/steps', async (req, reply) => {
    const b = parse(putStepSchema, req.body);
    await under(req).putStep(b.sessionId, b.turnId, b.index, b.name, b.result);
    return reply.code(204).send();
  });
}
