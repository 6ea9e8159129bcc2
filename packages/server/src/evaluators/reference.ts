/** Reference-based evaluators: compare the output with the turn's expected answer. */
import { checkName, textOf, type EvalResult, type EvalTurn, type Evaluator } from './types';

/**
 * SQuAD-style normalization: lower case, strip punctuation and the articles a/an/the,
 * collapse whitespace (Rajpurkar et al. 2016, the official evaluation script).
 */
export function normalizeAnswer(s: string): string {
  return s
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, ' ')
    .replace(/\b(a|an|the)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export function tokens(s: string): string[] {
  const n = normalizeAnswer(s);
  return n ? n.split(' ') : [];
}

/** Token-level F1 between a prediction and a reference (multiset overlap), as in SQuAD. */
export function tokenF1(prediction: string, reference: string): number {
  const p = tokens(prediction);
  const r = tokens(reference);
  if (p.length === 0 && r.length === 0) return 1;
  if (p.length === 0 || r.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const t of r) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of p) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      common++;
      counts.set(t, c - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / p.length;
  const recall = common / r.length;
  return (2 * precision * recall) / (precision + recall);
}

/** Expected answers may be one string or several acceptable ones; the best match counts. */
function references(expected: unknown): string[] | undefined {
  if (expected === undefined || expected === null) return undefined;
  if (Array.isArray(expected)) return expected.map(textOf);
  return [textOf(expected)];
}

/**
 * `mode: 'exact'` scores 1 when the normalized output equals a normalized reference
 * (`normalize: false` compares the raw strings); `mode: 'f1'` scores the best token F1.
 * Turns without an expected answer are skipped.
 */
export function referenceEvaluator(opts: {
  name: string;
  mode?: 'exact' | 'f1';
  normalize?: boolean;
}): Evaluator {
  const name = checkName(opts.name);
  const mode = opts.mode ?? 'exact';
  const normalize = opts.normalize ?? true;
  return {
    name,
    evaluate(turn: EvalTurn): Promise<EvalResult> {
      const refs = references(turn.expected);
      if (!refs || refs.length === 0) return Promise.resolve({ skip: 'no expected answer' });
      const out = textOf(turn.output);
      let best = 0;
      for (const ref of refs) {
        const s =
          mode === 'f1'
            ? tokenF1(out, ref)
            : (normalize ? normalizeAnswer(out) === normalizeAnswer(ref) : out === ref)
              ? 1
              : 0;
        if (s > best) best = s;
      }
      return Promise.resolve({ score: best });
    },
  };
}
