/** `baton status`: this server's instance id and role, and which process holds the controller lock. */
import type { Command } from 'commander';
import type { ControllerStatus } from '../client';
import { fmtTime, printJson } from '../output';
import { action, adminOptions, clientFrom } from '../program';
import type { AdminOptions } from '../program';

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

export function formatStatus(s: ControllerStatus, server: string, now = Date.now()): string {
  const lines = [`server      ${server}`, `instance    ${s.instanceId} (${s.role})`];
  const l = s.leader;
  if (l === null) lines.push('leader      none (no process holds a live controller lock)');
  else {
    lines.push(`leader      ${l.instanceId}${l.self ? ' (this process)' : ''}`);
    lines.push(`  since     ${fmtTime(l.since)} (${seconds(now - l.since)} ago)`);
    lines.push(
      `  lease     expires ${fmtTime(l.leaseExpiresAt)} (in ${seconds(Math.max(0, l.leaseExpiresAt - now))})`,
    );
    lines.push(`  at        ${l.url ?? '(no URL)'}  pid ${l.pid}${l.host ? ` on ${l.host}` : ''}`);
  }
  if (s.lock)
    lines.push(`lock        ttl ${seconds(s.lock.ttlMs)}, renewed every ${seconds(s.lock.renewMs)}`);
  return lines.join('\n') + '\n';
}

export function registerStatus(program: Command): void {
  adminOptions(program.command('status'))
    .description("show this server's instance id and role, and which process leads the controller")
    .addHelpText(
      'after',
      '\nExamples:\n  $ baton status\n  $ baton status --server http://10.0.0.2:7070 --json',
    )
    .action(
      action(async (opts: AdminOptions) => {
        const client = await clientFrom(opts);
        const s = await client.getController();
        if (opts.json) return printJson({ server: client.server, ...s });
        process.stdout.write(formatStatus(s, client.server));
      }),
    );
}
