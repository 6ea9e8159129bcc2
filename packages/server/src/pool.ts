/**
 * The worker pool: WorkerClients per (agent, version), picked by least outstanding requests
 * among healthy ones, health-checked periodically. Worker records live in the store.
 */
import {
  BatonError,
  SHADOW_PROTOCOL,
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
import { versionMetadata, type VersionCache } from './versions';

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
  /** How often the pool re-reads the store's worker records (default 1 s; 0 disables the timer). */
  syncIntervalMs?: number;
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
  private syncTimer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  private syncing: Promise<void> | null = null;
  private syncedAt: number | null = null;
  /** Each worker's health as the store recorded it at the previous sync. */
  private readonly stored = new Map<string, WorkerRecord['health']>();

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
      checkHealthAnswer(h, parsed.origin);
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

  /**
   * Reconcile with the store's worker records, which every router of a fleet shares: pick up
   * remote workers registered through another router, drop the ones unregistered there, and adopt
   * a health change another router recorded (this router's next probe corrects it if it sees
   * otherwise). In-process workers belong to their process and are left alone. Runs every
   * `syncIntervalMs` once `start()`ed; `syncedAt` says when it last succeeded.
   */
  async syncFromStore(): Promise<void> {
    const recs = await this.opts.store.listWorkers();
    const seen = new Set<string>();
    for (const r of recs) {
      seen.add(r.id);
      const known = this.byId.get(r.id);
      const before = this.stored.get(r.id);
      this.stored.set(r.id, r.health);
      if (r.url === null) continue;
      if (known) {
        // adopt only a change recorded since the previous sync, so this router's own probes win
        // over a record it has already seen
        const healthy = r.health === 'healthy';
        if (before !== undefined && before !== r.health && known.healthy !== healthy) known.healthy = healthy;
        if (known.url === r.url && known.agent === r.agent && known.version === r.version) continue;
      }
      this.insert({
        id: r.id,
        agent: r.agent,
        version: r.version,
        client: this.httpClient(r.url, r.id),
        url: r.url,
        healthy: r.health === 'healthy',
        outstanding: 0,
        protocol: null,
      });
    }
    for (const e of [...this.byId.values()]) {
      if (e.url === null || seen.has(e.id)) continue;
      this.stored.delete(e.id);
      this.drop(e);
    }
    this.syncedAt = this.opts.clock.now();
  }

  /** When `syncFromStore` last succeeded (clock ms), or null before the first. */
  get lastSyncAt(): number | null {
    return this.syncedAt;
  }

  private drop(e: PoolEntry): void {
    this.byId.delete(e.id);
    const list = this.byVersion.get(key(e.agent, e.version));
    if (list) {
      const i = list.indexOf(e);
      if (i >= 0) list.splice(i, 1);
    }
    // a turn in flight on it finishes on its own request
    e.client.close?.()?.catch((err: unknown) => this.opts.onError?.(err, 'close removed worker client'));
  }

  async remove(id: string): Promise<void> {
    const e = this.byId.get(id);
    if (e) this.drop(e);
    this.stored.delete(id);
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

  /**
   * A healthy worker of the version that honours shadow turns (its health reports `shadow` ≥
   * SHADOW_PROTOCOL), least loaded first. A worker that does not would drop the request's `shadow`
   * field and run the effects for real, so it is refused, never trusted: SHADOW_UNSUPPORTED when no
   * worker of the version qualifies (NO_WORKER when none is healthy).
   */
  async pickShadow(agent: string, version: string): Promise<PoolEntry> {
    const list = (this.byVersion.get(key(agent, version)) ?? [])
      .filter((e) => e.healthy)
      .sort((a, b) => a.outstanding - b.outstanding);
    if (list.length === 0)
      throw new BatonError('NO_WORKER', `no healthy worker for ${agent}@${version}`, { agent, version });
    for (const e of list) if (await this.supportsShadow(e)) return e;
    throw new BatonError(
      'SHADOW_UNSUPPORTED',
      `no worker of ${agent}@${version} supports shadow turns (its SDK predates them): upgrade its workers`,
      { agent, version, workers: list.map((e) => e.id) },
    );
  }

  private readonly shadowSupport = new WeakMap<PoolEntry, { ok: boolean; at: number }>();

  private async supportsShadow(e: PoolEntry): Promise<boolean> {
    const now = this.opts.clock.now();
    const hit = this.shadowSupport.get(e);
    if (hit && now - hit.at < 30_000) return hit.ok;
    let v: unknown = e.client.shadow;
    if (v === undefined)
      v = await e.client.health().then(
        (h) => h.shadow,
        () => undefined,
      );
    const ok = typeof v === 'number' && v >= SHADOW_PROTOCOL;
    this.shadowSupport.set(e, { ok, at: now });
    return ok;
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

  /** One `syncFromStore` at a time; a failure is reported and leaves `lastSyncAt` as it was. */
  sync(): Promise<void> {
    this.syncing ??= this.syncFromStore()
      .catch((err: unknown) => this.opts.onError?.(err, 'worker sync'))
      .finally(() => {
        this.syncing = null;
      });
    return this.syncing;
  }

  start(): void {
    const ms = this.opts.healthIntervalMs ?? 5_000;
    if (ms > 0 && !this.timer) {
      this.timer = setInterval(() => {
        void this.checkHealth();
      }, ms);
      this.timer.unref();
    }
    const syncMs = this.opts.syncIntervalMs ?? 1_000;
    if (syncMs > 0 && !this.syncTimer) {
      this.syncTimer = setInterval(() => {
        void this.sync();
      }, syncMs);
      this.syncTimer.unref();
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.timer = null;
    this.syncTimer = null;
    await this.checking;
    await this.syncing;
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
      metadata: versionMetadata(undefined, m.history, m.compensations),
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

/** A `/v1/health` answer must name what the worker serves before anything is looked up by it. */
function checkHealthAnswer(h: unknown, origin: string): asserts h is WorkerHealthResponse {
  const o = (typeof h === 'object' && h !== null ? h : {}) as Record<string, unknown>;
  const missing = ['agent', 'version', 'identity'].filter((k) => typeof o[k] !== 'string' || o[k] === '');
  if (missing.length > 0) {
    throw new BatonError(
      'WORKER_ERROR',
      `worker at ${origin} answered /v1/health without ${missing.join(', ')}`,
      { url: origin, missing },
    );
  }
}
