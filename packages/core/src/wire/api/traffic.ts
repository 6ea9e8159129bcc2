/**
 * The traffic API's shapes (bearer `traffic` token, plus the session token): creating a session,
 * turns, the session view, its history, feedback and callbacks. Request bodies are what the
 * server validates; responses are what it answers (objects may carry more fields in a later
 * release: clients ignore what they do not know).
 */
import { z } from 'zod';
import { SESSION_STATUSES, type SessionStatus } from '../../types';
import { limitParam, positionParam } from './params';

const sessionStatus = z.enum(SESSION_STATUSES as [SessionStatus, ...SessionStatus[]]);

/** `POST /v1/agents/{agent}/sessions` (the body is optional). */
export const createSessionBodySchema = z
  .object({
    tenant: z.string().max(200).nullable().optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type CreateSessionBody = z.input<typeof createSessionBodySchema>;

export const createdSessionSchema = z.object({
  sessionId: z.string(),
  /** Shown once: the store keeps only its digest. Sent as `X-Session-Token` on the session's calls. */
  sessionToken: z.string(),
  version: z.string(),
});
export type CreatedSession = z.output<typeof createdSessionSchema>;

/** `POST /v1/sessions/{id}/turns`: `input` is required, any JSON value. */
export const turnBodySchema = z.object({ input: z.unknown() }).strict();
export type TurnBody = z.input<typeof turnBodySchema>;

/** A pending wait as clients see it; `token` only in the answer of the turn that created it. */
export const publicWaitSchema = z.object({
  token: z.string().optional(),
  name: z.string(),
  deadline: z.number(),
  schema: z.record(z.string(), z.unknown()).nullable(),
});

/** The answer of a turn (and of a callback). */
export const turnResultSchema = z.object({
  turnId: z.string(),
  output: z.unknown(),
  version: z.string(),
  seq: z.number().int(),
  status: sessionStatus,
  waits: z.array(publicWaitSchema),
  /** Present when the session was migrated at this boundary before the turn ran. */
  migrated: z.object({ from: z.string(), to: z.string(), seq: z.number().int() }).optional(),
});
export type TurnResult = z.output<typeof turnResultSchema>;

export const migrationRecordSchema = z.object({
  sessionId: z.string(),
  seq: z.number().int(),
  fromVersion: z.string(),
  toVersion: z.string(),
  fromSchema: z.number().int(),
  toSchema: z.number().int(),
  contextPolicy: z.enum(['carry', 'rebuild']),
  rolloutId: z.string().nullable(),
  status: z.enum(['ok', 'failed']),
  error: z.string().nullable(),
  at: z.number(),
});

/** `GET /v1/sessions/{id}` and `POST /v1/sessions/{id}/end`. */
export const sessionViewSchema = z.object({
  sessionId: z.string(),
  agent: z.string(),
  tenant: z.string().nullable(),
  version: z.string(),
  status: sessionStatus,
  seq: z.number().int(),
  reason: z.string().nullable(),
  waits: z.array(publicWaitSchema),
  migrations: z.array(migrationRecordSchema),
  createdAt: z.number(),
  updatedAt: z.number(),
  metadata: z.record(z.string(), z.unknown()),
});
export type SessionView = z.output<typeof sessionViewSchema>;

export const historyPageQuerySchema = z
  .object({ before: positionParam(0).optional(), limit: limitParam() })
  .strict();

export const FEEDBACK_SIGNALS = ['thumbs_up', 'thumbs_down', 'escalation', 'clarification'] as const;

/** `POST /v1/sessions/{id}/feedback`. */
export const feedbackBodySchema = z
  .object({ signal: z.enum(FEEDBACK_SIGNALS), value: z.unknown().optional() })
  .strict();
export type FeedbackBody = z.input<typeof feedbackBodySchema>;

/** `POST /v1/callbacks/{token}`. */
export const callbackBodySchema = z.object({ payload: z.unknown() }).strict();
export type CallbackBody = z.input<typeof callbackBodySchema>;
