/** `baton rollout start|status|watch|wait|list|promote|pause|resume|abort|compensate|shadow` and `baton migrate check`. */
import type { Command } from 'commander';
import { TERMINAL_ROLLOUT_PHASES } from '@baton/core';
import type { Decision, GateResult } from '@baton/core';
import type { BatonClient, RolloutStatus } from '../client';
import { parseDurationMs } from '../config';
import { CliError, ExitCode } from '../exit';
import { readDocument } from '../files';
import { fmtTime, printJson, printTable } from '../output';
import { action, adminOptions, clientFrom } from '../program';
import type { AdminOptions } from '../program';
import {
  LiveBlock,
  decisionLine,
  gateLine,
  phaseColor,
  renderRollout,
  shadowLines,
  summaryLine,
} from '../view';
import { renderForecast, renderForecastView } from '../forecast-view';
import { registerCompensate } from './compensate';
import { registerRolloutWait } from './rollout-wait';

/** Exit code of a finished rollout: 0 promoted, 10 aborted, 11 failed. */
export function exitCodeForPhase(phase: string): number {
  if (phase === 'promoted') return ExitCode.OK;
  if (phase === 'aborted') return ExitCode.ABORTED;
  return ExitCode.FAILED;
}

export interface WatchOptions {
  intervalMs: number;
  json: boolean;
  tty: boolean;
  timeoutMs?: number;
}

/**
 * Polls a rollout until it reaches a terminal phase. On a TTY the view is redrawn in place;
 * otherwise a line is printed when something changed, plus each new decision and gate verdict.
 * With `json`, one JSON status object per line (NDJSON). Returns the final status.
 */
export async function watchRollout(client: BatonClient, id: string, o: WatchOptions): Promise<RolloutStatus> {
  const started = Date.now();
  const block = o.tty && !o.json ? new LiveBlock() : null;
  let lastSummary = '';
  const seenDecisions = new Set<number>();
  const lastVerdicts = new Map<string, string>();
  let stop = false;
  const onSig = (): void => {
    stop = true;
  };
  process.once('SIGINT', onSig);
  try {
    for (;;) {
      const s = await client.getRollout(id);
      if (o.json) {
        process.stdout.write(JSON.stringify(s) + '\n');
      } else if (block) {
        block.draw([
          ...renderRollout(s, { now: Date.now(), decisions: 8 }),
          ...renderForecastView(s.forecast),
        ]);
      } else {
        const line = summaryLine(s);
        if (line !== lastSummary) process.stdout.write(`${new Date().toISOString()} ${line}\n`);
        lastSummary = line;
        for (const g of (s.gates ?? []) as GateResult[]) {
          const key = g.name ?? g.evidence?.metric;
          if (lastVerdicts.get(key) !== g.verdict) process.stdout.write(`  gate ${gateLine(g)}\n`);
          lastVerdicts.set(key, g.verdict);
        }
        for (const d of (s.decisions ?? []) as Decision[]) {
          if (seenDecisions.has(d.seq)) continue;
          seenDecisions.add(d.seq);
          process.stdout.write(`  decision ${decisionLine(d)}\n`);
        }
      }
      if ((TERMINAL_ROLLOUT_PHASES as readonly string[]).includes(s.phase)) {
        if (!o.json) process.stdout.write(`rollout ${s.id} ${phaseColor(s.phase)}\n`);
        return s;
      }
      if (stop) throw new CliError('INTERRUPTED', `stopped watching rollout ${id} (phase ${s.phase})`, 130);
      if (o.timeoutMs !== undefined && Date.now() - started > o.timeoutMs)
        throw new CliError(
          'TIMEOUT',
          `rollout ${id} still ${s.phase} after ${o.timeoutMs} ms`,
          ExitCode.OTHER,
        );
      await new Promise((r) => setTimeout(r, o.intervalMs));
    }
  } finally {
    process.off('SIGINT', onSig);
  }
}

type WatchFlags = AdminOptions & { interval?: string; timeout?: string };

function watchOpts(opts: WatchFlags): WatchOptions {
  const w: WatchOptions = {
    intervalMs: parseDurationMs(opts.interval ?? '1s', '--interval'),
    json: Boolean(opts.json),
    tty: Boolean(process.stdout.isTTY),
  };
  if (opts.timeout) w.timeoutMs = parseDurationMs(opts.timeout, '--timeout');
  return w;
}

function printStatus(s: RolloutStatus): void {
  const lines = [...renderRollout(s, { now: Date.now(), decisions: 10 }), ...renderForecastView(s.forecast)];
  process.stdout.write(lines.join('\n') + '\n');
}

