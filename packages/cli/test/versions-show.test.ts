/**
 * `baton versions show` and `baton versions diff` against a real `baton serve` with the example
 * agent's versions, compared with the manifests the SDK computes for those versions.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { versions } from '@baton/example-support-agent';
import { run, serve, type Served } from './helpers';

let dir: string;
let server: Served;
let env: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-vshow-'));
  server = await serve([
    '--store',
    path.join(dir, 'baton.db'),
    '--agent',
    '@baton/example-support-agent#v1',
    '--agent',
    '@baton/example-support-agent#v2',
    '--agent',
    '@baton/example-support-agent#v3Chatty',
  ]);
  env = {
    BATON_SERVER: server.ready.url as string,
    BATON_ADMIN_TOKEN: (server.ready.generatedTokens as Record<string, string>).admin!,
  };
}, 60_000);

afterAll(async () => {
  if (server) expect(await server.stop()).toBe(0);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('baton versions show / diff', () => {
  it('show prints the identity, model, hashes, schema, migrations and compensations', async () => {
    // code hashes cover function text, which differs between this test's transform and the
    // server's loader: identity and codeHash come from the stored record, the rest from the SDK
    const m = versions.v2.manifest();
    const stored = (
      JSON.parse((await run(['versions', 'list', '--json'], { env })).stdout) as {
        versions: Array<{ label: string; identity: string; codeHash: string }>;
      }
    ).versions.find((v) => v.label === 'v2')!;
    const json = await run(['versions', 'show', 'v2', '--json'], { env });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      agent: 'support',
      label: 'v2',
      identity: stored.identity,
      model: m.modelId,
      promptHash: m.promptHash,
      toolManifestHash: m.toolManifestHash,
      schemaVersion: m.schemaVersion,
      acceptsSchemas: m.acceptsSchemas,
      downSchemas: m.downSchemas,
      codeHash: stored.codeHash,
      compensations: m.compensations ?? [],
    });
    const text = await run(['versions', 'show', 'v2'], { env });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('support@v2');
    expect(text.stdout).toContain(`identity          ${stored.identity}`);
    expect(text.stdout).toContain(`model             ${m.modelId}`);
    expect(text.stdout).toMatch(/compensations +\[.*cancel_ticket.*\]/);
    const missing = await run(['versions', 'show', 'v9'], { env });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^error VERSION_NOT_FOUND: no version v9/);
  });

  it('diff says what changed between two versions and what it means for a rollout', async () => {
    const [a, b, c] = [versions.v1.manifest(), versions.v2.manifest(), versions['v3-chatty'].manifest()];
    const r = await run(['versions', 'diff', 'v1', 'v2', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as {
      same: boolean;
      changes: Array<{ field: string; from: unknown; to: unknown; changed: boolean; note: string }>;
    };
    expect(d.same).toBe(false);
    const by = Object.fromEntries(d.changes.map((x) => [x.field, x]));
    expect(by.schemaVersion).toMatchObject({ from: a.schemaVersion, to: b.schemaVersion, changed: true });
    expect(by.schemaVersion!.note).toMatch(/migrates schema 1 up to 2 and back down/);
    expect(by.model!.changed).toBe(a.modelId !== b.modelId);
    expect(by.promptHash!.changed).toBe(a.promptHash !== b.promptHash);
    expect(by.toolManifestHash!.changed).toBe(a.toolManifestHash !== b.toolManifestHash);
    expect(by.codeHash!.changed).toBe(true);

    const same = await run(['versions', 'diff', 'v2', 'v3-chatty', '--json'], { env });
    const s = JSON.parse(same.stdout) as {
      changes: Array<{ field: string; changed: boolean; note: string }>;
    };
    const sv = s.changes.find((x) => x.field === 'schemaVersion')!;
    expect(sv.changed).toBe(b.schemaVersion !== c.schemaVersion);
    expect(sv.note).toMatch(/same state schema/);

    const text = await run(['versions', 'diff', 'v1', 'v2'], { env });
    expect(text.stdout).toMatch(/^support v1 -> v2\n/);
    expect(text.stdout).toMatch(/\* schemaVersion +1 -> 2/);
  });
});
