/** The evaluator contract: one completed turn in, a score in [0, 1] or an error out. */
import { ValidationError } from '@baton/core';

export interface EvalTurn {
  sessionId: string;
  /** Label of the version that produced the turn. */
  version: string;
  turnId: string;
  input: unknown;
  output: unknown;
  /** Reference answer, when the turn has one (golden sets, replays). */
  expected?: unknown;
  metadata?: Record<string, unknown>;
}

/**
 * `score`: the evaluation, in [0, 1] (higher is better). `error`: the evaluator could not
 * judge (provider down, unparsable verdict) — recorded as a failure, never as a score.
 * `skip`: the evaluator does not apply to this turn (e.g. no reference answer).
 */
export type EvalResult = { score: number } | { error: string } | { skip: string };

export interface Evaluator {
  /** Stable name; scores are recorded as the session metric `eval.<name>`. */
  readonly name: string;
  evaluate(turn: EvalTurn): Promise<EvalResult>;
}

/** Text of a turn's input/output: strings as they are, `{text}`/`{content}` fields, else JSON. */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    for (const k of ['text', 'content', 'answer', 'message']) if (typeof o[k] === 'string') return o[k];
  }
  return value === undefined ? '' : JSON.stringify(value);
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export function checkName(name: string): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new ValidationError(`evaluator name must match ${NAME_RE}, got '${String(name)}'`, { name });
  }
  return name;
}
