import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MapLedger } from './ledger';

/**
 * The ledger side of the protocol (the Baton server's worker endpoints), served over a Map so
 * the SDK's HTTP client is exercised against real HTTP. The store-backed ledger is tested by the server.
 */
export async function ledgerServer(
  ledger: MapLedger,
  token: string,
): Promise<{ url: string; server: Server; hits: string[]; capabilities: Array<[string, string]> }> {
  const hits: string[] = [];
  /** (route, baton-capability header) of every call that presented one. */
  const capabilities: Array<[string, string]> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://x');
        hits.push(`${req.method} ${url.pathname}`);
        const cap = req.headers['baton-capability'];
        if (typeof cap === 'string') capabilities.push([`${req.method} ${url.pathname}`, cap]);
        const reply = (status: number, body?: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(body === undefined ? '' : JSON.stringify(body));
        };
        if (req.headers.authorization !== `Bearer ${token}`) {
          reply(401, { error: { code: 'UNAUTHORIZED', message: 'bad token' } });
          return;
        }
        const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
        try {
          switch (`${req.method} ${url.pathname}`) {
            case 'POST /v1/worker/effects/intent':
              return reply(200, await ledger.intent(body));
            case 'POST /v1/worker/effects/commit':
              return reply(200, { effect: await ledger.commit(body.idempotencyKey, body.result) });
            case 'POST /v1/worker/effects/fail':
              return reply(200, { effect: await ledger.fail(body.idempotencyKey, body.error) });
            case 'GET /v1/worker/steps':
              return reply(200, {
                steps: await ledger.steps(
                  url.searchParams.get('sessionId')!,
                  url.searchParams.get('turnId')!,
                ),
              });
            case 'GET /v1/worker/history': {
              if (typeof cap !== 'string')
                return reply(401, { error: { code: 'UNAUTHORIZED', message: 'no capability' } });
              const num = (k: string): number | undefined =>
                url.searchParams.has(k) ? Number(url.searchParams.get(k)) : undefined;
              const q = { before: num('before'), limit: num('limit') };
              return reply(
                200,
                await ledger.history(cap, url.searchParams.get('sessionId')!, {
                  ...(q.before === undefined ? {} : { before: q.before }),
                  ...(q.limit === undefined ? {} : { limit: q.limit }),
                }),
              );
            }
            case 'POST /v1/worker/steps':
              await ledger.putStep(body.sessionId, body.turnId, body.index, body.name, body.result);
              return reply(204);
            default:
              return reply(404, { error: { code: 'NOT_FOUND', message: 'no route' } });
          }
        } catch (e) {
          const code = (e as { code?: unknown }).code;
          if (code === 'VALIDATION') reply(400, { error: { code, message: String(e) } });
          else reply(500, { error: { code: 'INTERNAL', message: String(e) } });
        }
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, hits, capabilities };
}
