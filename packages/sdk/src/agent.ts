/**
 * `defineAgent`: how an agent version is written. The result is immutable data plus
 * functions; its `manifest()` is what a worker reports when it registers the version.
 */
import { z } from 'zod';
import { MAX_HISTORY_WINDOW, ValidationError, canonicalJson, sha256Hex } from '@baton/core';
import type { ContextPolicy, HistoryPolicy, TurnInput, VersionManifest } from '@baton/core';
import type { CompensationFn, TurnContext, WaitSchemas } from './context';
import type { HistoryReader } from './history';
import type { Migrations, NoSchemas, StateSchemas } from './migrations';
import { shadowPolicy } from './shadow';
import type { ShadowPolicy } from './shadow';

export interface ToolSpec {
  name: string;
  description?: string;
  /** JSON Schema of the arguments, or a zod schema (converted with `z.toJSONSchema`). */
  parameters?: Record<string, unknown> | z.ZodType;
}

export interface AgentHooks {
  /** Open external connections. Called once before the first turn a worker runs (and again after `close`). */
  open?(): unknown;
  /** Close external connections. Called when the worker stops serving this version. */
  close?(): unknown;
  /** Called after every turn the worker answered successfully (a boundary). */
  boundary?(info: { sessionId: string; turnId: string; status: string }): unknown;
}

export type TurnHandler<S, W extends WaitSchemas = WaitSchemas> = (
  ctx: TurnContext<S, W>,
  input: TurnInput,
) => unknown;

/**
 * An agent version's spec. `W` (its `waits`), `V` (its `schemaVersion`) and `P` (its
 * `migrations.schemas`) are inferred by `defineAgent`: they type `ctx.payload(name)` and the steps
 * of its migrations.
 */
export interface AgentSpec<
  S,
  W extends WaitSchemas = WaitSchemas,
  V extends number = number,
  P extends StateSchemas = NoSchemas,
> {
  name: string;
  /** Version label, e.g. `v2`. */
  version: string;
  schemaVersion: V;
  state: z.ZodType<S>;
  initialState(): S;
  migrations?: Migrations<S, V, P>;
  prompts?: Record<string, string>;
  modelId: string;
  tools?: ToolSpec[];
  /** On migration to this version: carry the working context as is (default) or rebuild it. */
  contextPolicy?: ContextPolicy;
  /** Builds the working context of a session arriving on this version (may be async). */
  rebuildContext?(history: HistoryReader, state: S): unknown;
  /**
   * Payload schemas of named waits; a callback for a wait of that name is validated before the turn,
   * and `ctx.payload(name)` returns its payload typed from the schema.
   */
  waits?: W;
  hooks?: AgentHooks;
  /**
   * Extra build identity folded into the code hash (e.g. a commit id). `fn.toString()` only
   * covers the handler's own text, not the helpers it calls.
   */
  build?: string;
  /**
   * The history window this version's turns receive (default `DEFAULT_HISTORY_WINDOW`: the newest
   * 100 entries, at most 1 MiB; at most `MAX_HISTORY_WINDOW`) and an optional retention of the
   * session's history log. Part of the version's identity when set.
   */
  history?: HistoryPolicy;
  /**
   * Compensations by name: `ctx.effect(…, {compensate: name})` names one. Listed in the manifest,
   * so the router knows which versions can run which compensation.
   */
  compensations?: Record<string, CompensationFn>;
  /**
   * How this version behaves in shadow turns (a rollout's shadow stage): what a diverging effect
   * call does, and which tools are replayed from blue's recording (see `ShadowPolicy`). Part of the
   * version's identity when set (a `replay` tool records its results in the history).
   */
  shadow?: ShadowPolicy;
  turn: TurnHandler<S, W>;
}

export interface AgentDefinition<
  S = unknown,
  W extends WaitSchemas = WaitSchemas,
  V extends number = number,
  P extends StateSchemas = NoSchemas,
