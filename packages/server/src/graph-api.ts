/**
 * LangGraph checkpoints for remote workers: `store.graph` through the worker API
 * (`/v1/worker/graph/*`, bearer token with the `worker` scope), each call under the turn
 * capability of the call in progress (`baton-capability` header). A capability reaches only its
 * own session's thread (thread id = session id); reads accept a read-only capability (a dry-run
 * migration), writes need a live one (its lease epoch is the session's live lease), so a worker
 * whose turn was given up on can no longer write the thread. Deleting threads and listing all of
 * them are not worker calls. Byte values travel as base64.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  CAPABILITY_HEADER,
  blobFromWire,
  graphWire,
  rowToWire,
  bytesToWire,
  writeFromWire,
} from '@baton/core';
import { CapabilityGraphStore } from './graph-capability';
import type { ServerContext } from './context';
import { parse } from './validation';

export function registerGraphRoutes(app: FastifyInstance, ctx: ServerContext): void {
  // a checkpoint's channel values can be larger than a traffic request
  const opts = { bodyLimit: Math.max(ctx.limits.bodyBytes, 64 * 1024 * 1024) };
  const graphOf = (req: FastifyRequest): CapabilityGraphStore => {
    const cap = req.headers[CAPABILITY_HEADER];
    return new CapabilityGraphStore(
      ctx.store.graph,
      ctx.capabilities,
      typeof cap === 'string' && cap ? cap : null,
    );
  };
  app.post('/v1/worker/graph/put', opts, async (req, reply) => {
    const b = parse(graphWire.put, req.body);
    const { inline, ...record } = b.record;
    await graphOf(req).put(
      inline ? { ...record, inline: inline.map(blobFromWire) } : record,
      b.blobs.map(blobFromWire),
    );
    return reply.code(204).send();
  });
  app.post('/v1/worker/graph/writes', opts, async (req, reply) => {
    const b = parse(graphWire.writes, req.body);
    await graphOf(req).putWrites(b.key, b.writes.map(writeFromWire), b.overwrite);
    return reply.code(204).send();
  });
  app.post('/v1/worker/graph/get', opts, async (req) => {
    const b = parse(graphWire.get, req.body);
    const row = await graphOf(req).get(b.threadId, b.ns, b.checkpointId);
    return { row: row === null ? null : rowToWire(row) };
  });
  app.post('/v1/worker/graph/list', opts, async (req) => {
    const b = parse(graphWire.list, req.body);
    const rows = await graphOf(req).list(b);
    return { rows: rows.map(rowToWire) };
  });
  app.post('/v1/worker/graph/channel-writes', opts, async (req) => {
    const b = parse(graphWire['channel-writes'], req.body);
    const writes = await graphOf(req).listChannelWrites(b.threadId, b.checkpointIds, b.channel);
    return { writes: writes.map((w) => ({ ...w, value: bytesToWire(w.value) })) };
  });
}
