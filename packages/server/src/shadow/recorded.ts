/**
 * Blue's recorded turns, as a shadow stage replays them: for the turn that wrote checkpoint `seq`,
 * the state before it (checkpoint `seq − 1`, kept by compaction), its input and output (the
 * history log entries between the two checkpoints' history lengths), the effects its ledger
 * recorded (in call order), the results of its `replay` tools (history `tool` entries
 * `{tool, result}`) and its telemetry. Reads only; nothing here writes to the store.
 */
import type {
  Checkpoint,
  CheckpointMeta,
  EffectRecord,
  RecordedEffect,
  RecordedTool,
  SessionRecord,
  StoredHistoryEntry,
  TurnInput,
  TurnTelemetry,
} from '@baton/core';
import type { Store } from '@baton/store';
import type { TurnCandidate, TurnEnding } from './sample';

export interface RecordedTurn {
  session: SessionRecord;
  /** The checkpoint blue's turn wrote. */
  seq: number;
  /** Blue's turn id. */
  turnId: string;
  /** The state before the turn (checkpoint seq − 1). */
  before: Checkpoint;
  input: TurnInput;
  output: unknown;
  effects: RecordedEffect[];
  tools: RecordedTool[];
  telemetry: TurnTelemetry | null;
  ending: TurnEnding;
}

/** A session's replayable turns: consecutive kept checkpoints, both written by `blue`, with history between them. */
export function replayablePairs(
  metas: readonly CheckpointMeta[],
  blue: string,
): Array<[CheckpointMeta, CheckpointMeta]> {
  const sorted = [...metas].sort((a, b) => a.seq - b.seq);
  const out: Array<[CheckpointMeta, CheckpointMeta]> = [];
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (b.seq !== a.seq + 1 || a.writtenBy !== blue || b.writtenBy !== blue) continue;
    if (b.historyLength <= a.historyLength) continue; // a migration or a turn that wrote no history
    out.push([a, b]);
  }
  return out;
}

/** The input a turn received, from the first history entry it appended (see the SDK's `inputEntry`). */
export function inputOf(e: StoredHistoryEntry): TurnInput | null {
  const c = e.content as Record<string, unknown> | null;
  if (e.role === 'user') return { kind: 'message', message: e.content };
  if (e.role === 'callback' && c && typeof c.token === 'string' && typeof c.name === 'string')
    return { kind: 'callback', token: c.token, name: c.name, payload: c.payload };
  if (e.role === 'system' && c && typeof c.token === 'string' && typeof c.timeout === 'string')
    return { kind: 'timeout', token: c.token, name: c.timeout };
  return null;
}

function effectIndex(e: EffectRecord): number {
  const n = Number(e.idempotencyKey.slice(e.idempotencyKey.lastIndexOf(':') + 1));
  return Number.isFinite(n) ? n : 0;
}

/** A session's turn effects by turn id, each list in call order. */
export async function effectsByTurn(store: Store, sessionId: string): Promise<Map<string, EffectRecord[]>> {
  const out = new Map<string, EffectRecord[]>();
  let cursor: string | null = null;
  do {
    const page = await store.listEffects({ sessionId, kind: 'turn', limit: 500, cursor });
    for (const e of page.items) {
      const l = out.get(e.turnId) ?? [];
      l.push(e);
      out.set(e.turnId, l);
    }
    cursor = page.nextCursor;
  } while (cursor !== null);
  for (const l of out.values()) l.sort((a, b) => effectIndex(a) - effectIndex(b));
  return out;
}