export function registerRollout(program: Command): void {
  const rollout = program.command('rollout').description('start and steer drain-and-fill rollouts');

  adminOptions(rollout.command('start'))
    .description('start a rollout from a spec file (JSON or YAML; `-` reads stdin)')
    .argument('<spec-file>', 'rollout spec')
    .option('--watch', 'then watch it until it finishes (exit code as `rollout watch`)')
    .option('--interval <duration>', 'poll interval with --watch', '1s')
    .addHelpText(
      'after',
      `
Example spec (rollout.yaml):
  agent: support
  to: v2
  migration: { policy: at-boundary, eager: true }
  steps:
    - { fill: 10, migrate: 0, verify: { minSessions: 50 } }
    - { fill: 100, migrate: 100 }
  gates:
    - { metric: session.thumbs_down, test: proportion, tolerance: +2pp }

Examples:
  $ baton rollout start rollout.yaml
  $ baton rollout start rollout.yaml --watch
  $ id=$(baton rollout start rollout.yaml --json | jq -r .id)`,
    )
    .action(
      action(async (file: string, opts: WatchFlags & { watch?: boolean }) => {
        const spec = await readDocument(file);
        const client = await clientFrom(opts);
        const s = await client.startRollout(spec);
        if (opts.json && !opts.watch) return printJson(s);
        if (!opts.json)
          process.stdout.write(
            `started rollout ${s.id}: ${s.agent} ${s.from} -> ${s.to} (phase ${s.phase})\n`,
          );
        if (!opts.watch) return;
        const fin = await watchRollout(client, s.id, watchOpts(opts));
        return exitCodeForPhase(fin.phase);
      }),
    );

  adminOptions(rollout.command('plan'))
    .description('forecast a rollout from a spec file before starting it: steps phase, drain, stragglers')
    .argument('<spec-file>', 'rollout spec (JSON or YAML; `-` reads stdin)')
    .addHelpText(
      'after',
      `
Nothing is created. The forecast (p50 and p90 of the steps phase and the drain, and where the
blue sessions go) is simulated from the agent's recent turns, waits and session ends; see
docs/rollouts.md#drain-forecast.

Examples:
  $ baton rollout plan rollout.yaml
  $ baton rollout plan rollout.yaml --json | jq .forecast.drain`,
    )
    .action(
      action(async (file: string, opts: AdminOptions) => {
        const spec = await readDocument(file);
        const client = await clientFrom(opts);
        const r = await client.forecastRollout(spec);
        if (opts.json) return printJson(r);
        process.stdout.write(
          renderForecast(r.forecast, `drain forecast  ${r.agent} ${r.from} -> ${r.to}`).join('\n') + '\n',
        );
        for (const w of r.warnings ?? []) process.stdout.write(`warning: ${w.message}\n`);
      }),
    );

  adminOptions(rollout.command('list'))
    .description('list rollouts')
    .addHelpText(
      'after',
      '\nExamples:\n  $ baton rollout list\n  $ baton rollout list --agent support --phase progressing,paused --json',
    )
    .option('--agent <name>', 'filter by agent')
    .option('--phase <phase>', 'filter by phase')
    .action(
      action(async (opts: AdminOptions & { agent?: string; phase?: string }) => {
        const client = await clientFrom(opts);
        const q: { agent?: string; phase?: string } = {};
        if (opts.agent) q.agent = opts.agent;
        if (opts.phase) q.phase = opts.phase;
        const list = await client.listRollouts(q);
        if (opts.json) return printJson({ rollouts: list });
        printTable(
          list.map((r) => ({ ...r, created: fmtTime(r.createdAt) })),
          ['id', 'agent', 'from', 'to', 'phase', 'step', 'created'],
        );
      }),
    );

  adminOptions(rollout.command('status'))
    .description('show a rollout: phase, step, weights, sessions, drain, gates, decisions')
    .addHelpText(
      'after',
      '\nExamples:\n  $ baton rollout status r_01hx...\n  $ baton rollout status r_01hx... --json | jq .gates',
    )
    .argument('<id>', 'rollout id')
    .action(
      action(async (id: string, opts: AdminOptions) => {
        const client = await clientFrom(opts);
        const s = await client.getRollout(id);
        if (opts.json) return printJson(s);
        printStatus(s);
      }),
    );

  adminOptions(rollout.command('watch'))
    .description('live view of a rollout until it is promoted, aborted or failed')
    .argument('<id>', 'rollout id')
    .option('--interval <duration>', 'poll interval', '1s')
    .option('--timeout <duration>', 'give up after this long (exit 1)')
    .addHelpText(
      'after',
      `
On a terminal the view redraws in place; otherwise it prints a line per change, and each
new gate verdict and decision. --json prints one status object per line (NDJSON).
Exit code: 0 promoted, 10 aborted, 11 failed.

Examples:
  $ baton rollout watch r_01hx...
  $ baton rollout watch r_01hx... --json | jq -c '{phase, step}'`,
    )
    .action(
      action(async (id: string, opts: WatchFlags) => {
        const client = await clientFrom(opts);
        const fin = await watchRollout(client, id, watchOpts(opts));
        return exitCodeForPhase(fin.phase);
      }),
    );

  const verbs: Array<['promote' | 'pause' | 'resume' | 'abort', string]> = [
    ['promote', 'skip the remaining steps: fill 100% and migrate every blue session'],
    ['pause', 'hold the rollout at its current step (weights stay as they are)'],
    ['resume', 'continue a paused rollout'],
    ['abort', 'abort forward: stop filling green, new sessions go back to blue'],
  ];
  for (const [verb, desc] of verbs) {
    adminOptions(rollout.command(verb))
      .description(desc)
      .argument('<id>', 'rollout id')
      .option('--reason <text>', 'recorded in the decision log')
      .addHelpText('after', `\nExample:\n  $ baton rollout ${verb} r_01hx... --reason "checked by hand"`)
      .action(
        action(async (id: string, opts: AdminOptions & { reason?: string }) => {
          const client = await clientFrom(opts);
          const s = await client.rolloutAction(id, verb, opts.reason ? { reason: opts.reason } : {});
          if (opts.json) return printJson(s);
          process.stdout.write(
            `rollout ${s.id ?? id}: ${verb} accepted, phase ${phaseColor(s.phase ?? '?')}\n`,
          );
        }),
      );
  }

  adminOptions(rollout.command('shadow'))
    .description(
      "replay recorded blue turns on the rollout's candidate, with no side effect, and judge the pairs",
    )
    .argument('<id>', 'rollout id')
    .option('--sessions <n>', 'blue sessions to sample')
    .option('--turns <n>', 'recorded turns per session')
    .option('--sample <how>', 'recent or stratified')
    .addHelpText('after', '\nExamples:\n  $ baton rollout shadow r_01hx... --sessions 50 --sample stratified')
    .action(
      action(
        async (id: string, opts: AdminOptions & { sessions?: string; turns?: string; sample?: string }) => {
          const client = await clientFrom(opts);
          const body: Record<string, unknown> = {};
          if (opts.sessions !== undefined) body.sessions = Number(opts.sessions);
          if (opts.turns !== undefined) body.turnsPerSession = Number(opts.turns);
          if (opts.sample !== undefined) body.sample = opts.sample;
          const r = await client.shadowRollout(id, body);
          if (opts.json) return printJson(r);
          process.stdout.write(
            [
              ...shadowLines({
                ...r,
                beforeStep: Number(r.beforeStep ?? 0),
                finishedAt: 0,
                results: r.gates,
              }),
              '',
            ].join('\n'),
          );
        },
      ),
    );

  registerCompensate(rollout);
  registerRolloutWait(rollout);

  const migrate = program.command('migrate').description('migration pre-flight');
  adminOptions(migrate.command('check'))
    .description("dry-run the candidate's migrations over live blue checkpoints; nothing moves")
    .argument('<spec-file>', 'rollout spec (JSON or YAML)')
    .addHelpText(
      'after',
      '\nExit code 0 when every checkpoint migrates, 2 (PREFLIGHT_FAILED) otherwise.\n\nExample:\n  $ baton migrate check rollout.yaml',
    )
    .action(
      action(async (file: string, opts: AdminOptions) => {
        const spec = await readDocument(file);
        const client = await clientFrom(opts);
        const r = await client.migrateCheck(spec);
        const failures = (r.failures ?? r.failed ?? []) as Array<Record<string, unknown>>;
        const failedCount = Array.isArray(failures) ? failures.length : Number(failures) || 0;
        if (opts.json) printJson(r);
        else {
          const checked = r.checked ?? r.total ?? '?';
          process.stdout.write(
            `checked ${String(checked)} checkpoint(s): ${failedCount === 0 ? 'all migrate' : `${failedCount} fail`}\n`,
          );
          if (Array.isArray(failures))
            for (const f of failures.slice(0, 50))
              process.stdout.write(
                `  ${String(f.sessionId ?? f.id ?? '?')}: ${String(f.error ?? f.message ?? JSON.stringify(f))}\n`,
              );
        }
        if (failedCount > 0 || r.ok === false) {
          process.stderr.write(
            `error PREFLIGHT_FAILED: ${failedCount} checkpoint(s) would fail to migrate\n`,
          );
          return ExitCode.USAGE;
        }
      }),
    );
}
