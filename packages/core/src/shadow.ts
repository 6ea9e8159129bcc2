/**
 * Shadow turns (docs/rollouts.md, "Shadow stage"): a recorded blue turn replayed on green's worker
 * with no side effect. The router sends `TurnRequest.shadow` with what blue's turn recorded; the
 * worker never calls an effect's `run`, serves blue's recorded results instead, and answers with
 * `TurnResponse.shadow`: what green called and where it diverged from blue.
 */

/**
 * The shadow-mode version a worker reports in its health answer (`WorkerHealthResponse.shadow`).
 * A worker that reports none does not know `TurnRequest.shadow` (it would drop the field and run
 * the effects for real), so the router refuses it for shadow turns instead of trusting it.
 */
export const SHADOW_PROTOCOL = 1;

/** Turn ids of shadow turns start with this (a real turn id never does: those are `t_…` or key-derived). */
export const SHADOW_TURN_PREFIX = 'shadow:';

/** One effect of blue's turn, as its ledger recorded it, in call order. */
export interface RecordedEffect {
  name: string;
  args: unknown;
  status: 'intent' | 'committed' | 'failed';
  result: unknown;
  error: string | null;
}

/** One `ctx.tool` result of blue's turn (recorded for tools declared `replay`), in call order. */
export interface RecordedTool {
  name: string;
  result: unknown;
}

export interface ShadowTurn {
  effects: RecordedEffect[];
  tools: RecordedTool[];
}

export type ShadowDivergenceKind =
  /** green called an effect at a position where blue called none */
  | 'effect-extra'
  /** green called another effect than blue at this position */
  | 'effect-name'
  /** same effect, other arguments */
  | 'effect-args'
  /** blue called an effect green did not */
  | 'effect-missing'
  /** a `replay` tool with no recorded result left */
  | 'tool-unrecorded';

export interface ShadowDivergence {
  kind: ShadowDivergenceKind;
  /** Position of the effect in the turn (tools: position among that tool's calls). */
  index: number;
  /** What green called (effect-missing: what blue called). */
  name: string;
  /** What blue recorded at this position, when anything. */
  recorded?: { name: string; args?: unknown };
  args?: unknown;
}

export interface ShadowReport {
  /** The effects green called, in order; `replayed`: blue's recorded result was returned. */
  effects: Array<{ name: string; args: unknown; replayed: boolean }>;
  divergences: ShadowDivergence[];
  /** Tool calls served from blue's recording / run for real (tools declared `run`). */
  tools: { replayed: number; ran: number };
}

/**
 * The turn id of a shadow turn replaying the turn that wrote checkpoint `seq` of a session whose
 * history had `historyLength` entries before that turn. The router serves a shadow turn's history
 * reads below that length only (what the turn saw live, never what came after it).
 */
export function shadowTurnId(runId: string, seq: number, historyLength: number): string {
  return `${SHADOW_TURN_PREFIX}${runId}:${seq}:${historyLength}`;
}

/** The history bound of a shadow turn id, or null for any other turn id. */
export function shadowHistoryBound(turnId: string): number | null {
  if (!turnId.startsWith(SHADOW_TURN_PREFIX)) return null;
  const m = /:(\d+)$/.exec(turnId);
  return m ? Number(m[1]) : 0;
}
