/**
 * PostgreSQL: what both ways of writing a session aggregate share (the statements built in
 * postgres.ts, the group commit's constant statement in pg-batch.ts): its columns, a delta's values
 * in their order, and the upsert, whose JSON maps (tool mix, metrics, signals) merge in SQL
 * (`baton_merge_counts`, `baton_merge_metrics`, created by the schema).
 */
import type { AggregateDelta } from './common';

export const AGGREGATE_COLUMNS = `session_id, version, agent, session_started_at, first_at, last_at,
      turns, errors, tool_calls, tool_mix, reasoning_steps, tokens_in, tokens_out, latency_ms_sum, latency_ms_max,
      context_utilization_max, metrics, signals, completed`;

/** The SQL types of `aggregateDeltaValues`, in its order. */
export const AGGREGATE_DELTA_TYPES = [
  'int',
  'int',
  'bigint',
  'text',
  'bigint',
  'bigint',
  'bigint',
  'float8',
  'float8',
  'float8',
  'text',
  'text',
] as const;

/** A delta's values for the aggregate columns turns through signals (`AGGREGATE_COLUMNS`). */
export function aggregateDeltaValues(d: AggregateDelta): unknown[] {
  return [
    d.turns,
    d.errors,
    d.toolCalls,
    JSON.stringify(d.toolMix),
    d.reasoningSteps,
    d.tokensIn,
    d.tokensOut,
    d.latencyMs,
    d.latencyMs,
    d.contextUtilization,
    JSON.stringify(d.metrics),
    JSON.stringify(d.signals),
  ];
}

/** The merge of a delta row (`excluded`) into the stored aggregate (`a`). */
export const AGGREGATE_ON_CONFLICT = `ON CONFLICT (session_id, version) DO UPDATE SET
      first_at = least(a.first_at, excluded.first_at), last_at = greatest(a.last_at, excluded.last_at),
      turns = a.turns + excluded.turns, errors = a.errors + excluded.errors,
      tool_calls = a.tool_calls + excluded.tool_calls, tool_mix = baton_merge_counts(a.tool_mix, excluded.tool_mix),
      reasoning_steps = a.reasoning_steps + excluded.reasoning_steps, tokens_in = a.tokens_in + excluded.tokens_in,
      tokens_out = a.tokens_out + excluded.tokens_out, latency_ms_sum = a.latency_ms_sum + excluded.latency_ms_sum,
      latency_ms_max = greatest(a.latency_ms_max, excluded.latency_ms_max),
      context_utilization_max = greatest(a.context_utilization_max, excluded.context_utilization_max),
      metrics = baton_merge_metrics(a.metrics, excluded.metrics), signals = baton_merge_counts(a.signals, excluded.signals)`;
