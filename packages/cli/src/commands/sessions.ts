/** `baton sessions list|show|history` and `baton effects list|resolve`. */
import type { Command } from 'commander';
import { BatonError, type HistoryPage } from '@baton/core';
import { fmtTime, printJson, printTable } from '../output';
import { action, adminOptions, clientFrom } from '../program';
import type { AdminOptions } from '../program';

type ListOpts = AdminOptions & {
  agent?: string;
  versionLabel?: string;
  status?: string;
  limit?: string;
  cursor?: string;
};

function compact(v: unknown, max = 80): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  if (s === undefined) return '';
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** The filters and page position shared by the list commands; the client drops empty ones. */
function pageQuery(opts: ListOpts) {
  return {
    limit: Number(opts.limit ?? 50),
    agent: opts.agent,
    version: opts.versionLabel,
    status: opts.status,
    cursor: opts.cursor,
  };
}

export function registerSessions(program: Command): void {
  const sessions = program.command('sessions').description('inspect sessions');

  adminOptions(sessions.command('list'))
    .description('list sessions, a page at a time (continue with --cursor)')
    .option('--agent <name>', 'filter by agent')
    .option('--version-label <label>', 'filter by pinned version')
    .option(
      '--status <status>',
      'filter by status (idle, running, waiting, migrating, completed, failed, quarantined)',
    )
    .option('--limit <n>', 'page size', '50')
    .option('--cursor <cursor>', 'continue after a previous page')
    .addHelpText(
      'after',
      '\nExamples:\n  $ baton sessions list --agent support --status waiting\n  $ baton sessions list --version-label v1 --json',
    )
    .action(
      action(async (opts: ListOpts) => {
        const client = await clientFrom(opts);
        const page = await client.listSessions(pageQuery(opts));
        if (opts.json) return printJson({ sessions: page.items, nextCursor: page.nextCursor });
        printTable(
          page.items.map((s) => ({ ...s, updated: fmtTime(s.updatedAt) })),
          ['id', 'agent', 'version', 'status', 'seq', 'updated'],
        );
        if (page.nextCursor) process.stdout.write(`more: --cursor ${page.nextCursor}\n`);
      }),
    );

  adminOptions(sessions.command('show'))
    .description('show one session: status, version, seq, waits, migrations')
    .addHelpText(
      'after',
      '\nExamples:\n  $ baton sessions show ses_01hx...\n  $ baton sessions show ses_01hx... --json | jq .migrations',
    )
    .argument('<id>', 'session id')
    .action(
      action(async (id: string, opts: AdminOptions) => {
        const client = await clientFrom(opts);
        const s = await client.getSession(id);
        if (opts.json) return printJson(s);
        const session = ((s.session as Record<string, unknown> | undefined) ?? s) as Record<string, unknown>;
        const lines = [
          `session   ${String(session.sessionId ?? session.id ?? id)}`,
          `agent     ${String(session.agent ?? '-')}`,
          `version   ${String(session.version ?? '-')}`,
          `status    ${String(session.status ?? '-')}`,
          `seq       ${String(session.seq ?? '-')}`,
        ];
        if (session.createdAt) lines.push(`created   ${fmtTime(session.createdAt)}`);
        if (session.reason) lines.push(`reason    ${String(session.reason)}`);
        const waits = (s.waits as Array<Record<string, unknown>> | undefined) ?? [];
        lines.push(`waits     ${waits.length === 0 ? '(none)' : ''}`);
        for (const w of waits)
          // a wait's token is shown once, by the turn that created it; a view lists it without
          lines.push(
            `  ${String(w.name)}${w.token ? `  token ${String(w.token)}` : ''}  deadline ${fmtTime(w.deadline)}`,
          );
        const migs = (s.migrations as Array<Record<string, unknown>> | undefined) ?? [];
        lines.push(`migrations${migs.length === 0 ? ' (none)' : ''}`);
        for (const m of migs)
          lines.push(
            `  ${String(m.fromVersion)} -> ${String(m.toVersion)}  schema ${String(m.fromSchema)}->${String(m.toSchema)}  ${String(m.status)}  seq ${String(m.seq)}  context ${String(m.contextPolicy)}  ${fmtTime(m.at)}${m.error ? `  ${String(m.error)}` : ''}`,
          );
        process.stdout.write(lines.join('\n') + '\n');
      }),
    );

  adminOptions(sessions.command('history'))
    .description('show the conversation history of a session, a page at a time (newest page first)')
    .option('--limit <n>', 'entries per page (1-1000)', '100')
    .option('--before <index>', 'only entries with a lower index (page back with the hint printed)')
    .option('--all', 'every entry, oldest first (pages through the whole log)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ baton sessions history ses_01hx...\n  $ baton sessions history ses_01hx... --before 4200\n  $ baton sessions history ses_01hx... --all --json',
    )
    .argument('<id>', 'session id')
    .action(
      action(async (id: string, opts: AdminOptions & { limit: string; before?: string; all?: boolean }) => {
        const client = await clientFrom(opts);
        const limit = intOption(opts.limit, '--limit');
        if (opts.all) {
          const first = await client.sessionHistory(id, { limit: 1 });
          const entries: HistoryPage['entries'] = [];
          const floor = first.trimmed?.before ?? 0;
          for (let to = Math.min(first.total, floor + 1000); ; to = Math.min(first.total, to + 1000)) {
            const page = await client.sessionHistory(id, { before: to, limit: 1000 });
            if (opts.json) entries.push(...page.entries);
            else printEntries(page.entries);
            if (to >= first.total) break;
          }
          if (opts.json)
            return printJson({ sessionId: id, total: first.total, trimmed: first.trimmed, entries });
          if (first.total === 0) process.stdout.write('(no history)\n');
          return;
        }
        const before = opts.before === undefined ? undefined : intOption(opts.before, '--before');
        const page = await client.sessionHistory(id, { limit, ...(before !== undefined ? { before } : {}) });
        if (opts.json) return printJson(page);
        if (page.trimmed && page.nextBefore === null && page.trimmed.before > 0)
          process.stdout.write(
            `(${page.trimmed.before} earlier entries removed at ${fmtTime(page.trimmed.at)}: ${page.trimmed.reason})\n`,
          );
        if (page.entries.length === 0) return void process.stdout.write('(no history)\n');
        printEntries(page.entries);
        if (page.nextBefore !== null) process.stdout.write(`older: --before ${page.nextBefore}\n`);
      }),
    );

  const effects = program.command('effects').description('query the effects ledger');
  adminOptions(effects.command('list'))
    .description('list side effects recorded in the ledger')
    .option('--agent <name>', 'filter by agent')
    .option('--version-label <label>', 'filter by version')
    .option('--rollout <id>', 'filter by rollout')
    .option('--session <id>', 'filter by session')
    .option('--status <status>', 'intent, committed or failed (comma-separated)')
    .option(
      '--compensation <states>',
      'compensation states: pending, running, compensated, failed, not-compensable, recorded-by-operator',
    )
    .option('--kind <kind>', "turn (effects of turns) or compensation (a compensation's own effects)")
    .option('--limit <n>', 'page size', '50')
    .option('--cursor <cursor>', 'continue after a previous page')
    .addHelpText(
      'after',
      '\nExamples:\n  $ baton effects list --version-label v3 --status committed\n' +
        '  $ baton effects list --version-label v3 --compensation pending,failed\n  $ baton effects list --rollout r_... --json',
    )
    .action(
      action(
        async (
          opts: ListOpts & { rollout?: string; session?: string; compensation?: string; kind?: string },
        ) => {
          if (opts.kind !== undefined && opts.kind !== 'turn' && opts.kind !== 'compensation')
            throw new BatonError('VALIDATION', `--kind must be turn or compensation, got ${opts.kind}`);
          const client = await clientFrom(opts);
          const page = await client.listEffects({
            ...pageQuery(opts),
            rollout: opts.rollout,
            session: opts.session,
            compensation: opts.compensation,
            kind: opts.kind as 'turn' | 'compensation' | undefined,
          });
          if (opts.json) return printJson({ effects: page.items, nextCursor: page.nextCursor });
          printTable(
            page.items.map((e) => ({ ...e, args: compact(e.args, 40), at: fmtTime(e.createdAt) })),
            [
              'id',
              'sessionId',
              'version',
              'name',
              'status',
              'compensation',
              'compensationState',
              'args',
              'at',
            ],
          );
          if (page.nextCursor) process.stdout.write(`more: --cursor ${page.nextCursor}\n`);
        },
      ),
    );

  adminOptions(effects.command('resolve <id>'))
    .description('resolve an in-doubt effect (status intent) as committed or failed, recording who and why')
    .option('--committed', 'the effect happened')
    .option('--result <json>', 'with --committed: its result, as JSON (default null)')
    .option('--failed', 'the effect did not happen')
    .option('--error <text>', 'with --failed: the error recorded')
    .requiredOption('--by <who>', 'who resolves it')
    .requiredOption('--reason <why>', 'why (e.g. "checked the mail log: sent")')
    .addHelpText(
      'after',
      '\nA late commit of the worker and a resolution race: the first wins, the other is refused (exit 4).\n' +
        'Examples:\n  $ baton effects resolve e_... --committed --result \'{"messageId":"m-1"}\' --by ana --reason "in the mail log"\n' +
        '  $ baton effects resolve e_... --failed --error "never sent" --by ana --reason "not in the mail log"',
    )
    .action(
      action(async (id: string, opts: ResolveOpts) => {
        const client = await clientFrom(opts);
        const { effect } = await client.resolveEffect(id, resolution(opts));
        if (opts.json) return printJson({ effect });
        process.stdout.write(
          `effect ${effect.id} (${effect.name}) resolved as ${effect.status} by ${opts.by}: ${opts.reason}\n`,
        );
      }),
    );
}

