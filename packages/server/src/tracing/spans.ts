/**
 * The spans Baton starts: one per turn (`invoke_agent {agent}`, GenAI semantic conventions), per
 * migration, per rollout decision. Through the `@opentelemetry/api` globals: without a registered
 * provider (tracing off, see setup.ts) they are no-ops and cost next to nothing.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  propagation,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';
import {
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_AGENT_VERSION,
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
} from './genai';
import type { DecisionInput, TurnTelemetry } from '@baton/core';

const tracer = () => trace.getTracer('baton', '0.1.0');

function fail(span: Span, e: unknown): void {
  const err = e instanceof Error ? e : new Error(String(e));
  span.recordException(err);
  const code = (e as { code?: unknown }).code;
  span.setAttribute('error.type', typeof code === 'string' ? code : err.name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
}

/** A turn in flight: what the router learns while it runs is added to its span. */
export interface TurnTrace {
  /** The agent and version the turn runs on (known once the session is read, and after a move). */
  on(agent: string, version: string): void;
  /** The W3C trace context of the turn's span, for the worker (undefined when tracing is off). */
  carrier(): { traceparent?: string; tracestate?: string };
  /** The committed result and the worker's telemetry. */
  committed(r: { seq: number; status: string }, t: Partial<TurnTelemetry> | undefined): void;
}

/**
 * Run a turn under its span (the active span while `fn` runs, so a lazy migration nests under it).
 * The span's name follows the GenAI conventions, `invoke_agent {agent}`, once the agent is known.
 */
export function withTurnSpan<T>(
  sessionId: string,
  turnId: string,
  fn: (t: TurnTrace) => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(
    'invoke_agent',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        [ATTR_GEN_AI_OPERATION_NAME]: 'invoke_agent',
        [ATTR_GEN_AI_CONVERSATION_ID]: sessionId,
        'baton.session.id': sessionId,
        'baton.turn.id': turnId,
      },
    },
    async (span) => {
      const t: TurnTrace = {
        on(agent, version) {
          span.updateName(`invoke_agent ${agent}`);
          span.setAttributes({
            [ATTR_GEN_AI_AGENT_NAME]: agent,
            [ATTR_GEN_AI_AGENT_VERSION]: version,
            'baton.version': version,
          });
        },
        carrier() {
          if (!span.isRecording()) return {};
          const out: Record<string, string> = {};
          propagation.inject(trace.setSpan(ROOT_CONTEXT, span), out);
          return out;
        },
        committed(r, tel) {
          const attrs: Attributes = { 'baton.session.seq': r.seq, 'baton.session.status': r.status };
          if (typeof tel?.tokensIn === 'number') attrs[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = tel.tokensIn;
          if (typeof tel?.tokensOut === 'number') attrs[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = tel.tokensOut;
          span.setAttributes(attrs);
        },
      };
      try {
        return await fn(t);
      } catch (e) {
        fail(span, e);
        throw e;
      } finally {
        span.end();
      }
    },
  );
}

const EXPECTED_REFUSALS = new Set(['CONFLICT', 'SESSION_BUSY', 'SESSION_CLOSED']);

export interface MigrationTraceInput {
  sessionId: string;
  to: string;
  rolloutId?: string | null;
  dryRun?: boolean;
}

/**
 * Run one session's migration under a `baton.migrate` span: a child of the turn that moved it
 * (lazy) or a root of its own (eager batches, admin moves). `r` is the migration's result.
 */
export function withMigrationSpan<
  R extends {
    ok: boolean;
    code?: string;
    reason?: string;
    from?: string;
    fromSchema?: number;
    toSchema?: number;
  },
>(input: MigrationTraceInput, fn: () => Promise<R>): Promise<R> {
  const attributes: Attributes = {
    [ATTR_GEN_AI_CONVERSATION_ID]: input.sessionId,
    'baton.session.id': input.sessionId,
    'baton.migration.to': input.to,
    'baton.migration.dry_run': input.dryRun === true,
  };
  if (input.rolloutId) attributes['baton.rollout.id'] = input.rolloutId;
  return tracer().startActiveSpan('baton.migrate', { kind: SpanKind.INTERNAL, attributes }, async (span) => {
    try {
      const r = await fn();
      span.setAttribute('baton.migration.ok', r.ok);
      if (r.ok) {
        if (r.from !== undefined) span.setAttribute('baton.migration.from', r.from);
        if (r.fromSchema !== undefined) span.setAttribute('baton.migration.from_schema', r.fromSchema);
        if (r.toSchema !== undefined) span.setAttribute('baton.migration.to_schema', r.toSchema);
      } else {
        if (r.code) span.setAttribute('baton.migration.code', r.code);
        if (r.reason) span.setAttribute('baton.migration.reason', r.reason);
        // a refusal the caller expects (busy, already moved, closed) is not an error; a failure is
        if (!EXPECTED_REFUSALS.has(r.code ?? ''))
          span.setStatus({ code: SpanStatusCode.ERROR, message: r.reason ?? 'migration failed' });
      }
      return r;
    } catch (e) {
      fail(span, e);
      throw e;
    } finally {
      span.end();
    }
  });
}

/** One `rollout.decision` span per recorded decision (a point in time: it starts and ends at once). */
export function traceDecisions(
  rollout: { id: string; agent?: string; phase?: string; step?: number },
  decisions: readonly DecisionInput[],
): void {
  if (decisions.length === 0) return;
  const t = tracer();
  for (const d of decisions) {
    const attributes: Attributes = {
      'baton.rollout.id': rollout.id,
      'baton.rollout.decision': d.kind,
      'baton.rollout.decision.message': d.message,
    };
    if (rollout.agent) attributes[ATTR_GEN_AI_AGENT_NAME] = rollout.agent;
    if (rollout.phase) attributes['baton.rollout.phase'] = rollout.phase;
    if (rollout.step !== undefined) attributes['baton.rollout.step'] = rollout.step;
    const verdict = (d.evidence as { verdict?: unknown } | undefined)?.verdict;
    if (typeof verdict === 'string') attributes['baton.gate.verdict'] = verdict;
    // decisions are the controller's own: a root span each, not a child of whatever request is active
    t.startSpan('rollout.decision', { kind: SpanKind.INTERNAL, attributes }, ROOT_CONTEXT).end();
  }
}
