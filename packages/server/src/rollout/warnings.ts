/**
 * Warnings about a rollout spec that is valid but will not behave as its author likely expects,
 * found before any traffic moves (recorded as a `preflight-warning` decision, and returned by a
 * dry run): a step whose `minSessions` cannot give a gate its `minSamples`, so the gate stays
 * `nodata` until the step has more sessions, or until `maxDuration` applies `onNoData`.
 */
import { DEFAULT_MIN_SAMPLES } from '../analysis/gate';
import type { RolloutSpec } from './spec';

export interface SpecWarning {
  code: 'MIN_SAMPLES_UNREACHABLE';
  step: number;
  gate: string;
  minSessions: number;
  minSamples: number;
  message: string;
}

export function specWarnings(spec: RolloutSpec): SpecWarning[] {
  const out: SpecWarning[] = [];
  spec.steps.forEach((step, i) => {
    const verify = step.verify;
    if (!verify) return;
    for (const g of spec.gates) {
      const minSamples = g.minSamples ?? DEFAULT_MIN_SAMPLES;
      if (verify.minSessions >= minSamples) continue;
      out.push({
        code: 'MIN_SAMPLES_UNREACHABLE',
        step: i,
        gate: g.name ?? g.metric,
        minSessions: verify.minSessions,
        minSamples,
        message:
          `step ${i + 1}: minSessions ${verify.minSessions} is below gate ${g.name ?? g.metric}'s minSamples ${minSamples}: ` +
          `the gate stays nodata until the step has ${minSamples} green sessions, or until maxDuration ` +
          `applies onNoData=${spec.onNoData} (raise minSessions, or set the gate's minSamples)`,
      });
    }
  });
  return out;
}
