/**
 * The worker protocol's calls (docs/worker-protocol.md), defined once: the router's requests to a
 * worker and the worker's answers, for protocol 2 and protocol 1 (workers built with the first
 * SDK, `…V1`). A worker checks what it receives against these schemas, the router what it gets
 * back; the protocol's TypeScript types (`TurnRequest`, `TurnResponse`, …) are derived from them.
 */
import { z } from 'zod';
import { nameSchema } from './api/params';
import {
  checkpointBodySchema,
  contextPolicySchema,
  historyEntrySchema,
  historyPolicySchema,
  partHashesSchema,
  storedHistoryEntrySchema,
  turnTelemetrySchema,
  unchangedSchema,
  waitSchema,
  wireCapability,
  wireId,
} from './shapes';

/** The latest checkpoint as a protocol-2 worker receives it: the body's parts and their hashes. */
export const checkpointViewSchema = checkpointBodySchema.extend({
  seq: z.number().int().min(0),
  schemaVersion: z.number().int().min(1),
  /** What each part hashes to: a worker that leaves a part unchanged answers with this hash. */
  hashes: partHashesSchema,
  /** Entries in the session's history log (the request's `history` holds the newest of them). */
  historyLength: z.number().int().min(0),
});

/** Protocol 1: the whole body, with `history`, in one object. */
export const checkpointV1Schema = z.object({
  seq: z.number().int().min(0),
  schemaVersion: z.number().int().min(1),
  body: checkpointBodySchema.extend({ history: z.array(historyEntrySchema) }),
});

export const turnInputSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('message'), message: z.unknown() }),
  z.object({
    kind: z.literal('callback'),
    token: z.string().min(1),
    name: z.string().min(1),
    payload: z.unknown(),
  }),
  z.object({ kind: z.literal('timeout'), token: z.string().min(1), name: z.string().min(1) }),
]);

export const turnSessionSchema = z.object({
  id: wireId,
  agent: wireId,
  version: wireId,
  tenant: z.string().nullable().optional().default(null),
});

/** The session of a migrate or compensate call; `version` is the version of the worker called. */
export const callSessionSchema = z.object({ id: wireId, agent: wireId, version: wireId });

// ---- shadow turns (core/src/shadow.ts) ---------------------------------------------------------

/** One effect of blue's turn, as its ledger recorded it, in call order. */
export const recordedEffectSchema = z.object({
  name: wireId,
  args: z.unknown(),
  status: z.enum(['intent', 'committed', 'failed']),
  result: z.unknown(),
  error: z.string().nullable(),
});

/** One `ctx.tool` result of blue's turn (recorded for tools declared `replay`), in call order. */
export const recordedToolSchema = z.object({ name: wireId, result: z.unknown() });

export const shadowTurnSchema = z.object({
  effects: z.array(recordedEffectSchema).max(10_000),
  tools: z.array(recordedToolSchema).max(10_000),
});

export const shadowDivergenceKindSchema = z.enum([
  /** green called an effect at a position where blue called none */
  'effect-extra',
  /** green called another effect than blue at this position */
  'effect-name',
  /** same effect, other arguments */
  'effect-args',
  /** blue called an effect green did not */
  'effect-missing',
  /** a `replay` tool with no recorded result left */
  'tool-unrecorded',
]);

export const shadowDivergenceSchema = z.object({
  kind: shadowDivergenceKindSchema,
  /** Position of the effect in the turn (tools: position among that tool's calls). */
  index: z.number(),
  /** What green called (effect-missing: what blue called). */
  name: z.string(),
  /** What blue recorded at this position, when anything. */
  recorded: z.object({ name: z.string(), args: z.unknown().optional() }).optional(),
  args: z.unknown().optional(),
});

export const shadowReportSchema = z.object({
  /** The effects green called, in order; `replayed`: blue's recorded result was returned. */
  effects: z.array(z.object({ name: z.string(), args: z.unknown(), replayed: z.boolean() })),
  divergences: z.array(shadowDivergenceSchema),
  /** Tool calls served from blue's recording / run for real (tools declared `run`). */
  tools: z.object({ replayed: z.number(), ran: z.number() }),
});

// ---- POST /v1/turn -----------------------------------------------------------------------------

export const turnRequestSchema = z.object({
  protocol: z.literal(2),
  session: turnSessionSchema,
  /** The latest checkpoint, or null for a session's first turn. */
  checkpoint: checkpointViewSchema.nullable(),
  /** The newest history entries (the version's window), oldest first. Older ones: page them. */
  history: z.array(storedHistoryEntrySchema),
  input: turnInputSchema,
  /** Stable across retries of the same turn (derived from the idempotency key). */
  turnId: wireId,
  /** Epoch ms by which the worker must answer. */
  deadline: z.number().finite(),
  /** The turn capability: presented on every call back to the router (history, ledger, steps). */
  capability: wireCapability,
  /**
   * A shadow turn (only to a worker whose health reports `shadow`): no effect runs, blue's recorded
   * results are served instead, and nothing is journaled. Its capability is read-only.
   */
  shadow: shadowTurnSchema.optional(),
  /**
   * The W3C trace context (`traceparent`, `tracestate` headers' values) of the router's turn span,
   * present when the router exports traces: a worker's own spans for the turn are its children.
   * An unparseable value is ignored, never refused.
   */
  traceparent: z.string().max(512).optional(),
  tracestate: z.string().max(1024).optional(),
});

