/**
 * The kinds of a rollout's decisions (the append-only log of why it did what it did), one union:
 * the state machine, the rollout API, compensation and shadow runs record them, and the CLI, the
 * dashboard, the verdict and the forecast views match on them.
 */
export const DECISION_KINDS = [
  // created by the API, with what it forecast and warned
  'created',
  'forecast',
  'preflight-warning',
  // pre-flight and shadow stage
  'preflight-skipped',
  'preflight-passed',
  'preflight-failed',
  'shadow-started',
  'shadow-passed',
  'shadow-failed',
  'shadow-nodata',
  'shadow-run',
  // steps and gates
  'step-started',
  'step-extended',
  'step-nodata',
  'gates-passed',
  'gates-failed',
  'gates-fail-deferred',
  'gates-inconclusive',
  // commands and outcomes
  'paused',
  'resumed',
  'promoted',
  'aborted',
  'reverse-unavailable',
  'superseded',
  // the drain
  'drain-started',
  'drain-waiting',
  'drain-deadline',
  'sessions-stuck',
  'drain-complete',
  'reverse-complete',
  // after an abort
  'abort-report',
  'compensation-plan',
  'compensations-ran',
] as const;

export type DecisionKind = (typeof DECISION_KINDS)[number];

const KNOWN: ReadonlySet<string> = new Set(DECISION_KINDS);

/** Whether `s` names a decision kind (a stored log read back, a filter in a query). */
export function isDecisionKind(s: string): s is DecisionKind {
  return KNOWN.has(s);
}