> extends Readonly<AgentSpec<S, W, V, P>> {
  readonly contextPolicy: ContextPolicy;
  readonly identity: string;
  manifest(): VersionManifest;
  /** Schema versions this agent's `up` chain accepts (besides its own). */
  acceptsSchemas(): number[];
  /** Schema versions its `down` chain reaches. */
  downSchemas(): number[];
}

function jsonSchemaOf(s: z.ZodType): unknown {
  try {
    return z.toJSONSchema(s, { unrepresentable: 'any' });
  } catch {
    return null;
  }
}

function toolManifest(tools: ToolSpec[]): unknown[] {
  return tools.map((t) => ({
    name: t.name,
    description: t.description ?? null,
    parameters: t.parameters instanceof z.ZodType ? jsonSchemaOf(t.parameters) : (t.parameters ?? null),
  }));
}

function fnText(f: unknown): string | null {
  return typeof f === 'function' ? f.toString() : null;
}

function numberedFns(m: Readonly<Record<number, unknown>> | undefined): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [k, f] of Object.entries(m ?? {})) out[k] = fnText(f);
  return out;
}

/** The schemas below `to` linked to `to` without a gap by `fns` (`fns[s]` links s and s + 1), ascending. */
function chainedSchemas(to: number, fns: Readonly<Record<number, unknown>> | undefined): number[] {
  const out: number[] = [];
  for (let s = to - 1; s >= 1 && typeof fns?.[s] === 'function'; s--) out.unshift(s);
  return out;
}

function positiveInteger(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)
    throw new ValidationError(`history ${what} must be an integer from 1 to ${max}`, { [what]: v });
}

/** Checks a declared history policy; returns a plain copy of it (only the known fields). */
export function historyPolicy(p: HistoryPolicy): HistoryPolicy {
  if (!p || typeof p !== 'object') throw new ValidationError('history must be an object');
  const out: HistoryPolicy = {};
  if (p.window !== undefined) {
    if (!p.window || typeof p.window !== 'object')
      throw new ValidationError('history.window must be an object');
    positiveInteger(p.window.entries, 'window.entries', MAX_HISTORY_WINDOW.entries);
    positiveInteger(p.window.bytes, 'window.bytes', MAX_HISTORY_WINDOW.bytes);
    out.window = {};
    if (p.window.entries !== undefined) out.window.entries = p.window.entries;
    if (p.window.bytes !== undefined) out.window.bytes = p.window.bytes;
  }
  if (p.retention !== undefined) {
    if (!p.retention || typeof p.retention !== 'object')
      throw new ValidationError('history.retention must be an object');
    positiveInteger(p.retention.maxEntries, 'retention.maxEntries');
    positiveInteger(p.retention.maxAgeMs, 'retention.maxAgeMs');
    out.retention = {};
    if (p.retention.maxEntries !== undefined) out.retention.maxEntries = p.retention.maxEntries;
    if (p.retention.maxAgeMs !== undefined) out.retention.maxAgeMs = p.retention.maxAgeMs;
  }
  return out;
}

/**
 * Hashes of a spec, as in the VersionRecord. A declared history policy changes behaviour, so it
 * is folded into the code hash (like the context policy); specs without one hash as before.
 */
