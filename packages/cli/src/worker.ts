/** `baton worker`: serve one agent version over HTTP (SDK `serveWorker`) and register it with a server. */
import { BatonError } from '@baton/core';
import { httpLedgerClient, serveWorker } from '@baton/sdk';
import { loadAgent } from './agents';
import { BatonClient } from './client';
import { tokenFrom } from './config';

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
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new BatonError('VALIDATION', `--port: invalid port ${flags.port}`);
  const workerToken = await tokenFrom('worker', flags.workerToken);
  if (!workerToken)
    throw new BatonError(
      'UNAUTHORIZED',
      'a worker token is needed for the effects ledger (--worker-token or BATON_WORKER_TOKEN)',
    );
  const client = new BatonClient({ server: flags.server, token: await tokenFrom('admin', flags.token) });
  const ledger = httpLedgerClient(client.server, workerToken);
  const running = await serveWorker(agent, { port, host: flags.host, ledger, token: workerToken });
  const url = flags.url ?? running.url;
  let workerId: string | null = null;
  if (flags.register) {
    try {
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
      const done = (code: number) => () => resolve(code);
      const unregister = workerId
        ? client.request('DELETE', `/v1/workers/${encodeURIComponent(workerId)}`).catch(() => undefined)
        : Promise.resolve();
      void unregister.then(() => running.close()).then(done(0), done(1));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
