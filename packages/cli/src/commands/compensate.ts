/**
 * `baton rollout compensate <id> [--dry-run] [--effect <id>...]`: what green did, undone where it
 * can be. A dry run lists what would run, on which version, and what cannot be compensated. A real
 * run plans first, then runs the compensations one effect at a time with progress on the terminal;
 * each effect's state records its outcome, so a run cut short is continued by running it again.
 */
import type { Command } from 'commander';
import type { BatonClient, CompensationOutcome, CompensationRun } from '../client';
import { CliError, ExitCode } from '../exit';
import { printJson, printTable } from '../output';
import { action, adminOptions, clientFrom } from '../program';
import type { AdminOptions } from '../program';

type CompensateFlags = AdminOptions & { dryRun?: boolean; effect?: string[] };

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

function row(o: CompensationOutcome): Record<string, unknown> {
  return {
    id: o.id,
    name: o.name,
    compensation: o.compensation ?? '-',
    action: o.action,
    version: o.version ?? '-',
    state: o.state,
    note: o.error ?? o.reason ?? '',
  };
}

const COLUMNS = ['id', 'name', 'compensation', 'action', 'version', 'state', 'note'];

function totalsLine(t: CompensationRun['totals'], dryRun: boolean): string {
  return dryRun
    ? `${t.effects} effect(s): ${t.ran} would run, ${t.pending} cannot run now, ${t.notCompensable} not compensable, ${t.skipped} done or running`
    : `${t.effects} effect(s): ${t.ran} ran — ${t.compensated} compensated, ${t.failed} failed; ${t.pending} pending, ${t.notCompensable} not compensable, ${t.skipped} done or running`;
}

/** Run the planned compensations one by one, reporting each as it ends. */
async function runPlanned(
  client: BatonClient,
  plan: CompensationRun,
  o: { json: boolean; tty: boolean },
): Promise<CompensationOutcome[]> {
  const todo = plan.effects.filter((e) => e.action === 'run');
  const out: CompensationOutcome[] = [];
  let i = 0;
  for (const e of todo) {
    i++;
    const r = await client.compensateEffect(e.id, { dryRun: false }).catch((err: unknown) => {
      // another run took it meanwhile, or it is no longer compensable: report, keep going
      const message = err instanceof Error ? err.message : String(err);
      return { outcome: { ...e, action: 'skip' as const, reason: message } };
    });
    out.push(r.outcome);
    if (o.json) continue;
    const line = `[${i}/${todo.length}] ${e.id} ${e.name} → ${e.compensation} on ${r.outcome.version ?? '-'}: ${r.outcome.state}${r.outcome.error ? ` (${r.outcome.error})` : ''}`;
    if (o.tty && r.outcome.state === 'compensated' && i < todo.length)
      process.stdout.write(`\r\x1b[2K${line}`);
    else process.stdout.write(`${o.tty ? '\r\x1b[2K' : ''}${line}\n`);
  }
  return out;
}

export function registerCompensate(rollout: Command): void {
  adminOptions(rollout.command('compensate'))
    .description("run the compensations of a rollout's candidate's committed effects")
    .argument('<id>', 'rollout id')
    .option('--dry-run', 'only list what would run, on which version, and what cannot be compensated')
    .option('--effect <id>', 'only this effect (repeat for several)', collect)
    .addHelpText(
      'after',
      '\nExit code 1 when a compensation failed (its error is recorded; run the command again to retry).\n' +
        'Examples:\n  $ baton rollout compensate r_... --dry-run\n  $ baton rollout compensate r_... --effect e_... --effect e_...',
    )
    .action(
      action(async (id: string, opts: CompensateFlags) => {
        const client = await clientFrom(opts);
        const scope = opts.effect?.length ? { effects: opts.effect } : {};
        const plan = await client.compensateRollout(id, { dryRun: true, ...scope });
        if (opts.dryRun) {
          if (opts.json) return printJson(plan);
          printTable(plan.effects.map(row), COLUMNS);
          process.stdout.write(`${totalsLine(plan.totals, true)}\n`);
          return;
        }
        const ran = await runPlanned(client, plan, {
          json: Boolean(opts.json),
          tty: Boolean(process.stdout.isTTY),
        });
        const byId = new Map(ran.map((o) => [o.id, o]));
        const effects = plan.effects.map((e) => byId.get(e.id) ?? e);
        const totals = {
          ...plan.totals,
          ran: ran.filter((o) => o.action === 'run').length,
          compensated: ran.filter((o) => o.state === 'compensated').length,
          failed: ran.filter((o) => o.state === 'failed').length,
          skipped: plan.totals.skipped + ran.filter((o) => o.action === 'skip').length,
        };
        if (opts.json) printJson({ rolloutId: id, dryRun: false, totals, effects });
        else {
          printTable(
            effects.filter((e) => e.action !== 'run' || e.state !== 'compensated').map(row),
            COLUMNS,
          );
          process.stdout.write(`${totalsLine(totals, false)}\n`);
        }
        if (totals.failed > 0)
          throw new CliError(
            'COMPENSATION_FAILED',
            `${totals.failed} compensation(s) failed`,
            ExitCode.OTHER,
          );
      }),
    );
}
