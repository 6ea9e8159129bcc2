/**
 * Per-session samples for a gate metric. The session is the unit of analysis: each
 * `SessionAggregate` contributes at most one value.
 *
 * Censoring (sessions still open when the gate looks):
 * - `session.turns` is "turns per session at completion": only completed sessions count;
 *   every open session is censored and excluded.
 * - Every other metric uses, by default (`censoring: 'partial'`), the partial aggregate of
 *   open sessions that already ran at least one turn (or, for eval/custom metrics, that
 *   already have the metric); open sessions with nothing observed yet are excluded. Both
 *   are reported: `openIncluded` (partial values used) and `openExcluded`.
 *   With `censoring: 'completed'` every metric uses completed sessions only.
 * - `censored` = `openIncluded + openExcluded` (all open sessions seen).
 *
 * Cohorts are age-matched by the caller (blue sessions started in the same window as
 * green), so partial aggregates of both arms have comparable exposure.
 */
import { ValidationError, type SessionAggregate } from '@baton/core';

export type CensoringPolicy = 'partial' | 'completed';

export interface MetricSamples {
  values: number[];
  /** Open sessions (included with partial aggregates or excluded). */
  censored: number;
  openIncluded: number;
  openExcluded: number;
}

export interface CategoricalSamples {
  /** Total count per category over the sessions used. */
  counts: Record<string, number>;
  /** Sessions that contributed. */
  sessions: number;
  censored: number;
  openIncluded: number;
  openExcluded: number;
}

export type MetricKind = 'numeric' | 'proportion' | 'categorical';

/** Maps, not plain objects: a metric named `__proto__` or `toString` must not be found in them. */
const PROPORTION_SIGNALS = new Map<string, string>([
  ['session.thumbs_down', 'thumbs_down'],
  ['session.thumbs_up', 'thumbs_up'],
  ['session.escalation', 'escalation'],
  ['session.clarification', 'clarification'],
]);

type Extract = (a: SessionAggregate) => number | undefined;

const NUMERIC = new Map<string, Extract>([
  ['session.tool_calls', (a) => a.toolCalls],
  ['session.reasoning_steps', (a) => a.reasoningSteps],
  ['session.context_utilization', (a) => a.contextUtilizationMax],
  ['session.latency_ms', (a) => (a.turns > 0 ? a.latencyMsSum / a.turns : undefined)],
  ['session.latency_max_ms', (a) => (a.turns > 0 ? a.latencyMsMax : undefined)],
  ['session.tokens', (a) => a.tokensIn + a.tokensOut],
  ['session.tokens_in', (a) => a.tokensIn],
  ['session.tokens_out', (a) => a.tokensOut],
  ['session.turns', (a) => a.turns],
  ['session.errors', (a) => a.errors],
]);

/** Metrics that only completed sessions can report, whatever the censoring policy. */
const COMPLETED_ONLY = new Set(['session.turns']);

/** Names an aggregate's plain `metrics` object answers for by inheritance (`__proto__`, `toString`, ...): never metrics. */
const OBJECT_MEMBERS = new Set(Object.getOwnPropertyNames(Object.prototype));

/** Key in `SessionAggregate.metrics` that backs an `eval.*` or `metric.*` metric name. */
export function customMetricKey(metric: string): string | undefined {
  const key =
    metric.startsWith('eval.') && metric.length > 5
      ? metric
      : metric.startsWith('metric.') && metric.length > 7
        ? metric.slice(7)
        : undefined;
  return key === undefined || OBJECT_MEMBERS.has(key) ? undefined : key;
}

/** What kind of data a metric name yields; throws VALIDATION for an unknown name. */
export function metricKind(metric: string): MetricKind {
  if (metric === 'session.tool_mix') return 'categorical';
  if (PROPORTION_SIGNALS.has(metric)) return 'proportion';
  if (NUMERIC.has(metric) || customMetricKey(metric) !== undefined) return 'numeric';
  throw new ValidationError(`unknown gate metric '${metric}'`, { metric, known: knownMetrics() });
}

