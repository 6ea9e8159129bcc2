/**
 * The worker pool: WorkerClients per (agent, version), picked by least outstanding requests
 * among healthy ones, health-checked periodically. Worker records live in the store.
 */
import {
  BatonError,
  newId,
  type Clock,
  type VersionManifest,
  type WorkerClient,
  type WorkerHealthResponse,
  type WorkerProtocol,
  type WorkerRecord,
} from '@baton/core';
import type { Store } from '@baton/store';
import { HttpWorkerClient } from './http-worker';
import { versionMetadata, type VersionCache } from './context';

export interface PoolEntry {
  readonly id: string;
  readonly agent: string;
  readonly version: string;
  readonly client: WorkerClient;
  readonly url: string | null;
  healthy: boolean;
  outstanding: number;
  /** The worker protocol it speaks; null until its health answer told (see `WorkerPool.protocolOf`). */
  protocol: WorkerProtocol | null;
}

/** The protocol a health answer reports (a worker that reports none speaks protocol 1). */
export function protocolOfHealth(h: WorkerHealthResponse): WorkerProtocol {
  return h.protocol === 2 ? 2 : 1;
}

export interface WorkerPoolOptions {
  store: Store;
  clock: Clock;
  versions: VersionCache;
  /** Token the router presents to remote workers (if they require one). */
  workerToken?: string;
  healthIntervalMs?: number;
  migrateTimeoutMs?: number;
  onError?: (e: unknown, what: string) => void;
}

function key(agent: string, version: string): string {
  return `${agent}\0${version}`;
}

export class WorkerPool {
  private readonly byVersion = new Map<string, PoolEntry[]>();
  private readonly byId = new Map<string, PoolEntry>();
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;

  constructor(private readonly opts: WorkerPoolOptions) {}

  /** Register an in-process worker: its version (idempotent) and a worker record. */
  async addInProcess(client: WorkerClient, manifest: VersionManifest): Promise<WorkerRecord> {
    await this.ensureVersion(manifest);
    const rec = await this.opts.store.registerWorker({
      id: client.id,
      agent: manifest.agent,
      version: manifest.label,
      url: null,
      health: 'healthy',
    });
    this.insert({
      id: rec.id,
      agent: rec.agent,
      version: rec.version,
      client,
      url: null,
      healthy: true,
      outstanding: 0,
      protocol: client.protocol ?? null,
    });
    return rec;
  }

