/**
 * Pieces shared by the backends: row mapping, checkpoint encoding, effect transitions,
 * aggregate merging. Columns use snake_case; JSON is stored as text in both backends.
 */
import { BatonError, CheckpointCorruptError, NotFoundError, ValidationError, sha256Hex } from '@baton/core';
import type {
  Decision,
  EffectRecord,
  EffectStatus,
  MigrationRecord,
  RolloutRecord,
  RouteRecord,
  SessionAggregate,
  SessionRecord,
  SessionStatus,
  TurnTelemetry,
  TurnTelemetryRecord,
  VersionRecord,
  WaitRecord,
  WorkerRecord,
} from '@baton/core';
import { SESSION_STATUSES } from '@baton/core';
import type { CheckpointMeta } from '@baton/core';
import type { AppendCheckpointInput, BeginTurnResult, Lease, SessionExpectation } from './store';

export const DEFAULT_MAX_CHECKPOINT_BYTES = 8 * 1024 * 1024;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

export type Row = Record<string, unknown>;

/** JSON to text; `undefined` becomes SQL NULL. */
export function jsonText(v: unknown): string | null {
  if (v === undefined) return null;
  const s = JSON.stringify(v);
  return s === undefined ? null : s;
}

export function parseJson(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  return JSON.parse(v as string);
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : (v as string);
}

export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1) throw new ValidationError('limit must be a positive integer');
  return Math.min(limit, MAX_PAGE);
}

export function toPage<T extends { id: string }>(
  rows: T[],
  limit: number,
): { items: T[]; nextCursor: string | null } {
  if (rows.length > limit) {
    const items = rows.slice(0, limit);
    return { items, nextCursor: items[items.length - 1]!.id };
  }
  return { items: rows, nextCursor: null };
}

/** Lease and lock durations must be positive, finite milliseconds. */
export function checkTtl(ttlMs: number): void {
  if (!(typeof ttlMs === 'number' && Number.isFinite(ttlMs) && ttlMs > 0)) {
    throw new ValidationError('ttlMs must be a positive number of milliseconds', { ttlMs });
  }
}

export function asArray<T>(v: T | T[] | undefined): T[] | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v : [v];
}

/** `fn()`, or the `BatonError` it throws (anything else propagates): one item's outcome in a batch. */
export function batonErrorOr<T>(fn: () => T): T | BatonError {
  try {
    return fn();
  } catch (e) {
    if (e instanceof BatonError) return e;
    throw e;
  }
}

// ---------- checkpoints ----------

export interface EncodedBody {
  /** The serialized JSON. */
  text: string;
  /** Its UTF-8 bytes: what is stored (SQLite) or sent (PostgreSQL), and what the hash covers. */
  bytes: Buffer;
  size: number;
  hash: string;
}

/** Serialize a checkpoint body, enforcing the size limit before anything else happens. */
function encodeBody(body: unknown, maxBytes: number, sessionId: string): EncodedBody {
  const text = JSON.stringify(body);
  if (text === undefined) throw new ValidationError('checkpoint body is not serializable', { sessionId });
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > maxBytes) {
    throw new BatonError(
      'CHECKPOINT_TOO_LARGE',
      `checkpoint of ${bytes.length} bytes exceeds the limit of ${maxBytes} bytes`,
      { sessionId, size: bytes.length, limit: maxBytes },
    );
  }
  return { text, bytes, size: bytes.length, hash: sha256Hex(bytes) };
}

/**
 * Verify a stored body against its hash and parse it. `raw` is the stored value as the driver
 * returns it: bytes (SQLite BLOB) or text (PostgreSQL, or a value written as text by other tools).
 */
export function decodeBody<B>(meta: CheckpointMeta, raw: unknown): B {
  const actual = sha256Hex(raw as string | Uint8Array);
  if (actual !== meta.hash) throw new CheckpointCorruptError(meta.sessionId, meta.seq, meta.hash, actual);
  const text = typeof raw === 'string' ? raw : (raw as Buffer).toString('utf8');
  return JSON.parse(text) as B;
}

function checkExpectedSeq(input: { sessionId: string; expectedSeq: number }): void {
  if (!Number.isInteger(input.expectedSeq) || input.expectedSeq < 0) {
    throw new ValidationError('expectedSeq must be a non-negative integer', { sessionId: input.sessionId });
  }
}

/** The meta of a checkpoint just appended from `input`. */
export function appendedMeta(
  input: AppendCheckpointInput<unknown>,
  enc: EncodedBody,
  seq: number,
  now: number,
): CheckpointMeta {
  return {
    sessionId: input.sessionId,
    seq,
    schemaVersion: input.schemaVersion,
    writtenBy: input.writtenBy,
    hash: enc.hash,
    size: enc.size,
    createdAt: now,
  };
}

