/** Prometheus metrics of the router (prom-client), one registry per server instance. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from '@baton/store';

export type TurnOutcomeLabel = 'idle' | 'waiting' | 'completed' | 'failed' | 'error' | 'replayed';

export interface Metrics {
  registry: Registry;
  turns: Counter<'agent' | 'version' | 'outcome'>;
  turnSeconds: Histogram<'agent' | 'version'>;
  migrations: Counter<'agent' | 'from' | 'to' | 'outcome'>;
  /** Record one turn; label children are cached so the hot path does no label hashing. */
  observeTurn(agent: string, version: string, outcome: TurnOutcomeLabel, seconds: number | null): void;
}

/** An effect still at `intent` this long after its last write is counted in doubt (ten times the default turn timeout). */
export const IN_DOUBT_AFTER_MS = 5 * 60_000;

export function createMetrics(
  store: Store,
  opts: { prefix?: string; /** The clock's now (epoch ms). */ now?: () => number } = {},
): Metrics {
  const p = opts.prefix ?? 'baton_';
  const registry = new Registry();
  const turns = new Counter({
    name: `${p}turns_total`,
    help: 'Turns handled by the router, by version and outcome',
    labelNames: ['agent', 'version', 'outcome'] as const,
    registers: [registry],
  });
  const turnSeconds = new Histogram({
    name: `${p}turn_duration_seconds`,
    help: 'Turn latency through the router (lease to commit)',
    labelNames: ['agent', 'version'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const migrations = new Counter({
    name: `${p}migrations_total`,
    help: 'Session migrations attempted by the router, by outcome',
    labelNames: ['agent', 'from', 'to', 'outcome'] as const,
    registers: [registry],
  });
  new Gauge({
    name: `${p}sessions`,
    help: 'Sessions by agent, version and status (collected from the store on scrape)',
    labelNames: ['agent', 'version', 'status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const sessions = await store.listVersions();
      const agents = new Set(sessions.map((v) => v.agent));
      for (const agent of agents) {
        const counts = await store.countSessions({ agent });
        for (const [version, byStatus] of Object.entries(counts)) {
          for (const [status, n] of Object.entries(byStatus)) this.set({ agent, version, status }, n);
        }
      }
    },
  });

  new Gauge({
    name: `${p}effects_in_doubt`,
    help: `Effects recorded as intent with no outcome for more than ${IN_DOUBT_AFTER_MS / 60_000} minutes (resolve them by hand)`,
    labelNames: ['agent', 'version'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const before = (opts.now ?? Date.now)() - IN_DOUBT_AFTER_MS;
      const counts = new Map<string, { agent: string; version: string; n: number }>();
      let cursor: string | null = null;
      do {
        const page = await store.listEffects({ status: 'intent', limit: 1000, cursor });
        for (const e of page.items) {
          if (e.updatedAt > before) continue;
          const k = `${e.agent}\0${e.version}`;
          const c = counts.get(k) ?? { agent: e.agent, version: e.version, n: 0 };
          c.n++;
          counts.set(k, c);
        }
        cursor = page.nextCursor;
      } while (cursor);
      for (const c of counts.values()) this.set({ agent: c.agent, version: c.version }, c.n);
    },
  });

  const counterChildren = new Map<string, { inc(): void }>();
  const histChildren = new Map<string, { observe(v: number): void }>();
  return {
    registry,
    turns,
    turnSeconds,
    migrations,
    observeTurn(agent, version, outcome, seconds) {
      const ck = `${agent}\0${version}\0${outcome}`;
      let c = counterChildren.get(ck);
      if (!c) {
        c = turns.labels(agent, version, outcome);
        counterChildren.set(ck, c);
      }
      c.inc();
      if (seconds !== null) {
        const hk = `${agent}\0${version}`;
        let h = histChildren.get(hk);
        if (!h) {
          h = turnSeconds.labels(agent, version);
          histChildren.set(hk, h);
        }
        h.observe(seconds);
      }
    },
  };
}
