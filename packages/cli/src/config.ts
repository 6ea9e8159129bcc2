/**
 * `baton serve` configuration. Precedence: flags > environment (`BATON_*`) > config file > defaults.
 * Tokens: when none are configured, they are generated on first start, written to a tokens file
 * (mode 0600; next to the SQLite file, or `./baton.tokens.json` for PostgreSQL) and printed once.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError, checkInstanceId, randomToken } from '@baton/core';
import { readDocument } from './files';

export interface Tokens {
  traffic: string;
  admin: string;
  worker: string;
}

export interface ServeConfig {
  store: string;
  /** PostgreSQL schema holding Baton's tables (created when missing); null = the connection's default. */
  storeSchema: string | null;
  host: string;
  port: number;
  tokens: Partial<Tokens>;
  tokensFile: string;
  /** Ms to let in-flight turns finish on SIGTERM/SIGINT. */
  shutdownTimeoutMs: number;
  /** Ms a worker may take for one turn (and one migration) before the turn fails with TURN_TIMEOUT. */
  turnTimeoutMs: number;
  /** Agent modules served in-process: `module[#export]`. */
  agents: string[];
  /** Checkpoints kept per session (older ones are compacted; migration boundaries are kept). */
  keepCheckpoints: number;
  /** History retention for every agent version, overriding what versions declare; null: theirs. */
  historyRetention: { maxEntries?: number; maxAgeMs?: number } | null;
  /** This process's identity in a fleet (lock and lease owner); null: a random one per start. */
  instanceId: string | null;
  /** Where each setting came from, for `--print-config`. */
  sources: Record<string, 'flag' | 'env' | 'file' | 'default'>;
}

export interface ServeFlags {
  store?: string;
  storeSchema?: string;
  host?: string;
  port?: string;
  trafficToken?: string;
  adminToken?: string;
  workerToken?: string;
  tokensFile?: string;
  shutdownTimeout?: string;
  turnTimeout?: string;
  agent?: string[];
  config?: string;
  keepCheckpoints?: string;
  historyMaxEntries?: string;
  historyMaxAge?: string;
  instanceId?: string;
}

export const DEFAULT_PORT = 7070;
export const DEFAULT_SERVER = `http://127.0.0.1:${DEFAULT_PORT}`;

function isPostgres(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

export function defaultTokensFile(store: string): string {
  if (isPostgres(store)) return path.resolve('baton.tokens.json');
  if (store === ':memory:') return path.resolve('baton.tokens.json');
  return path.resolve(store.replace(/^sqlite:(\/\/)?/i, '') + '.tokens.json');
}

function parsePort(v: string | number, source: string): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new ValidationError(`${source}: port must be an integer 0..65535, got ${v}`);
  return n;
}

