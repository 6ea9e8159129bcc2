/** `baton worker`: serve one agent version over HTTP (SDK `serveWorker`) and register it with a server. */
import { BatonError } from '@baton/core';
import type { LedgerClient } from '@baton/core';
import type { AgentDefinition } from '@baton/sdk';
import { loadAgent } from './agents';
import { BatonClient } from './client';
import { adminTokenFrom } from './config';

interface RunningWorker {
  url: string;
  close(): Promise<void>;
}

type ServeWorker = (
  agent: AgentDefinition,
  o: { port: number; host?: string; ledger: LedgerClient },
) => Promise<RunningWorker>;
type HttpLedgerClient = (url: string, token: string) => LedgerClient;

export interface WorkerFlags {
  agent: string;
  export?: string;
  server: string;
  host: string;
  port: string;
  url?: string;
  token?: string;
  workerToken?: string;
  register: boolean;
  json?: boolean;
}

export async function runWorker(flags: WorkerFlags): Promise<number> {
  const agent = await loadAgent(flags.agent, flags.export);
  const sdk = (await import('@baton/sdk')) as Record<string, unknown>;
  if (typeof sdk.serveWorker !== 'function' || typeof sdk.httpLedgerClient !== 'function')
    throw new BatonError('INTERNAL', '@baton/sdk does not export serveWorker/httpLedgerClient');
  const serveWorker = sdk.serveWorker as ServeWorker;
  const httpLedgerClient = sdk.httpLedgerClient as HttpLedgerClient;
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new BatonError('VALIDATION', `--port: invalid port ${flags.port}`);
  const workerToken = flags.workerToken ?? process.env.BATON_WORKER_TOKEN ?? '';
  const client = new BatonClient({ server: flags.server, token: await adminTokenFrom(flags.token) });
  const ledger = httpLedgerClient(client.server, workerToken);
  const running = await serveWorker(agent, { port, host: flags.host, ledger });
  const url = flags.url ?? running.url;
  let workerId: string | null = null;
  if (flags.register) {
    try {
      await client.registerVersion(agent.manifest() as unknown as Record<string, unknown>);
      const w = await client.registerWorker({ url, manifest: agent.manifest() });
      workerId = w.id;
    } catch (e) {
      await running.close();
      throw e;
    }
  }
  if (flags.json)
    process.stdout.write(JSON.stringify({ url, workerId, agent: agent.name, version: agent.version }) + '\n');
  else
    process.stdout.write(
      `worker for ${agent.name}@${agent.version} listening on ${url}${workerId ? `, registered with ${client.server} as ${workerId}` : ''}\n`,
    );
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      running.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