  /**
   * Register a remote HTTP worker: asks its `/v1/health` which version it serves. With a manifest the
   * version is registered (idempotently); without one the version must already be registered and
   * its identity must match the worker's.
   */
  async addRemote(url: string, manifest?: VersionManifest, id?: string): Promise<WorkerRecord> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new BatonError('VALIDATION', `not a URL: ${url}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new BatonError('VALIDATION', `worker URL must be http(s): ${url}`);
    }
    // Registering the same URL again re-probes it and keeps its id.
    const known = [...this.byId.values()].find((e) => e.url === parsed.origin);
    const workerId = id ?? known?.id ?? newId('wrk', this.opts.clock.now());
    const client = this.httpClient(parsed.origin, workerId);
    try {
      let h: WorkerHealthResponse;
      try {
        h = await client.health();
      } catch (e) {
        throw new BatonError('UNREACHABLE', `worker at ${parsed.origin} did not answer /v1/health`, {
          url: parsed.origin,
          cause: e instanceof Error ? e.message : String(e),
        });
      }
      if (manifest) {
        if (manifest.agent !== h.agent || manifest.label !== h.version || manifest.identity !== h.identity) {
          throw new BatonError(
            'VERSION_CONFLICT',
            'the worker serves a different version than the manifest',
            {
              worker: { agent: h.agent, version: h.version, identity: h.identity },
              manifest: { agent: manifest.agent, version: manifest.label, identity: manifest.identity },
            },
          );
        }
        await this.ensureVersion(manifest);
      } else {
        const v = await this.opts.versions.get(h.agent, h.version);
        if (v.identity !== h.identity) {
          throw new BatonError(
            'VERSION_CONFLICT',
            `worker identity differs from registered ${h.agent}@${h.version}`,
            {
              registered: v.identity,
              worker: h.identity,
            },
          );
        }
      }
      const rec = await this.opts.store.registerWorker({
        id: workerId,
        agent: h.agent,
        version: h.version,
        url: parsed.origin,
        health: 'healthy',
      });
      this.insert({
        id: rec.id,
        agent: rec.agent,
        version: rec.version,
        client,
        url: parsed.origin,
        healthy: true,
        outstanding: 0,
        protocol: protocolOfHealth(h),
      });
      return rec;
    } catch (e) {
      await client.close();
      throw e;
    }
  }

  private httpClient(url: string, id: string): HttpWorkerClient {
    return new HttpWorkerClient(url, {
      id,
      token: this.opts.workerToken,
      migrateTimeoutMs: this.opts.migrateTimeoutMs,
      now: () => this.opts.clock.now(),
    });
  }

  /** Pick up remote workers registered in the store by another router or admin. */
  async syncFromStore(): Promise<void> {
    const recs = await this.opts.store.listWorkers();
    for (const r of recs) {
      if (r.url === null || this.byId.has(r.id)) continue;
      const client = this.httpClient(r.url, r.id);
      this.insert({
        id: r.id,
        agent: r.agent,
        version: r.version,
        client,
        url: r.url,
        healthy: r.health === 'healthy',
        outstanding: 0,
        protocol: null,
      });
    }
  }

  async remove(id: string): Promise<void> {
    const e = this.byId.get(id);
    if (e) {
      this.byId.delete(id);
      const list = this.byVersion.get(key(e.agent, e.version));
      if (list) {
        const i = list.indexOf(e);
        if (i >= 0) list.splice(i, 1);
      }
      await e.client.close?.();
    }
    await this.opts.store.removeWorker(id);
  }

  /** A healthy worker of the version with the fewest outstanding requests; NO_WORKER if none. */
  pick(agent: string, version: string): PoolEntry {
    const list = this.byVersion.get(key(agent, version));
    let best: PoolEntry | null = null;
    if (list) {
      for (const e of list) {
        if (!e.healthy) continue;
        if (best === null || e.outstanding < best.outstanding) best = e;
      }
    }
    if (best === null) {
      throw new BatonError('NO_WORKER', `no healthy worker for ${agent}@${version}`, { agent, version });
    }
    return best;
  }

  /** The protocol a worker speaks, asking its health endpoint once when not yet known. */
  async protocolOf(e: PoolEntry): Promise<WorkerProtocol> {
    if (e.protocol === null) e.protocol = protocolOfHealth(await e.client.health());
    return e.protocol;
  }

  /** Whether a healthy worker serves the version. */
  has(agent: string, version: string): boolean {
    return this.byVersion.get(key(agent, version))?.some((e) => e.healthy) ?? false;
  }

  entries(): PoolEntry[] {
    return [...this.byId.values()];
  }

  get(id: string): PoolEntry | undefined {
    return this.byId.get(id);
  }

  /** Mark a worker unhealthy now (e.g. after a connection failure); health checks bring it back. */
  markUnhealthy(entry: PoolEntry): void {
    if (!entry.healthy) return;
    entry.healthy = false;
    this.opts.store.updateWorker(entry.id, { health: 'unhealthy' }).catch((e: unknown) => {
      this.opts.onError?.(e, 'updateWorker');
    });
  }

  /** Probe every worker once; update the store where health changed. */
  checkHealth(): Promise<void> {
    if (this.checking) return this.checking;
    this.checking = (async () => {
      await Promise.all(
        [...this.byId.values()].map(async (e) => {
          let ok: boolean;
          try {
            const h = await e.client.health();
            ok = h.ok !== false && h.agent === e.agent && h.version === e.version;
            if (ok) e.protocol = protocolOfHealth(h);
          } catch {
            ok = false;
          }
          if (ok !== e.healthy) {
            e.healthy = ok;
            await this.opts.store.updateWorker(e.id, { health: ok ? 'healthy' : 'unhealthy', seen: ok });
          } else if (ok && e.url !== null) {
            await this.opts.store.updateWorker(e.id, { seen: true });
          }
        }),
      ).catch((err: unknown) => this.opts.onError?.(err, 'health check'));
    })().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  start(): void {
    const ms = this.opts.healthIntervalMs ?? 5_000;
    if (ms <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      void this.checkHealth();
    }, ms);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.checking;
    await Promise.all([...this.byId.values()].map((e) => e.client.close?.()));
    this.byId.clear();
    this.byVersion.clear();
  }

  private insert(e: PoolEntry): void {
    const old = this.byId.get(e.id);
    if (old) {
      const list = this.byVersion.get(key(old.agent, old.version));
      if (list) list.splice(list.indexOf(old), 1);
      // in-flight requests finish on the old client; it closes once they did
      if (old.client !== e.client) {
        old.client
          .close?.()
          .catch((err: unknown) => this.opts.onError?.(err, 'close replaced worker client'));
      }
    }
    this.byId.set(e.id, e);
    const k = key(e.agent, e.version);
    let list = this.byVersion.get(k);
    if (!list) this.byVersion.set(k, (list = []));
    list.push(e);
  }

  private async ensureVersion(m: VersionManifest): Promise<void> {
    const v = await this.opts.store.registerVersion({
      agent: m.agent,
      label: m.label,
      schemaVersion: m.schemaVersion,
      modelId: m.modelId,
      promptHash: m.promptHash,
      toolManifestHash: m.toolManifestHash,
      codeHash: m.codeHash,
      identity: m.identity,
      acceptsSchemas: m.acceptsSchemas,
      downSchemas: m.downSchemas,
      metadata: versionMetadata(undefined, m.history),
    });
    this.opts.versions.remember(v);
    // The first version of an agent becomes its stable route, so sessions can be created right away.
    if ((await this.opts.store.getRoute(m.agent)) === null) {
      await this.opts.store.setRoute({
        agent: m.agent,
        stable: m.label,
        candidate: null,
        weight: 0,
        move: null,
        rolloutId: null,
      });
    }
  }
}
