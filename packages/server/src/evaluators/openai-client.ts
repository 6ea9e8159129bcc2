/**
 * The `openai` client of a judge, built at its first call: the package is loaded only by a server
 * whose gates or shadow stages use an LLM judge, not by every router process.
 */
import type OpenAI from 'openai';

export interface OpenAiClientOptions {
  baseURL: string;
  apiKey?: string;
  timeoutMs?: number;
  maxRetries: number;
  /** A configured client (e.g. custom fetch): used as is. */
  client?: OpenAI;
}

/** The client to call: the injected one, else one built (once) when first asked for. */
export function lazyOpenAi(opts: OpenAiClientOptions): () => Promise<OpenAI> {
  if (opts.client) {
    const c = opts.client;
    return () => Promise.resolve(c);
  }
  let built: Promise<OpenAI> | undefined;
  return () =>
    (built ??= import('openai').then(
      ({ default: Client }) =>
        new Client({
          baseURL: opts.baseURL,
          apiKey: opts.apiKey ?? 'not-needed',
          timeout: opts.timeoutMs ?? 30_000,
          maxRetries: opts.maxRetries,
        }),
    ));
}
