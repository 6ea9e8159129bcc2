/**
 * The rollout spec (docs/rollouts.md): parsed from JSON or YAML, validated with its zod schema
 * (core's `rolloutSpecSchema`, the API's contract) into a typed `RolloutSpec` with every default
 * filled in, then each gate through the analysis's own checks. Errors are `VALIDATION` with
 * `details.path` pointing at the offending field, e.g. `steps[1].fill: must be between 0 and 100`.
 */
import { parse as parseYaml } from 'yaml';
import { BatonError, ValidationError, rolloutSpecSchema, shadowSchema } from '@baton/core';
import type { GateSpec, MigrationPolicy, NoDataRule } from '@baton/core';
import { prepareGate } from '../analysis/gate';
import { prepareShadowGate } from '../analysis/paired';
import type { ShadowGateSpec } from '../analysis/paired';

export { formatDuration, parseDuration, rolloutSpecSchema, shadowSchema } from '@baton/core';

export type DrainDeadlinePolicy = 'wait' | 'mark-stuck';

export interface StepVerify {
  /** Green sessions (started since the rollout began moving traffic) needed before gates are judged. */
  minSessions: number;
  /** ms: after this, too little data or an inconclusive verdict applies `onNoData`. */
  maxDuration: number;
  /** ms: the step lasts at least this long even when gates pass earlier. */
  minDuration: number;
  /** ms between two gate evaluations of the same step. */
  interval: number;
}

export interface RolloutStep {
  /** % of new sessions routed to green (0..100). */
  fill: number;
  /** % of in-flight blue sessions moved to green at their boundary (0..100). */
  migrate: number;
  verify: StepVerify | null;
  /** Run the rollout's shadow stage again before this step (needs a top-level `shadow`). */
  shadow: boolean;
}

/** The pairwise LLM judge of a shadow stage: "which answer is better", asked in both orders. */
export interface ShadowJudgeSpec {
  /** Metric name: scores are recorded as `judge.<name>` (default `preference`). */
  name: string;
  /** An OpenAI-compatible endpoint, e.g. `http://127.0.0.1:8000/v1` (the key comes from BATON_JUDGE_API_KEY). */
  baseURL: string;
  model: string;
  /** What a better answer is, in the judge's words. */
  rubric: string;
  timeout: number;
}

/**
 * The shadow stage (docs/rollouts.md): recorded blue turns replayed on green with no side effect,
 * before any traffic moves (and again before steps with `shadow: true`).
 */
export interface ShadowStageSpec {
  /** Blue sessions to sample. */
  sessions: number;
  /** Recorded turns replayed per session (the newest ones whose state before is still kept). */
  turnsPerSession: number;
  /** `recent`: the most recently active sessions; `stratified`: by session length and turn ending. */
  sample: 'recent' | 'stratified';
  gates: ShadowGateSpec[];
  judge: ShadowJudgeSpec | null;
  /** Shadow turns in flight at once. */
  concurrency: number;
  /** A failing gate: abort or pause (default: the rollout's `onFail`). */
  onFail: 'abort' | 'pause' | null;
  /** No verdict (too few recorded turns, inconclusive): default the rollout's `onNoData` (extend counts as pause). */
  onNoData: NoDataRule | null;
}

export interface RolloutSpec {
  agent: string;
  /** The baseline version; defaults to the agent's current stable route. */
  from: string | null;
  to: string;
  migration: {
    policy: MigrationPolicy;
    eager: boolean;
    batch: number;
    /** ms, for `max-age`: sessions older than this finish on blue. */
    maxAge: number | null;
  };
  drain: { deadline: number; onDeadline: DrainDeadlinePolicy };
  steps: RolloutStep[];
  gates: GateSpec[];
  onFail: 'abort' | 'pause';
  /**
   * After an abort: green's sessions stay or move back; `compensate: auto` runs the compensations
   * of green's committed effects of sessions that ended or moved back to blue (only the effect
   * names in `effects`, when given; required with `greenSessions: stay`, since green keeps serving
   * those conversations). `manual` (default): an operator runs them.
   */
  onAbort: { greenSessions: 'stay' | 'reverse'; compensate: 'manual' | 'auto'; effects: string[] | null };
  onNoData: NoDataRule;
  preflight: { enabled: boolean; sample: number | null };
  shadow: ShadowStageSpec | null;
}

/**
 * The gate field an analysis VALIDATION error is about, from the keys of its details (most
 * specific first: a direction that contradicts the tolerance is the direction's fault).
 */
const GATE_FIELDS = [
  'maxSamples',
  'power',
  'tau',
  'censoring',
  'threshold',
  'alpha',
  'minSamples',
  'direction',
  'tolerance',
  'test',
  'metric',
] as const;

