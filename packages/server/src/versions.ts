/** Registered versions: the cache (versions are immutable) and what a version's metadata declares. */
import { windowOf } from '@baton/core';
import type { HistoryPolicy, HistoryRetention, HistoryWindow, VersionRecord } from '@baton/core';
import type { Store } from '@baton/store';
import type { Limits } from './limits';

/** A version's metadata as registered: the given metadata plus its history policy, if it declares one. */
export function versionMetadata(
  metadata: Record<string, unknown> | undefined,
  history: HistoryPolicy | undefined,
  compensations?: string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = Object.assign({}, metadata, history ? { history } : {});
  if (compensations && compensations.length > 0) out.compensations = [...compensations].sort();
  return out;
}

/** The compensations a version declared in its manifest (kept in the version's metadata). */
export function compensationsOf(v: VersionRecord): string[] {
  const c = (v.metadata as { compensations?: unknown }).compensations;
  return Array.isArray(c) ? c.filter((x): x is string => typeof x === 'string') : [];
}

/** The history policy a version declared in its manifest (kept in the version's metadata). */
export function historyPolicyOf(v: VersionRecord): HistoryPolicy | undefined {
  return (v.metadata as { history?: HistoryPolicy }).history;
}

/** The window of history a version's workers receive with each turn. */
export function historyWindowOf(v: VersionRecord): HistoryWindow {
  return windowOf(historyPolicyOf(v));
}

/** The retention applied when a version's turns commit: the server's override, else the version's. */
export function retentionOf(v: VersionRecord, limits: Limits): HistoryRetention | undefined {
  return limits.historyRetention ?? historyPolicyOf(v)?.retention ?? undefined;
}

/** Versions are immutable once registered, so they are cached forever. */
export class VersionCache {
  private readonly cache = new Map<string, VersionRecord>();
  constructor(private readonly store: Store) {}
  async get(agent: string, label: string): Promise<VersionRecord> {
    const k = `${agent}\0${label}`;
    const hit = this.cache.get(k);
    if (hit) return hit;
    const v = await this.store.getVersion(agent, label);
    this.cache.set(k, v);
    return v;
  }
  /** The version when it is cached here (no store read). */
  peek(agent: string, label: string): VersionRecord | undefined {
    return this.cache.get(`${agent}\0${label}`);
  }
  remember(v: VersionRecord): void {
    this.cache.set(`${v.agent}\0${v.label}`, v);
  }
}
