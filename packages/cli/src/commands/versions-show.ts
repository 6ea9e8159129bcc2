/**
 * `baton versions show <label>` and `baton versions diff <a> <b>`: a version's identity and what
 * it is made of (model, prompts, tools, state schema, code, migrations, compensations, history),
 * and what changed between two versions — the questions an operator asks before a rollout.
 */
import type { Command } from 'commander';
import { BatonError, type VersionRecord } from '@baton/core';
import type { BatonClient } from '../client';
import { printJson } from '../output';
import { action, adminOptions, clientFrom, usage } from '../program';
import type { AdminOptions } from '../program';

type Flags = AdminOptions & { agent?: string };

/** The fields an operator compares, in the order shown. */
export interface VersionFacts {
  agent: string;
  label: string;
  identity: string;
  model: string;
  promptHash: string;
  toolManifestHash: string;
  schemaVersion: number;
  acceptsSchemas: number[];
  downSchemas: number[];
  codeHash: string;
  compensations: string[];
  history: unknown;
  createdAt: number;
}

export function factsOf(v: VersionRecord): VersionFacts {
  const meta = v.metadata as { compensations?: unknown; history?: unknown };
  return {
    agent: v.agent,
    label: v.label,
    identity: v.identity,
    model: v.modelId,
    promptHash: v.promptHash,
    toolManifestHash: v.toolManifestHash,
    schemaVersion: v.schemaVersion,
    acceptsSchemas: v.acceptsSchemas,
    downSchemas: v.downSchemas,
    codeHash: v.codeHash,
    compensations: Array.isArray(meta.compensations) ? (meta.compensations as string[]) : [],
    history: meta.history ?? null,
    createdAt: v.createdAt,
  };
}

/** The version `label` (of `agent`, needed only when several agents have that label). */
async function findVersion(
  client: BatonClient,
  label: string,
  agent: string | undefined,
): Promise<VersionRecord> {
  const all = await client.listVersions(agent);
  const hits = all.filter((v) => v.label === label);
  if (hits.length === 0)
    throw new BatonError('VERSION_NOT_FOUND', `no version ${label}${agent ? ` of ${agent}` : ''}`, { label });
  if (hits.length > 1)
    throw usage(`${label} is a version of ${hits.map((v) => v.agent).join(', ')}: pass --agent`);
  return hits[0]!;
}

