/** `baton serve --store postgres://…` in a child process: a rollout started and aborted through the CLI. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, serve } from './helpers';
import type { Served } from './helpers';

const PG = process.env.BATON_TEST_PG_URL;
if (!PG) {
  if (process.env.CI === 'true') throw new Error('BATON_TEST_PG_URL is required when CI=true');
  console.warn(
    'skipping baton serve on PostgreSQL: set BATON_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test)',
  );
}

describe.skipIf(!PG)('baton serve on PostgreSQL', () => {
  const schema = `baton_cli_${randomBytes(4).toString('hex')}`;
  let dir: string;
  let server: Served;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'baton-cli-pg-'));
    server = await serve(
      [
        '--store',
        PG!,
        '--store-schema',
        schema,
        '--agent',
        '@baton/example-support-agent#v1',
        '--agent',
        '@baton/example-support-agent#v2',
        '--tokens-file',
        path.join(dir, 'tokens.json'),
      ],
      { cwd: dir },
    );
    env = {
      BATON_SERVER: server.ready.url as string,
      BATON_ADMIN_TOKEN: server.ready.generatedTokens.admin as string,
    };
  });

  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
    if (PG) {
      const pg = await import('pg');
      const client = new pg.default.Client({ connectionString: PG });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reports the PostgreSQL store and runs a rollout start/status/abort', async () => {
    expect(server.ready.store).toMatch(/^postgres:\/\//);
    const versions = await run(['versions', 'list', '--json'], { env, cwd: dir });
    expect(versions.code).toBe(0);
    expect(JSON.parse(versions.stdout).versions).toHaveLength(2);
    const spec = path.join(dir, 'r.json');
    await writeFile(
      spec,
      JSON.stringify({
        agent: 'support',
        to: 'v2',
        steps: [
          { fill: 10, verify: { minSessions: 1000, minDuration: '1h', maxDuration: '2h' } },
          { fill: 100, migrate: 100 },
        ],
      }),
    );
    const started = await run(['rollout', 'start', spec, '--json'], { env, cwd: dir });
    expect(started.code).toBe(0);
    const id = JSON.parse(started.stdout).id as string;
    const abort = await run(['rollout', 'abort', id, '--json'], { env, cwd: dir });
    expect(abort.code).toBe(0);
    expect(JSON.parse(abort.stdout).phase).toBe('aborted');
    const watch = await run(['rollout', 'watch', id], { env, cwd: dir });
    expect(watch.code).toBe(10);
  });
});
