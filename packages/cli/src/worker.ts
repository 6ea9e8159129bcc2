/**
 * `baton worker`: serve one agent version over HTTP (SDK `serveWorker`) and register it with a
 * server. It holds only the worker token: it registers itself with it, and unregisters itself
 * with it and the key its registration returned (it can unregister no other worker).
 */
import { BatonError, type RegisterWorkerBody } from '@baton/core';
import { httpLedgerClient, serveWorker } from '@baton/sdk';
import { loadAgent } from './agents';
import { BatonClient } from './client';
import { DEFAULT_SERVER, tokenFrom } from './config';
import { startCliTracing } from './tracing';

/** The servers of `--server` (repeatable, comma-separated), in order, without duplicates. */
export function serverList(v: string | string[] | undefined): string[] {
  const all = (Array.isArray(v) ? v : v === undefined ? [] : [v])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  const list = [...new Set(all)];
  return list.length > 0 ? list : [DEFAULT_SERVER];
}

/**
 * Register with the first server that answers (an answer that refuses, e.g. VERSION_CONFLICT, is
 * final); returns that server's client and the record.
 */
async function registerWithFirst(
  clients: BatonClient[],
  body: RegisterWorkerBody,
): Promise<{ client: BatonClient; id: string; key: string | null }> {
  let last: unknown;
  for (const client of clients) {
    try {
      const w = (await client.registerWorker(body)) as { id: string; workerKey?: string };
      return { client, id: w.id, key: w.workerKey ?? null };
    } catch (e) {
      if (!(e instanceof BatonError && e.code === 'UNREACHABLE')) throw e;
      last = e;
    }
  }
  throw last;
}

export interface WorkerFlags {
  agent: string;
  export?: string;
  /** Server URLs: repeated flags and/or comma-separated lists (BATON_SERVER too). */
  server?: string | string[];
  host: string;
  port: string;
  url?: string;
  workerToken?: string;
  register: boolean;
  json?: boolean;
}

export async function runWorker(flags: WorkerFlags): Promise<number> {
  const agent = await loadAgent(flags.agent, flags.export);
  // registered before the first turn, so every turn runs in the router's trace context
  const tracing = await startCliTracing(`baton-worker ${agent.name}@${agent.version}`);
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new BatonError('VALIDATION', `--port: invalid port ${flags.port}`);
  const workerToken = await tokenFrom('worker', flags.workerToken);
  if (!workerToken)
    throw new BatonError(
      'UNAUTHORIZED',
      'a worker token is needed to register and for the effects ledger (--worker-token or BATON_WORKER_TOKEN)',
    );
  const clients = serverList(flags.server).map((server) => new BatonClient({ server, token: workerToken }));
  let client = clients[0]!;
  // the ledger fails over between the servers (a fleet shares one store, so any of them will do)
  const ledger = httpLedgerClient(
    clients.map((c) => c.server),
    workerToken,
  );
  const running = await serveWorker(agent, { port, host: flags.host, ledger, token: workerToken });
  const url = flags.url ?? running.url;
  let workerId: string | null = null;
  let workerKey: string | null = null;
  if (flags.register) {
    try {
      const r = await registerWithFirst(clients, { url, manifest: agent.manifest() });
      client = r.client;
      workerId = r.id;
      workerKey = r.key;
    } catch (e) {
      await running.close();
      throw e;
    }
  }
  if (flags.json)
    process.stdout.write(
      JSON.stringify({
        url,
        workerId,
        agent: agent.name,
        version: agent.version,
        registeredWith: workerId ? client.server : null,
        servers: clients.map((c) => c.server),
      }) + '\n',
    );
  else
    process.stdout.write(
      `worker for ${agent.name}@${agent.version} listening on ${url}${workerId ? `, registered with ${client.server} as ${workerId}` : ''}\n`,
    );
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      const done = (code: number) => () => resolve(code);
      const unregister = workerId
        ? unregisterAny([client, ...clients], workerId, workerKey)
        : Promise.resolve();
      void unregister
        .then(() => running.close())
        .finally(() => tracing.shutdown())
        .then(done(0), done(1));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

/** Unregister through the first server that answers, presenting the registration's key. */
async function unregisterAny(clients: BatonClient[], id: string, key: string | null): Promise<void> {
  for (const c of clients) {
    try {
      await c.request('DELETE', `/v1/workers/${encodeURIComponent(id)}`, {
        headers: key ? { 'baton-worker-key': key } : {},
      });
      return;
    } catch (e) {
      if (!(e instanceof BatonError && e.code === 'UNREACHABLE')) return;
    }
  }
}
