/** Configuration precedence of `baton serve`, token files, and the exit-code/error-line contract. */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatonError, ERROR_CODES, HTTP_STATUS, type ErrorCode } from '@baton/core';
import { ensureTokens, resolveServeConfig, tokenFrom } from '../src/config';
import { CliError, ExitCode, exitCodeFor, formatError } from '../src/exit';
import { renderRollout, summaryLine } from '../src/view';
import { serverList } from '../src/worker';
import { formatStatus } from '../src/commands/status';
import type { RolloutStatus } from '../src/client';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-cfg-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('serve configuration', () => {
  it('reads the instance id from a flag, the environment or the file, and refuses one unfit for owners', async () => {
    const file = path.join(dir, 'instance.yaml');
    await writeFile(file, 'instanceId: from-file\n');
    expect((await resolveServeConfig({}, {})).instanceId).toBeNull();
    expect((await resolveServeConfig({ config: file }, {})).instanceId).toBe('from-file');
    expect((await resolveServeConfig({ config: file }, { BATON_INSTANCE_ID: 'env-1' })).instanceId).toBe(
      'env-1',
    );
    const flag = await resolveServeConfig(
      { config: file, instanceId: 'node.1_a-b' },
      { BATON_INSTANCE_ID: 'x' },
    );
    expect(flag.instanceId).toBe('node.1_a-b');
    expect(flag.sources.instanceId).toBe('flag');
    await expect(resolveServeConfig({ instanceId: 'a:b' }, {})).rejects.toThrow(/not a valid instance id/);
    await expect(resolveServeConfig({}, { BATON_INSTANCE_ID: 'x'.repeat(101) })).rejects.toThrow(
      /instance id \(env\)/,
    );
  });

  it('worker --server: repeated and comma-separated, in order, without duplicates; the default otherwise', () => {
    expect(serverList(['http://a:1,http://b:2', 'http://c:3', 'http://a:1'])).toEqual([
      'http://a:1',
      'http://b:2',
      'http://c:3',
    ]);
    expect(serverList('http://a:1, http://b:2')).toEqual(['http://a:1', 'http://b:2']);
    expect(serverList(undefined)).toEqual(['http://127.0.0.1:7070']);
  });

  it('baton status prints the leader, or none', () => {
    const now = 1_800_000_000_000;
    const text = formatStatus(
      {
        instanceId: 'b',
        role: 'follower',
        lock: { ttlMs: 3000, renewMs: 1000 },
        leader: {
          instanceId: 'a',
          since: now - 10_000,
          leaseExpiresAt: now + 2000,
          renewedAt: now - 1000,
          url: 'http://a:1',
          pid: 7,
          host: 'h',
          self: false,
        },
      },
      'http://b:2',
      now,
    );
    expect(text).toContain('instance    b (follower)');
    expect(text).toContain('leader      a\n');
    expect(text).toContain('(in 2.0s)');
    expect(text).toContain('http://a:1  pid 7 on h');
    const none = formatStatus(
      { instanceId: 'b', role: 'follower', lock: null, leader: null },
      'http://b:2',
      now,
    );
    expect(none).toContain('leader      none');
  });

  it('reads compaction and history retention, flags over environment over the file, and refuses bad values', async () => {
    const file = path.join(dir, 'history.yaml');
    await writeFile(file, 'keepCheckpoints: 4\nhistoryRetention: { maxEntries: 5000, maxAge: 30d }\n');
    const fromFile = await resolveServeConfig({ config: file }, {});
    expect(fromFile.keepCheckpoints).toBe(4);
    expect(fromFile.historyRetention).toEqual({ maxEntries: 5000, maxAgeMs: 30 * 86_400_000 });
    const fromEnv = await resolveServeConfig({ config: file }, { BATON_HISTORY_MAX_ENTRIES: '200' });
    expect(fromEnv.historyRetention).toEqual({ maxEntries: 200, maxAgeMs: 30 * 86_400_000 });
    const fromFlag = await resolveServeConfig(
      { config: file, keepCheckpoints: '12', historyMaxEntries: '50' },
      { BATON_HISTORY_MAX_ENTRIES: '200', BATON_KEEP_CHECKPOINTS: '3' },
    );
    expect(fromFlag.keepCheckpoints).toBe(12);
    expect(fromFlag.historyRetention?.maxEntries).toBe(50);
    const defaults = await resolveServeConfig({}, {});
    expect(defaults.keepCheckpoints).toBe(10);
    expect(defaults.historyRetention).toBeNull();
    await expect(resolveServeConfig({ keepCheckpoints: '0' }, {})).rejects.toThrow(
      /keep checkpoints.*positive integer/,
    );
    await expect(resolveServeConfig({ historyMaxEntries: '1e3' }, {})).rejects.toThrow(/history max entries/);
    await expect(resolveServeConfig({ historyMaxAge: 'soon' }, {})).rejects.toThrow(/invalid duration/);
  });

  it('flags beat environment, environment beats the config file, the file beats defaults', async () => {
    const file = path.join(dir, 'baton.config.yaml');
    await writeFile(
      file,
      'port: 7100\nhost: 0.0.0.0\nstore: ./from-file.db\nshutdownTimeout: 45s\ntokens: { admin: file-admin }\n',
    );
    const fromFile = await resolveServeConfig({ config: file }, {});
    expect(fromFile.port).toBe(7100);
    expect(fromFile.host).toBe('0.0.0.0');
    expect(fromFile.store).toBe('./from-file.db');
    expect(fromFile.shutdownTimeoutMs).toBe(45_000);
    expect(fromFile.tokens.admin).toEqual(['file-admin']);
    expect(fromFile.sources.port).toBe('file');

    const fromEnv = await resolveServeConfig(
      { config: file },
      { BATON_PORT: '7200', BATON_ADMIN_TOKEN: 'env-admin' },
    );
    expect(fromEnv.port).toBe(7200);
    expect(fromEnv.sources.port).toBe('env');
    expect(fromEnv.tokens.admin).toEqual(['env-admin']);
    expect(fromEnv.host).toBe('0.0.0.0');

    const fromFlag = await resolveServeConfig(
      { config: file, port: '7300', adminToken: 'flag-admin' },
      { BATON_PORT: '7200' },
    );
    expect(fromFlag.port).toBe(7300);
    expect(fromFlag.sources.port).toBe('flag');
    expect(fromFlag.tokens.admin).toEqual(['flag-admin']);

    const defaults = await resolveServeConfig({}, {});
    expect(defaults).toMatchObject({
      port: 7070,
      host: '127.0.0.1',
      store: './baton.db',
      shutdownTimeoutMs: 30_000,
      turnTimeoutMs: 30_000,
    });
    expect(defaults.tokensFile).toBe(path.resolve('baton.db.tokens.json'));
  });

  it('the config file may be named by BATON_CONFIG and must not carry unknown settings', async () => {
    const file = path.join(dir, 'c.json');
    await writeFile(file, JSON.stringify({ port: 7400 }));
    expect((await resolveServeConfig({}, { BATON_CONFIG: file })).port).toBe(7400);
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ prot: 1 }));
    await expect(resolveServeConfig({ config: bad }, {})).rejects.toThrow(/unknown setting "prot"/);
  });

  it('the turn timeout comes from --turn-timeout, BATON_TURN_TIMEOUT or turnTimeout', async () => {
    expect(
      (await resolveServeConfig({ turnTimeout: '8s' }, { BATON_TURN_TIMEOUT: '9s' })).turnTimeoutMs,
    ).toBe(8_000);
    const env = await resolveServeConfig({}, { BATON_TURN_TIMEOUT: '9s' });
    expect([env.turnTimeoutMs, env.sources.turnTimeout]).toEqual([9_000, 'env']);
    const file = path.join(dir, 'turn.json');
    await writeFile(file, JSON.stringify({ turnTimeout: '2m' }));
    expect((await resolveServeConfig({ config: file }, {})).turnTimeoutMs).toBe(120_000);
    await expect(resolveServeConfig({ turnTimeout: '10ms' }, {})).rejects.toMatchObject({
      code: 'VALIDATION',
    });
  });

  it('reads the request timeout (default 60s) and refuses an unbounded one', async () => {
    expect((await resolveServeConfig({}, {})).requestTimeoutMs).toBe(60_000);
    expect(
      (await resolveServeConfig({ requestTimeout: '5s' }, { BATON_REQUEST_TIMEOUT: '9s' })).requestTimeoutMs,
    ).toBe(5_000);
    expect((await resolveServeConfig({}, { BATON_REQUEST_TIMEOUT: '9s' })).requestTimeoutMs).toBe(9_000);
    for (const bad of ['0', '0s', 'never']) {
      await expect(resolveServeConfig({ requestTimeout: bad }, {})).rejects.toMatchObject({
        code: 'VALIDATION',
      });
    }
  });

  it('rejects invalid ports and durations with VALIDATION', async () => {
    await expect(resolveServeConfig({ port: 'abc' }, {})).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(resolveServeConfig({ shutdownTimeout: 'soon' }, {})).rejects.toMatchObject({
      code: 'VALIDATION',
    });
  });

  it('a postgres store keeps its tokens in ./baton.tokens.json, a SQLite store next to the file', async () => {
    const pg = await resolveServeConfig({ store: 'postgres://u:p@127.0.0.1/db' }, {});
    expect(pg.tokensFile).toBe(path.resolve('baton.tokens.json'));
    const lite = await resolveServeConfig({ store: path.join(dir, 'data.db') }, {});
    expect(lite.tokensFile).toBe(path.join(dir, 'data.db.tokens.json'));
  });

  it('generates missing tokens once, writes them 0600, and reuses them', async () => {
    const cfg = await resolveServeConfig({ store: path.join(dir, 't.db'), trafficToken: 'given' }, {});
    const first = await ensureTokens(cfg);
    expect(first.generated.sort()).toEqual(['admin', 'worker']);
    expect(first.tokens.traffic).toBe('given');
    expect((await stat(cfg.tokensFile)).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await readFile(cfg.tokensFile, 'utf8'));
    expect(saved.traffic).toBeUndefined();
    const second = await ensureTokens(cfg);
    expect(second.generated).toEqual([]);
    expect(second.tokens).toEqual(first.tokens);
  });
});

