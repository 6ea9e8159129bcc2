/** The routing table's rules (pure): which version a new session gets, and whether a session is due to move. */
import { bucketOf, type MoveRule, type RouteRecord, type SessionRecord } from '@baton/core';

/** Whether `route.move` applies to this session now (pure). */
export function moveDue(route: RouteRecord | null, s: SessionRecord, now: number): MoveRule | null {
  const m = route?.move;
  if (!m || s.version !== m.from || m.to === m.from) return null;
  if (!(bucketOf(s.id) < m.percent)) return null;
  switch (m.policy) {
    case 'at-boundary':
      return m;
    case 'finish-on-origin':
      return m.deadlinePassed ? m : null;
    case 'max-age':
      return m.maxAgeMs === null || now - s.createdAt < m.maxAgeMs ? m : null;
    default:
      return null;
  }
}

/** The version a new session with this id is pinned to (pure). */
export function versionFor(route: RouteRecord, sessionId: string): string {
  return route.candidate !== null && bucketOf(sessionId) < route.weight ? route.candidate : route.stable;
}