function gateField(details: Record<string, unknown> | undefined): string | undefined {
  return GATE_FIELDS.find((f) => details !== undefined && Object.hasOwn(details, f));
}

/**
 * Each gate through the analysis's own validation (`prepareGate`): unknown metrics, a test that
 * does not fit the metric, tolerances the judge cannot read, an unsigned tolerance without a
 * direction, … are refused when the rollout is created rather than showing up as an
 * `inconclusive` verdict at every look.
 */
function checkGates(spec: RolloutSpec): void {
  spec.gates.forEach((g, i) => {
    try {
      prepareGate(g);
    } catch (e) {
      if (!(e instanceof BatonError) || e.code !== 'VALIDATION') throw e;
      const field = gateField(e.details);
      const path = field ? `gates[${i}].${field}` : `gates[${i}]`;
      throw new ValidationError(`${path}: ${e.message}`, {
        path,
        issues: [{ path, message: e.message }],
        ...(e.details ? { analysis: e.details } : {}),
      });
    }
  });
}

/** Each shadow gate through the paired analysis's own validation (as `checkGates`). */
function checkShadowGates(spec: Pick<RolloutSpec, 'shadow'>): void {
  spec.shadow?.gates.forEach((g, i) => {
    try {
      prepareShadowGate(g);
    } catch (e) {
      if (!(e instanceof BatonError) || e.code !== 'VALIDATION') throw e;
      const field = gateField(e.details);
      const path = field ? `shadow.gates[${i}].${field}` : `shadow.gates[${i}]`;
      throw new ValidationError(`${path}: ${e.message}`, { path, issues: [{ path, message: e.message }] });
    }
  });
}

/**
 * A shadow stage given on its own (`POST /v1/rollouts/{id}/shadow`): its fields over `base` (the
 * rollout's own shadow stage, or the defaults), validated as in a spec (`shadow.…` paths).
 */
export function parseShadowStage(input: unknown, base: ShadowStageSpec | null): ShadowStageSpec {
  const given = input === undefined || input === null ? {} : input;
  if (typeof given !== 'object' || Array.isArray(given))
    throw new ValidationError('shadow: must be an object', { path: 'shadow' });
  const r = shadowSchema.safeParse({ ...(base ?? {}), ...(given as Record<string, unknown>) });
  if (!r.success) {
    const i = r.error.issues[0]!;
    const path = formatPath(['shadow', ...i.path]);
    const message = i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : i.message;
    throw new ValidationError(`${path}: ${message}`, { path, issues: [{ path, message }] });
  }
  const stage = r.data as ShadowStageSpec;
  checkShadowGates({ shadow: stage });
  return stage;
}

/** `steps[1].fill` from a zod path. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/**
 * Validate an already-parsed object. Throws `VALIDATION` naming the first offending field.
 * `stored: true` (a spec read back from the store) checks the schema only, so a rollout stored
 * before the analysis refused some gate still loads (such a gate evaluates as `inconclusive`).
 */
export function validateSpec(input: unknown, opts: { stored?: boolean } = {}): RolloutSpec {
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new ValidationError('rollout spec: must be an object', { path: '' });
  const r = rolloutSpecSchema.safeParse(input);
  if (r.success) {
    const spec = r.data as RolloutSpec;
    if (!opts.stored) {
      checkGates(spec);
      checkShadowGates(spec);
    }
    return spec;
  }
  const issues = r.error.issues.map((i) => {
    const path = formatPath(i.path);
    let message = i.message;
    if (i.code === 'unrecognized_keys') message = `unknown field(s): ${i.keys.join(', ')}`;
    else if (i.code === 'invalid_type' && valueAt(input, i.path) === undefined) message = 'is required';
    return { path, message };
  });
  const first = issues[0]!;
  const where = first.path === '' ? 'rollout spec' : first.path;
  throw new ValidationError(`${where}: ${first.message}`, { path: first.path, issues });
}

/** Parse a spec from JSON or YAML text (YAML is a superset of JSON), or validate an object. */
export function parseSpec(input: string | unknown): RolloutSpec {
  if (typeof input !== 'string') return validateSpec(input);
  let doc: unknown;
  try {
    doc = parseYaml(input, { prettyErrors: true });
  } catch (e) {
    throw new ValidationError(`rollout spec: not valid JSON or YAML: ${(e as Error).message}`, { path: '' });
  }
  return validateSpec(doc);
}

/** Name of a gate as it appears in decisions. */
export function gateName(g: GateSpec): string {
  return g.name ?? g.metric;
}