export interface Change {
  field: string;
  from: unknown;
  to: unknown;
  changed: boolean;
  /** What it means for a rollout. */
  note: string;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** What changed from `a` to `b`, field by field, with what it means for a rollout from a to b. */
export function diffVersions(a: VersionFacts, b: VersionFacts): Change[] {
  const row = (field: string, from: unknown, to: unknown, note: (changed: boolean) => string): Change => {
    const changed = !same(from, to);
    return { field, from, to, changed, note: note(changed) };
  };
  const migrates = b.schemaVersion === a.schemaVersion || b.acceptsSchemas.includes(a.schemaVersion);
  const reverses = b.schemaVersion === a.schemaVersion || b.downSchemas.includes(a.schemaVersion);
  return [
    row('model', a.model, b.model, (c) =>
      c ? 'another model: gate on quality, consider rebuildContext' : '',
    ),
    row('promptHash', a.promptHash, b.promptHash, (c) => (c ? 'the prompts changed' : '')),
    row('toolManifestHash', a.toolManifestHash, b.toolManifestHash, (c) =>
      c ? 'the tools (names, descriptions or parameters) changed' : '',
    ),
    row('schemaVersion', a.schemaVersion, b.schemaVersion, (c) =>
      !c
        ? 'same state schema: sessions move without a migration'
        : migrates
          ? `${b.label} migrates schema ${a.schemaVersion} up to ${b.schemaVersion}${reverses ? ' and back down (onAbort: reverse possible)' : '; no down migration (onAbort: reverse impossible)'}`
          : `${b.label} cannot migrate schema ${a.schemaVersion}: open ${a.label} sessions cannot move (pre-flight fails)`,
    ),
    row('codeHash', a.codeHash, b.codeHash, (c) =>
      c ? 'the code changed (turn, migrations, state schema, waits or context policy)' : '',
    ),
    row('compensations', a.compensations, b.compensations, (c) =>
      c ? 'the declared compensations changed' : '',
    ),
    row('history', a.history, b.history, (c) => (c ? 'the history window or retention changed' : '')),
  ];
}

const short = (v: unknown): string =>
  typeof v === 'string' && /^[0-9a-f]{64}$/.test(v)
    ? v.slice(0, 12)
    : Array.isArray(v)
      ? `[${v.join(', ')}]`
      : v === null
        ? '-'
        : typeof v === 'object'
          ? JSON.stringify(v)
          : String(v);

export function registerVersionsShow(versions: Command): void {
  adminOptions(versions.command('show'))
    .description("a version's identity, model, prompt and tool hashes, schema, migrations and compensations")
    .argument('<label>', 'version label')
    .option('--agent <name>', 'the agent (when several agents have this label)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ baton versions show v2\n  $ baton versions show v2 --agent support --json',
    )
    .action(
      action(async (label: string, opts: Flags) => {
        const client = await clientFrom(opts);
        const f = factsOf(await findVersion(client, label, opts.agent));
        if (opts.json) return printJson(f);
        const rows: Array<[string, unknown]> = [
          ['identity', f.identity],
          ['model', f.model],
          ['prompts', `${f.promptHash} (hash)`],
          ['tools', `${f.toolManifestHash} (hash of names, descriptions, parameters)`],
          ['schema', f.schemaVersion],
          ['migrates from', f.acceptsSchemas.length ? f.acceptsSchemas : 'no other schema'],
          ['migrates down to', f.downSchemas.length ? f.downSchemas : 'none'],
          ['code', `${f.codeHash} (hash)`],
          ['compensations', f.compensations.length ? f.compensations : 'none'],
          ['history', f.history ?? 'defaults'],
          ['registered', new Date(f.createdAt).toISOString()],
        ];
        process.stdout.write(`${f.agent}@${f.label}\n`);
        for (const [k, v] of rows)
          process.stdout.write(
            `  ${k.padEnd(17)} ${Array.isArray(v) ? short(v) : typeof v === 'object' ? JSON.stringify(v) : String(v)}\n`,
          );
      }),
    );

  adminOptions(versions.command('diff'))
    .description('what changed between two versions: model, prompts, tools, schema, code, compensations')
    .argument('<from>', 'version label (e.g. the stable one)')
    .argument('<to>', 'version label (e.g. the candidate)')
    .option('--agent <name>', 'the agent (when several agents have these labels)')
    .addHelpText(
      'after',
      '\nExit code 0 whether or not anything changed.\n\nExample:\n  $ baton versions diff v1 v2',
    )
    .action(
      action(async (from: string, to: string, opts: Flags) => {
        const client = await clientFrom(opts);
        const a = factsOf(await findVersion(client, from, opts.agent));
        const b = factsOf(await findVersion(client, to, opts.agent ?? a.agent));
        if (a.agent !== b.agent) throw usage(`${from} is a version of ${a.agent}, ${to} of ${b.agent}`);
        const changes = diffVersions(a, b);
        if (opts.json)
          return printJson({
            agent: a.agent,
            from: a.label,
            to: b.label,
            same: a.identity === b.identity,
            changes,
          });
        process.stdout.write(
          `${a.agent} ${a.label} -> ${b.label}${a.identity === b.identity ? ' (identical)' : ''}\n`,
        );
        for (const c of changes) {
          const what = c.changed ? `${short(c.from)} -> ${short(c.to)}` : `same (${short(c.from)})`;
          process.stdout.write(
            `  ${c.changed ? '*' : ' '} ${c.field.padEnd(16)} ${what}${c.note ? `  ${c.note}` : ''}\n`,
          );
        }
      }),
    );
}
