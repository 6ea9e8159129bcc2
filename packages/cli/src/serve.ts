/** `baton serve`: router + controller + admin API in one process (`startBaton`). */
import { startCliTracing } from './tracing';
import { BatonError } from '@baton/core';
import type { RunningBaton } from '@baton/server';
import { ensureTokens, resolveServeConfig } from './config';
import type { ServeFlags, Tokens } from './config';
import { resolveEncryption } from './encryption';
import type { EncryptionFlags } from './encryption';

export type { RunningBaton };
import { loadAgent } from './agents';
import type { AgentDefinition } from '@baton/sdk';

/**
 * `baton.close` with a deadline; meanwhile connections that finished their last request are
 * closed as soon as they are idle, so keep-alive clients do not hold the shutdown until the deadline.
 */
export function closeGracefully(baton: RunningBaton, deadlineMs: number): Promise<void> {
  const http = baton.server.app.server;
  const idle = setInterval(() => http.closeIdleConnections(), 100);
  idle.unref();
  return baton.close({ deadlineMs }).finally(() => clearInterval(idle));
}

export function redactTarget(t: string): string {
  return t.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

export async function runServe(flags: ServeFlags & EncryptionFlags & { json?: boolean }): Promise<number> {
  const cfg = await resolveServeConfig(flags);
  const enc = await resolveEncryption(flags);
  for (const w of enc.warnings) process.stderr.write(`warning: ${w}\n`);
  const { tokens, lists, generated } = await ensureTokens(cfg);
  const agents: AgentDefinition[] = [];
  for (const a of cfg.agents) agents.push(await loadAgent(a));
  // the server package is loaded only once the configuration is known to be valid
  const { startBaton } = await import('@baton/server');
  const tracing = await startCliTracing('baton');
  let baton: RunningBaton;
  try {
    baton = await startBaton({
      store: cfg.store,
      storeOptions: {
        keepCheckpoints: cfg.keepCheckpoints,
        ...(cfg.storeSchema ? { schema: cfg.storeSchema } : {}),
        ...(enc.config ? { encryption: enc.config } : {}),
      },
      limits: {
        turnTimeoutMs: cfg.turnTimeoutMs,
        migrateTimeoutMs: cfg.turnTimeoutMs,
        requestTimeoutMs: cfg.requestTimeoutMs,
        ...(cfg.historyRetention ? { historyRetention: cfg.historyRetention } : {}),
      },
      port: cfg.port,
      host: cfg.host,
      // warnings too (a world-readable store file, a worker pool failure), as pino JSON lines on
      // stderr (stdout carries the ready line)
      logger: { level: 'warn', stream: process.stderr },
      tokens: lists,
      agents,
      ...(cfg.instanceId !== null ? { instanceId: cfg.instanceId } : {}),
      presence: {
        onLost: () => {
          process.stderr.write(
            `error INSTANCE_ID_IN_USE: another process took the presence lease of this instance id; stopping\n`,
          );
          process.kill(process.pid, 'SIGTERM');
        },
      },
      controller: {
        onLeadership: (e) => {
          const line =
            e.kind === 'acquired'
              ? `controller: this process (${e.instanceId}) holds the controller lock (leader)`
              : e.kind === 'lost'
                ? `controller: this process (${e.instanceId}) lost the controller lock (follower)`
                : `controller: this process (${e.instanceId}) released the controller lock`;
          if (flags.json)
            process.stderr.write(
              JSON.stringify({
                level: 'info',
                time: e.at,
                msg: line,
                leadership: e.kind,
                instanceId: e.instanceId,
              }) + '\n',
            );
          else process.stdout.write(`${line}\n`);
        },
      },
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new BatonError('CONFLICT', `port ${cfg.port} on ${cfg.host} is already in use`);
    if (e instanceof BatonError) throw e;
    throw new BatonError(
      'STORE_UNAVAILABLE',
      `cannot start on store ${redactTarget(cfg.store)}: ${(e as Error).message}`,
    );
  }
  const shown: Partial<Tokens> = {};
  for (const k of generated) shown[k] = tokens[k];
  if (flags.json) {
    process.stdout.write(
      JSON.stringify({
        url: baton.url,
        dashboard: baton.dashboardUrl,
        instanceId: baton.ctx.instanceId,
        store: redactTarget(cfg.store),
        tokensFile: cfg.tokensFile,
        generatedTokens: shown,
        encryption: enc.config ? { currentKeyId: enc.currentKeyId, keyIds: enc.keyIds } : null,
        agents: agents.map((a) => `${a.name}@${a.version}`),
      }) + '\n',
    );
  } else {
    process.stdout.write(
      `baton listening on ${baton.url}  (store ${redactTarget(cfg.store)}, instance ${baton.ctx.instanceId})\n`,
    );
    if (enc.config)
      process.stdout.write(
        `encryption at rest: new records under key ${enc.currentKeyId} (${enc.keyIds.length} key${enc.keyIds.length === 1 ? '' : 's'} from ${enc.source})\n`,
      );
    if (baton.dashboardUrl)
      process.stdout.write(`dashboard: ${baton.dashboardUrl}  (sign in with the admin token)\n`);
    if (agents.length > 0)
      process.stdout.write(`in-process agents: ${agents.map((a) => `${a.name}@${a.version}`).join(', ')}\n`);
    if (generated.length > 0) {
      process.stdout.write(`generated tokens (shown once; kept in ${cfg.tokensFile}):\n`);
      for (const k of generated) process.stdout.write(`  ${`BATON_${k.toUpperCase()}_TOKEN`}=${tokens[k]}\n`);
    }
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) {
        process.stderr.write(`${sig} again: exiting now\n`);
        process.exit(1);
      }
      stopping = true;
      if (!flags.json)
        process.stdout.write(`${sig}: draining in-flight turns (up to ${cfg.shutdownTimeoutMs} ms)…\n`);
      const closing = closeGracefully(baton, cfg.shutdownTimeoutMs).finally(() => tracing.shutdown());
      closing.then(
        () => {
          if (!flags.json) process.stdout.write('baton stopped\n');
          resolve(0);
        },
        (e: unknown) => {
          process.stderr.write(`error INTERNAL: shutdown: ${(e as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
