/**
 * Stragglers: the sessions still on blue while a rollout drains, each with the reason it has not
 * moved yet (what `GET /v1/rollouts/{id}` shows under `drain.stragglers`). A page at a time (keyset
 * on the session id), so a drain of 100 000 sessions costs one bounded query per view.
 */
import { type RouteRecord, type SessionRecord, type SessionStatus } from '@baton/core';
import type { ServerContext } from '../context';
import { statusSeen } from '../lease';
import { decodeCursor, encodeCursor } from '../paging';
import { moveDue } from '../routing';
import type { RolloutState } from './machine';

export type StragglerReasonCode =
  | 'mid-turn'
  | 'waiting'
  | 'migrating'
  | 'idle-not-due'
  | 'idle-no-eager'
  | 'idle-queued'
  | 'migration-failed'
  | 'stuck';

export interface Straggler {
  sessionId: string;
  status: SessionStatus;
  reason: StragglerReasonCode;
  /** A sentence a human reads. */
  message: string;
  /** For `waiting`: the earliest deadline of its pending waits. */
  waitDeadline?: number | null;
}

export interface StragglerPage {
  items: Straggler[];
  nextCursor: string | null;
}

const OPEN: SessionStatus[] = ['idle', 'running', 'waiting', 'migrating'];

/** Why one open session on blue has not moved (pure, given its waits). */
export function stragglerReason(
  s: SessionRecord,
  state: Pick<RolloutState, 'spec' | 'drain'>,
  route: RouteRecord | null,
  failed: ReadonlyMap<string, string>,
  waitDeadline: number | null,
  now: number,
): Straggler {
  const status = statusSeen(s, now);
  const base = { sessionId: s.id, status };
  const why = failed.get(s.id);
  if (state.drain.stuck.includes(s.id))
    return { ...base, reason: 'stuck', message: 'marked stuck: the drain deadline passed while it was open' };
  if (why !== undefined)
    return { ...base, reason: 'migration-failed', message: `its migration failed: ${why}` };
  switch (status) {
    case 'running':
      return { ...base, reason: 'mid-turn', message: 'a turn is running; it moves at the turn boundary' };
    case 'migrating':
      return { ...base, reason: 'migrating', message: 'its migration is running now' };
    case 'waiting':
      return {
        ...base,
        reason: 'waiting',
        message:
          waitDeadline !== null
            ? `waiting for a callback (deadline ${new Date(waitDeadline).toISOString()}); it moves when it resumes`
            : 'waiting for a callback; it moves when it resumes',
        waitDeadline,
      };
    default: {
      const move = route?.move;
      if (!moveDue(route, s, now))
        return {
          ...base,
          reason: 'idle-not-due',
          message: `idle, not yet due: the step moves ${move?.percent ?? 0}% of blue's sessions`,
        };
      if (!state.spec.migration.eager)
        return {
          ...base,
          reason: 'idle-no-eager',
          message: 'idle and due: it moves at its next turn (no eager migration)',
        };
      return {
        ...base,
        reason: 'idle-queued',
        message: 'idle and due: the eager migrator moves it in a coming batch',
      };
    }
  }
}

/** One page of the rollout's stragglers (the open sessions still on `from`). */
export async function listStragglers(
  ctx: ServerContext,
  rec: { agent: string; from: string },
  state: Pick<RolloutState, 'spec' | 'drain'>,
  opts: { cursor?: string | undefined; limit?: number } = {},
): Promise<StragglerPage> {
  const limit = opts.limit ?? 20;
  const [route, page] = await Promise.all([
    ctx.store.getRoute(rec.agent),
    ctx.store.listSessions({
      agent: rec.agent,
      version: rec.from,
      status: OPEN,
      cursor: decodeCursor('stragglers', opts.cursor),
      limit,
    }),
  ]);
  const now = ctx.clock.now();
  const failed = new Map((state.drain.snapshot?.failed ?? []).map((f) => [f.sessionId, f.reason]));
  const items = await Promise.all(
    page.items.map(async (s) => {
      let deadline: number | null = null;
      if (s.status === 'waiting') {
        const waits = await ctx.store.listWaits({ sessionId: s.id, status: 'pending', limit: 20 });
        deadline = waits.reduce<number | null>(
          (m, w) => (m === null || w.deadline < m ? w.deadline : m),
          null,
        );
      }
      return stragglerReason(s, state, route, failed, deadline, now);
    }),
  );
  return { items, nextCursor: encodeCursor('stragglers', page.nextCursor) };
}
