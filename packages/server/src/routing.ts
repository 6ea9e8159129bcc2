/** The routing table's rules (pure): which version a new session gets, and whether a session is due to move. */
import { bucketOf, type MoveRule, type RouteRecord, type SessionRecord } from '@baton/core';

/** The terms of a move rule that decide which sessions on its origin are due (bucket and policy). */
export type MoveTerms = Pick<MoveRule, 'percent' | 'policy' | 'maxAgeMs' | 'deadlinePassed'>;

/**
 * THE move rule: whether a move's terms make this session due to move now (pure). The router's lazy
 * move at a turn, the eager migrator and the stragglers view all decide with it.
 */
export function dueToMove(s: Pick<SessionRecord, 'id' | 'createdAt'>, m: MoveTerms, now: number): boolean {
  if (!(bucketOf(s.id) < m.percent)) return false;
  switch (m.policy) {
    case 'at-boundary':
      return true;
    case 'finish-on-origin':
      return m.deadlinePassed;
    case 'max-age':
      return m.maxAgeMs === null || now - s.createdAt < m.maxAgeMs;
    default:
      return false;
  }
}

/** The route's move when it applies to this session now: the session is on its origin and due (pure). */
export function moveDue(route: RouteRecord | null, s: SessionRecord, now: number): MoveRule | null {
  const m = route?.move;
  if (!m || s.version !== m.from || m.to === m.from) return null;
  return dueToMove(s, m, now) ? m : null;
}

/** The version a new session with this id is pinned to (pure). */
export function versionFor(route: RouteRecord, sessionId: string): string {
  return route.candidate !== null && bucketOf(sessionId) < route.weight ? route.candidate : route.stable;
}
