/**
 * `/readyz`: whether a load balancer should send this router traffic. Not ready (503) only when
 * the store does not answer or this router's view of the workers is stale (its last successful
 * sync with the store's worker records is older than `limits.readyMaxStaleMs`, 10 s by default).
 * Which versions have a healthy worker is reported in the body, but never makes the router
 * unready: one agent's outage must not take every router out of the load balancer.
 */
import type { ServerContext } from './context';

export interface VersionAvailability {
  agent: string;
  version: string;
  healthy: number;
  workers: number;
}

export interface Readiness {
  ok: boolean;
  store: string;
  instanceId: string;
  workers: { syncedAt: number | null; ageMs: number | null; maxAgeMs: number };
  versions: VersionAvailability[];
  error?: { code: 'STORE_UNAVAILABLE' | 'NOT_READY'; message: string };
}

export async function readiness(ctx: ServerContext): Promise<Readiness> {
  const now = ctx.clock.now();
  const syncedAt = ctx.pool.lastSyncAt;
  const ageMs = syncedAt === null ? null : now - syncedAt;
  const maxAgeMs = ctx.limits.readyMaxStaleMs;
  const byVersion = new Map<string, VersionAvailability>();
  for (const e of ctx.pool.entries()) {
    const k = `${e.agent}\0${e.version}`;
    let v = byVersion.get(k);
    if (!v) byVersion.set(k, (v = { agent: e.agent, version: e.version, healthy: 0, workers: 0 }));
    v.workers++;
    if (e.healthy) v.healthy++;
  }
  const versions = [...byVersion.values()].sort(
    (a, b) => a.agent.localeCompare(b.agent) || a.version.localeCompare(b.version),
  );
  const base = {
    store: ctx.store.kind,
    instanceId: ctx.instanceId,
    workers: { syncedAt, ageMs, maxAgeMs },
    versions,
  };
  try {
    await ctx.store.listVersions();
  } catch (e) {
    return {
      ok: false,
      ...base,
      error: { code: 'STORE_UNAVAILABLE', message: e instanceof Error ? e.message : 'store unreachable' },
    };
  }
  if (ageMs === null || ageMs > maxAgeMs)
    return {
      ok: false,
      ...base,
      error: {
        code: 'NOT_READY',
        message:
          ageMs === null
            ? 'the worker pool has not read the store yet'
            : `the worker view is ${ageMs} ms old (more than ${maxAgeMs} ms): the worker sync is failing`,
      },
    };
  return { ok: true, ...base };
}
