/**
 * `GET /v1/openapi.json`: the OpenAPI document of the routes this server registered, for a bearer
 * token of any scope (it shows no data, but like every API route it is not public).
 */
import type { FastifyInstance } from 'fastify';
import { SCOPES } from '../auth';
import type { ServerContext } from '../context';
import { openApiDocument } from './document';

export function registerOpenApiRoute(
  app: FastifyInstance,
  ctx: ServerContext,
  routeTable: ReadonlyArray<{ method: string; url: string }>,
): void {
  let doc: string | null = null;
  app.get('/v1/openapi.json', async (req, reply) => {
    ctx.auth.require(req.headers.authorization, ...SCOPES);
    // built at the first request, when every route is registered
    doc ??= JSON.stringify(openApiDocument(routeTable));
    return reply.type('application/json; charset=utf-8').send(doc);
  });
}