/** Protocol 1 (workers built with the first SDK): the whole body, with `history`, in one object. */
export const turnRequestV1Schema = z.object({
  session: turnSessionSchema,
  checkpoint: checkpointV1Schema.nullable(),
  input: turnInputSchema,
  turnId: wireId,
  deadline: z.number().finite(),
});

export const turnOutcomeSchema = z.enum(['idle', 'waiting', 'completed', 'failed']);

export const turnResponseSchema = z.object({
  /** The parts after the turn; a part named in `unchanged` may be left out (so may an undefined value). */
  state: z.unknown().optional(),
  context: z.unknown().optional(),
  /** Entries appended by this turn (the router appends them to the session's history log). */
  history: z.array(historyEntrySchema),
  memory: z.unknown().optional(),
  /**
   * Protocol 2: parts the turn did not change, each with the hash it was received with. Their values
   * above are then ignored (and may be left out); the router never rewrites them.
   */
  unchanged: unchangedSchema.optional(),
  output: z.unknown().optional(),
  status: turnOutcomeSchema,
  waits: z.array(waitSchema),
  telemetry: turnTelemetrySchema,
  schemaVersion: z.number(),
  /** The answer to a shadow turn: what green called and where it diverged from blue's recording. */
  shadow: shadowReportSchema.optional(),
});

// ---- POST /v1/migrate --------------------------------------------------------------------------

/**
 * Protocol 2: the checkpoint without any history (history never moves in a migration); migrations
 * and `rebuildContext` page the history they need through the ledger client with the capability.
 */
export const migrateRequestSchema = z.object({
  protocol: z.literal(2),
  session: callSessionSchema,
  checkpoint: checkpointViewSchema,
  targetSchemaVersion: z.number().int().min(1),
  dryRun: z.boolean().optional().default(false),
  capability: wireCapability,
});

/** Protocol 1: the whole body with the history (the router sends the origin version's window). */
export const migrateRequestV1Schema = z.object({
  session: callSessionSchema,
  checkpoint: checkpointV1Schema,
  targetSchemaVersion: z.number().int().min(1),
  dryRun: z.boolean().optional().default(false),
});

export const migrateResponseSchema = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    /** The migrated body (a protocol-1 worker also sends back a `history`, which the router ignores). */
    body: checkpointBodySchema,
    schemaVersion: z.number(),
    contextPolicy: contextPolicySchema,
    /** Protocol 2: parts the migration left unchanged, with their received hashes. */
    unchanged: unchangedSchema.optional(),
  }),
  z.object({
    ok: z.literal(false),
    error: z.object({
      code: z.enum(['MIGRATION_FAILED', 'STATE_INVALID']),
      message: z.string(),
      path: z.string().optional(),
    }),
  }),
]);

// ---- POST /v1/compensate (protocol 2) ----------------------------------------------------------

/**
 * Run the compensation `compensation` of a committed effect. Its input is the effect's recorded
 * args and result (not the session's state). The compensation's own effects go through the ledger
 * with `capability`, keyed by the original effect, so a retried run never repeats them.
 */
export const compensateRequestSchema = z.object({
  protocol: z.literal(2),
  /** The effect's session; `version` is the version whose worker runs the compensation. */
  session: callSessionSchema,
  effect: z.object({
    id: wireId,
    idempotencyKey: z.string().min(1).max(2000),
    name: wireId,
    /** The version that recorded the effect. */
    version: wireId,
    turnId: wireId,
    args: z.unknown(),
    result: z.unknown(),
  }),
  compensation: wireId,
  /** Epoch ms by which the worker must answer. */
  deadline: z.number().finite(),
  /** The compensation capability: names the effect, the run owner and an expiry. */
  capability: wireCapability,
});

export const compensateResponseSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);

// ---- GET /v1/health, registration ---------------------------------------------------------------

export const workerHealthResponseSchema = z.object({
  ok: z.boolean(),
  agent: z.string(),
  version: z.string(),
  identity: z.string(),
  schemaVersion: z.number(),
  inflight: z.number(),
  /** The worker protocol it speaks; absent means 1. */
  protocol: z.number().optional(),
  /** Protocol 2: the compensations its version declares (absent: it runs none). */
  compensations: z.array(z.string()).optional(),
  /** The shadow-mode version it honours (`SHADOW_PROTOCOL`); absent: it runs no shadow turn. */
  shadow: z.number().optional(),
});

/** Registration data a worker reports about the version it serves (`manifest()`; `POST /v1/versions`). */
export const versionManifestSchema = z.object({
  agent: nameSchema,
  label: nameSchema,
  schemaVersion: z.number().int().min(0),
  modelId: z.string().max(500),
  promptHash: z.string().max(200),
  toolManifestHash: z.string().max(200),
  codeHash: z.string().max(200),
  identity: z.string().min(1).max(200),
  acceptsSchemas: z.array(z.number().int().min(0)).default([]),
  downSchemas: z.array(z.number().int().min(0)).default([]),
  metadata: z.record(z.string(), z.unknown()).optional(),
  /** The names of the compensations the version declares (`defineAgent({compensations})`). */
  compensations: z.array(z.string().min(1).max(200)).max(1000).optional(),
  /** The version's history window and retention (`defineAgent({history})`). */
  history: historyPolicySchema.optional(),
});