/** An append's input checks, in order: the body (size limit first), then `expectedSeq`. */
export function encodeAppend(input: AppendCheckpointInput<unknown>, maxBytes: number): EncodedBody {
  const enc = encodeBody(input.body, maxBytes, input.sessionId);
  checkExpectedSeq(input);
  return enc;
}

/** A started turn with its checkpoint decoded, or with `checkpointError` when the stored body fails its hash. */
export function startedTurn<B>(
  lease: Lease,
  session: SessionRecord,
  meta: CheckpointMeta,
  raw: unknown,
): BeginTurnResult<B> {
  try {
    return { kind: 'started', lease, session, checkpoint: { ...meta, body: decodeBody<B>(meta, raw) } };
  } catch (e) {
    if (e instanceof CheckpointCorruptError) {
      return { kind: 'started', lease, session, checkpoint: null, checkpointError: e };
    }
    throw e;
  }
}

export function checkpointMeta(r: Row): CheckpointMeta {
  return {
    sessionId: r.session_id as string,
    seq: num(r.seq),
    schemaVersion: num(r.schema_version),
    writtenBy: r.written_by as string,
    hash: r.hash as string,
    size: num(r.size),
    createdAt: num(r.created_at),
  };
}

// ---------- row mappers ----------

export function sessionFromRow(r: Row): SessionRecord {
  return {
    id: r.id as string,
    agent: r.agent as string,
    tenant: strOrNull(r.tenant),
    version: r.version as string,
    status: r.status as SessionStatus,
    seq: num(r.seq),
    tokenHash: r.token_hash as string,
    leaseOwner: strOrNull(r.lease_owner),
    leaseExpiresAt: numOrNull(r.lease_expires_at),
    reason: strOrNull(r.reason),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    metadata: (parseJson(r.metadata) as Record<string, unknown> | null) ?? {},
  };
}

export function versionFromRow(r: Row): VersionRecord {
  return {
    agent: r.agent as string,
    label: r.label as string,
    schemaVersion: num(r.schema_version),
    modelId: r.model_id as string,
    promptHash: r.prompt_hash as string,
    toolManifestHash: r.tool_manifest_hash as string,
    codeHash: r.code_hash as string,
    identity: r.identity as string,
    acceptsSchemas: (parseJson(r.accepts_schemas) as number[] | null) ?? [],
    downSchemas: (parseJson(r.down_schemas) as number[] | null) ?? [],
    createdAt: num(r.created_at),
    metadata: (parseJson(r.metadata) as Record<string, unknown> | null) ?? {},
  };
}

export function workerFromRow(r: Row): WorkerRecord {
  return {
    id: r.id as string,
    agent: r.agent as string,
    version: r.version as string,
    url: strOrNull(r.url),
    health: r.health as WorkerRecord['health'],
    registeredAt: num(r.registered_at),
    lastSeenAt: num(r.last_seen_at),
  };
}

export function routeFromRow(r: Row): RouteRecord {
  return {
    agent: r.agent as string,
    stable: r.stable as string,
    candidate: strOrNull(r.candidate),
    weight: num(r.weight),
    move: parseJson(r.move) as RouteRecord['move'],
    rolloutId: strOrNull(r.rollout_id),
    updatedAt: num(r.updated_at),
  };
}

export function migrationFromRow(r: Row): MigrationRecord {
  return {
    sessionId: r.session_id as string,
    seq: num(r.seq),
    fromVersion: r.from_version as string,
    toVersion: r.to_version as string,
    fromSchema: num(r.from_schema),
    toSchema: num(r.to_schema),
    contextPolicy: r.context_policy as MigrationRecord['contextPolicy'],
    rolloutId: strOrNull(r.rollout_id),
    status: r.status as MigrationRecord['status'],
    error: strOrNull(r.error),
    at: num(r.at),
  };
}

export function waitFromRow(r: Row): WaitRecord {
  return {
    token: r.token as string,
    sessionId: r.session_id as string,
    name: r.name as string,
    deadline: num(r.deadline),
    schema: parseJson(r.schema) as WaitRecord['schema'],
    createdAt: num(r.created_at),
    status: r.status as WaitRecord['status'],
  };
}

