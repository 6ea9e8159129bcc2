/** Agents' routing tables as the turn pipeline reads them: cached for `limits.routeCacheMs`. */
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

  async get(agent: string): Promise<RouteRecord | null> {
    if (this.ttlMs <= 0) return this.store.getRoute(agent);
    const now = this.clock.now();
    const hit = this.routes.get(agent);
    if (hit && now - hit.at < this.ttlMs) return hit.route;
    const route = await this.store.getRoute(agent);
    this.routes.set(agent, { route, at: now });
    return route;
  }
}
