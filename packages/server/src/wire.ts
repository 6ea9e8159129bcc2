/**
 * The worker protocol as the router speaks it, per worker: protocol 2 (checkpoint parts with their
 * hashes, a bounded history window, the turn capability) to workers that report it, protocol 1
 * (one body with `history`, here the same window) to workers built with the first SDK. And the
 * check of what a worker says it left unchanged.
 */
import {
  BatonError,
  CHECKPOINT_PARTS,
  type Checkpoint,
  type CheckpointPart,
  type CheckpointView,
  type HistoryEntry,
  type MigrateRequest,
  type MigrateRequestV1,
  type StoredHistoryEntry,
  type TurnInput,
  type TurnRequest,
  type TurnRequestV1,
  type WorkerProtocol,
} from '@baton/core';

export function checkpointView(cp: Checkpoint): CheckpointView {
  const view: CheckpointView = {
    seq: cp.seq,
    schemaVersion: cp.schemaVersion,
    state: cp.body.state,
    context: cp.body.context,
    waits: cp.body.waits,
    hashes: cp.parts,
    historyLength: cp.historyLength,
  };
  if (cp.body.memory !== undefined) view.memory = cp.body.memory;
  return view;
}

function plainEntries(window: readonly StoredHistoryEntry[]): HistoryEntry[] {
  return window.map((e) => ({ role: e.role, content: e.content, turnId: e.turnId, at: e.at }));
}

function v1Body(cp: Checkpoint, window: readonly StoredHistoryEntry[]): TurnRequestV1['checkpoint'] & object {
  return {
    seq: cp.seq,
    schemaVersion: cp.schemaVersion,
    body: Object.assign({}, cp.body, { history: plainEntries(window) }),
  };
}

export interface TurnCall {
  session: TurnRequest['session'];
  checkpoint: Checkpoint | null;
  window: StoredHistoryEntry[];
  input: TurnInput;
  turnId: string;
  deadline: number;
  capability: string;
  /** The W3C trace context of the turn's span (empty when tracing is off). */
  trace?: { traceparent?: string; tracestate?: string };
}

export function turnRequestFor(protocol: WorkerProtocol, c: TurnCall): TurnRequest | TurnRequestV1 {
  if (protocol === 1) {
    return {
      session: c.session,
      checkpoint: c.checkpoint ? v1Body(c.checkpoint, c.window) : null,
      input: c.input,
      turnId: c.turnId,
      deadline: c.deadline,
    };
  }
  return {
    protocol: 2,
    session: c.session,
    checkpoint: c.checkpoint ? checkpointView(c.checkpoint) : null,
    history: c.window,
    input: c.input,
    turnId: c.turnId,
    deadline: c.deadline,
    capability: c.capability,
    ...(c.trace?.traceparent ? { traceparent: c.trace.traceparent } : {}),
    ...(c.trace?.tracestate ? { tracestate: c.trace.tracestate } : {}),
  };
}

export interface MigrateCall {
  session: MigrateRequest['session'];
  checkpoint: Checkpoint;
  targetSchemaVersion: number;
  dryRun: boolean;
  capability: string;
}

/** A protocol-1 worker needs the history in the body: `window` is what it gets. */
export function migrateRequestFor(
  protocol: WorkerProtocol,
  c: MigrateCall,
  window: () => Promise<StoredHistoryEntry[]>,
): Promise<MigrateRequest | MigrateRequestV1> {
  if (protocol === 1) {
    return window().then((w) => ({
      session: c.session,
      checkpoint: v1Body(c.checkpoint, w),
      targetSchemaVersion: c.targetSchemaVersion,
      dryRun: c.dryRun,
    }));
  }
  return Promise.resolve({
    protocol: 2,
    session: c.session,
    checkpoint: checkpointView(c.checkpoint),
    targetSchemaVersion: c.targetSchemaVersion,
    dryRun: c.dryRun,
    capability: c.capability,
  });
}

/**
 * The parts a worker declared unchanged, checked against the checkpoint it was given: each must
 * carry exactly that part's hash (anything else is a malformed answer, and nothing is committed).
 */
export function unchangedParts(
  declared: Partial<Record<CheckpointPart, string>> | undefined,
  cp: Checkpoint | null,
  workerId: string,
): Partial<Record<CheckpointPart, string>> | undefined {
  if (declared === undefined || declared === null) return undefined;
  if (typeof declared !== 'object') throw malformed(workerId, 'unchanged must be an object');
  const out: Partial<Record<CheckpointPart, string>> = {};
  let any = false;
  for (const [k, h] of Object.entries(declared)) {
    if (!(CHECKPOINT_PARTS as readonly string[]).includes(k)) throw malformed(workerId, `unknown part ${k}`);
    const part = k as CheckpointPart;
    if (!cp || typeof h !== 'string' || cp.parts[part] !== h) {
      throw malformed(
        workerId,
        `the ${part} it declared unchanged does not match the checkpoint it was sent`,
      );
    }
    out[part] = h;
    any = true;
  }
  return any ? out : undefined;
}

function malformed(workerId: string, why: string): BatonError {
  return new BatonError('WORKER_ERROR', `worker ${workerId} sent a malformed answer: ${why}`, { workerId });
}
