/**
 * `baton serve` configuration. Precedence: flags > environment (`BATON_*`) > config file > defaults.
 * Tokens: when none are configured, they are generated on first start, written to a tokens file
 * (mode 0600; next to the SQLite file, or `./baton.tokens.json` for PostgreSQL) and printed once.
 * Each scope takes several tokens (a comma-separated flag or env value, or a list in the config
 * file), so a token is rotated without downtime: add the new one, move clients, remove the old one.
 * The read scope has no token unless one is configured.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError, checkInstanceId, randomToken } from '@baton/core';
import { readDocument } from './files';

export interface Tokens {
  traffic: string;
  admin: string;
  worker: string;
}

/** The scopes `baton serve` takes tokens for; `read` is optional and never generated. */
export type TokenScope = keyof Tokens | 'read';
export const TOKEN_SCOPES: readonly TokenScope[] = ['traffic', 'admin', 'worker', 'read'];

/** Every accepted token of each scope (the first is the one clients are shown). */
export type TokenLists = Record<keyof Tokens, string[]> & { read: string[] };

export interface ServeConfig {
  store: string;
  /** PostgreSQL schema holding Baton's tables (created when missing); null = the connection's default. */
  storeSchema: string | null;
  host: string;
  port: number;
  /** Configured tokens per scope (flags, env or file); missing ones come from the tokens file. */
  tokens: Partial<Record<TokenScope, string[]>>;
  tokensFile: string;
  /** Ms to let in-flight turns finish on SIGTERM/SIGINT. */
  shutdownTimeoutMs: number;
  /** Ms a worker may take for one turn (and one migration) before the turn fails with TURN_TIMEOUT. */
  turnTimeoutMs: number;
  /** Ms a client may take to send a whole request (headers and body); a slow body is always bounded. */
  requestTimeoutMs: number;
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
  readToken?: string;
  tokensFile?: string;
  shutdownTimeout?: string;
  turnTimeout?: string;
  requestTimeout?: string;
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
  tokens?: Partial<Record<TokenScope, string | string[]>>;
  tokensFile?: string;
  shutdownTimeout?: number | string;
  turnTimeout?: number | string;
  requestTimeout?: number | string;
  agents?: string[];
  keepCheckpoints?: number | string;
  historyRetention?: { maxEntries?: number | string; maxAge?: number | string };
  instanceId?: string;
};

/**
 * A scope's tokens from one setting: a comma-separated string or a list of strings. Empty entries
 * are refused (a stray comma would otherwise go unnoticed), and so are duplicates.
 */
export function tokenList(v: unknown, source: string): string[] {
  const items = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v : null;
  if (items === null || !items.every((t) => typeof t === 'string'))
    throw new ValidationError(`${source}: must be a token, a comma-separated list or a list of tokens`);
  const list = (items as string[]).map((t) => t.trim());
  if (list.length === 0 || list.some((t) => t === ''))
    throw new ValidationError(`${source}: empty token in ${JSON.stringify(v)}`);
  if (new Set(list).size !== list.length) throw new ValidationError(`${source}: a token is listed twice`);
  return list;
}

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
      'requestTimeout',
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
  const requestRaw = pick<string | number>(
    'requestTimeout',
    flags.requestTimeout,
    env.BATON_REQUEST_TIMEOUT,
    file.requestTimeout,
    60_000,
  );
  const requestTimeoutMs = parseDurationMs(requestRaw, `request timeout (${sources.requestTimeout})`);
  if (!(requestTimeoutMs >= 1))
    throw new ValidationError(
      `request timeout (${sources.requestTimeout}): must be at least 1ms, got ${requestRaw}`,
    );
  const tokensFile = path.resolve(
    pick('tokensFile', flags.tokensFile, env.BATON_TOKENS_FILE, file.tokensFile, defaultTokensFile(store)),
  );
  const tokens: ServeConfig['tokens'] = {};
  const tokenFlags = {
    traffic: flags.trafficToken,
    admin: flags.adminToken,
    worker: flags.workerToken,
    read: flags.readToken,
  };
  for (const k of TOKEN_SCOPES) {
    const v = pick<string | string[] | undefined>(
      `tokens.${k}`,
      tokenFlags[k],
      env[`BATON_${k.toUpperCase()}_TOKEN`],
      file.tokens?.[k],
      undefined,
    );
    if (v !== undefined) tokens[k] = tokenList(v, `${k} token (${sources[`tokens.${k}`]})`);
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
    requestTimeoutMs,
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
): Promise<{ tokens: Tokens; lists: TokenLists; generated: Array<keyof Tokens> }> {
  let saved: Partial<Record<TokenScope, string | string[]>> = {};
  if (existsSync(cfg.tokensFile)) {
    try {
      saved = JSON.parse(await readFile(cfg.tokensFile, 'utf8')) as Partial<Tokens>;
    } catch (e) {
      throw new ValidationError(`tokens file ${cfg.tokensFile} is not valid JSON: ${(e as Error).message}`);
    }
  }
  const generated: Array<keyof Tokens> = [];
  const lists = { read: [] } as unknown as TokenLists;
  let dirty = false;
  for (const k of TOKEN_SCOPES) {
    const v = cfg.tokens[k] ?? (saved[k] ? tokenList(saved[k], `${cfg.tokensFile}: ${k}`) : undefined);
    if (v) lists[k] = v;
    else if (k !== 'read') {
      const t = `bt_${k}_${randomToken(24)}`;
      lists[k] = [t];
      generated.push(k);
      saved[k] = t;
      dirty = true;
    }
  }
  const out: Tokens = { traffic: lists.traffic[0]!, admin: lists.admin[0]!, worker: lists.worker[0]! };
  if (dirty) {
    await writeFile(cfg.tokensFile, JSON.stringify(saved, null, 2) + '\n', { mode: 0o600 });
    await chmod(cfg.tokensFile, 0o600);
  }
  return { tokens: out, lists, generated };
}

