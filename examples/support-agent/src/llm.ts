/**
 * A real OpenAI-compatible model, used instead of the simulated one when `BATON_LLM_URL`
 * is set (`BATON_LLM_KEY` and `BATON_LLM_MODEL` optional).
 */
import OpenAI from 'openai';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ModelReply {
  text: string;
  tokensIn: number;
  tokensOut: number;
}

let client: OpenAI | null = null;
let clientUrl: string | null = null;

export function llmUrl(): string | null {
  const u = process.env.BATON_LLM_URL;
  return u && u.length > 0 ? u : null;
}

export async function chat(
  modelId: string,
  messages: ChatMessage[],
  signal?: AbortSignal,
): Promise<ModelReply> {
  const url = llmUrl();
  if (!url) throw new Error('BATON_LLM_URL is not set');
  if (!client || clientUrl !== url) {
    client = new OpenAI({ baseURL: url, apiKey: process.env.BATON_LLM_KEY ?? 'not-needed', maxRetries: 1 });
    clientUrl = url;
  }
  const res = await client.chat.completions.create(
    { model: process.env.BATON_LLM_MODEL ?? modelId, messages, temperature: 0 },
    signal ? { signal } : {},
  );
  return {
    text: res.choices[0]?.message?.content ?? '',
    tokensIn: res.usage?.prompt_tokens ?? 0,
    tokensOut: res.usage?.completion_tokens ?? 0,
  };
}