type ResolveOpts = AdminOptions & {
  committed?: boolean;
  failed?: boolean;
  result?: string;
  error?: string;
  by: string;
  reason: string;
};

/** The resolution the flags describe: exactly one of --committed and --failed. */
function resolution(opts: ResolveOpts): (
  { status: 'committed'; result: unknown } | { status: 'failed'; error: string }
) & {
  by: string;
  reason: string;
} {
  if (Boolean(opts.committed) === Boolean(opts.failed))
    throw new BatonError('VALIDATION', 'give exactly one of --committed and --failed');
  const who = { by: opts.by, reason: opts.reason };
  if (opts.failed) {
    if (opts.result !== undefined) throw new BatonError('VALIDATION', '--result goes with --committed');
    if (!opts.error) throw new BatonError('VALIDATION', '--failed needs --error <text>');
    return { status: 'failed', error: opts.error, ...who };
  }
  if (opts.error !== undefined) throw new BatonError('VALIDATION', '--error goes with --failed');
  let result: unknown = null;
  if (opts.result !== undefined) {
    try {
      result = JSON.parse(opts.result);
    } catch {
      throw new BatonError('VALIDATION', `--result is not JSON: ${opts.result}`);
    }
  }
  return { status: 'committed', result, ...who };
}

function printEntries(entries: HistoryPage['entries']): void {
  for (const e of entries)
    process.stdout.write(
      `${String(e.index).padStart(6)}  ${fmtTime(e.at)}  ${String(e.role).padEnd(8)} ${compact(e.content, 120)}\n`,
    );
}

function intOption(v: string, name: string): number {
  if (!/^\d{1,15}$/.test(v))
    throw new BatonError('VALIDATION', `${name} must be a non-negative integer, got ${v}`);
  return Number(v);
}
