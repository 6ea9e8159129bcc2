/** The chaos table: what was injected, what the load saw, and the invariants, with 0 where 0 is promised. */
import type { Findings } from './check';
import type { FaultEvent } from './faults';
import type { LoadStats } from './load';
import type { Plan } from './schedule';

export interface Row {
  what: string;
  value: number;
  /** `0` (a promise: the run fails otherwise), a target such as `<= 5000 ms`, or '' (a figure). */
  promised: string;
  /** For targets: whether it was met. */
  met?: boolean;
  /** A few of the offending items, for a promised 0 that is not 0. */
  examples?: string[];
}

const zero = (what: string, items: string[]): Row => ({
  what,
  value: items.length,
  promised: '0',
  ...(items.length ? { examples: items.slice(0, 5) } : {}),
});
const fig = (what: string, value: number): Row => ({ what, value, promised: '' });
const atMost = (what: string, value: number | null, max: number): Row =>
  value === null
    ? { what, value: NaN, promised: `<= ${max} ms` }
    : { what, value, promised: `<= ${max} ms`, met: value <= max };

export function rows(
  plan: Plan,
  events: FaultEvent[],
  s: LoadStats,
  f: Findings,
  unexpectedExits: string[],
  refusedButDone: string[],
): Row[] {
  const out: Row[] = [];
  const kinds = [...new Set(plan.faults.map((x) => x.kind))];
  for (const k of kinds) {
    const done = events.filter((e) => e.kind === k && !e.skipped).length;
    out.push(fig(`faults: ${k}`, done));
  }
  const skipped = events.filter((e) => e.skipped).length;
  out.push(fig('faults skipped (no target at that moment)', skipped));
  out.push(fig('sessions created', s.sessionsCreated));
  out.push(fig('turns attempted (distinct keys)', s.turnsAttempted));
  out.push(fig('turns committed', s.turnsCommitted));
  out.push(fig('callbacks attempted', s.callbacksAttempted));
  out.push(fig('callbacks committed', s.callbacksCommitted));
  out.push(fig('retries (attempts after the first)', s.retries));
  out.push(fig('same key sent twice at once', s.duplicateSends));
  out.push(fig('migrations ok', f.migrationsOk));
  out.push(fig('migrations failed (session left on its version)', f.migrationsFailed));
  // with one router (SQLite) its crash may leave an effect in doubt too (see docs/reliability.md)
  const crashOf = `a crash of their worker${plan.backend === 'sqlite' ? ' or the router' : ''}`;
  const excused = s.inDoubt.length - f.inDoubtNotExcused.length - f.inDoubtPastDeadline;
  out.push(fig(`effects in doubt after ${crashOf} (resolved by the operator)`, excused));
  out.push(
    fig(
      'effects in doubt that ran past their turn deadline (resolved by the operator)',
      f.inDoubtPastDeadline,
    ),
  );
  out.push(fig('gate decisions recorded', f.gateDecisions));
  out.push(fig('compensations done (after the load, cut by SIGKILLs)', f.compensationsDone));
  out.push(zero('compensations chosen but not done', f.compensationsNotDone));
  out.push(zero('undos run twice (side channel)', f.undosTwice));
  out.push(zero('compensations recorded without an undo having run', f.compensatedWithoutUndo));
  out.push(zero('undos run but not recorded as compensated', f.undoneNotRecorded));
  out.push(zero('sessions lost', f.sessionsLost));
  out.push(zero('sessions created twice by a retried creation', f.sessionsExtra));
  out.push(zero('sessions quarantined, failed or on an unknown version', f.sessionsBadStatus));
  out.push(zero('checkpoint sequence gaps', f.checkpointGaps));
  out.push(zero('checkpoints != committed turns + migrations', f.checkpointCountMismatch));
  out.push(zero('turns applied twice', f.turnsDoubleApplied));
  out.push(zero('turns lost or applied without a commit', f.turnsLostOrExtra));
  out.push(zero('corrupt checkpoints or states failing their schema', f.corruptOrInvalid));
  out.push(zero('migration records inconsistent with the session', f.migrationMismatch));
  out.push(zero('duplicate effects (side channel)', f.duplicateEffects));
  out.push(zero('effects left in doubt at the end', f.effectsInDoubtAtEnd));
  out.push(zero(`effects in doubt without ${crashOf}`, f.inDoubtNotExcused));
  out.push(zero('effects that ran but are not committed', f.ranNotCommitted));
  out.push(zero('effects committed that never ran', f.committedNotRan));
  out.push(
    zero(
      'same-key sends answered differently',
      s.duplicateMismatches > 0 ? [`${s.duplicateMismatches}`] : [],
    ),
  );
  out.push(zero('answers outside the contract', s.unexpected));
  out.push(
    fig(
      'waits whose token only a lost first answer showed (shown once; the wait is left pending)',
      s.waitTokensNotShown,
    ),
  );
  out.push(zero('actions abandoned (not committed within 120 s)', s.abandoned));
  out.push(zero('rollouts not promoted and drained', f.rolloutsUnfinished));
  out.push(zero('rollout decisions repeated', f.decisionsRepeated));
  out.push(zero('gate decisions without evidence', f.gateDecisionsWithoutEvidence));
  out.push(zero('requests refused that changed something', refusedButDone));
  out.push(zero('processes that died unasked', unexpectedExits));
  const busy = s.busyAfterCut.length ? Math.max(...s.busyAfterCut) : null;
  if (plan.backend === 'postgres') {
    out.push(atMost('longest time a session stayed busy after a crash', busy, 5_000));
    const takeovers = events.map((e) => e.takeoverMs).filter((x): x is number => x !== undefined);
    out.push(atMost('leader takeover (max)', takeovers.length ? Math.max(...takeovers) : null, 5_000));
  } else {
    // one process: a crashed server's sessions wait for its restart
    out.push(fig('longest time a session stayed busy after a crash (ms, includes the restart)', busy ?? NaN));
    const back = events.map((e) => e.backMs).filter((x): x is number => x !== undefined);
    out.push(fig('controller leading again after a restart (max ms)', back.length ? Math.max(...back) : NaN));
  }
  return out;
}

export function format(rs: Row[]): string {
  const w = Math.max(...rs.map((r) => r.what.length));
  const lines = [
    `${'what'.padEnd(w)}  ${'value'.padStart(8)}  promised`,
    `${'-'.repeat(w)}  --------  --------`,
  ];
  for (const r of rs) {
    const v = Number.isNaN(r.value) ? 'n/a' : String(r.value);
    const flag =
      r.promised === '0'
        ? r.value === 0
          ? '0  ok'
          : '0  FAILED'
        : r.promised
          ? `${r.promised}${r.met === false ? '  not met' : r.met ? '  met' : ''}`
          : '';
    lines.push(`${r.what.padEnd(w)}  ${v.padStart(8)}  ${flag}`);
    for (const e of r.examples ?? []) lines.push(`    ${e}`);
  }
  return lines.join('\n');
}