/** The candidates of one session (for sampling), with how each turn ended. */
export async function sessionCandidates(
  store: Store,
  session: SessionRecord,
  blue: string,
  maxTurns: number,
): Promise<{ candidates: TurnCandidate[]; pairs: Map<number, [CheckpointMeta, CheckpointMeta]> }> {
  const metas = await store.listCheckpoints(session.id, { limit: Math.max(2, maxTurns + 1) });
  const pairs = replayablePairs(metas, blue);
  const effects = pairs.length > 0 ? await effectsByTurn(store, session.id) : new Map();
  const turnsWithEffects = new Set(effects.keys());
  const candidates: TurnCandidate[] = [];
  const bySeq = new Map<number, [CheckpointMeta, CheckpointMeta]>();
  for (const [a, b] of pairs) {
    bySeq.set(b.seq, [a, b]);
    const cp = await store.getCheckpoint(session.id, b.seq);
    const entries = await turnEntries(store, session.id, a, b);
    const turnId = entries[0]?.turnId ?? '';
    // a wait created after the checkpoint before it: the turn ended in that wait
    const ending: TurnEnding = cp.body.waits.some((w) => w.createdAt >= a.createdAt)
      ? 'wait'
      : turnsWithEffects.has(turnId)
        ? 'effect'
        : 'plain';
    candidates.push({
      sessionId: session.id,
      seq: b.seq,
      at: b.createdAt,
      sessionLength: session.seq,
      ending,
    });
  }
  return { candidates, pairs: bySeq };
}

async function turnEntries(
  store: Store,
  sessionId: string,
  a: CheckpointMeta,
  b: CheckpointMeta,
): Promise<StoredHistoryEntry[]> {
  const n = b.historyLength - a.historyLength;
  const page = await store.readHistory(sessionId, { before: b.historyLength, limit: Math.min(1000, n) });
  return page.entries.filter((e) => e.index >= a.historyLength);
}

/** One recorded turn, or why it cannot be replayed. */
export async function loadRecordedTurn(
  store: Store,
  session: SessionRecord,
  pair: [CheckpointMeta, CheckpointMeta],
  effects: Map<string, EffectRecord[]>,
): Promise<RecordedTurn | { skip: string }> {
  const [a, b] = pair;
  const entries = await turnEntries(store, session.id, a, b);
  const first = entries[0];
  if (!first || first.index !== a.historyLength)
    return { skip: 'the turn’s history entries are no longer kept' };
  const input = inputOf(first);
  if (!input) return { skip: `the turn’s first history entry (${first.role}) is not an input` };
  const turnId = first.turnId;
  const mine = entries.filter((e) => e.turnId === turnId);
  const agent = mine.filter((e) => e.role === 'agent').at(-1);
  const tools: RecordedTool[] = [];
  for (const e of mine) {
    const c = e.content as { tool?: unknown; result?: unknown } | null;
    if (e.role === 'tool' && c && typeof c.tool === 'string' && 'result' in c)
      tools.push({ name: c.tool, result: c.result });
  }
  const before = await store.getCheckpoint(session.id, a.seq);
  const after = await store.getCheckpoint(session.id, b.seq);
  const recorded = (effects.get(turnId) ?? []).map((e): RecordedEffect => ({
    name: e.name,
    args: e.args,
    status: e.status,
    result: e.result,
    error: e.error,
  }));
  const telemetry = await telemetryOf(store, session, turnId, b.createdAt);
  const newWait = after.body.waits.some((w) => !before.body.waits.some((x) => x.token === w.token));
  return {
    session,
    seq: b.seq,
    turnId,
    before,
    input,
    output: agent ? agent.content : null,
    effects: recorded,
    tools,
    telemetry,
    ending: newWait ? 'wait' : recorded.length > 0 ? 'effect' : 'plain',
  };
}

/** Blue's telemetry of the turn (recorded when it committed, within a minute of its checkpoint). */
async function telemetryOf(
  store: Store,
  session: SessionRecord,
  turnId: string,
  at: number,
): Promise<TurnTelemetry | null> {
  const rows = await store.listTurnTelemetry({
    agent: session.agent,
    version: session.version,
    from: at - 60_000,
    to: at + 60_000,
    limit: 10_000,
  });
  const r = rows.find((x) => x.sessionId === session.id && x.turnId === turnId);
  if (!r) return null;
  const { sessionId: _s, agent: _a, version: _v, turnId: _t, seq: _q, at: _at, ...t } = r;
  return t;
}