export function effectFromRow(r: Row): EffectRecord {
  return {
    id: r.id as string,
    idempotencyKey: r.idempotency_key as string,
    sessionId: r.session_id as string,
    agent: r.agent as string,
    version: r.version as string,
    rolloutId: strOrNull(r.rollout_id),
    turnId: r.turn_id as string,
    name: r.name as string,
    args: parseJson(r.args),
    status: r.status as EffectStatus,
    result: parseJson(r.result),
    error: strOrNull(r.error),
    compensation: strOrNull(r.compensation),
    compensationResult: parseJson(r.compensation_result),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

export function rolloutFromRow(r: Row): RolloutRecord {
  return {
    id: r.id as string,
    agent: r.agent as string,
    from: r.from_version as string,
    to: r.to_version as string,
    spec: parseJson(r.spec),
    phase: r.phase as RolloutRecord['phase'],
    step: num(r.step),
    state: parseJson(r.state),
    rev: num(r.rev),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

export function decisionFromRow(r: Row): Decision {
  const d: Decision = {
    rolloutId: r.rollout_id as string,
    seq: num(r.seq),
    kind: r.kind as string,
    message: r.message as string,
    at: num(r.at),
  };
  const ev = parseJson(r.evidence);
  if (ev !== null) d.evidence = ev;
  return d;
}

export function telemetryFromRow(r: Row): TurnTelemetryRecord {
  const t: TurnTelemetryRecord = {
    sessionId: r.session_id as string,
    agent: r.agent as string,
    version: r.version as string,
    turnId: r.turn_id as string,
    seq: num(r.seq),
    at: num(r.at),
    latencyMs: num(r.latency_ms),
    toolCalls: (parseJson(r.tool_calls) as Record<string, number> | null) ?? {},
    reasoningSteps: num(r.reasoning_steps),
    tokensIn: num(r.tokens_in),
    tokensOut: num(r.tokens_out),
    contextUtilization: num(r.context_utilization),
    metrics: (parseJson(r.metrics) as Record<string, number> | null) ?? {},
    signals: (parseJson(r.signals) as string[] | null) ?? [],
  };
  if (r.error !== null && r.error !== undefined) t.error = r.error as string;
  return t;
}

export function aggregateFromRow(r: Row): SessionAggregate {
  return {
    sessionId: r.session_id as string,
    agent: r.agent as string,
    version: r.version as string,
    sessionStartedAt: num(r.session_started_at),
    firstAt: num(r.first_at),
    lastAt: num(r.last_at),
    turns: num(r.turns),
    errors: num(r.errors),
    toolCalls: num(r.tool_calls),
    toolMix: (parseJson(r.tool_mix) as Record<string, number> | null) ?? {},
    reasoningSteps: num(r.reasoning_steps),
    tokensIn: num(r.tokens_in),
    tokensOut: num(r.tokens_out),
    latencyMsSum: num(r.latency_ms_sum),
    latencyMsMax: num(r.latency_ms_max),
    contextUtilizationMax: num(r.context_utilization_max),
    metrics: (parseJson(r.metrics) as SessionAggregate['metrics'] | null) ?? {},
    signals: (parseJson(r.signals) as Record<string, number> | null) ?? {},
    completed: r.completed === true || num(r.completed) === 1,
  };
}

export function emptyCounts(): Record<SessionStatus, number> {
  const o = {} as Record<SessionStatus, number>;
  for (const s of SESSION_STATUSES) o[s] = 0;
  return o;
}

// ---------- telemetry helpers ----------

/** The increments one turn contributes to its session aggregate. */
export interface AggregateDelta {
  turns: number;
  errors: number;
  toolCalls: number;
  toolMix: Record<string, number>;
  reasoningSteps: number;
  tokensIn: number;
  tokensOut: number;
  latencyMs: number;
  contextUtilization: number;
  metrics: Record<string, { sum: number; count: number }>;
  signals: Record<string, number>;
}

export function turnDelta(t: TurnTelemetry): AggregateDelta {
  let toolCalls = 0;
  for (const v of Object.values(t.toolCalls ?? {})) toolCalls += v;
  const metrics: AggregateDelta['metrics'] = {};
  for (const [k, v] of Object.entries(t.metrics ?? {})) metrics[k] = { sum: v, count: 1 };
  const signals: Record<string, number> = {};
  for (const s of t.signals ?? []) signals[s] = (signals[s] ?? 0) + 1;
  return {
    turns: 1,
    errors: t.error ? 1 : 0,
    toolCalls,
    toolMix: { ...(t.toolCalls ?? {}) },
    reasoningSteps: t.reasoningSteps ?? 0,
    tokensIn: t.tokensIn ?? 0,
    tokensOut: t.tokensOut ?? 0,
    latencyMs: t.latencyMs ?? 0,
    contextUtilization: t.contextUtilization ?? 0,
    metrics,
    signals,
  };
}

export function metricsDelta(m: {
  metrics?: Record<string, number>;
  signals?: Record<string, number>;
}): AggregateDelta {
  const metrics: AggregateDelta['metrics'] = {};
  for (const [k, v] of Object.entries(m.metrics ?? {})) metrics[k] = { sum: v, count: 1 };
  return {
    turns: 0,
    errors: 0,
    toolCalls: 0,
    toolMix: {},
    reasoningSteps: 0,
    tokensIn: 0,
    tokensOut: 0,
    latencyMs: 0,
    contextUtilization: 0,
    metrics,
    signals: { ...(m.signals ?? {}) },
  };
}

export function mergeCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

export function mergeMetrics(
  a: Record<string, { sum: number; count: number }>,
  b: Record<string, { sum: number; count: number }>,
): Record<string, { sum: number; count: number }> {
  const out: Record<string, { sum: number; count: number }> = {};
  for (const [k, v] of Object.entries(a)) out[k] = { sum: v.sum, count: v.count };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = cur ? { sum: cur.sum + v.sum, count: cur.count + v.count } : { sum: v.sum, count: v.count };
  }
  return out;
}

// ---------- effects ----------

export type EffectOp = 'commit' | 'fail' | 'compensate';

/** The status an op requires and the status it yields. Repeating an op that already happened is a no-op. */
export const EFFECT_TRANSITIONS: Record<EffectOp, { from: EffectStatus; to: EffectStatus }> = {
  commit: { from: 'intent', to: 'committed' },
  fail: { from: 'intent', to: 'failed' },
  compensate: { from: 'committed', to: 'compensated' },
};

export function effectConflict(key: string, op: EffectOp, status: EffectStatus): BatonError {
  return new BatonError('CONFLICT', `cannot ${op} effect ${key}: it is ${status}`, {
    idempotencyKey: key,
    op,
    status,
  });
}

// ---------- errors shared by the backends ----------

export function versionNotFound(agent: string, label: string): NotFoundError {
  return new NotFoundError('VERSION_NOT_FOUND', `version ${agent}/${label} not found`, { agent, label });
}

/** `rec` is registered under `v`'s agent and label; a different identity there is a conflict. */
export function checkSameVersion(
  v: Pick<VersionRecord, 'agent' | 'label' | 'identity'>,
  rec: VersionRecord,
): void {
  if (rec.identity !== v.identity) {
    throw new BatonError(
      'VERSION_CONFLICT',
      `version ${v.agent}/${v.label} is already registered with a different identity`,
      { agent: v.agent, label: v.label, identity: rec.identity, requested: v.identity },
    );
  }
}

export function workerNotFound(id: string): NotFoundError {
  return new NotFoundError('WORKER_NOT_FOUND', `worker ${id} not found`, { id });
}

export function waitNotFound(token: string): NotFoundError {
  return new NotFoundError('WAIT_NOT_FOUND', `wait ${token} not found`, { token });
}

export function sessionExists(id: string): BatonError {
  return new BatonError('CONFLICT', `session ${id} already exists`, { sessionId: id });
}

export function rolloutRevConflict(id: string, expectedRev: number, actualRev: number): BatonError {
  return new BatonError('CONFLICT', `rollout ${id}: expected rev ${expectedRev}, store has ${actualRev}`, {
    rolloutId: id,
    expectedRev,
    actualRev,
  });
}

export function checkRouteWeight(weight: number): void {
  if (!(weight >= 0 && weight <= 100)) throw new ValidationError('route weight must be within 0..100');
}

export function checkKeep(keep: number): void {
  if (!Number.isInteger(keep) || keep < 1) throw new ValidationError('keep must be an integer >= 1');
}

export function sessionNotFound(id: string): NotFoundError {
  return new NotFoundError('SESSION_NOT_FOUND', `session ${id} not found`, { sessionId: id });
}

export function checkpointNotFound(sessionId: string, seq: number): NotFoundError {
  return new NotFoundError('CHECKPOINT_NOT_FOUND', `checkpoint ${sessionId}#${seq} not found`, {
    sessionId,
    seq,
  });
}

export function effectNotFound(key: string): NotFoundError {
  return new NotFoundError('EFFECT_NOT_FOUND', `effect ${key} not found`, { idempotencyKey: key });
}

export function rolloutNotFound(id: string): NotFoundError {
  return new NotFoundError('ROLLOUT_NOT_FOUND', `rollout ${id} not found`, { rolloutId: id });
}

export function leaseLost(sessionId: string, owner: string, holder: string | null): BatonError {
  return new BatonError('LEASE_LOST', `session ${sessionId}: the lease is no longer held by ${owner}`, {
    sessionId,
    owner,
    holder,
  });
}

export function sessionConflict(id: string, expect: SessionExpectation, s: SessionRecord): BatonError {
  return new BatonError('CONFLICT', `session ${id} does not match the expected state`, {
    sessionId: id,
    expected: expect,
    actual: { status: s.status, version: s.version, seq: s.seq },
  });
}
