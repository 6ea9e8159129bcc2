/**
 * OpenTelemetry in the SDK, optional: `@opentelemetry/api` is an optional peer dependency, loaded
 * with a dynamic import. Where it is installed and a tracer provider is registered (the agent's
 * own process setup, or `baton worker` with the standard OTEL_* environment), a turn runs in the
 * trace context the router sent (`traceparent`), so the agent's own spans nest under the router's
 * turn span, and each tool call and effect gets an `execute_tool {name}` span (GenAI semantic
 * conventions). Without the package, or without a provider, nothing is recorded.
 */
import type * as OtelApi from '@opentelemetry/api';

type Api = typeof OtelApi;

let loading: Promise<Api | null> | null = null;

/** The API module, or null where it is not installed (looked up once per process). */
export function otelApi(): Promise<Api | null> {
  loading ??= import('@opentelemetry/api').then(
    (m) => m,
    () => null,
  );
  return loading;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span context a W3C `traceparent` value names (undefined when it is absent or invalid). */
export function parseTraceparent(v: unknown): OtelApi.SpanContext | undefined {
  if (typeof v !== 'string') return undefined;
  const m = TRACEPARENT.exec(v.trim());
  if (!m || m[1] === 'ff' || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return undefined;
  return { traceId: m[2]!, spanId: m[3]!, traceFlags: parseInt(m[4]!, 16) & 1, isRemote: true };
}

/** A turn's tracing: the context its work runs in and the spans of its tool calls. */
export interface TurnTracing {
  /** Run `fn` in the turn's trace context (the router's span as the remote parent). */
  within<T>(fn: () => Promise<T>): Promise<T>;
  /** Run one tool call or effect under an `execute_tool {name}` span. */
  tool<T>(name: string, kind: 'tool' | 'effect', callId: string | null, fn: () => Promise<T>): Promise<T>;
}

export const NO_TRACING: TurnTracing = {
  within: (fn) => fn(),
  tool: (_n, _k, _c, fn) => fn(),
};

export interface TurnTraceInput {
  traceparent?: unknown;
  tracestate?: unknown;
  sessionId: string;
  agent: string;
  version: string;
  turnId: string;
}

/** The tracing of one turn (a no-op without `@opentelemetry/api`). */
export async function turnTracing(t: TurnTraceInput): Promise<TurnTracing> {
  const api = await otelApi();
  if (!api) return NO_TRACING;
  const parent = parseTraceparent(t.traceparent);
  let ctx = api.context.active();
  if (parent) {
    let sc = parent;
    if (typeof t.tracestate === 'string' && t.tracestate.length > 0)
      sc = Object.assign({}, parent, { traceState: api.createTraceState(t.tracestate) });
    ctx = api.trace.setSpanContext(api.ROOT_CONTEXT, sc);
  }
  const tracer = api.trace.getTracer('@baton/sdk', '0.1.0');
  return {
    within: (fn) => api.context.with(ctx, fn),
    tool: (name, kind, callId, fn) => {
      const attributes: OtelApi.Attributes = {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': name,
        'gen_ai.tool.type': kind === 'effect' ? 'extension' : 'function',
        'gen_ai.conversation.id': t.sessionId,
        'gen_ai.agent.name': t.agent,
        'gen_ai.agent.version': t.version,
        'baton.turn.id': t.turnId,
        'baton.tool.kind': kind,
      };
      if (callId) attributes['gen_ai.tool.call.id'] = callId;
      // the parent is whatever is active now: the turn's context, or an agent span around the call
      const parentCtx = api.trace.getSpan(api.context.active()) ? api.context.active() : ctx;
      return tracer.startActiveSpan(
        `execute_tool ${name}`,
        { kind: api.SpanKind.INTERNAL, attributes },
        parentCtx,
        async (span) => {
          try {
            return await fn();
          } catch (e) {
            const err = e instanceof Error ? e : new Error(String(e));
            span.recordException(err);
            const code = (e as { code?: unknown }).code;
            span.setAttribute('error.type', typeof code === 'string' ? code : err.name);
            span.setStatus({ code: api.SpanStatusCode.ERROR, message: err.message });
            throw e;
          } finally {
            span.end();
          }
        },
      );
    },
  };
}