describe('exit codes and error lines', () => {
  it('maps error classes to distinct exit codes', () => {
    expect(exitCodeFor(new BatonError('VALIDATION', 'x'))).toBe(ExitCode.USAGE);
    expect(exitCodeFor(new BatonError('PREFLIGHT_FAILED', 'x'))).toBe(ExitCode.USAGE);
    expect(exitCodeFor(new BatonError('ROLLOUT_NOT_FOUND', 'x'))).toBe(ExitCode.NOT_FOUND);
    expect(exitCodeFor(new BatonError('ROLLOUT_STATE', 'x'))).toBe(ExitCode.CONFLICT);
    expect(exitCodeFor(new BatonError('UNREACHABLE', 'x'))).toBe(ExitCode.UNREACHABLE);
    expect(exitCodeFor(new BatonError('UNAUTHORIZED', 'x'))).toBe(ExitCode.AUTH);
    expect(exitCodeFor(new BatonError('INTERNAL', 'x'))).toBe(ExitCode.OTHER);
    expect(exitCodeFor(new Error('boom'))).toBe(ExitCode.OTHER);
    expect(exitCodeFor(new CliError('TIMEOUT', 'x', 7))).toBe(7);
  });

  it('gives every error code an exit code by its own table, the class its HTTP status implies', () => {
    const byStatus = (code: ErrorCode): number => {
      if (code === 'UNREACHABLE' || code === 'STORE_UNAVAILABLE') return ExitCode.UNREACHABLE;
      if (code === 'UNAUTHORIZED' || code === 'FORBIDDEN') return ExitCode.AUTH;
      const status = HTTP_STATUS[code];
      if (status === 400 || status === 413 || status === 422) return ExitCode.USAGE;
      if (status === 404) return ExitCode.NOT_FOUND;
      if (status === 409) return ExitCode.CONFLICT;
      return ExitCode.OTHER;
    };
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      expect(exitCodeFor(new BatonError(code, 'x')), code).toBe(byStatus(code));
    }
  });

  it('prints one line even for multi-line messages', () => {
    expect(formatError(new BatonError('VALIDATION', 'a\n  b'))).toBe('error VALIDATION: a; b');
    expect(formatError(new Error('x'))).toBe('error INTERNAL: x');
  });
});