export function computeManifest<S>(spec: AgentSpec<S>): VersionManifest {
  const history = spec.history === undefined ? undefined : historyPolicy(spec.history);
  const shadow = spec.shadow === undefined ? undefined : shadowPolicy(spec.shadow);
  const compensations = Object.keys(spec.compensations ?? {}).sort();
  const promptHash = sha256Hex(canonicalJson(spec.prompts ?? {}));
  const toolManifestHash = sha256Hex(canonicalJson(toolManifest(spec.tools ?? [])));
  const codeHash = sha256Hex(
    canonicalJson({
      turn: fnText(spec.turn),
      initialState: fnText(spec.initialState),
      up: numberedFns(spec.migrations?.up),
      down: numberedFns(spec.migrations?.down),
      rebuildContext: fnText(spec.rebuildContext),
      contextPolicy: spec.contextPolicy ?? 'carry',
      state: jsonSchemaOf(spec.state),
      waits: Object.fromEntries(Object.entries(spec.waits ?? {}).map(([k, s]) => [k, jsonSchemaOf(s)])),
      build: spec.build ?? null,
      ...(history === undefined ? {} : { history }),
      ...(shadow === undefined ? {} : { shadow }),
      ...(compensations.length === 0
        ? {}
        : {
            compensations: Object.fromEntries(compensations.map((n) => [n, fnText(spec.compensations![n])])),
          }),
    }),
  );
  const identity = sha256Hex(
    canonicalJson({
      agent: spec.name,
      label: spec.version,
      schemaVersion: spec.schemaVersion,
      modelId: spec.modelId,
      promptHash,
      toolManifestHash,
      codeHash,
    }),
  );
  return {
    agent: spec.name,
    label: spec.version,
    schemaVersion: spec.schemaVersion,
    modelId: spec.modelId,
    promptHash,
    toolManifestHash,
    codeHash,
    identity,
    acceptsSchemas: chainedSchemas(spec.schemaVersion, spec.migrations?.up),
    downSchemas: chainedSchemas(spec.schemaVersion, spec.migrations?.down),
    ...(history === undefined ? {} : { history }),
    ...(compensations.length === 0 ? {} : { compensations }),
  };
}

/** Define an agent version. Throws `VALIDATION` when the spec is malformed. */
export function defineAgent<
  S,
  W extends WaitSchemas = NoSchemas,
  V extends number = number,
  P extends StateSchemas = NoSchemas,
>(spec: AgentSpec<S, W, V, P>): AgentDefinition<S, W, V, P> {
  if (!spec.name || typeof spec.name !== 'string') throw new ValidationError('agent name is required');
  if (!spec.version || typeof spec.version !== 'string')
    throw new ValidationError('agent version label is required');
  if (!Number.isInteger(spec.schemaVersion) || spec.schemaVersion < 1)
    throw new ValidationError('schemaVersion must be an integer >= 1', { schemaVersion: spec.schemaVersion });
  if (!(spec.state instanceof z.ZodType)) throw new ValidationError('state must be a zod schema');
  if (typeof spec.turn !== 'function') throw new ValidationError('turn handler is required');
  if (!spec.modelId) throw new ValidationError('modelId is required');
  const policy = spec.contextPolicy ?? 'carry';
  if (policy === 'rebuild' && typeof spec.rebuildContext !== 'function')
    throw new ValidationError("contextPolicy 'rebuild' needs a rebuildContext function");
  const names = new Set<string>();
  for (const t of spec.tools ?? []) {
    if (names.has(t.name)) throw new ValidationError(`duplicate tool ${t.name}`);
    names.add(t.name);
  }
  for (const [n, f] of Object.entries(spec.compensations ?? {})) {
    if (!n || n.length > 200) throw new ValidationError('compensation names must be 1 to 200 characters');
    if (typeof f !== 'function') throw new ValidationError(`compensation ${n} must be a function`);
  }
  const initial = spec.state.safeParse(spec.initialState());
  if (!initial.success)
    throw new ValidationError('initialState() does not match the state schema', {
      issues: initial.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  const manifest = computeManifest(spec);
  return Object.freeze({
    ...spec,
    contextPolicy: policy,
    identity: manifest.identity,
    manifest: () => ({
      ...manifest,
      acceptsSchemas: [...manifest.acceptsSchemas],
      downSchemas: [...manifest.downSchemas],
      ...(manifest.history === undefined ? {} : { history: structuredClone(manifest.history) }),
      ...(manifest.compensations === undefined ? {} : { compensations: [...manifest.compensations] }),
    }),
    acceptsSchemas: () => [...manifest.acceptsSchemas],
    downSchemas: () => [...manifest.downSchemas],
  });
}
