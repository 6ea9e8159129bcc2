/**
 * `defineAgent`: how an agent version is written. The result is immutable data plus
 * functions; its `manifest()` is what a worker reports when it registers the version.
 */
import { z } from 'zod';
import { ValidationError, canonicalJson, sha256Hex } from '@baton/core';
import type { ContextPolicy, HistoryEntry, TurnInput, VersionManifest } from '@baton/core';
import type { TurnContext } from './context';

/** What a migration function sees besides the state. */
export interface MigrationContext {
  sessionId: string;
  /** Schema version of the state passed in. */
  from: number;
  /** Schema version the function must return. */
  to: number;
  history: readonly HistoryEntry[];
  context: unknown;
}

export type MigrationFn = (state: any, ctx: MigrationContext) => unknown;

export interface Migrations {
  /** `up[n]` turns a schema-`n` state into a schema-`n+1` state. */
  up?: Record<number, MigrationFn>;
  /** `down[n]` turns a schema-`n+1` state into a schema-`n` state. */
  down?: Record<number, MigrationFn>;
  /** Optional schemas of other versions, used to validate the result of a down-migration. */
  schemas?: Record<number, z.ZodType>;
}

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

export type TurnHandler<S> = (ctx: TurnContext<S>, input: TurnInput) => unknown;

export interface AgentSpec<S> {
  name: string;
  /** Version label, e.g. `v2`. */
  version: string;
  schemaVersion: number;
  state: z.ZodType<S>;
  initialState(): S;
  migrations?: Migrations;
  prompts?: Record<string, string>;
  modelId: string;
  tools?: ToolSpec[];
  /** On migration to this version: carry the working context as is (default) or rebuild it. */
  contextPolicy?: ContextPolicy;
  rebuildContext?(history: readonly HistoryEntry[], state: S): unknown;
  /** Payload schemas of named waits; a callback for a wait of that name is validated before the turn. */
  waits?: Record<string, z.ZodType>;
  hooks?: AgentHooks;
  /**
   * Extra build identity folded into the code hash (e.g. a commit id). `fn.toString()` only
   * covers the handler's own text, not the helpers it calls.
   */
  build?: string;
  turn: TurnHandler<S>;
}

export interface AgentDefinition<S = unknown> extends Readonly<AgentSpec<S>> {
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

function numberedFns(m: Record<number, MigrationFn> | undefined): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [k, f] of Object.entries(m ?? {})) out[k] = fnText(f);
  return out;
}

/** The schemas below `to` linked to `to` without a gap by `fns` (`fns[s]` links s and s + 1), ascending. */
function chainedSchemas(to: number, fns: Record<number, MigrationFn> | undefined): number[] {
  const out: number[] = [];
  for (let s = to - 1; s >= 1 && typeof fns?.[s] === 'function'; s--) out.unshift(s);
  return out;
}

/** Hashes of a spec, as in the VersionRecord. */
export function computeManifest<S>(spec: AgentSpec<S>): VersionManifest {
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
  };
}

/** Define an agent version. Throws `VALIDATION` when the spec is malformed. */
export function defineAgent<S>(spec: AgentSpec<S>): AgentDefinition<S> {
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
    }),
    acceptsSchemas: () => [...manifest.acceptsSchemas],
    downSchemas: () => [...manifest.downSchemas],
  });
}
