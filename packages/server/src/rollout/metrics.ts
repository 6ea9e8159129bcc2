/**
 * Prometheus metrics of rollouts, on the server's registry. Gauges are collected from the store
 * on scrape, so any server sharing the store reports the same figures as the leading controller.
 * (Sessions by version and status are `baton_sessions`, registered by the server.)
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { ROLLOUT_PHASES, type GateResult, type RolloutPhase } from '@baton/core';
import type { Store } from '@baton/store';

export interface RolloutMetrics {
  eager: Counter<'agent' | 'from' | 'to' | 'outcome'>;
  verdicts: Counter<'rollout' | 'gate' | 'verdict'>;
  countVerdicts(rolloutId: string, results: GateResult[]): void;
}

const PHASES: readonly RolloutPhase[] = ROLLOUT_PHASES;

const byRegistry = new WeakMap<Registry, RolloutMetrics>();

interface StateView {
  stage?: string;
  step?: number;
  stepStartedAt?: number | null;
  fill?: number;
  migrate?: number;
  drain?: {
    initial?: number | null;
    snapshot?: { remaining?: number; byStatus?: Record<string, number> } | null;
    stuck?: string[];
  };
  migrations?: { done?: number; failed?: number };
}

/** The rollout metrics of a registry (registered once per registry). */
export function rolloutMetrics(registry: Registry, store: Store, prefix = 'baton_'): RolloutMetrics {
  const hit = byRegistry.get(registry);
  if (hit) return hit;
  const eager = new Counter({
    name: `${prefix}eager_migrations_total`,
    help: 'Sessions moved by the eager migrator, by outcome',
    labelNames: ['agent', 'from', 'to', 'outcome'] as const,
    registers: [registry],
  });
  const verdicts = new Counter({
    name: `${prefix}gate_verdicts_total`,
    help: 'Gate verdicts recorded by the rollout controller',
    labelNames: ['rollout', 'gate', 'verdict'] as const,
    registers: [registry],
  });
  async function active(): Promise<Array<{ id: string; agent: string; phase: RolloutPhase; s: StateView }>> {
    const all = await store.listRollouts();
    return all
      .filter((r) => !PHASES.slice(4).includes(r.phase) || (r.state as StateView | null)?.stage !== 'done')
      .map((r) => ({ id: r.id, agent: r.agent, phase: r.phase, s: (r.state ?? {}) as StateView }));
  }
  new Gauge({
    name: `${prefix}rollout_phase`,
    help: 'Phase of each rollout still at work (1 for the current phase)',
    labelNames: ['rollout', 'agent', 'phase'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await active())
        for (const p of PHASES) this.set({ rollout: r.id, agent: r.agent, phase: p }, p === r.phase ? 1 : 0);
    },
  });
  new Gauge({
    name: `${prefix}rollout_weight_ratio`,
    help: 'Share (0 to 1) of new sessions (fill) and of open sessions (migrate) going to the candidate',
    labelNames: ['rollout', 'agent', 'kind'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await active()) {
        this.set({ rollout: r.id, agent: r.agent, kind: 'fill' }, (r.s.fill ?? 0) / 100);
        this.set({ rollout: r.id, agent: r.agent, kind: 'migrate' }, (r.s.migrate ?? 0) / 100);
      }
    },
  });
  new Gauge({
    name: `${prefix}rollout_step`,
    help: 'Current step index of each rollout still at work',
    labelNames: ['rollout', 'agent'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await active()) this.set({ rollout: r.id, agent: r.agent }, r.s.step ?? -1);
    },
  });
  new Gauge({
    name: `${prefix}rollout_step_started_timestamp_seconds`,
    help: 'When the current step of each rollout still at work started (Unix time; absent before the first)',
    labelNames: ['rollout', 'agent'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await active())
        if (typeof r.s.stepStartedAt === 'number')
          this.set({ rollout: r.id, agent: r.agent }, r.s.stepStartedAt / 1000);
    },
  });
  new Gauge({
    name: `${prefix}drain_remaining_sessions`,
    help: 'Open sessions still on the origin version, by position (idle, running, waiting, migrating)',
    labelNames: ['rollout', 'agent', 'status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await active()) {
        const by = r.s.drain?.snapshot?.byStatus ?? {};
        for (const st of ['idle', 'running', 'waiting', 'migrating'])
          this.set({ rollout: r.id, agent: r.agent, status: st }, by[st] ?? 0);
      }
    },
  });
  new Gauge({
    name: `${prefix}drain_progress_ratio`,
    help: 'Drain progress: 1 - remaining / open at drain start (0 before the drain starts)',
    labelNames: ['rollout', 'agent'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await active()) this.set({ rollout: r.id, agent: r.agent }, drainProgress(r.s));
    },
  });
  new Gauge({
    name: `${prefix}drain_stuck_sessions`,
    help: 'Sessions marked stuck at the drain deadline',
    labelNames: ['rollout', 'agent'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await active())
        this.set({ rollout: r.id, agent: r.agent }, r.s.drain?.stuck?.length ?? 0);
    },
  });
  new Gauge({
    name: `${prefix}rollout_migrated_sessions`,
    help: 'Sessions the eager migrator of each rollout moved (ok) or failed to move (from its persisted state)',
    labelNames: ['rollout', 'agent', 'outcome'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await active()) {
        this.set({ rollout: r.id, agent: r.agent, outcome: 'ok' }, r.s.migrations?.done ?? 0);
        this.set({ rollout: r.id, agent: r.agent, outcome: 'failed' }, r.s.migrations?.failed ?? 0);
      }
    },
  });
  const m: RolloutMetrics = {
    eager,
    verdicts,
    countVerdicts(rolloutId, results) {
      for (const g of results) verdicts.labels(rolloutId, g.name, g.verdict).inc();
    },
  };
  byRegistry.set(registry, m);
  return m;
}

/** 1 - remaining / initial, in [0, 1]; 0 before the drain starts, 1 once nothing remains. */
export function drainProgress(s: StateView): number {
  const initial = s.drain?.initial ?? null;
  const remaining = s.drain?.snapshot?.remaining ?? null;
  if (initial === null || remaining === null) return 0;
  if (remaining === 0) return 1;
  if (initial === 0) return 1;
  return Math.max(0, Math.min(1, 1 - remaining / initial));
}
