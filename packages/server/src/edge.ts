/**
 * The HTTP edge before any route runs: the JSON body parser (depth limit, `__proto__` keys), NUL
 * characters in path and query values, a missing Host, and the framework's and Node's own errors
 * (bad URL escapes, overlong path segments, malformed HTTP, oversized headers, timeouts), all
 * answered in the documented `{error: {code, message}}` shape.
 */
import type { Socket } from 'node:net';
import { BatonError, HTTP_STATUS, type ErrorCode } from '@baton/core';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Limits } from './context';
import { toWireError } from './http-errors';
import { findNul, nulError } from './validation';

/** Walk a parsed JSON value without recursion: too deep, or an object key named `__proto__`, is refused. */
export function checkJsonBody(value: unknown, maxDepth: number): void {
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: value, depth: 0, path: '' }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= maxDepth) {
      throw new BatonError('JSON_TOO_DEEP', `request body is nested deeper than ${maxDepth} levels`, {
        maxDepth,
      });
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], depth: depth + 1, path: `${path}[${i}]` });
      continue;
    }
    for (const k of Object.keys(v)) {
      const at = path === '' ? k : `${path}.${k}`;
      if (k === '__proto__') {
        throw new BatonError(
          'JSON_KEY_REFUSED',
          `request body: the object key "__proto__" is refused (at ${at})`,
          {
            path: at,
          },
        );
      }
      stack.push({ v: (v as Record<string, unknown>)[k], depth: depth + 1, path: at });
    }
  }
}

/** A JSON body: empty means "no body" (`undefined`), otherwise parsed and checked. */
function parseJsonBody(text: string, maxDepth: number): unknown {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BatonError('VALIDATION', 'request body is not valid JSON');
  }
  checkJsonBody(value, maxDepth);
  return value;
}

function send(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  return reply.code(HTTP_STATUS[code]).send({ error: { code, message } });
}

/** Errors fastify raises before routing (`frameworkErrors`): never echo the URL. */
function frameworkErrors(error: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  if (error.code === 'FST_ERR_BAD_URL') {
    void send(reply, 'BAD_URL', 'the URL has an invalid percent-escape');
    return;
  }
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    void send(reply, 'PARAM_TOO_LONG', 'a path segment is longer than the server accepts');
    return;
  }
  const w = toWireError(error);
  if (w.internal) req.log.error({ err: error }, 'unhandled framework error');
  void reply.code(w.status).send(w.body);
}

/** What Node's HTTP parser reports, as a status and a documented error. */
function clientErrorAnswer(code: string | undefined): { code: ErrorCode; message: string } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in time' };
  }
  if (code === 'HPE_HEADER_OVERFLOW') {
    return { code: 'HEADERS_TOO_LARGE', message: 'the request headers are too large' };
  }
  return { code: 'MALFORMED_REQUEST', message: 'the HTTP request is malformed' };
}

/** Node writes raw responses for requests it cannot parse; this writes the documented JSON instead. */
function clientErrorHandler(log: () => FastifyBaseLogger) {
  return (err: Error & { code?: string }, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) {
      log().debug({ code: err.code }, 'client connection reset');
      return;
    }
    const a = clientErrorAnswer(err.code);
    const status = HTTP_STATUS[a.code];
    log().debug({ code: err.code, status }, 'client error');
    if (socket.writable) {
      const body = JSON.stringify({ error: a });
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/** The fastify options of the edge (merged into the server's options). */
export function edgeOptions(limits: Limits, log: () => FastifyBaseLogger) {
  if (!(limits.requestTimeoutMs > 0)) {
    throw new BatonError('VALIDATION', 'limits.requestTimeoutMs must be a positive number of milliseconds');
  }
  return {
    routerOptions: { maxParamLength: limits.maxParamLength },
    requestTimeout: limits.requestTimeoutMs,
    // a request without Host is answered by the onRequest hook below, in the documented shape
    http: {
      requireHostHeader: false,
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      // Node looks for timed-out requests this often (its default, 30 s, would triple a short timeout)
      connectionsCheckingInterval: Math.max(50, Math.min(5_000, Math.floor(limits.requestTimeoutMs / 4))),
    },
    frameworkErrors,
    clientErrorHandler: clientErrorHandler(log),
  };
}

/** Whether a request failed because its client hung up before the request was complete (nothing to answer or alarm about). */
export function clientGone(req: FastifyRequest, err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return (
    req.raw.aborted ||
    code === 'ECONNRESET' ||
    code === 'ECONNABORTED' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE'
  );
}

/** The JSON parser and the hooks that refuse a missing Host and NUL characters in path and query values. */
export function registerEdge(app: FastifyInstance, limits: Limits): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string, limits.jsonDepth));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  app.addHook('onRequest', async (req, reply) => {
    if (req.raw.httpVersion === '1.1' && !req.headers.host) {
      void reply.header('connection', 'close');
      throw new BatonError('MALFORMED_REQUEST', 'the request has no Host header');
    }
  });
  app.addHook('preValidation', async (req) => {
    const inParams = findNul(req.params);
    if (inParams !== undefined) throw nulError(inParams === '*' ? 'the path' : `path parameter ${inParams}`);
    const inQuery = findNul(req.query);
    if (inQuery !== undefined) throw nulError(`query parameter ${inQuery}`);
  });
}

/** A request path fit to quote in a message: printable ASCII only, at most 100 characters. */
export function shownPath(url: string): string {
  const path = (url.split('?')[0] ?? '').replace(/[^\x20-\x7e]/g, '?');
  return path.length > 100 ? `${path.slice(0, 100)}…` : path;
}
