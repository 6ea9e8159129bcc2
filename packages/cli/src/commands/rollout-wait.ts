/**
 * `baton rollout wait <id> [--until promoted|drained|done] [--timeout]`: block a pipeline until a
 * rollout reaches a point, with an exit code per outcome (docs/cli.md#exit-codes).
 */
import type { Command } from 'commander';
import type { BatonClient, RolloutStatus } from '../client';
import { parseDurationMs } from '../config';
import { CliError, ExitCode } from '../exit';
import { printJson } from '../output';
import { action, adminOptions, clientFrom, usage } from '../program';
import type { AdminOptions } from '../program';
import { summaryLine } from '../view';

export const WAIT_TARGETS = ['promoted', 'drained', 'done'] as const;
export type WaitTarget = (typeof WAIT_TARGETS)[number];

/** Whether the wait is over, and with which exit code; null: keep waiting. */
export function waitOutcome(s: RolloutStatus, until: WaitTarget): number | null {
  const done = s.stage === 'done';
  if (until === 'done') {
    if (!done) return null;
    return s.phase === 'promoted' ? ExitCode.OK : s.phase === 'aborted' ? ExitCode.ABORTED : ExitCode.FAILED;
  }
  if (s.phase === 'aborted') return ExitCode.ABORTED;
  if (s.phase === 'failed') return ExitCode.FAILED;
  if (s.phase !== 'promoted') return null;
  if (until === 'promoted') return ExitCode.OK;
  // drained: the drain-complete decision (the drain's completedAt), or a rollout already done
  const completedAt = (s.drain as { completedAt?: number | null } | null | undefined)?.completedAt;
  return completedAt !== null && completedAt !== undefined ? ExitCode.OK : done ? ExitCode.OK : null;
}

export interface WaitOptions {
  until: WaitTarget;
  intervalMs: number;
  timeoutMs: number | null;
  /** Print a line whenever the summary changes (not with --json). */
  quiet: boolean;
}

/** Poll until the target is reached (or the rollout ended otherwise); TIMEOUT (exit 13) after timeoutMs. */
export async function waitRollout(
  client: BatonClient,
  id: string,
  o: WaitOptions,
): Promise<{ status: RolloutStatus; code: number }> {
  const started = Date.now();
  let last = '';
  for (;;) {
    const s = await client.getRollout(id);
    if (!o.quiet) {
      const line = summaryLine(s);
      if (line !== last) process.stdout.write(`${new Date().toISOString()} ${line}\n`);
      last = line;
    }
    const code = waitOutcome(s, o.until);
    if (code !== null) return { status: s, code };
    if (o.timeoutMs !== null && Date.now() - started >= o.timeoutMs)
      throw new CliError(
        'TIMEOUT',
        `rollout ${id} not ${o.until} after ${o.timeoutMs} ms (phase ${s.phase}, step ${s.step})`,
        ExitCode.TIMEOUT,
      );
    const left = o.timeoutMs === null ? o.intervalMs : o.timeoutMs - (Date.now() - started);
    await new Promise((r) => setTimeout(r, Math.max(1, Math.min(o.intervalMs, left))));
  }
}

type WaitFlags = AdminOptions & { until?: string; interval?: string; timeout?: string };

export function registerRolloutWait(rollout: Command): void {
  adminOptions(rollout.command('wait'))
    .description('wait until a rollout is promoted, drained or done; the exit code says how it went')
    .argument('<id>', 'rollout id')
    .option('--until <point>', 'promoted | drained (the drain-complete decision) | done', 'promoted')
    .option('--interval <duration>', 'poll interval', '2s')
    .option('--timeout <duration>', `give up after this long (exit ${ExitCode.TIMEOUT})`)
    .addHelpText(
      'after',
      `
Exit code: 0 the point is reached, 10 the rollout aborted, 11 it failed, ${ExitCode.TIMEOUT} the
timeout passed first (the rollout goes on; nothing is changed). With --until done, 0/10/11 say
how the rollout ended once it is done (promoted and drained, or aborted and its drain over).
--json prints the last status.

Examples:
  $ baton rollout wait r_01hx... --timeout 45m
  $ baton rollout wait r_01hx... --until drained --timeout 2h`,
    )
    .action(
      action(async (id: string, opts: WaitFlags) => {
        const until = opts.until ?? 'promoted';
        if (!(WAIT_TARGETS as readonly string[]).includes(until))
          throw usage(`--until: one of ${WAIT_TARGETS.join(', ')}, not ${JSON.stringify(until)}`);
        const o: WaitOptions = {
          until: until as WaitTarget,
          intervalMs: parseDurationMs(opts.interval ?? '2s', '--interval'),
          timeoutMs: opts.timeout ? parseDurationMs(opts.timeout, '--timeout') : null,
          quiet: Boolean(opts.json),
        };
        const client = await clientFrom(opts);
        const { status, code } = await waitRollout(client, id, o);
        if (opts.json) printJson(status);
        else process.stdout.write(`rollout ${status.id} ${status.phase} (waited until ${o.until})\n`);
        return code;
      }),
    );
}
