/** `baton store reencrypt`: rewrite records sealed under old keys (or plaintext) under the current key. */
import type { Command } from 'commander';
import { action } from '../program';
import type { EncryptionFlags } from '../encryption';

type ReencryptOpts = EncryptionFlags & {
  store?: string;
  storeSchema?: string;
  batch?: string;
  json?: boolean;
};

export function registerStore(program: Command): void {
  const store = program.command('store').description('maintain the store directly (no server needed)');
  store
    .command('reencrypt')
    .description(
      'rewrite every encrypted record not under the current key (and plaintext ones) under the current key; resumable',
    )
    .option('--store <target>', 'SQLite file or postgres:// URL [env BATON_STORE] (default ./baton.db)')
    .option('--store-schema <name>', 'PostgreSQL schema of the tables [env BATON_STORE_SCHEMA]')
    .option(
      '--encryption-key-file <file>',
      'key file: one id:key a line, the first current [env BATON_ENCRYPTION_KEY_FILE; or the list in BATON_ENCRYPTION_KEYS]',
    )
    .option('--encryption-key-id <id>', 'the current key, when not the first [env BATON_ENCRYPTION_KEY_ID]')
    .option('--batch <n>', 'records per transaction', '200')
    .option('--json', 'print progress and the result as JSON lines')
    .addHelpText(
      'after',
      `
Run it after making a new key current (servers keep running: they read every listed key).
It is idempotent: a run stopped halfway is finished by running it again. When it reports no
records left under the old key, remove that key from the list.

Examples:
  $ BATON_ENCRYPTION_KEYS="k2:$(cat k2.key),k1:$(cat k1.key)" baton store reencrypt --store ./baton.db
  $ baton store reencrypt --store postgres://baton@db/baton --encryption-key-file /etc/baton/keys`,
    )
    .action(
      action(async (opts: ReencryptOpts) => {
        const { resolveEncryption } = await import('../encryption');
        const { openStore } = await import('@baton/store');
        const { usage } = await import('../program');
        const enc = await resolveEncryption(opts);
        for (const w of enc.warnings) process.stderr.write(`warning: ${w}\n`);
        if (!enc.config)
          throw usage('no encryption keys: set BATON_ENCRYPTION_KEYS or --encryption-key-file');
        const target = opts.store ?? process.env.BATON_STORE ?? './baton.db';
        const schema = opts.storeSchema ?? (process.env.BATON_STORE_SCHEMA || undefined);
        const batch = Number(opts.batch);
        if (!Number.isInteger(batch) || batch < 1) throw usage('--batch must be a positive integer');
        const s = await openStore(target, { encryption: enc.config, ...(schema ? { schema } : {}) });
        try {
          const result = await s.reencrypt({
            batch,
            onProgress: (p) => {
              if (opts.json) process.stdout.write(JSON.stringify({ progress: p }) + '\n');
              else
                process.stderr.write(
                  `${p.table}: ${p.scanned} scanned, ${p.rewritten} rewritten${p.done ? ', done' : ''}\n`,
                );
            },
          });
          if (opts.json) {
            process.stdout.write(JSON.stringify({ currentKeyId: enc.currentKeyId, ...result }) + '\n');
            return result.unreadable.length > 0 ? 1 : 0;
          }
          process.stdout.write(
            `re-encrypted under key ${enc.currentKeyId}: ${result.rewritten} records rewritten, ${result.scanned} rows scanned\n`,
          );
          for (const u of result.unreadable)
            process.stdout.write(`  failed authentication (left as is): ${u}\n`);
          return result.unreadable.length > 0 ? 1 : 0;
        } finally {
          await s.close();
        }
      }),
    );
}