/** Parses `500`, `500ms`, `30s`, `2m`, `4h`, `30d`. */
export function parseDurationMs(v: string | number, source: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(String(v));
  if (!m)
    throw new ValidationError(`${source}: invalid duration ${JSON.stringify(v)} (e.g. 500ms, 30s, 2m, 30d)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  const ms = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit as 'ms' | 's' | 'm' | 'h' | 'd'];
  return n * ms;
}

type FileConfig = {
  store?: string;
  storeSchema?: string;
  host?: string;
  port?: number | string;
  tokens?: Partial<Tokens>;
  tokensFile?: string;
  shutdownTimeout?: number | string;
  turnTimeout?: number | string;
  agents?: string[];
  keepCheckpoints?: number | string;
  historyRetention?: { maxEntries?: number | string; maxAge?: number | string };
  instanceId?: string;
};

function positiveInt(v: string | number, source: string): number {
  const n = typeof v === 'number' ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1)
    throw new ValidationError(`${source}: must be a positive integer, got ${v}`);
  return n;
}

export async function resolveServeConfig(
  flags: ServeFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServeConfig> {
  const configPath = flags.config ?? env.BATON_CONFIG;
  let file: FileConfig = {};
  if (configPath) {
    const doc = (await readDocument(configPath)) as Record<string, unknown>;
    const known = new Set([
      'store',
      'storeSchema',
      'host',
      'port',
      'tokens',
      'tokensFile',
      'shutdownTimeout',
      'turnTimeout',
      'agents',
      'keepCheckpoints',
      'historyRetention',
      'instanceId',
    ]);
    for (const k of Object.keys(doc))
      if (!known.has(k)) throw new ValidationError(`${configPath}: unknown setting "${k}"`);
    file = doc as FileConfig;
    if (
      file.agents !== undefined &&
      !(Array.isArray(file.agents) && file.agents.every((a) => typeof a === 'string'))
    )
      throw new ValidationError(`${configPath}: agents must be a list of module paths`);
  }
  const sources: ServeConfig['sources'] = {};
  function pick<T>(
    name: string,
    flag: T | undefined,
    envVal: T | undefined,
    fileVal: T | undefined,
    def: T,
  ): T {
    if (flag !== undefined) return ((sources[name] = 'flag'), flag);
    if (envVal !== undefined && envVal !== '') return ((sources[name] = 'env'), envVal);
    if (fileVal !== undefined) return ((sources[name] = 'file'), fileVal);
    sources[name] = 'default';
    return def;
  }
  const store = pick('store', flags.store, env.BATON_STORE, file.store, './baton.db');
  const storeSchema = pick<string | null>(
    'storeSchema',
    flags.storeSchema,
    env.BATON_STORE_SCHEMA,
    file.storeSchema,
    null,
  );
  const host = pick('host', flags.host, env.BATON_HOST, file.host, '127.0.0.1');
  const portRaw = pick<string | number>('port', flags.port, env.BATON_PORT, file.port, DEFAULT_PORT);
  const port = parsePort(portRaw, `port (${sources.port})`);
  const shutdownRaw = pick<string | number>(
    'shutdownTimeout',
    flags.shutdownTimeout,
    env.BATON_SHUTDOWN_TIMEOUT,
    file.shutdownTimeout,
    30_000,
  );
  const shutdownTimeoutMs = parseDurationMs(shutdownRaw, `shutdown timeout (${sources.shutdownTimeout})`);
  const turnRaw = pick<string | number>(
    'turnTimeout',
    flags.turnTimeout,
    env.BATON_TURN_TIMEOUT,
    file.turnTimeout,
    30_000,
  );
  const turnTimeoutMs = parseDurationMs(turnRaw, `turn timeout (${sources.turnTimeout})`);
  if (turnTimeoutMs < 100)
    throw new ValidationError(
      `turn timeout (${sources.turnTimeout}): must be at least 100ms, got ${turnRaw}`,
    );
  const tokensFile = path.resolve(
    pick('tokensFile', flags.tokensFile, env.BATON_TOKENS_FILE, file.tokensFile, defaultTokensFile(store)),
  );
  const tokens: Partial<Tokens> = {};
  for (const k of ['traffic', 'admin', 'worker'] as const) {
    const flag = k === 'traffic' ? flags.trafficToken : k === 'admin' ? flags.adminToken : flags.workerToken;
    const v = pick<string | undefined>(
      `tokens.${k}`,
      flag,
      env[`BATON_${k.toUpperCase()}_TOKEN`],
      file.tokens?.[k],
      undefined,
    );
    if (v !== undefined) tokens[k] = v;
  }
  const agents = pick(
    'agents',
    flags.agent && flags.agent.length > 0 ? flags.agent : undefined,
    env.BATON_AGENTS?.split(',').filter(Boolean),
    file.agents,
    [],
  );
  const keepRaw = pick<string | number>(
    'keepCheckpoints',
    flags.keepCheckpoints,
    env.BATON_KEEP_CHECKPOINTS,
    file.keepCheckpoints,
    10,
  );
  const keepCheckpoints = positiveInt(keepRaw, `keep checkpoints (${sources.keepCheckpoints})`);
  const maxEntries = pick<string | number | undefined>(
    'historyRetention.maxEntries',
    flags.historyMaxEntries,
    env.BATON_HISTORY_MAX_ENTRIES,
    file.historyRetention?.maxEntries,
    undefined,
  );
  const maxAge = pick<string | number | undefined>(
    'historyRetention.maxAge',
    flags.historyMaxAge,
    env.BATON_HISTORY_MAX_AGE,
    file.historyRetention?.maxAge,
    undefined,
  );
  const historyRetention =
    maxEntries === undefined && maxAge === undefined
      ? null
      : {
          ...(maxEntries !== undefined
            ? {
                maxEntries: positiveInt(
                  maxEntries,
                  `history max entries (${sources['historyRetention.maxEntries']})`,
                ),
              }
            : {}),
          ...(maxAge !== undefined
            ? { maxAgeMs: parseDurationMs(maxAge, `history max age (${sources['historyRetention.maxAge']})`) }
            : {}),
        };
  const instanceRaw = pick<string | null>(
    'instanceId',
    flags.instanceId,
    env.BATON_INSTANCE_ID,
    file.instanceId,
    null,
  );
  const instanceId =
    instanceRaw === null ? null : checkInstanceId(String(instanceRaw), `instance id (${sources.instanceId})`);
  return {
    store,
    storeSchema,
    instanceId,
    host,
    port,
    tokens,
    tokensFile,
    shutdownTimeoutMs,
    turnTimeoutMs,
    agents,
    keepCheckpoints,
    historyRetention,
    sources,
  };
}

/**
 * Fill in missing tokens: from the tokens file when it exists, otherwise generated and written to it.
 * Returns the full set and whether any were generated now (to be printed once).
 */
export async function ensureTokens(
  cfg: ServeConfig,
): Promise<{ tokens: Tokens; generated: Array<keyof Tokens> }> {
  let saved: Partial<Tokens> = {};
  if (existsSync(cfg.tokensFile)) {
    try {
      saved = JSON.parse(await readFile(cfg.tokensFile, 'utf8')) as Partial<Tokens>;
    } catch (e) {
      throw new ValidationError(`tokens file ${cfg.tokensFile} is not valid JSON: ${(e as Error).message}`);
    }
  }
  const generated: Array<keyof Tokens> = [];
  const out = {} as Tokens;
  let dirty = false;
  for (const k of ['traffic', 'admin', 'worker'] as const) {
    const v = cfg.tokens[k] ?? saved[k];
    if (v) out[k] = v;
    else {
      out[k] = `bt_${k}_${randomToken(24)}`;
      generated.push(k);
      saved[k] = out[k];
      dirty = true;
    }
  }
  if (dirty) {
    await writeFile(cfg.tokensFile, JSON.stringify(saved, null, 2) + '\n', { mode: 0o600 });
    await chmod(cfg.tokensFile, 0o600);
  }
  return { tokens: out, generated };
}

/** The admin token for CLI commands: `--token`, `BATON_ADMIN_TOKEN`, else `./baton.db.tokens.json` if present. */
export function adminTokenFrom(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  return tokenFrom('admin', flag, env);
}

/** A token of `kind`: the flag, `BATON_<KIND>_TOKEN`, else the local tokens file `./baton.db.tokens.json` if present. */
export async function tokenFrom(
  kind: keyof Tokens,
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  if (flag) return flag;
  const fromEnv = env[`BATON_${kind.toUpperCase()}_TOKEN`];
  if (fromEnv) return fromEnv;
  const local = path.resolve(env.BATON_TOKENS_FILE ?? 'baton.db.tokens.json');
  if (existsSync(local)) {
    try {
      const t = JSON.parse(await readFile(local, 'utf8')) as Partial<Tokens>;
      return t[kind];
    } catch {
      return undefined;
    }
  }
  return undefined;
}
