/** The `baton` command tree (commander). Each command module adds its subcommands here. */
import { existsSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { BatonClient } from './client';
import { DEFAULT_SERVER, findToken } from './config';
import { CliError, ExitCode, exitCodeFor, formatError } from './exit';

export interface AdminOptions {
  server?: string;
  token?: string;
  /** The `--store` of `baton serve`: its tokens file holds the admin token. */
  store?: string;
  tokensFile?: string;
  json?: boolean;
}

/** Adds `--server`, `--token`, `--store`, `--tokens-file` and `--json` to an admin command. */
export function adminOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--server <url>', 'Baton server URL').env('BATON_SERVER').default(DEFAULT_SERVER))
    .addOption(
      new Option(
        '--token <token>',
        'admin token (default: $BATON_ADMIN_TOKEN, else the tokens file baton serve wrote)',
      ),
    )
    .addOption(
      new Option(
        '--store <target>',
        'the --store baton serve runs with: read the admin token from its tokens file',
      ),
    )
    .addOption(
      new Option('--tokens-file <file>', 'read the admin token from this tokens file').env(
        'BATON_TOKENS_FILE',
      ),
    )
    .option('--json', 'print machine-readable JSON on stdout');
}

export async function clientFrom(opts: AdminOptions): Promise<BatonClient> {
  const found = await findToken('admin', opts.token, process.env, {
    store: opts.store,
    tokensFile: opts.tokensFile,
  });
  if (!found.token) {
    const where = found.looked.map((f) => (existsSync(f) ? `${f} (no admin entry)` : `${f} (not found)`));
    const others = found.candidates.length
      ? `; tokens files here: ${found.candidates.join(', ')} (pick one with --tokens-file)`
      : '';
    throw new CliError(
      'UNAUTHORIZED',
      `no admin token: pass --token or set BATON_ADMIN_TOKEN, or point at the tokens file baton serve wrote ` +
        `(next to its SQLite file: --store x.db reads x.db.tokens.json; or --tokens-file <file>); looked in ${where.join(', ')}${others}`,
      ExitCode.AUTH,
    );
  }
  return new BatonClient({ server: opts.server ?? DEFAULT_SERVER, token: found.token });
}

/**
 * Wraps a command action: errors are printed as one line (`error CODE: message`) on stderr
 * and turned into the documented exit code. An action may return an exit code.
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<number | void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (e) {
      process.stderr.write(formatError(e) + '\n');
      if (process.env.BATON_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
      process.exitCode = exitCodeFor(e);
    }
  };
}

export function usage(message: string): CliError {
  return new CliError('USAGE', message, ExitCode.USAGE);
}

type Registrar = (program: Command) => void;

export function buildProgram(registrars: Registrar[]): Command {
  const program = new Command('baton');
  program
    .description('Drain-and-fill rollouts for stateful AI agents.')
    .version('0.1.0', '-V, --version')
    .exitOverride()
    .configureOutput({
      outputError: (str, write) => write(`error USAGE: ${str.replace(/^error:\s*/i, '').trim()}\n`),
    })
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 other error, 2 usage/validation, 3 not found, 4 conflict/state,
5 server unreachable, 6 unauthorized; rollout watch: 10 aborted, 11 failed; demo: 12 invariant violated.

Examples:
  $ baton serve                          # router + controller + admin API on ./baton.db, port 7070
  $ baton demo --quick                   # the whole product in one process tree, < 1 min
  $ baton rollout start rollout.yaml     # start a drain-and-fill rollout
  $ baton rollout watch r_...           # live view until promoted or aborted`,
    );
  for (const r of registrars) r(program);
  return program;
}

/** Run the CLI; resolves to the process exit code. */
export async function runCli(program: Command, argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; help shown because a subcommand is missing, and every
      // other commander error, is a usage error
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      if (e.code !== 'commander.help' && e.exitCode === 0) return 0;
      return ExitCode.USAGE;
    }
    process.stderr.write(formatError(e) + '\n');
    return exitCodeFor(e);
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}
