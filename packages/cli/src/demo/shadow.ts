/**
 * Demo scenario 4: v2 → v3-wrong with a shadow stage. Recorded v2 turns (from scenario 1's users)
 * are replayed on v3-wrong with no side effect; the paired gate on `eval.resolution` catches the
 * regression and the rollout aborts before v3-wrong gets any live traffic. (Scenario 2 then runs
 * the same regression without a shadow stage, to show the canary abort and its compensations.)
 */
import { AGENT_NAME } from '@baton/example-support-agent';
import type { GateResult } from '@baton/core';
import type { Store } from '@baton/store';
import type { BatonClient, RolloutStatus } from '../client';
import { bold, dim, gateLine, red, yellow } from '../view';

export interface ShadowScenarioEnv {
  line(s?: string): void;
  admin: BatonClient;
  store: Store;
  /** Effects the agent code executed since the scenario started (the example's side channel). */
  effectsExecuted(): number;
  resetEffects(): void;
}

const TERMINAL = new Set(['promoted', 'aborted', 'failed']);

function f3(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  return x !== 0 && Math.abs(x) < 0.001 ? x.toExponential(2) : x.toFixed(3);
}

export async function shadowScenario(
  env: ShadowScenarioEnv,
  regressed: string,
): Promise<Record<string, unknown>> {
  env.line(bold(`Scenario 4 — v2 → ${regressed} with a shadow stage: caught before any live traffic`));
  env.line(
    dim(`recorded v2 turns are replayed on ${regressed} (no effect runs); answers are compared in pairs.`),
  );
  env.resetEffects();
  const spec = {
    agent: AGENT_NAME,
    from: 'v2',
    to: regressed,
    steps: [
      { fill: 30, verify: { minSessions: 20 } },
      { fill: 100, migrate: 100 },
    ],
    shadow: {
      sessions: 100,
      turnsPerSession: 3,
      sample: 'stratified',
      gates: [
        {
          name: 'paired-resolution',
          metric: 'eval.resolution',
          test: 'wilcoxon',
          tolerance: -0.05,
          critical: true,
        },
        { name: 'effect-divergence', metric: 'shadow.divergence', test: 'proportion', tolerance: '+5pp' },
      ],
    },
    onFail: 'abort',
  };
  const started = await env.admin.startRollout(spec);
  env.line(`started rollout ${started.id}`);
  let fin: RolloutStatus = started;
  const until = Date.now() + 180_000;
  while (!TERMINAL.has(fin.phase) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    fin = await env.admin.getRollout(started.id);
  }
  const shadow = (fin.shadow ?? null) as {
    verdict: string | null;
    sessions: number;
    turns: number;
    divergent: number;
    skipped: number;
    results: GateResult[];
  } | null;
  const paired = shadow?.results.find((g) => g.name === 'paired-resolution') ?? null;
  const counts = await env.store.countSessions({ agent: AGENT_NAME });
  const onRegressed = Object.values(counts[regressed] ?? {}).reduce((a, b) => a + b, 0);
  const report = {
    name: `shadow v2 -> ${regressed}`,
    rolloutId: started.id,
    phase: fin.phase,
    abortedBeforeTraffic: fin.phase === 'aborted' && onRegressed === 0,
    shadow,
    pairedEvidence: paired?.evidence ?? null,
    sessionsOnRegressed: onRegressed,
    effectsExecutedDuringShadow: env.effectsExecuted(),
  };
  env.line();
  env.line(bold('Report — scenario 4'));
  env.line(
    `  outcome        ${report.abortedBeforeTraffic ? red('aborted in the shadow stage') : yellow(fin.phase)}; sessions on ${regressed}: ${onRegressed}`,
  );
  if (shadow)
    env.line(
      `  replayed       ${shadow.turns} recorded turn(s) of ${shadow.sessions} v2 session(s) (${shadow.skipped} skipped), ${shadow.divergent} with diverging effects; effects executed: ${report.effectsExecutedDuringShadow}`,
    );
  if (paired) {
    const e = paired.evidence;
    env.line(`  paired gate    ${gateLine(paired)}`);
    env.line(
      `  evidence       ${e.paired?.sessions ?? '?'} sessions, mean paired difference ${f3(e.effect)}` +
        `${e.ci ? ` [${f3(e.ci[0])}, ${f3(e.ci[1])}]` : ''}, Hodges-Lehmann ${f3(e.paired?.hl?.estimate)}, Wilcoxon p ${f3(e.pValue)}`,
    );
  }
  env.line();
  return report;
}
