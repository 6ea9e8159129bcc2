/** `baton serve` and `baton worker`: option definitions; the work is in ../serve and ../worker (loaded lazily). */
import { Option } from 'commander';
import type { Command } from 'commander';
import { DEFAULT_SERVER } from '../config';
import { action } from '../program';

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the router, rollout controller and admin API in one process')
    .option('--store <target>', 'SQLite file or postgres:// URL [env BATON_STORE] (default ./baton.db)')
    .option(
      '--store-schema <name>',
      'PostgreSQL schema for the tables, created when missing [env BATON_STORE_SCHEMA]',
    )
    .option('--host <host>', 'address to listen on [env BATON_HOST] (default 127.0.0.1)')
    .option('--port <port>', 'port to listen on; 0 picks a free one [env BATON_PORT] (default 7070)')
    .option('--config <file>', 'config file, JSON or YAML [env BATON_CONFIG]')
    .option(
      '--traffic-token <tokens>',
      'bearer token(s) for clients, comma-separated [env BATON_TRAFFIC_TOKEN]',
    )
    .option(
      '--admin-token <tokens>',
      'bearer token(s) for admin commands, comma-separated [env BATON_ADMIN_TOKEN]',
    )
    .option(
      '--worker-token <tokens>',
      'bearer token(s) for remote workers, comma-separated [env BATON_WORKER_TOKEN]',
    )
    .option(
      '--read-token <tokens>',
      'read-only bearer token(s): rollout status, lists, metrics; comma-separated [env BATON_READ_TOKEN] (default none)',
    )
    .option(
      '--tokens-file <file>',
      'where generated tokens are kept [env BATON_TOKENS_FILE] (default <store file>.tokens.json)',
    )
    .option(
      '--shutdown-timeout <duration>',
      'on SIGTERM/SIGINT, let in-flight turns finish this long [env BATON_SHUTDOWN_TIMEOUT] (default 30s)',
    )
    .option(
      '--turn-timeout <duration>',
      'how long a worker may take for one turn or migration before TURN_TIMEOUT [env BATON_TURN_TIMEOUT] (default 30s)',
    )
    .option(
      '--request-timeout <duration>',
      'a client must send a whole request (headers and body) within this [env BATON_REQUEST_TIMEOUT] (default 60s)',
    )
    .option(
      '--agent <module>',
      'serve an agent module in-process (repeatable; module#export) [env BATON_AGENTS]',
      collect,
    )
    .option(
      '--keep-checkpoints <n>',
      'checkpoints kept per session; older ones are compacted, migration boundaries kept [env BATON_KEEP_CHECKPOINTS] (default 10)',
    )
    .option(
      '--history-max-entries <n>',
      "keep at most this many history entries per session, overriding the versions' retention [env BATON_HISTORY_MAX_ENTRIES]",
    )
    .option(
      '--history-max-age <duration>',
      "drop history entries older than this (e.g. 30d), overriding the versions' retention [env BATON_HISTORY_MAX_AGE]",
    )
    .option(
      '--instance-id <id>',
      'stable identity of this process in a fleet (controller lock owner; unique among live processes) [env BATON_INSTANCE_ID] (default: random)',
    )
    .option(
      '--encryption-key-file <file>',
      'encrypt checkpoints, history and effect args/results at rest with the keys of this file: one id:key a line, the first current [env BATON_ENCRYPTION_KEY_FILE; or the list itself in BATON_ENCRYPTION_KEYS]',
    )
    .option(
      '--encryption-key-id <id>',
      'the key new records are encrypted with, when not the first listed [env BATON_ENCRYPTION_KEY_ID]',
    )
    .option('--json', 'print one JSON line with the URL (and generated tokens) when ready')
    .addHelpText(
      'after',
      `
Precedence: flags > environment (BATON_*) > config file > defaults.
Tokens: when none are configured, traffic/admin/worker tokens are generated on first start,
written to the tokens file (mode 0600) and printed once; later starts reuse them. Each scope
accepts several tokens (comma-separated, or a list in the config file) for rotation without
downtime: add the new token, move clients to it, remove the old one (docs/security.md).
On SIGTERM/SIGINT the server stops taking new turns, lets in-flight turns finish within the
shutdown timeout, releases leases and exits 0.
Encryption at rest (AES-256-GCM) is off unless keys are given; keys rotate without downtime:
list the new key first, restart, then run \`baton store reencrypt\` and drop the old key.
With --instance-id, a second live process with the same id refuses to start (exit 4); a process
restarted with the id of a dead one waits at most 2 s for its presence lease, then takes its
controller lock back at once.

Examples:
  $ baton serve
  $ baton serve --port 8080 --store ./data/baton.db
  $ baton serve --store postgres://postgres@127.0.0.1:5432/baton --store-schema baton
  $ BATON_PORT=0 baton serve --json --agent @baton/example-support-agent#v1`,
    )
    .action(
      action(async (flags: Record<string, unknown>) => {
        const { runServe } = await import('../serve');
        return runServe(flags);
      }),
    );

  program
    .command('worker')
    .description('serve an agent version (built with the SDK) over HTTP and register it with a server')
    .requiredOption(
      '--agent <module>',
      'agent module: a file (.ts/.js) or package name, optionally module#export',
    )
    .option('--export <name>', 'named export of the module holding the agent')
    .addOption(
      new Option(
        '--server <urls>',
        `Baton server(s): repeatable or comma-separated; registers with the first that answers, the ledger fails over between them (default ${DEFAULT_SERVER})`,
      )
        .env('BATON_SERVER')
        .argParser(collect),
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', '0')
    .option('--url <url>', 'URL the server reaches this worker at (default http://<host>:<port>)')
    .option(
      '--worker-token <token>',
      'worker token: registers and unregisters this worker, and calls the effects ledger [env BATON_WORKER_TOKEN]',
    )
    .option('--no-register', 'serve without registering')
    .option('--json', 'print one JSON line with the worker URL and id when ready')
    .addHelpText(
      'after',
      `
Examples:
  $ baton worker --agent ./agents/support-v2.ts --port 7101
  $ baton worker --agent @baton/example-support-agent --export v2 --server http://127.0.0.1:7070
  $ baton worker --agent ./agents/support-v2.ts --server http://10.0.0.1:7070,http://10.0.0.2:7070`,
    )
    .action(
      action(async (flags: Record<string, unknown>) => {
        const { runWorker } = await import('../worker');
        return runWorker(flags as unknown as Parameters<typeof runWorker>[0]);
      }),
    );
}