export function knownMetrics(): string[] {
  return [
    ...NUMERIC.keys(),
    ...PROPORTION_SIGNALS.keys(),
    'session.tool_mix',
    'eval.<name>',
    'metric.<name>',
  ];
}

function extractor(metric: string): Extract {
  const num = NUMERIC.get(metric);
  if (num) return num;
  const signal = PROPORTION_SIGNALS.get(metric);
  if (signal) return (a) => ((a.signals[signal] ?? 0) >= 1 ? 1 : 0);
  const key = customMetricKey(metric);
  if (key !== undefined) {
    return (a) => {
      const m = Object.hasOwn(a.metrics, key) ? a.metrics[key] : undefined;
      return m && m.count > 0 ? m.sum / m.count : undefined;
    };
  }
  throw new ValidationError(`unknown gate metric '${metric}'`, { metric, known: knownMetrics() });
}

/** Whether an open session has observed anything for this metric yet. */
function observedOpen(metric: string, a: SessionAggregate, value: number | undefined): boolean {
  if (value === undefined || !Number.isFinite(value)) return false;
  if (customMetricKey(metric) !== undefined) return true; // the metric exists for it
  if (PROPORTION_SIGNALS.has(metric)) return a.turns > 0 || Object.keys(a.signals).length > 0;
  return a.turns > 0;
}

/**
 * One value per session for a numeric or proportion metric (proportions yield 0/1:
 * 1 when the session had at least one such signal). Sessions without the metric
 * (e.g. no eval score yet) are excluded, never counted as zero.
 */
export function metricSamples(
  metric: string,
  aggs: readonly SessionAggregate[],
  opts: { censoring?: CensoringPolicy } = {},
): MetricSamples {
  const kind = metricKind(metric);
  if (kind === 'categorical') {
    throw new ValidationError(`metric '${metric}' is categorical; use categoricalSamples`, { metric });
  }
  const get = extractor(metric);
  const partial = (opts.censoring ?? 'partial') === 'partial' && !COMPLETED_ONLY.has(metric);
  const values: number[] = [];
  let openIncluded = 0;
  let openExcluded = 0;
  for (const a of aggs) {
    const v = get(a);
    if (a.completed) {
      if (v !== undefined && Number.isFinite(v)) values.push(v);
      continue;
    }
    if (partial && observedOpen(metric, a, v)) {
      values.push(v!);
      openIncluded++;
    } else {
      openExcluded++;
    }
  }
  return { values, censored: openIncluded + openExcluded, openIncluded, openExcluded };
}

/** Tool-call mix (`session.tool_mix`): counts of tool calls by tool name, summed over sessions. */
export function categoricalSamples(
  metric: string,
  aggs: readonly SessionAggregate[],
  opts: {
    censoring?: CensoringPolicy;
    /**
     * `calls` (default): raw call counts. `sessions`: each session with at least one call
     * contributes a total weight of 1, spread over its tools in proportion to its calls,
     * so the counts sum to the number of sessions (the unit of analysis).
     */
    weighting?: 'calls' | 'sessions';
  } = {},
): CategoricalSamples {
  const bySession = opts.weighting === 'sessions';
  if (metric !== 'session.tool_mix') {
    throw new ValidationError(`metric '${metric}' is not categorical`, { metric });
  }
  const partial = (opts.censoring ?? 'partial') === 'partial';
  const counts: Record<string, number> = {};
  let sessions = 0;
  let openIncluded = 0;
  let openExcluded = 0;
  for (const a of aggs) {
    if (!a.completed) {
      if (!partial || a.turns === 0) {
        openExcluded++;
        continue;
      }
      openIncluded++;
    }
    sessions++;
    let total = 0;
    for (const n of Object.values(a.toolMix)) if (n > 0) total += n;
    if (total === 0) continue;
    for (const [tool, n] of Object.entries(a.toolMix)) {
      if (n > 0) counts[tool] = (counts[tool] ?? 0) + (bySession ? n / total : n);
    }
  }
  return { counts, sessions, censored: openIncluded + openExcluded, openIncluded, openExcluded };
}
