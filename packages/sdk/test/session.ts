/**
 * The router's side of protocol 2 in miniature, for tests: it holds a session's latest checkpoint
 * view and its history log, builds turn and migrate requests (the window: the newest entries),
 * and commits answers the way the router does — a part marked `unchanged` keeps its previous
 * value, and only if the marker carries the hash that part was sent with.
 */
import { CHECKPOINT_PARTS, DEFAULT_HISTORY_WINDOW, sha256Hex } from '@baton/core';
import type {
  CheckpointBody,
  CheckpointView,
  HistoryEntry,
  MigrateRequest,
  MigrateResponse,
  PartHashes,
  StoredHistoryEntry,
  TurnInput,
  TurnRequest,
  TurnResponse,
} from '@baton/core';
import type { MapLedger } from './ledger';

export interface Held {
  checkpoint: CheckpointView | null;
  log: StoredHistoryEntry[];
}

export const EMPTY: Held = { checkpoint: null, log: [] };

/** A part's hash as the store computes it: sha256 hex of its JSON text. */
export function partHash(v: unknown): string {
  return sha256Hex(JSON.stringify(v));
}

export function hashesOf(body: Pick<CheckpointBody, 'state' | 'context' | 'memory'>): PartHashes {
  return {
    state: partHash(body.state),
    context: partHash(body.context ?? null),
    memory: body.memory === undefined ? null : partHash(body.memory),
  };
}

export function viewOf(
  seq: number,
  schemaVersion: number,
  body: CheckpointBody,
  historyLength: number,
): CheckpointView {
  const view: CheckpointView = {
    seq,
    schemaVersion,
    state: body.state,
    context: body.context ?? null,
    waits: body.waits,
    hashes: hashesOf(body),
    historyLength,
  };
  if (body.memory !== undefined) view.memory = body.memory;
  return view;
}

/** A session held with `entries` as its log and a checkpoint of `body` (or none). */
export function held(
  body: CheckpointBody | null,
  entries: readonly HistoryEntry[],
  seq = 1,
  schemaVersion = 1,
): Held {
  const log = entries.map((e, index) => ({
    role: e.role,
    content: e.content,
    turnId: e.turnId,
    at: e.at,
    index,
  }));
  return { checkpoint: body ? viewOf(seq, schemaVersion, body, log.length) : null, log };
}

export function turnRequest(
  session: TurnRequest['session'],
  h: Held,
  input: TurnInput,
  turnId: string,
  deadline: number,
  window = DEFAULT_HISTORY_WINDOW.entries,
): TurnRequest {
  return {
    protocol: 2,
    session,
    checkpoint: h.checkpoint,
    history: window === 0 ? [] : h.log.slice(-window),
    input,
    turnId,
    deadline,
    capability: `cap:${session.id}:${turnId}`,
  };
}

/** The part values after an answer: a part marked unchanged keeps the value it was sent with. */
function partsAfter(
  prev: CheckpointView | null,
  r: { unchanged?: TurnResponse['unchanged'] },
  values: Record<string, unknown>,
) {
  const out: Record<string, unknown> = {};
  for (const part of CHECKPOINT_PARTS) {
    const mark = r.unchanged?.[part];
    if (mark === undefined) {
      if (values[part] !== undefined) out[part] = values[part];
      continue;
    }
    if (!prev || mark !== prev.hashes[part])
      throw new Error(`unchanged.${part} = ${mark} is not the hash the part was sent with`);
    out[part] = prev[part];
  }
  return out as Pick<CheckpointBody, 'state' | 'context' | 'memory'>;
}

/** Commits a turn's answer: the next checkpoint and the log with the turn's entries appended. */
export function commit(h: Held, res: TurnResponse, ledger?: MapLedger, sessionId?: string): Held {
  const log = [
    ...h.log,
    ...res.history.map((e, i) => ({
      role: e.role,
      content: e.content,
      turnId: e.turnId,
      at: e.at,
      index: h.log.length + i,
    })),
  ];
  const parts = partsAfter(h.checkpoint, res, res as unknown as Record<string, unknown>);
  const body: CheckpointBody = { ...parts, context: parts.context ?? null, waits: res.waits };
  const next = { checkpoint: viewOf((h.checkpoint?.seq ?? 0) + 1, res.schemaVersion, body, log.length), log };
  if (ledger && sessionId) ledger.logs.set(sessionId, log);
  return next;
}

export function migrateRequest(
  session: MigrateRequest['session'],
  h: Held,
  targetSchemaVersion: number,
  dryRun = false,
): MigrateRequest {
  if (!h.checkpoint) throw new Error('nothing to migrate');
  return {
    protocol: 2,
    session,
    checkpoint: h.checkpoint,
    targetSchemaVersion,
    dryRun,
    capability: `cap:${session.id}:migrate`,
  };
}

/** Commits a successful migration answer (the log is untouched: history never moves in a migration). */
export function commitMigration(h: Held, res: MigrateResponse): Held {
  if (!res.ok) throw new Error(`migration failed: ${res.error.message}`);
  if ('history' in res.body) throw new Error('a protocol-2 migrate answer must not carry history');
  const parts = partsAfter(h.checkpoint, res, res.body as unknown as Record<string, unknown>);
  const body: CheckpointBody = { ...parts, context: parts.context ?? null, waits: res.body.waits };
  return {
    checkpoint: viewOf((h.checkpoint?.seq ?? 0) + 1, res.schemaVersion, body, h.log.length),
    log: h.log,
  };
}
