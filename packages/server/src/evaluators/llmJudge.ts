/**
 * LLM-as-judge through an OpenAI-compatible chat completions endpoint (the `openai` client;
 * any server speaking that API works: OpenAI, vLLM, Ollama, llama.cpp, LiteLLM …).
 * The judge is asked for `{"score": <0..1>, "reason": "..."}`; the reply is parsed
 * robustly (plain JSON, JSON in a code fence or amid prose, or a bare `score: x` line).
 * Transport errors, HTTP errors, timeouts, empty or unparsable replies and out-of-range
 * scores become `{error}`: recorded as failures, never counted as scores.
 */
import type OpenAI from 'openai';
import { ValidationError } from '@baton/core';
import { lazyOpenAi } from './openai-client';
import { checkName, errorMessage, textOf, type EvalResult, type EvalTurn, type Evaluator } from './types';

export interface LlmJudgeOptions {
  name: string;
  /** e.g. `http://127.0.0.1:8000/v1`. */
  baseURL: string;
  apiKey?: string;
  model: string;
  /** What a good answer is, in the judge's words, e.g. "resolves the customer's issue". */
  rubric: string;
  timeoutMs?: number;
  /** Retries by the client on connection errors, 408/409/429/5xx (default 1). */
  maxRetries?: number;
  temperature?: number;
  /** Ask for `response_format: {type: 'json_object'}` (not every compatible server supports it). */
  jsonMode?: boolean;
  /** Inject a configured client (e.g. custom fetch); otherwise one is built from the options. */
  client?: OpenAI;
}

export const JUDGE_SYSTEM_PROMPT = [
  'You are a strict evaluator of an AI agent turn.',
  'Judge the AGENT OUTPUT against the RUBRIC, given the USER INPUT (and the REFERENCE ANSWER when present).',
  'Reply with a single JSON object and nothing else: {"score": <number between 0 and 1>, "reason": "<one sentence>"}.',
  '1 means the rubric is fully met, 0 means not at all.',
].join(' ');

export function judgePrompt(rubric: string, turn: EvalTurn): string {
  const parts = [
    `RUBRIC:\n${rubric}`,
    `USER INPUT:\n${textOf(turn.input)}`,
    `AGENT OUTPUT:\n${textOf(turn.output)}`,
  ];
  if (turn.expected !== undefined) parts.push(`REFERENCE ANSWER:\n${textOf(turn.expected)}`);
  return parts.join('\n\n');
}

/** Extract a score in [0, 1] from a judge's reply; returns an error string when it cannot. */
export function parseJudgeReply(content: string | null | undefined): { score: number } | { error: string } {
  if (content === null || content === undefined || content.trim() === '')
    return { error: 'empty judge reply' };
  const candidates: unknown[] = [];
  const text = content.trim();
  const fence = /```(?:json)?\s*([\s\S]*?)```/i.exec(text);
  for (const chunk of [text, fence?.[1], ...jsonObjects(text)]) {
    if (chunk === undefined) continue;
    try {
      candidates.push(JSON.parse(chunk));
    } catch {
      // not JSON; try the next form
    }
  }
  for (const c of candidates) {
    if (c && typeof c === 'object' && 'score' in c) return checkScore((c as { score: unknown }).score);
  }
  const m = /["']?score["']?\s*[:=]\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)/i.exec(text);
  if (m) return checkScore(Number(m[1]));
  return { error: `unparsable judge reply: ${text.slice(0, 120)}` };
}

function checkScore(v: unknown): { score: number } | { error: string } {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n))
    return { error: `judge score is not a number: ${JSON.stringify(v)}` };
  if (n < 0 || n > 1) return { error: `judge score ${n} outside [0, 1]` };
  return { score: n };
}

/** Balanced `{...}` substrings, outermost first (for JSON embedded in prose). */
function jsonObjects(text: string): string[] {
  const out: string[] = [];
  for (let start = text.indexOf('{'); start !== -1 && out.length < 5; start = text.indexOf('{', start + 1)) {
    let depth = 0;
    let inStr = false;
    for (let i = start; i < text.length; i++) {
      const ch = text[i];
      if (inStr) {
        if (ch === '\\') i++;
        else if (ch === '"') inStr = false;
      } else if (ch === '"') inStr = true;
      else if (ch === '{') depth++;
      else if (ch === '}' && --depth === 0) {
        out.push(text.slice(start, i + 1));
        break;
      }
    }
  }
  return out;
}

export function llmJudgeEvaluator(opts: LlmJudgeOptions): Evaluator {
  const name = checkName(opts.name);
  if (!opts.model) throw new ValidationError(`evaluator ${name}: model is required`, { name });
  if (!opts.rubric) throw new ValidationError(`evaluator ${name}: rubric is required`, { name });
  if (!opts.client && !/^https?:\/\//.test(opts.baseURL ?? '')) {
    throw new ValidationError(`evaluator ${name}: baseURL must be an http(s) URL`, {
      name,
      baseURL: opts.baseURL,
    });
  }
  const client = lazyOpenAi({ ...opts, maxRetries: opts.maxRetries ?? 1 });
  return {
    name,
    async evaluate(turn: EvalTurn): Promise<EvalResult> {
      try {
        const judge = await client();
        const res = await judge.chat.completions.create({
          model: opts.model,
          temperature: opts.temperature ?? 0,
          messages: [
            { role: 'system', content: JUDGE_SYSTEM_PROMPT },
            { role: 'user', content: judgePrompt(opts.rubric, turn) },
          ],
          ...(opts.jsonMode ? { response_format: { type: 'json_object' as const } } : {}),
        });
        const content = res?.choices?.[0]?.message?.content;
        return parseJudgeReply(content);
      } catch (e) {
        const status = (e as { status?: number }).status;
        return {
          error: status
            ? `judge HTTP ${status}: ${errorMessage(e)}`
            : `judge request failed: ${errorMessage(e)}`,
        };
      }
    },
  };
}
