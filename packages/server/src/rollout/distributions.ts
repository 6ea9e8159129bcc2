/**
 * The distributions behind each gate of a rollout: blue's and green's per-session values of the
 * gate's metric, over the same window and with the same cohort rules the gates were judged on
 * (`evaluateGates`), binned on shared edges so they can be drawn side by side.
 */
import type { GateSpec, SessionAggregate } from '@baton/core';
import { categoricalSamples, metricKind, metricSamples } from '../analysis';
import type { OpsContext } from './ops';
import { gateName } from './spec';

export interface Arm {
  n: number;
  /** Count per bin (numeric, proportion) or per category (categorical). */
  counts: number[];
}

export interface GateDistribution {
  name: string;
  metric: string;
  kind: 'numeric' | 'proportion' | 'categorical';
  /** Numeric: bins+1 ascending edges; proportion: ['no', 'yes']; categorical: the category names. */
  labels: Array<number | string>;
  blue: Arm;
  green: Arm;
}

export interface Distributions {
  window: { start: number; end: number };
  gates: GateDistribution[];
}

const MAX_BINS = 20;

function binned(values: number[], edges: number[]): number[] {
  const bins = edges.length - 1;
  const counts = new Array<number>(bins).fill(0);
  const lo = edges[0]!;
  const width = (edges[bins]! - lo) / bins;
  for (const v of values) {
    const i = width > 0 ? Math.min(bins - 1, Math.floor((v - lo) / width)) : 0;
    counts[i]! += 1;
  }
  return counts;
}

/** Shared equal-width edges over both arms (one bin when every value is the same). */
export function sharedEdges(a: number[], b: number[]): number[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of a.concat(b)) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!Number.isFinite(lo)) return [0, 1];
  if (lo === hi) return [lo, hi + 1];
  const n = a.length + b.length;
  const bins = Math.max(2, Math.min(MAX_BINS, Math.ceil(Math.sqrt(n))));
  const width = (hi - lo) / bins;
  return Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + i * width));
}

/** One gate's two distributions (pure). */
export function gateDistribution(
  spec: GateSpec,
  blue: readonly SessionAggregate[],
  green: readonly SessionAggregate[],
): GateDistribution {
  const name = gateName(spec);
  const kind = metricKind(spec.metric);
  const censoring = spec.censoring ?? 'partial';
  if (kind === 'categorical') {
    const b = categoricalSamples(spec.metric, blue, { censoring, weighting: 'sessions' });
    const g = categoricalSamples(spec.metric, green, { censoring, weighting: 'sessions' });
    const labels = [...new Set([...Object.keys(b.counts), ...Object.keys(g.counts)])].sort();
    return {
      name,
      metric: spec.metric,
      kind,
      labels,
      blue: { n: b.sessions, counts: labels.map((l) => b.counts[l] ?? 0) },
      green: { n: g.sessions, counts: labels.map((l) => g.counts[l] ?? 0) },
    };
  }
  const b = metricSamples(spec.metric, blue, { censoring }).values;
  const g = metricSamples(spec.metric, green, { censoring }).values;
  if (kind === 'proportion') {
    const yes = (v: number[]) => v.filter((x) => x > 0).length;
    return {
      name,
      metric: spec.metric,
      kind,
      labels: ['no', 'yes'],
      blue: { n: b.length, counts: [b.length - yes(b), yes(b)] },
      green: { n: g.length, counts: [g.length - yes(g), yes(g)] },
    };
  }
  const edges = sharedEdges(b, g);
  return {
    name,
    metric: spec.metric,
    kind,
    labels: edges,
    blue: { n: b.length, counts: binned(b, edges) },
    green: { n: g.length, counts: binned(g, edges) },
  };
}

/** Every gate's distributions over the window the gates were last judged on (or up to now). */
export async function rolloutDistributions(
  ctx: Pick<OpsContext, 'store'>,
  input: { agent: string; blue: string; green: string; gates: GateSpec[]; start: number; end: number },
): Promise<Distributions> {
  const q = { agent: input.agent, startedFrom: input.start, startedTo: input.end + 1 };
  const [blueAll, greenAll] = await Promise.all([
    ctx.store.listSessionAggregates({ ...q, version: input.blue }),
    ctx.store.listSessionAggregates({ ...q, version: input.green }),
  ]);
  // a session that moved belongs to neither cohort (as in evaluateGates)
  const blueIds = new Set(blueAll.map((a) => a.sessionId));
  const greenIds = new Set(greenAll.map((a) => a.sessionId));
  const blue = blueAll.filter((a) => !greenIds.has(a.sessionId));
  const green = greenAll.filter((a) => !blueIds.has(a.sessionId));
  return {
    window: { start: input.start, end: input.end },
    gates: input.gates.map((g) => gateDistribution(g, blue, green)),
  };
}