describe('rollout view', () => {
  const status: RolloutStatus = {
    id: 'r_1',
    agent: 'support',
    from: 'v1',
    to: 'v2',
    phase: 'progressing',
    step: 1,
    steps: 3,
    weights: { fill: 25, migrate: 10 } as unknown as Record<string, number>,
    sessions: { v1: { idle: 3, waiting: 2 }, v2: { idle: 1 } },
    drain: { total: 10, remaining: 4, progress: 0.6, idle: 3, running: 0, waiting: 1 },
    gates: [
      {
        name: 'thumbs',
        verdict: 'fail',
        critical: true,
        evidence: {
          test: 'proportion',
          metric: 'session.thumbs_down',
          nBlue: 50,
          nGreen: 30,
          blue: {},
          green: {},
          pValue: 0.004,
          effect: 0.2,
          threshold: 0.05,
          tolerance: '+5pp',
          direction: 'lower-is-better',
        },
      },
    ],
    decisions: [{ rolloutId: 'r_1', seq: 1, at: 1000, kind: 'created', message: 'rollout created' }],
  };

  it('renders phase, step, weights, sessions, drain, gates and decisions', () => {
    const text = renderRollout(status).join('\n');
    expect(text).toContain('phase progressing');
    expect(text).toContain('step 2/3');
    expect(text).toMatch(/v1 \[#{15}-{5}\] 75%/);
    expect(text).toMatch(/v2 \[#{5}-{15}\] 25%/);
    expect(text).toContain('10% of v1 sessions move at their boundary');
    // open sessions per version: v1 has 5 of the 6 open ones
    expect(text).toMatch(/v1 .* 5 +\[#{13}-{3}\] 5$/m);
    expect(text).toMatch(/v2 .* 1 +\[#{3}-{13}\] 1$/m);
    expect(text).toMatch(/drain +\[#{18}-{12}\] 60%/);
    expect(text).toMatch(/thumbs +fail +proportion +n=50\/30 +p=0\.0040/);
    expect(text).toContain('rollout created');
  });

  it('summarises in one line for logs', () => {
    expect(summaryLine(status)).toBe(
      'rollout r_1 phase=progressing step=1 weights[v1=75% v2=25% migrate=10%] sessions[v1:5 v2:1] drain=60%',
    );
  });
});

describe('several tokens per scope', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'baton-token-lists-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads comma-separated flags and env values and config-file lists, and refuses empty or repeated entries', async () => {
    const file = path.join(dir, 'c.yaml');
    await writeFile(file, 'tokens:\n  traffic: [t1, t2]\n  worker: w1\n');
    const cfg = await resolveServeConfig(
      { config: file, adminToken: 'a1,a2' },
      { BATON_READ_TOKEN: ' r1 , r2 ', BATON_WORKER_TOKEN: 'w-env' },
    );
    expect(cfg.tokens).toEqual({
      traffic: ['t1', 't2'],
      admin: ['a1', 'a2'],
      worker: ['w-env'],
      read: ['r1', 'r2'],
    });
    await expect(resolveServeConfig({ adminToken: 'a,,b' }, {})).rejects.toThrow(/empty token/);
    await expect(resolveServeConfig({}, { BATON_TRAFFIC_TOKEN: 'x,x' })).rejects.toThrow(/listed twice/);
    await writeFile(file, 'tokens:\n  admin: [a, 3]\n');
    await expect(resolveServeConfig({ config: file }, {})).rejects.toThrow(/list of tokens/);
  });

  it('generates only missing scopes (never a read token), keeping every configured token', async () => {
    const cfg = await resolveServeConfig({ store: path.join(dir, 'g.db'), trafficToken: 'n,o' }, {});
    const t = await ensureTokens(cfg);
    expect(t.lists.traffic).toEqual(['n', 'o']);
    expect(t.tokens.traffic).toBe('n');
    expect(t.lists.read).toEqual([]);
    expect(t.generated.sort()).toEqual(['admin', 'worker']);
  });

  it('a client given a list presents its first token', async () => {
    expect(await tokenFrom('admin', undefined, { BATON_ADMIN_TOKEN: 'new,old' })).toBe('new');
    expect(await tokenFrom('admin', 'f1, f2', {})).toBe('f1');
  });
});
