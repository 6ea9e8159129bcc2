/**
 * The rollout spec's shape (docs/rollouts.md), the body of `POST /v1/rollouts` and of the
 * forecast and pre-flight routes: every field with its default, durations (`10m`, `30s`, or
 * milliseconds) parsed into milliseconds. The server checks each gate further with the analysis's
 * own validation once the shape is right.
 */
import { z } from 'zod';
import type { GateTestName, PairedTestName } from '../../gates';

/** The paired tests a shadow gate may use. */
export const SHADOW_GATE_TESTS = [
  'wilcoxon',
  'sign',
  'mcnemar',
  'proportion',
] as const satisfies readonly PairedTestName[];

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

export const GATE_TESTS = [
  'threshold',
  'mann-whitney',
  'proportion',
  'chi-square',
  'msprt',
  'sprt',
] as const satisfies readonly GateTestName[];

const positive = z
  .number()
  .refine((n) => n > 0 && Number.isFinite(n), { message: 'must be a positive number' });

const fraction = z.number().refine((a) => a > 0 && a < 1, { message: 'must be between 0 and 1 (exclusive)' });

/** What every gate has, a rollout's and a shadow stage's, around its `test` (kept in this order). */
const gateHead = { name: z.string().min(1).optional(), metric: label };
const gateCommon = {
  tolerance: z.union([
    z.number(),
    z.string().regex(TOLERANCE, { message: 'must be a number, a relative change like +20%, or +2pp' }),
  ]),
  direction: z.enum(['higher-is-better', 'lower-is-better']).optional(),
  critical: z.boolean().optional(),
  minSamples: z.number().int().min(1).optional(),
  alpha: fraction.optional(),
};

const gateSchema = z.strictObject({
  ...gateHead,
  test: z.enum(GATE_TESTS, { error: `must be one of ${GATE_TESTS.join(', ')}` }),
  ...gateCommon,
  threshold: z.number().optional(),
  censoring: z.enum(['partial', 'completed'], { error: 'must be partial or completed' }).optional(),
  tau: positive.optional(),
  power: fraction.optional(),
  maxSamples: z.number().int().min(1, { message: 'must be >= 1' }).optional(),
});

const shadowGateSchema = z.strictObject({
  ...gateHead,
  test: z.enum(SHADOW_GATE_TESTS, { error: `must be one of ${SHADOW_GATE_TESTS.join(', ')}` }),
  ...gateCommon,
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
