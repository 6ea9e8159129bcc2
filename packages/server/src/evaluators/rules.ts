/** Rule-based evaluators: regular expressions, JSON Schema (ajv), length bounds. */
import { Ajv } from 'ajv';
import { ValidationError } from '@baton/core';
import { checkName, errorMessage, textOf, type EvalResult, type EvalTurn, type Evaluator } from './types';

/** Score 1 when the output matches `pattern` (or, with `mustMatch: false`, when it does not). */
export function regexEvaluator(opts: {
  name: string;
  pattern: string | RegExp;
  flags?: string;
  mustMatch?: boolean;
}): Evaluator {
  const name = checkName(opts.name);
  let re: RegExp;
  try {
    re =
      typeof opts.pattern === 'string'
        ? new RegExp(opts.pattern, opts.flags)
        : new RegExp(opts.pattern.source, opts.pattern.flags.replace('g', ''));
  } catch (e) {
    throw new ValidationError(`evaluator ${name}: invalid regular expression: ${errorMessage(e)}`, { name });
  }
  const mustMatch = opts.mustMatch ?? true;
  return {
    name,
    evaluate(turn: EvalTurn): Promise<EvalResult> {
      const hit = re.test(textOf(turn.output));
      return Promise.resolve({ score: hit === mustMatch ? 1 : 0 });
    },
  };
}

/**
 * Score 1 when the output validates against the JSON Schema, 0 when it does not (also when a
 * string output is not JSON at all). An invalid schema is rejected at construction.
 */
export function jsonSchemaEvaluator(opts: { name: string; schema: Record<string, unknown> }): Evaluator {
  const name = checkName(opts.name);
  const ajv = new Ajv({ allErrors: false, strict: false });
  let validate: ReturnType<Ajv['compile']>;
  try {
    validate = ajv.compile(opts.schema);
  } catch (e) {
    throw new ValidationError(`evaluator ${name}: invalid JSON Schema: ${errorMessage(e)}`, { name });
  }
  return {
    name,
    evaluate(turn: EvalTurn): Promise<EvalResult> {
      let value = turn.output;
      if (typeof value === 'string') {
        try {
          value = JSON.parse(value);
        } catch {
          return Promise.resolve({ score: 0 });
        }
      }
      return Promise.resolve({ score: validate(value) ? 1 : 0 });
    },
  };
}

/**
 * Score 1 when the output's length lies within [min, max] (characters or words), else
 * decaying linearly with the relative distance to the nearest bound (0 at twice the
 * bound's distance), so "a little too long" scores better than "far too long".
 */
export function lengthEvaluator(opts: {
  name: string;
  min?: number;
  max?: number;
  unit?: 'chars' | 'words';
  /** Hard pass/fail instead of the linear decay. */
  strict?: boolean;
}): Evaluator {
  const name = checkName(opts.name);
  const min = opts.min ?? 0;
  const max = opts.max ?? Infinity;
  if (!(min >= 0) || !(max >= min)) {
    throw new ValidationError(`evaluator ${name}: need 0 <= min <= max`, { name, min, max });
  }
  const unit = opts.unit ?? 'chars';
  return {
    name,
    evaluate(turn: EvalTurn): Promise<EvalResult> {
      const text = textOf(turn.output);
      const len = unit === 'words' ? (text.trim() ? text.trim().split(/\s+/).length : 0) : [...text].length;
      if (len >= min && len <= max) return Promise.resolve({ score: 1 });
      if (opts.strict) return Promise.resolve({ score: 0 });
      const dist = len < min ? (min - len) / Math.max(min, 1) : (len - max) / Math.max(max, 1);
      return Promise.resolve({ score: Math.max(0, 1 - dist) });
    },
  };
}
