/** `baton demo`: option definitions; the demo itself is in ../demo (loaded lazily). */
import type { Command } from 'commander';
import { action } from '../program';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('show the whole product with the example support agent, in one process tree')
    .option('--quick', 'fewer users and shorter steps; finishes in under a minute')
    .option('--json [file]', 'print the reports as JSON on stdout, or write them to <file>')
    .option('--users <n>', 'concurrent simulated conversations (default 300, quick 120)')
    .option('--seed <n>', 'seed of the simulated users', '42')
    .option(
      '--scenarios <list>',
      'which scenarios to run, e.g. 1,2 (4, the shadow stage, needs 1)',
      '1,4,2,3',
    )
    .option('--keep', 'keep the temporary SQLite file and print its path')
    .addHelpText(
      'after',
      `
Scenarios:
  1  drain-and-fill v1 -> v2 with canary steps (schema migration, callbacks, effects)
  2  v2 -> v3 (regressed): the gates catch it at the canary step and abort forward
  3  for contrast: a naive instant cutover with no checkpoints, simulated

Exit code 0 when every invariant holds, 12 when one is violated (e.g. a lost session).

Examples:
  $ baton demo
  $ baton demo --quick --json report.json`,
    )
    .action(
      action(async (opts: Record<string, unknown>) => {
        const { runDemo } = await import('../demo');
        return runDemo(opts);
      }),
    );
}
