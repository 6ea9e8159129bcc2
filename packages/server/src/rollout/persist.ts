/**
 * A rollout as stored: its record and the machine state it holds, and the compare-and-set that
 * persists a transition (state first, then its decisions, on `rev`).
 */
import { BatonError, type RolloutRecord } from '@baton/core';
import type { Store } from '@baton/store';
import { traceDecisions } from '../tracing/spans';
import {
  fromPersisted,
  toPersisted,
  transition,
  type RolloutEvent,
  type RolloutState,
  type TransitionResult,
} from './machine';
import { validateSpec } from './spec';

export interface LoadedRollout {
  rec: RolloutRecord;
  state: RolloutState;
}

export function loadState(rec: RolloutRecord): RolloutState {
  return fromPersisted(validateSpec(rec.spec, { stored: true }), rec.state);
}

export async function loadRollout(store: Store, id: string): Promise<LoadedRollout> {
  const rec = await store.getRollout(id);
  return { rec, state: loadState(rec) };
}

/** Persist a transition (CAS on rev). Returns the new record; unchanged when nothing changed. */
export async function commitTransition(
  store: Store,
  cur: LoadedRollout,
  r: TransitionResult,
): Promise<LoadedRollout> {
  const before = JSON.stringify(toPersisted(cur.state));
  const after = JSON.stringify(toPersisted(r.state));
  if (before === after && r.decisions.length === 0) return cur;
  const rec = await store.updateRollout(
    cur.rec.id,
    cur.rec.rev,
    { phase: r.state.phase, step: Math.max(0, r.state.step), state: toPersisted(r.state) },
    r.decisions,
  );
  traceDecisions({ id: rec.id, agent: rec.agent, phase: r.state.phase, step: r.state.step }, r.decisions);
  return { rec, state: r.state };
}

/**
 * Apply one event to a stored rollout, retrying on concurrent updates. Commands that the
 * current phase does not allow throw ROLLOUT_STATE and change nothing.
 */
export async function applyEvent(
  store: Store,
  id: string,
  event: RolloutEvent,
  now: () => number,
): Promise<{ loaded: LoadedRollout; result: TransitionResult }> {
  for (let attempt = 0; ; attempt++) {
    const cur = await loadRollout(store, id);
    const result = transition(cur.state, event, now());
    if (result.rejected)
      throw new BatonError('ROLLOUT_STATE', result.rejected.message, {
        rolloutId: id,
        phase: cur.state.phase,
      });
    try {
      const loaded = await commitTransition(store, cur, result);
      return { loaded, result };
    } catch (e) {
      if (e instanceof BatonError && e.code === 'CONFLICT' && attempt < 10) continue;
      throw e;
    }
  }
}