/** Where a client command looks for the tokens file `baton serve` wrote. */
export interface TokensLookup {
  /** `--tokens-file` (else `BATON_TOKENS_FILE`): that file only. */
  tokensFile?: string | undefined;
  /** `--store` as given to `baton serve` (else `BATON_STORE`): its tokens file, as serve names it. */
  store?: string | undefined;
}

/**
 * The tokens files to read, in order, the way `baton serve` names them: the one given, else the
 * store's (`x.db` → `x.db.tokens.json`, `./baton.tokens.json` for PostgreSQL), else
 * `./baton.db.tokens.json`, else the only `*.tokens.json` in this directory. `candidates` are the
 * files that would do when none was chosen (several `*.tokens.json` here), for the error.
 */
export function tokensFiles(
  env: NodeJS.ProcessEnv,
  o: TokensLookup = {},
): { files: string[]; candidates: string[] } {
  const given = o.tokensFile ?? env.BATON_TOKENS_FILE;
  if (given) return { files: [path.resolve(given)], candidates: [] };
  const store = o.store ?? env.BATON_STORE;
  if (store) return { files: [defaultTokensFile(store)], candidates: [] };
  const here = path.resolve('baton.db.tokens.json');
  if (existsSync(here)) return { files: [here], candidates: [] };
  let found: string[];
  try {
    found = readdirSync('.').filter((f) => f.endsWith('.tokens.json'));
  } catch {
    found = [];
  }
  if (found.length === 1) return { files: [path.resolve(found[0]!)], candidates: [] };
  return { files: [here], candidates: found.map((f) => path.resolve(f)) };
}

/** The admin token for CLI commands: `--token`, `BATON_ADMIN_TOKEN`, else the tokens file of `baton serve`. */
export function adminTokenFrom(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  lookup: TokensLookup = {},
): Promise<string | undefined> {
  return tokenFrom('admin', flag, env, lookup);
}

/**
 * A token of `kind`: the flag, `BATON_<KIND>_TOKEN`, else the tokens file `baton serve` wrote
 * (see `tokensFiles`). Of a list (what a server in rotation is given), a client presents the first.
 */
export async function tokenFrom(
  kind: TokenScope,
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  lookup: TokensLookup = {},
): Promise<string | undefined> {
  return (await findToken(kind, flag, env, lookup)).token;
}

/** `tokenFrom`, with where it looked (for an error that says exactly where to look). */
export async function findToken(
  kind: TokenScope,
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  lookup: TokensLookup = {},
): Promise<{ token: string | undefined; looked: string[]; candidates: string[] }> {
  const first = (v: unknown): string | undefined => {
    const t = (Array.isArray(v) ? v[0] : typeof v === 'string' ? v.split(',')[0] : undefined) as unknown;
    return typeof t === 'string' && t.trim() !== '' ? t.trim() : undefined;
  };
  if (flag) return { token: first(flag), looked: [], candidates: [] };
  const fromEnv = env[`BATON_${kind.toUpperCase()}_TOKEN`];
  if (fromEnv) return { token: first(fromEnv), looked: [], candidates: [] };
  const { files, candidates } = tokensFiles(env, lookup);
  for (const f of files) {
    if (!existsSync(f)) continue;
    try {
      const t = JSON.parse(await readFile(f, 'utf8')) as Partial<Record<TokenScope, unknown>>;
      const token = first(t[kind]);
      if (token) return { token, looked: files, candidates };
    } catch {
      // unreadable or not JSON: reported as not found, with its path
    }
  }
  return { token: undefined, looked: files, candidates };
}
