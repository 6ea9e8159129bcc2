/**
 * A local HTTP server on 127.0.0.1 speaking the OpenAI chat completions API
 * (`POST /v1/chat/completions`), whose reply is chosen per request by `respond`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatRequest {
  model: string;
  messages: Array<{ role: string; content: string }>;
  temperature?: number;
  response_format?: unknown;
}

export type FakeReply =
  { content: string | null } | { status: number; body?: string } | { raw: string } | { hangMs: number };

export interface FakeServer {
  baseURL: string;
  requests: ChatRequest[];
  close(): Promise<void>;
}

export async function startFakeOpenAI(
  respond: (req: ChatRequest, n: number) => FakeReply,
): Promise<FakeServer> {
  const requests: ChatRequest[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }));
        return;
      }
      const parsed = JSON.parse(body) as ChatRequest;
      requests.push(parsed);
      const r = respond(parsed, requests.length);
      if ('hangMs' in r) {
        setTimeout(() => res.destroy(), r.hangMs);
        return;
      }
      if ('status' in r) {
        res.writeHead(r.status, { 'content-type': 'application/json' });
        res.end(r.body ?? JSON.stringify({ error: { message: 'upstream failure', type: 'server_error' } }));
        return;
      }
      if ('raw' in r) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(r.raw);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: `chatcmpl-${requests.length}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: parsed.model,
          choices: [{ index: 0, message: { role: 'assistant', content: r.content }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
