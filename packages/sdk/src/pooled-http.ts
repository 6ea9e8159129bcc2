/**
 * HTTP requests of the ledger client over keep-alive undici pools, one per server: a worker's
 * calls to the router (effects, steps, graph checkpoints) reuse their connections instead of
 * going through `fetch` and its per-request machinery.
 */
import { Pool } from 'undici';

/** What the ledger client reads of an answer: its status and its body as text. */
export interface PooledAnswer {
  status: number;
  ok: boolean;
  text(): Promise<string>;
}

export interface PooledRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** `request(url, init)` for the origins it is asked about, each on its own pool. */
export function pooledRequester(connections = 16) {
  const pools = new Map<string, Pool>();
  const poolOf = (origin: string): Pool => {
    let p = pools.get(origin);
    if (!p) {
      p = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
      pools.set(origin, p);
    }
    return p;
  };
  return async (url: string, init: PooledRequest): Promise<PooledAnswer> => {
    const u = new URL(url);
    const res = await poolOf(u.origin).request({
      path: `${u.pathname}${u.search}`,
      method: init.method,
      headers: init.headers,
      ...(init.body === undefined ? {} : { body: init.body }),
      ...(init.signal ? { signal: init.signal } : {}),
    });
    const text = res.body.text();
    // the body is read at once, so the connection goes back to the pool whatever the caller does
    text.catch(() => undefined);
    return { status: res.statusCode, ok: res.statusCode >= 200 && res.statusCode < 300, text: () => text };
  };
}
