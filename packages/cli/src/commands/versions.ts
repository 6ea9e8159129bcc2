/** `baton versions list|register|show|diff` and `baton workers list`. */
import type { Command } from 'commander';
import { ValidationError, type VersionManifestBody } from '@baton/core';
import { readDocument } from '../files';
import { fmtTime, printJson, printTable } from '../output';
import { action, adminOptions, clientFrom } from '../program';
import type { AdminOptions } from '../program';
import { loadAgent } from '../agents';
import { registerVersionsShow } from './versions-show';

export function registerVersions(program: Command): void {
  const versions = program.command('versions').description('list and register agent versions');

  adminOptions(versions.command('list'))
    .description('list registered versions')
    .option('--agent <name>', 'only versions of this agent')
    .addHelpText(
      'after',
      '\nExamples:\n  $ baton versions list\n  $ baton versions list --agent support --json',
    )
    .action(
      action(async (opts: AdminOptions & { agent?: string }) => {
        const client = await clientFrom(opts);
        const list = await client.listVersions(opts.agent);
        if (opts.json) return printJson({ versions: list });
        printTable(
          list.map((v) => ({ ...v, identity: v.identity.slice(0, 12), created: fmtTime(v.createdAt) })),
          ['agent', 'label', 'schemaVersion', 'modelId', 'identity', 'created'],
        );
      }),
    );

  adminOptions(versions.command('register'))
    .description('register a version from an agent module (built with the SDK) or a manifest file')
    .argument('<source>', 'agent module (.ts/.js/package) or a JSON/YAML version manifest')
    .option('--export <name>', 'named export of the agent module')
    .addHelpText(
      'after',
      '\nExamples:\n  $ baton versions register ./agents/support-v2.ts\n  $ baton versions register @baton/example-support-agent --export v2\n  $ baton versions register manifest.json',
    )
    .action(
      action(async (source: string, opts: AdminOptions & { export?: string }) => {
        let manifest: Record<string, unknown>;
        if (/\.(json|ya?ml)$/i.test(source))
          manifest = (await readDocument(source)) as Record<string, unknown>;
        else
          manifest = (await loadAgent(source, opts.export)).manifest() as unknown as Record<string, unknown>;
        if (typeof manifest.agent !== 'string' || typeof manifest.label !== 'string')
          throw new ValidationError(`${source}: a manifest needs "agent" and "label"`);
        const client = await clientFrom(opts);
        // the server validates the rest of the manifest
        const v = await client.registerVersion(manifest as VersionManifestBody);
        if (opts.json) return printJson(v);
        process.stdout.write(
          `registered ${v.agent}@${v.label} (identity ${String(v.identity).slice(0, 12)})\n`,
        );
      }),
    );

  registerVersionsShow(versions);

  const workers = program.command('workers').description('list registered workers');
  adminOptions(workers.command('list'))
    .description('list workers with their health')
    .addHelpText('after', '\nExample:\n  $ baton workers list --agent support')
    .option('--agent <name>', 'only workers of this agent')
    .option('--version-label <label>', 'only workers of this version')
    .action(
      action(async (opts: AdminOptions & { agent?: string; versionLabel?: string }) => {
        const client = await clientFrom(opts);
        const q: { agent?: string; version?: string } = {};
        if (opts.agent) q.agent = opts.agent;
        if (opts.versionLabel) q.version = opts.versionLabel;
        const list = await client.listWorkers(q);
        if (opts.json) return printJson({ workers: list });
        printTable(
          list.map((w) => ({ ...w, url: w.url ?? '(in-process)', lastSeen: fmtTime(w.lastSeenAt) })),
          ['id', 'agent', 'version', 'health', 'url', 'lastSeen'],
        );
      }),
    );
}
