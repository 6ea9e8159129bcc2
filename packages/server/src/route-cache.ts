/**
 * Agents' routing tables as the turn pipeline reads them: cached for `limits.routeCacheMs` (at most
 * 1 s by default), and only while the store's route revision, which `beginTurn` reads under the
 * lease, is the cached one.
 */
import type { Clock, RouteRecord } from '@baton/core';
import type { Store } from '@baton/store';

export class RouteCache {
  private readonly routes = new Map<string, { route: RouteRecord | null; at: number }>();

  constructor(
    private readonly store: Pick<Store, 'getRoute'>,
    private readonly clock: Clock,
    /** How long a read route is used (0: read on every call). */
    private readonly ttlMs: number,
  ) {}

  /**
   * The agent's route. `revision` is the route's `updatedAt` as the store has it now (null: no
   * route; undefined: not known): a cached route of another revision is not used, whatever its age.
   */
  async get(agent: string, revision?: number | null): Promise<RouteRecord | null> {
    if (this.ttlMs <= 0) return this.store.getRoute(agent);
    const now = this.clock.now();
    const hit = this.routes.get(agent);
    const current = revision === undefined || (hit?.route?.updatedAt ?? null) === revision;
    if (hit && current && now - hit.at < this.ttlMs) return hit.route;
    const route = await this.store.getRoute(agent);
    this.routes.set(agent, { route, at: now });
    return route;
  }
}
