/**
 * Agents' routing tables as the turn pipeline reads them: cached for `limits.routeCacheMs` (at most
 * 1 s by default), and only while the store's route revision, which `beginTurn` reads under the
 * lease, is the cached one.
 */
import type { Clock, RouteRecord } from '@baton/core';
import type { Store } from '@baton/store';

export class RouteCache {
  private readonly routes = new Map<
    string,
    { route: RouteRecord | null; revision: string | null | undefined; at: number }
  >();

  constructor(
    private readonly store: Pick<Store, 'getRoute'>,
    private readonly clock: Clock,
    /** How long a read route is used (0: read on every call). */
    private readonly ttlMs: number,
  ) {}

  /**
   * The agent's route. `revision` is the route's revision in the store now, as `beginTurn` read it
   * (opaque; null: no route; undefined: not known): a route cached at another revision is read
   * again, whatever its age.
   */
  async get(agent: string, revision?: string | null): Promise<RouteRecord | null> {
    if (this.ttlMs <= 0) return this.store.getRoute(agent);
    const now = this.clock.now();
    const hit = this.routes.get(agent);
    const current = revision === undefined || hit?.revision === revision;
    if (hit && current && now - hit.at < this.ttlMs) return hit.route;
    // read after `revision` was: the route read is that revision's or a newer one (a newer one is
    // read again at the next turn, whose revision differs)
    const route = await this.store.getRoute(agent);
    this.routes.set(agent, { route, revision, at: now });
    return route;
  }
}
