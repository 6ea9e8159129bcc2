/**
 * The two protocol versions of turn and migrate requests, brought to one internal shape.
 * Protocol 2 (`protocol: 2`): a checkpoint view with part hashes, a window of the history and a
 * capability. Protocol 1 (no `protocol` field, an old router): the whole body with its history.
 */
import { ValidationError } from '@baton/core';
import type {
  HistoryEntry,
  MigrateRequest,
  MigrateRequestV1,
  PartHashes,
  StoredHistoryEntry,
  TurnInput,
  TurnRequest,
  TurnRequestV1,
  Wait,
} from '@baton/core';

/** A checkpoint as a request carries it, whatever the protocol. */
export interface ReceivedCheckpoint {
  seq: number;
  schemaVersion: number;
  state: unknown;
  context: unknown;
  /** undefined when the checkpoint has no memory */
  memory: unknown;
  waits: Wait[];
  /** Protocol 2: what each part hashes to (echoed back for the parts left unchanged). Protocol 1: null. */
  hashes: PartHashes | null;
}

interface Call {
  protocol: 1 | 2;
  /** Entries in the session's log before this call. */
  historyLength: number;
  /** Protocol 2 only. */
  capability: string | null;
  /** Protocol 1 only: the whole history, indexed (it travels in the request). */
  carriedHistory: StoredHistoryEntry[] | null;
}

export interface TurnCall extends Call {
  session: TurnRequest['session'];
  checkpoint: ReceivedCheckpoint | null;
  /** The newest entries (protocol 2: the window; protocol 1: all of them), ascending. */
  window: StoredHistoryEntry[];
  input: TurnInput;
  turnId: string;
  deadline: number;
}

export interface MigrateCall extends Call {
  session: MigrateRequest['session'];
  checkpoint: ReceivedCheckpoint;
  targetSchemaVersion: number;
  dryRun: boolean;
}

function protocolOf(req: { protocol?: unknown }): 1 | 2 {
  if (req.protocol === undefined) return 1;
  if (req.protocol === 2) return 2;
  throw new ValidationError(
    `unsupported worker protocol ${JSON.stringify(req.protocol)}: this SDK speaks 1 and 2`,
    {
      protocol: req.protocol,
    },
  );
}

function indexed(history: readonly HistoryEntry[]): StoredHistoryEntry[] {
  return history.map((e, index) => ({ role: e.role, content: e.content, turnId: e.turnId, at: e.at, index }));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** A protocol-1 checkpoint (`body` with `history`), or a ValidationError. */
function fromV1(cp: TurnRequestV1['checkpoint']): { cp: ReceivedCheckpoint; history: StoredHistoryEntry[] } {
  const b = (cp as { body?: unknown } | null)?.body;
  if (!cp || !Number.isInteger(cp.schemaVersion) || !isObject(b))
    throw new ValidationError('checkpoint needs a schemaVersion and a body');
  if (!Array.isArray(b.history) || !Array.isArray(b.waits))
    throw new ValidationError('checkpoint body needs history and waits arrays');
  const body = cp.body;
  return {
    cp: {
      seq: cp.seq,
      schemaVersion: cp.schemaVersion,
      state: body.state,
      context: body.context,
      memory: body.memory,
      waits: body.waits,
      hashes: null,
    },
    history: indexed(body.history),
  };
}

/** A protocol-2 checkpoint view, or a ValidationError. */
function fromView(cp: TurnRequest['checkpoint']): ReceivedCheckpoint {
  if (!isObject(cp) || !Number.isInteger(cp.schemaVersion))
    throw new ValidationError('checkpoint needs a schemaVersion');
  if (!Array.isArray(cp.waits)) throw new ValidationError('checkpoint needs a waits array');
  const h = cp.hashes as Partial<PartHashes> | undefined;
  if (!isObject(h) || typeof h.state !== 'string' || typeof h.context !== 'string')
    throw new ValidationError('checkpoint needs its part hashes (state, context, memory)');
  if (!Number.isInteger(cp.historyLength) || cp.historyLength < 0)
    throw new ValidationError('checkpoint needs historyLength, a non-negative integer');
  return {
    seq: cp.seq,
    schemaVersion: cp.schemaVersion,
    state: cp.state,
    context: cp.context,
    memory: cp.memory,
    waits: cp.waits,
    hashes: { state: h.state, context: h.context, memory: typeof h.memory === 'string' ? h.memory : null },
  };
}

function checkCapability(c: unknown): string {
  if (typeof c !== 'string' || c.length === 0)
    throw new ValidationError('a protocol-2 request needs a capability');
  return c;
}

/** The window must be the newest entries of the log: consecutive indexes ending at `length - 1`. */
function checkWindow(history: unknown, length: number): StoredHistoryEntry[] {
  if (!Array.isArray(history)) throw new ValidationError('history must be an array (the window)');
  const w = history as StoredHistoryEntry[];
  w.forEach((e, i) => {
    const want = length - w.length + i;
    if (!isObject(e) || e.index !== want)
      throw new ValidationError(
        `history[${i}] must have index ${want}: the window is the newest entries of a log of ${length}`,
        { path: `history.${i}.index` },
      );
  });
  return w;
}

export function turnCall(req: TurnRequest | TurnRequestV1): TurnCall {
  // literals without a spread of a shared base: in Node 20 an object made by a spread is slow to
  // add properties to, and this runs for every turn
  if (protocolOf(req as { protocol?: unknown }) === 1) {
    const v1 = req as TurnRequestV1;
    const got = v1.checkpoint === null || v1.checkpoint === undefined ? null : fromV1(v1.checkpoint);
    const history = got?.history ?? [];
    return {
      session: req.session,
      input: req.input,
      turnId: req.turnId,
      deadline: req.deadline,
      protocol: 1,
      checkpoint: got?.cp ?? null,
      window: history,
      historyLength: history.length,
      capability: null,
      carriedHistory: history,
    };
  }
  const v2 = req as TurnRequest;
  const cp = v2.checkpoint === null || v2.checkpoint === undefined ? null : fromView(v2.checkpoint);
  const length = cp ? (v2.checkpoint as { historyLength: number }).historyLength : 0;
  return {
    session: req.session,
    input: req.input,
    turnId: req.turnId,
    deadline: req.deadline,
    protocol: 2,
    checkpoint: cp,
    window: checkWindow(v2.history ?? [], length),
    historyLength: length,
    capability: checkCapability(v2.capability),
    carriedHistory: null,
  };
}

export function migrateCall(req: MigrateRequest | MigrateRequestV1): MigrateCall {
  if (protocolOf(req as { protocol?: unknown }) === 1) {
    const got = fromV1((req as MigrateRequestV1).checkpoint);
    return {
      session: req.session,
      targetSchemaVersion: req.targetSchemaVersion,
      dryRun: req.dryRun,
      protocol: 1,
      checkpoint: got.cp,
      historyLength: got.history.length,
      capability: null,
      carriedHistory: got.history,
    };
  }
  const v2 = req as MigrateRequest;
  return {
    session: req.session,
    targetSchemaVersion: req.targetSchemaVersion,
    dryRun: req.dryRun,
    protocol: 2,
    checkpoint: fromView(v2.checkpoint),
    historyLength: v2.checkpoint.historyLength,
    capability: checkCapability(v2.capability),
    carriedHistory: null,
  };
}
