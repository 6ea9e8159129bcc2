/**
 * The pairwise LLM judge of a shadow stage: "which of two answers to the same input is better",
 * over an OpenAI-compatible chat completions endpoint (the `openai` client). Asked twice with the
 * answers' positions swapped, so a judge that favours the first (or second) position cancels out:
 * green's preference is the mean of its two verdicts, each +1 (green better), 0 (tie) or −1, so a
 * judge that always answers "A" yields 0. A failed or unparsable call yields an error, never a score.
 */
import type OpenAI from 'openai';
import { lazyOpenAi } from './openai-client';
import { errorMessage, textOf } from './types';

export interface PairwiseJudgeOptions {
  baseURL: string;
  apiKey?: string;
  model: string;
  rubric: string;
  timeoutMs?: number;
  client?: OpenAI;
}

export const PAIRWISE_SYSTEM_PROMPT = [
  'You compare two answers of an AI agent to the same user input.',
  'Decide which answer better meets the RUBRIC.',
  'Reply with a single JSON object and nothing else: {"winner": "A" | "B" | "tie", "reason": "<one sentence>"}.',
].join(' ');

export function pairwisePrompt(rubric: string, input: unknown, a: unknown, b: unknown): string {
  return [
    `RUBRIC:\n${rubric}`,
    `USER INPUT:\n${textOf(input)}`,
    `ANSWER A:\n${textOf(a)}`,
    `ANSWER B:\n${textOf(b)}`,
  ].join('\n\n');
}

/** `A`, `B` or `tie` from a judge's reply, or an error. */
export function parseWinner(
  content: string | null | undefined,
): { winner: 'A' | 'B' | 'tie' } | { error: string } {
  const text = (content ?? '').trim();
  if (text === '') return { error: 'empty judge reply' };
  const m =
    /["']?winner["']?\s*[:=]\s*["']?(A|B|tie)\b/i.exec(text) ?? /^\s*["']?(A|B|tie)["']?\s*$/i.exec(text);
  if (!m) return { error: `unparsable judge reply: ${text.slice(0, 120)}` };
  const w = m[1]!.toLowerCase();
  return { winner: w === 'a' ? 'A' : w === 'b' ? 'B' : 'tie' };
}

export interface PairwiseJudge {
  /** Green's preference over blue in [−1, 1], or why the judge could not tell. */
  compare(input: unknown, blue: unknown, green: unknown): Promise<{ preference: number } | { error: string }>;
}

export function pairwiseJudge(opts: PairwiseJudgeOptions): PairwiseJudge {
  const client = lazyOpenAi({ ...opts, maxRetries: 1 });
  const ask = async (input: unknown, a: unknown, b: unknown) => {
    try {
      const judge = await client();
      const res = await judge.chat.completions.create({
        model: opts.model,
        temperature: 0,
        messages: [
          { role: 'system', content: PAIRWISE_SYSTEM_PROMPT },
          { role: 'user', content: pairwisePrompt(opts.rubric, input, a, b) },
        ],
      });
      return parseWinner(res?.choices?.[0]?.message?.content);
    } catch (e) {
      const status = (e as { status?: number }).status;
      return {
        error: status
          ? `judge HTTP ${status}: ${errorMessage(e)}`
          : `judge request failed: ${errorMessage(e)}`,
      };
    }
  };
  return {
    async compare(input, blue, green) {
      const [first, second] = await Promise.all([ask(input, blue, green), ask(input, green, blue)]);
      if ('error' in first) return first;
      if ('error' in second) return second;
      const v1 = first.winner === 'B' ? 1 : first.winner === 'A' ? -1 : 0; // green is B
      const v2 = second.winner === 'A' ? 1 : second.winner === 'B' ? -1 : 0; // green is A
      return { preference: (v1 + v2) / 2 };
    },
  };
}
