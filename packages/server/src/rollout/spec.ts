/**
 * The rollout spec (docs/rollouts.md): parsed from JSON or YAML, validated with zod into a typed
 * `RolloutSpec` with every default filled in. Errors are `VALIDATION` with `details.path`
 * pointing at the offending field, e.g. `steps[1].fill: must be between 0 and 100`.
 */
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { BatonError, ValidationError } from '@baton/core';
import type { GateSpec, MigrationPolicy, NoDataRule } from '@baton/core';
import { prepareGate } from '../analysis/gate';
import { PAIRED_TESTS, prepareShadowGate } from '../analysis/paired';
import type { ShadowGateSpec } from '../analysis/paired';

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

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `10m`, `30s`, `1h`, `1.5h`, `250ms`, `2d`, or a number of milliseconds. */
export function parseDuration(v: string | number): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw new Error('must be a non-negative duration');
    return Math.round(v);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(v);
  if (!m) throw new Error(`"${v}" is not a duration (use e.g. 30s, 10m, 1h, 250ms)`);
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
}

export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

const percent = z
  .number({ error: 'must be a number between 0 and 100' })
  .refine((n) => n >= 0 && n <= 100, { message: 'must be between 0 and 100' });

const label = z
  .string({ error: 'must be a string' })
  .min(1, { message: 'must not be empty' })
  .max(200, { message: 'must be at most 200 characters' });

const TOLERANCE = /^[+-]?\d+(?:\.\d+)?(?:%|pp)?$/;

const GATE_TESTS = ['threshold', 'mann-whitney', 'proportion', 'chi-square', 'msprt', 'sprt'] as const;

const positive = z
  .number()
  .refine((n) => n > 0 && Number.isFinite(n), { message: 'must be a positive number' });

const gateSchema = z.strictObject({
  name: z.string().min(1).optional(),
  metric: label,
  test: z.enum(GATE_TESTS, { error: `must be one of ${GATE_TESTS.join(', ')}` }),
  tolerance: z.union([
    z.number(),
    z.string().regex(TOLERANCE, { message: 'must be a number, a relative change like +20%, or +2pp' }),
  ]),
  direction: z.enum(['higher-is-better', 'lower-is-better']).optional(),
  critical: z.boolean().optional(),
  minSamples: z.number().int().min(1).optional(),
  alpha: z
    .number()
    .refine((a) => a > 0 && a < 1, { message: 'must be between 0 and 1 (exclusive)' })
    .optional(),
  threshold: z.number().optional(),
  censoring: z.enum(['partial', 'completed'], { error: 'must be partial or completed' }).optional(),
  tau: positive.optional(),
  power: z
    .number()
    .refine((a) => a > 0 && a < 1, { message: 'must be between 0 and 1 (exclusive)' })
    .optional(),
  maxSamples: z.number().int().min(1, { message: 'must be >= 1' }).optional(),
});

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

const shadowGateSchema = z.strictObject({
  name: z.string().min(1).optional(),
  metric: label,
  test: z.enum(PAIRED_TESTS as [string, ...string[]], { error: `must be one of ${PAIRED_TESTS.join(', ')}` }),
  tolerance: z.union([
    z.number(),
    z.string().regex(TOLERANCE, { message: 'must be a number, a relative change like +20%, or +2pp' }),
  ]),
  direction: z.enum(['higher-is-better', 'lower-is-better']).optional(),
  critical: z.boolean().optional(),
  minSamples: z.number().int().min(1).optional(),
  alpha: z
    .number()
    .refine((a) => a > 0 && a < 1, { message: 'must be between 0 and 1 (exclusive)' })
    .optional(),
});

const judgeSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/, { message: 'must be a metric name like preference' })
    .default('preference'),
  baseURL: z.string().regex(/^https?:\/\/\S+$/, { message: 'must be an http(s) URL' }),
  model: label,
  rubric: z.string().min(1, { message: 'must not be empty' }).max(4000),
  timeout: duration.default(30_000),
});

export const shadowSchema = z.strictObject({
  sessions: z.number().int().min(1, { message: 'must be >= 1' }).max(10_000).default(200),
  turnsPerSession: z.number().int().min(1, { message: 'must be >= 1' }).max(100).default(3),
  sample: z.enum(['recent', 'stratified'], { error: 'must be recent or stratified' }).default('recent'),
  gates: z.array(shadowGateSchema).default([]),
  judge: judgeSchema.nullable().default(null),
  concurrency: z.number().int().min(1).max(64).default(4),
  onFail: z.enum(['abort', 'pause'], { error: 'must be abort or pause' }).nullable().default(null),
  onNoData: z
    .enum(['extend', 'pause', 'abort', 'pass'], { error: 'must be one of extend, pause, abort, pass' })
    .nullable()
    .default(null),
});

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

const verifySchema = z.strictObject({
  minSessions: z.number().int().min(0, { message: 'must be >= 0' }).default(20),
  maxDuration: duration.default(15 * 60_000),
  minDuration: duration.default(0),
  interval: duration.default(10_000),
});

