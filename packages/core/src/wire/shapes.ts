/**
 * The shapes the worker protocol shares between its calls (docs/worker-protocol.md §2), defined
 * once as zod schemas; the domain types of the same names (`Wait`, `HistoryEntry`, …) are derived
 * from them. Nothing here depends on the rest of core, so every module may derive from it.
 */
import { z } from 'zod';
import { MAX_HISTORY_WINDOW } from '../history-limits';

/** Ids of sessions, agents, versions, turns and effects. */
export const wireId = z.string().min(1).max(500);
/** A part hash (sha256 hex, as the router sends it). */
export const wireHash = z.string().min(1).max(200);
/** A turn capability: opaque to the worker. */
export const wireCapability = z.string().min(1).max(4096);

export const waitSchema = z.object({
  token: z.string().min(1),
  name: z.string().min(1),
  /** Epoch ms after which the wait times out. */
  deadline: z.number(),
  /** JSON Schema the callback payload must satisfy, or null. */
  schema: z.record(z.string(), z.unknown()).nullable(),
  createdAt: z.number(),
});

export const historyRoleSchema = z.enum(['user', 'agent', 'tool', 'system', 'callback']);

export const historyEntrySchema = z.object({
  role: historyRoleSchema,
  content: z.unknown(),
  turnId: z.string(),
  at: z.number(),
});

/** A history entry as the log holds it: its position in the session's append-only log (from 0). */
export const storedHistoryEntrySchema = historyEntrySchema.extend({ index: z.number().int().min(0) });

export const checkpointBodySchema = z.object({
  state: z.unknown(),
  /** The working context: the exact prompt state a model saw. */
  context: z.unknown(),
  waits: z.array(waitSchema),
  memory: z.unknown().optional(),
});

export const checkpointPartSchema = z.enum(['state', 'context', 'memory']);

/** sha256 hex of each part's stored bytes (the JSON text); `memory` is null when the body has none. */
export const partHashesSchema = z.object({ state: wireHash, context: wireHash, memory: wireHash.nullable() });

/** The parts a call left unchanged, each with the hash it was received with. */
export const unchangedSchema = z.partialRecord(checkpointPartSchema, z.string());

export const contextPolicySchema = z.enum(['carry', 'rebuild']);

export const turnTelemetrySchema = z.object({
  latencyMs: z.number(),
  toolCalls: z.record(z.string(), z.number()),
  reasoningSteps: z.number(),
  tokensIn: z.number(),
  tokensOut: z.number(),
  /** Fraction of the model's context window used, 0..1. */
  contextUtilization: z.number(),
  metrics: z.record(z.string(), z.number()),
  signals: z.array(z.string()),
  error: z.string().optional(),
});

export const historyWindowSchema = z.object({
  entries: z.number().int().min(0).max(MAX_HISTORY_WINDOW.entries),
  bytes: z.number().int().min(0).max(MAX_HISTORY_WINDOW.bytes),
});

export const historyRetentionSchema = z
  .object({ maxEntries: z.number().int().min(1), maxAgeMs: z.number().int().min(1) })
  .partial()
  .strict();

/** What an agent version declares about its history (in its manifest, `defineAgent({history})`). */
export const historyPolicySchema = z
  .object({
    window: historyWindowSchema.partial().strict().optional(),
    retention: historyRetentionSchema.optional(),
  })
  .strict();

/** Entries with index below `before` were removed by retention. */
export const historyTrimSchema = z.object({ before: z.number(), at: z.number(), reason: z.string() });

/** One page of a session's history, in ascending index order. */
export const historyPageSchema = z.object({
  sessionId: z.string(),
  entries: z.array(storedHistoryEntrySchema),
  /** Entries in the log (including removed ones: indexes never shift). */
  total: z.number(),
  /** Pass as `before` for the previous (older) page; null when this page starts at the oldest kept entry. */
  nextBefore: z.number().nullable(),
  trimmed: historyTrimSchema.nullable(),
});
