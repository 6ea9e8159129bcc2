/**
 * Shadow turns (docs/rollouts.md, "Shadow stage"): a recorded blue turn replayed on green's worker
 * with no side effect. The router sends `TurnRequest.shadow` with what blue's turn recorded; the
 * worker never calls an effect's `run`, serves blue's recorded results instead, and answers with
 * `TurnResponse.shadow`: what green called and where it diverged from blue.
 */
import type { z } from 'zod';
import type {
  recordedEffectSchema,
  recordedToolSchema,
  shadowDivergenceKindSchema,
  shadowDivergenceSchema,
  shadowReportSchema,
  shadowTurnSchema,
} from './wire/worker';

/**
 * The shadow-mode version a worker reports in its health answer (`WorkerHealthResponse.shadow`).
 * A worker that reports none does not know `TurnRequest.shadow` (it would drop the field and run
 * the effects for real), so the router refuses it for shadow turns instead of trusting it.
 */
export const SHADOW_PROTOCOL = 1;

/** Turn ids of shadow turns start with this (a real turn id never does: those are `t_…` or key-derived). */
export const SHADOW_TURN_PREFIX = 'shadow:';

/** One effect of blue's turn, as its ledger recorded it, in call order. */
export type RecordedEffect = z.infer<typeof recordedEffectSchema>;

/** One `ctx.tool` result of blue's turn (recorded for tools declared `replay`), in call order. */
export type RecordedTool = z.infer<typeof recordedToolSchema>;

export type ShadowTurn = z.infer<typeof shadowTurnSchema>;

export type ShadowDivergenceKind = z.infer<typeof shadowDivergenceKindSchema>;

export type ShadowDivergence = z.infer<typeof shadowDivergenceSchema>;

export type ShadowReport = z.infer<typeof shadowReportSchema>;

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