const stepSchema = z.strictObject({
  fill: percent,
  migrate: percent.default(0),
  verify: verifySchema.nullable().default(null),
  shadow: z.boolean().default(false),
});

export const rolloutSpecSchema = z
  .strictObject({
    agent: label,
    from: label.nullable().default(null),
    to: label,
    migration: z
      .strictObject({
        policy: z
          .enum(['at-boundary', 'finish-on-origin', 'max-age'], {
            error: 'must be one of at-boundary, finish-on-origin, max-age',
          })
          .default('at-boundary'),
        eager: z.boolean().default(true),
        batch: z.number().int().min(1, { message: 'must be >= 1' }).max(10_000).default(200),
        maxAge: duration.nullable().default(null),
      })
      .default({ policy: 'at-boundary', eager: true, batch: 200, maxAge: null }),
    drain: z
      .strictObject({
        deadline: duration.default(10 * 60_000),
        onDeadline: z.enum(['wait', 'mark-stuck'], { error: 'must be wait or mark-stuck' }).default('wait'),
      })
      .default({ deadline: 10 * 60_000, onDeadline: 'wait' }),
    steps: z.array(stepSchema).min(1, { message: 'needs at least one step' }),
    gates: z.array(gateSchema).default([]),
    onFail: z.enum(['abort', 'pause'], { error: 'must be abort or pause' }).default('abort'),
    onAbort: z
      .strictObject({
        greenSessions: z.enum(['stay', 'reverse'], { error: 'must be stay or reverse' }).default('stay'),
        compensate: z.enum(['manual', 'auto'], { error: 'must be manual or auto' }).default('manual'),
        effects: z.array(z.string().min(1).max(200)).min(1).max(100).nullable().default(null),
      })
      .default({ greenSessions: 'stay', compensate: 'manual', effects: null }),
    onNoData: z
      .enum(['extend', 'pause', 'abort', 'pass'], { error: 'must be one of extend, pause, abort, pass' })
      .default('pause'),
    preflight: z
      .strictObject({
        enabled: z.boolean().default(true),
        sample: z.number().int().min(1, { message: 'must be >= 1' }).nullable().default(null),
      })
      .default({ enabled: true, sample: null }),
    shadow: shadowSchema.nullable().default(null),
  })
  .superRefine((s, ctx) => {
    if (s.from !== null && s.from === s.to)
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must differ from `from`' });
    if (s.migration.policy === 'max-age' && s.migration.maxAge === null)
      ctx.addIssue({
        code: 'custom',
        path: ['migration', 'maxAge'],
        message: 'is required when policy is max-age',
      });
    for (let i = 1; i < s.steps.length; i++) {
      const prev = s.steps[i - 1]!;
      const cur = s.steps[i]!;
      if (cur.fill < prev.fill)
        ctx.addIssue({
          code: 'custom',
          path: ['steps', i, 'fill'],
          message: `must not decrease (previous step has ${prev.fill})`,
        });
      if (cur.migrate < prev.migrate)
        ctx.addIssue({
          code: 'custom',
          path: ['steps', i, 'migrate'],
          message: `must not decrease (previous step has ${prev.migrate})`,
        });
    }
    s.steps.forEach((st, i) => {
      if (st.verify && st.verify.minDuration > st.verify.maxDuration)
        ctx.addIssue({
          code: 'custom',
          path: ['steps', i, 'verify', 'minDuration'],
          message: 'must not exceed maxDuration',
        });
    });
    if (s.onAbort.compensate === 'auto' && s.onAbort.greenSessions === 'stay' && s.onAbort.effects === null)
      ctx.addIssue({
        code: 'custom',
        path: ['onAbort', 'compensate'],
        message:
          'auto with greenSessions: stay needs onAbort.effects naming what to compensate (green keeps serving its sessions)',
      });
    s.steps.forEach((st, i) => {
      if (st.shadow && s.shadow === null)
        ctx.addIssue({
          code: 'custom',
          path: ['steps', i, 'shadow'],
          message: 'needs a top-level shadow stage to run',
        });
    });
    const shadowNames = new Set<string>();
    s.shadow?.gates.forEach((g, i) => {
      const n = g.name ?? g.metric;
      if (shadowNames.has(n))
        ctx.addIssue({
          code: 'custom',
          path: ['shadow', 'gates', i, g.name ? 'name' : 'metric'],
          message: `duplicate shadow gate name "${n}" (give one a distinct name)`,
        });
      shadowNames.add(n);
    });
    const names = new Set<string>();
    s.gates.forEach((g, i) => {
      const n = g.name ?? g.metric;
      if (names.has(n))
        ctx.addIssue({
          code: 'custom',
          path: ['gates', i, g.name ? 'name' : 'metric'],
          message: `duplicate gate name "${n}" (give one a distinct name)`,
        });
      names.add(n);
    });
  });

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
