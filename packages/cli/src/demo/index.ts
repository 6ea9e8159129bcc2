/**
 * `baton demo`: the whole product in one process tree. A Baton server (router, controller,
 * admin API) on a temporary SQLite file, in-process workers for the example support agent's
 * v1, v2 and a regressed v3, and a population of simulated users talking to it over real HTTP
 * on 127.0.0.1. Four scenarios (by default in the order 1, 4, 2, 3), each ending with a report:
 *
 *  1. drain-and-fill v1 → v2 with canary steps;
 *  2. v2 → v3 (regressed): the gates catch it at the canary step and abort forward;
 *  3. for contrast, a naive instant cutover of the same traffic with no checkpoints (simulated);
 *  4. v2 → v3 (regressed) with a shadow stage: recorded v2 turns replayed on v3 with no side
 *     effect catch it before v3 gets any live traffic (runs after 1, before 2; see shadow.ts).
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BatonError, TERMINAL_SESSION_STATUSES, randomToken } from '@baton/core';
import type { SessionRecord } from '@baton/core';
import { AGENT_NAME, seeded, supportAgent } from '@baton/example-support-agent';
import type { Store } from '@baton/store';
import { BatonClient } from '../client';
import type { RolloutStatus } from '../client';
import { CliError, ExitCode } from '../exit';
import { fmtDuration } from '../output';
import { startBaton } from '@baton/server';
import type { RunningBaton } from '@baton/server';
import { openStore } from '@baton/store';
import { closeGracefully } from '../serve';
import { LiveBlock, bold, dim, gateLine, green, red, renderRollout, summaryLine, yellow } from '../view';
import { renderForecast } from '../forecast-view';
import { NaiveFleet } from './naive';
import { shadowScenario } from './shadow';
import { BatonTransport } from './transport';
import { Population } from './users';
import type { PopulationOptions, PopulationStats } from './users';

export interface DemoOptions {
  quick?: boolean;
  json?: boolean | string;
  users?: string;
  seed?: string;
  scenarios?: string;
  keep?: boolean;
}

interface Profile {
  users: number;
  minTurns: number;
  maxTurns: number;
  thinkMs: [number, number];
  approvalMs: [number, number];
  warmupMs: number;
  controllerMs: number;
  /** Step verification for scenario 1. */
  verify1: { minSessions: number; minDuration: string; maxDuration: string; interval: string };
  verify2: { minSessions: number; minDuration: string; maxDuration: string; interval: string };
  minSamples: number;
  cutAfterMs: number;
  /** Simulated model latency of a turn in the naive scenario, ms. */
  naiveLatencyMs: [number, number];
  drainDeadline: string;
}

function profileOf(o: DemoOptions): Profile {
  const quick = Boolean(o.quick);
  const users = o.users !== undefined ? Number(o.users) : quick ? 120 : 300;
  if (!Number.isInteger(users) || users < 1 || users > 5000)
    throw new BatonError('VALIDATION', `--users must be an integer 1..5000, got ${o.users}`);
  return quick
    ? {
        users,
        minTurns: 3,
        maxTurns: 6,
        thinkMs: [80, 300],
        approvalMs: [400, 1500],
        warmupMs: 2500,
        controllerMs: 200,
        verify1: { minSessions: 20, minDuration: '2s', maxDuration: '10s', interval: '500ms' },
        verify2: { minSessions: 30, minDuration: '1s', maxDuration: '15s', interval: '500ms' },
        minSamples: 20,
        cutAfterMs: 2500,
        naiveLatencyMs: [50, 400],
        drainDeadline: '30s',
      }
    : {
        users,
        minTurns: 3,
        maxTurns: 12,
        thinkMs: [800, 3500],
        approvalMs: [4000, 15_000],
        warmupMs: 10_000,
        controllerMs: 500,
        verify1: { minSessions: 60, minDuration: '15s', maxDuration: '60s', interval: '2s' },
        verify2: { minSessions: 60, minDuration: '5s', maxDuration: '90s', interval: '2s' },
        minSamples: 40,
        cutAfterMs: 10_000,
        naiveLatencyMs: [300, 2500],
        drainDeadline: '3m',
      };
}

function f3(x: number, d = 3): string {
  return Number.isFinite(x)
    ? Math.abs(x) < 10 ** -d && x !== 0
      ? x.toExponential(2)
      : x.toFixed(d)
    : String(x);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Counts every effect the agent code actually executed, by (session, turn, name, args). */
class EffectCounter {
  readonly executions = new Map<string, number>();
  readonly byVersion = new Map<string, number>();
  sink(version: string) {
    return (name: string, args: unknown, meta: { sessionId: string; turnId: string }): void => {
      const k = `${meta.sessionId}\0${meta.turnId}\0${name}\0${JSON.stringify(args)}`;
      this.executions.set(k, (this.executions.get(k) ?? 0) + 1);
      this.byVersion.set(version, (this.byVersion.get(version) ?? 0) + 1);
    };
  }
  total(): number {
    let n = 0;
    for (const c of this.executions.values()) n += c;
    return n;
  }
  duplicates(): number {
    let n = 0;
    for (const c of this.executions.values()) n += Math.max(0, c - 1);
    return n;
  }
  reset(): void {
    this.executions.clear();
    this.byVersion.clear();
  }
}

/** Where people read the demo: stdout, or stderr when stdout carries the JSON. */
class Out {
  readonly stream: NodeJS.WriteStream;
  readonly tty: boolean;
  constructor(jsonOnStdout: boolean) {
    this.stream = jsonOnStdout ? process.stderr : process.stdout;
    this.tty = Boolean(this.stream.isTTY);
  }
  line(s = ''): void {
    this.stream.write(s + '\n');
  }
}

async function allSessions(store: Store, agent: string): Promise<SessionRecord[]> {
  const out: SessionRecord[] = [];
  let cursor: string | null = null;
  for (;;) {
    const page = await store.listSessions({ agent, limit: 1000, cursor });
    out.push(...page.items);
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}

/**
 * The session's kept checkpoints are what compaction promises: an unbroken run of the newest ones
 * ending at the session's seq, and before it only checkpoints on either side of a migration (the
 * pairs compaction keeps). Anything else missing would be a gap.
 */
async function gapFree(store: Store, sessionId: string, seq: number): Promise<boolean> {
  if (seq === 0) return true;
  const cps = await store.listCheckpoints(sessionId, { limit: 10_000 });
  const seqs = cps.map((c) => c.seq).sort((a, b) => a - b);
  if (seqs.length === 0 || seqs[seqs.length - 1] !== seq) return false;
  let tail = seqs.length - 1;
  while (tail > 0 && seqs[tail - 1] === seqs[tail]! - 1) tail--;
  if (tail === 0) return true;
  const pairs = new Set<number>();
  for (const m of await store.listMigrations({ sessionId, limit: 1000 }))
    if (m.status === 'ok') pairs.add(m.seq).add(m.seq - 1);
  return seqs.slice(0, tail).every((q) => pairs.has(q));
}

function popLine(p: Population): string {
  const s = p.stats;
  return dim(
    `users: ${s.conversations} conversations (${s.conversations - s.finished} open), ${s.turns} turns, ` +
      `${s.callbacksResumed}/${s.callbacksSent} callbacks resumed, ${s.thumbsDown} thumbs down, ` +
      `${s.retries + s.busyRetries} retries`,
  );
}

/** Polls a rollout and draws it until `done(status)` holds; returns the last status. */
async function follow(
  out: Out,
  admin: BatonClient,
  id: string,
  pop: Population | null,
  done: (s: RolloutStatus) => boolean,
  opts: { title: string; timeoutMs: number; intervalMs: number },
): Promise<RolloutStatus> {
  const block = out.tty ? new LiveBlock(out.stream) : null;
  const started = Date.now();
  let lastPrint = 0;
  const seen = new Set<number>();
  for (;;) {
    let s: RolloutStatus;
    try {
      s = await admin.getRollout(id);
    } catch (e) {
      // a busy server may answer a status poll late; keep following until the overall timeout
      if (!(e instanceof BatonError && e.code === 'UNREACHABLE') || Date.now() - started > opts.timeoutMs)
        throw e;
      continue;
    }
    if (block) {
      block.draw([
        ...renderRollout(s, { title: opts.title, now: Date.now(), decisions: 6 }),
        ...(pop ? [popLine(pop)] : []),
      ]);
    } else {
      for (const d of s.decisions ?? []) {
        if (seen.has(d.seq)) continue;
        seen.add(d.seq);
        out.line(`  decision  ${d.kind}: ${d.message}`);
      }
      if (Date.now() - lastPrint > 2000) {
        lastPrint = Date.now();
        out.line(`  ${summaryLine(s)}`);
      }
    }
    if (done(s)) {
      if (block) block.release();
      return s;
    }
    if (Date.now() - started > opts.timeoutMs) {
      if (block) block.release();
      throw new CliError(
        'TIMEOUT',
        `rollout ${id} did not finish within ${fmtDuration(opts.timeoutMs)} (phase ${s.phase})`,
        ExitCode.INVARIANT,
      );
    }
    await sleep(opts.intervalMs);
  }
}

function popOptions(p: Profile, seed: string): PopulationOptions {
  return {
    users: p.users,
    seed,
    minTurns: p.minTurns,
    maxTurns: p.maxTurns,
    thinkMs: p.thinkMs,
    approvalMs: p.approvalMs,
  };
}

const isTerminal = (phase: string): boolean =>
  phase === 'promoted' || phase === 'aborted' || phase === 'failed';

interface Env {
  out: Out;
  store: Store;
  baton: RunningBaton;
  admin: BatonClient;
  trafficToken: string;
  effects: EffectCounter;
  /** What the example's compensations executed (their own effects), counted outside Baton. */
  compensations: EffectCounter;
  profile: Profile;
  seed: string;
}

function sum(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : a + b;
}

async function scenario1(env: Env): Promise<Record<string, unknown>> {
  const { out, store, admin, profile, effects } = env;
  out.line(bold('Scenario 1 — drain-and-fill v1 → v2 with canary steps'));
  out.line(
    dim(
      `v2 changes the state schema (one orderId → a list of orders + sentiment) and rebuilds the prompt.\n` +
        `${profile.users} simulated users talk to v1 over HTTP; some refunds wait for a human approver.`,
    ),
  );
  effects.reset();
  const pop = new Population(
    new BatonTransport(env.baton.url, env.trafficToken, AGENT_NAME),
    popOptions(profile, `${env.seed}:s1`),
  );
  pop.start();
  await sleep(profile.warmupMs);
  const before = await store.countSessions({ agent: AGENT_NAME });
  const openOnV1 = Object.entries(before.v1 ?? {})
    .filter(([st]) => !(TERMINAL_SESSION_STATUSES as readonly string[]).includes(st))
    .reduce((a, [, n]) => a + n, 0);
  out.line(
    dim(
      `before the rollout: ${openOnV1} open sessions on v1 (${before.v1?.waiting ?? 0} waiting on an approval)`,
    ),
  );
  const spec = {
    agent: AGENT_NAME,
    from: 'v1',
    to: 'v2',
    migration: { policy: 'at-boundary', eager: true, batch: 50 },
    drain: { deadline: profile.drainDeadline, onDeadline: 'mark-stuck' },
    steps: [
      { fill: 10, migrate: 0, verify: profile.verify1 },
      { fill: 50, migrate: 50, verify: profile.verify1 },
      { fill: 100, migrate: 100 },
    ],
    gates: [
      {
        metric: 'session.thumbs_down',
        test: 'proportion',
        tolerance: '+10pp',
        critical: true,
        minSamples: profile.minSamples,
      },
      { metric: 'session.errors', test: 'mann-whitney', tolerance: 0.5, minSamples: profile.minSamples },
    ],
    onFail: 'abort',
    onNoData: 'pass',
  };
  // the drain forecast, before anything moves (POST /v1/rollouts/forecast creates nothing)
  const plan = await admin.forecastRollout(spec);
  for (const l of renderForecast(plan.forecast, 'drain forecast (before the rollout)')) out.line(l);
  const t0 = Date.now();
  const started = await admin.startRollout(spec);
  out.line(`started rollout ${started.id}`);
  const fin = await follow(
    out,
    admin,
    started.id,
    pop,
    (s) => isTerminal(s.phase) && (s.phase !== 'promoted' || s.drain?.remaining === 0 || s.stage === 'done'),
    {
      title: 'v1 → v2',
      timeoutMs: profile.users * 1000 + 180_000,
      intervalMs: out.tty ? 250 : 500,
    },
  );
  const drainDoneAt = Date.now();
  // the drain is over: no session may remain open on v1
  const atDrain = await allSessions(store, AGENT_NAME);
  const openByVersionAfterDrain: Record<string, number> = {};
  for (const s of atDrain)
    if (!(TERMINAL_SESSION_STATUSES as readonly string[]).includes(s.status))
      openByVersionAfterDrain[s.version] = (openByVersionAfterDrain[s.version] ?? 0) + 1;
  const openOnBlue = atDrain.filter(
    (s) => s.version === 'v1' && !(TERMINAL_SESSION_STATUSES as readonly string[]).includes(s.status),
  ).length;
  out.line(dim('rollout finished; letting the open conversations end…'));
  await pop.stop();
  const sessions = await allSessions(store, AGENT_NAME);
  const byId = new Map(sessions.map((s) => [s.id, s]));
  const st = pop.stats;
  let lost = 0;
  let gaps = 0;
  let quarantined = 0;
  for (const [id, seen] of st.sessions) {
    const rec = byId.get(id);
    if (!rec || rec.seq < seen.lastSeq) {
      lost++;
      continue;
    }
    if (rec.status === 'quarantined') quarantined++;
    if (!(await gapFree(store, id, rec.seq))) gaps++;
  }
  const mine = [...st.sessions.keys()].map((id) => byId.get(id)).filter((s): s is SessionRecord => !!s);
  const onV2 = mine.filter((s) => s.version === 'v2').length;
  const finishedOnBlue = mine.filter((s) => s.version === 'v1').length;
  const migrations = await store.listMigrations({ rolloutId: started.id, status: 'ok', limit: 100_000 });
  const drain = fin.drain ?? null;
  const drainMs =
    drain && typeof drain.completedAt === 'number' && typeof drain.startedAt === 'number'
      ? drain.completedAt - drain.startedAt
      : drainDoneAt - t0;
  const report = {
    name: 'drain-and-fill v1 -> v2',
    rolloutId: started.id,
    phase: fin.phase,
    promoted: fin.phase === 'promoted',
    sessionsTotal: st.sessions.size,
    openOnBlueAtStart: openOnV1,
    migrated: migrations.length,
    onGreen: onV2,
    finishedOnBlue,
    openOnBlueAfterDrain: openOnBlue,
    openByVersionAfterDrain,
    everySessionOnGreen: openOnBlue === 0 && lost === 0 && onV2 + finishedOnBlue === st.sessions.size,
    lost,
    quarantined,
    sequenceGaps: gaps,
    contextLosses: st.contextLosses,
    callbacks: st.callbacksSent,
    callbacksResumed: st.callbacksResumed,
    callbacksResumedAcrossMigration: st.callbacksAcrossVersions,
    callbacksOrphaned: st.callbacksOrphaned,
    effectsExecuted: effects.total(),
    duplicatedEffects: effects.duplicates(),
    turns: st.turns,
    turnErrors: st.turnErrors,
    userErrors: Object.fromEntries(st.errors),
    retries: st.retries,
    drainTimeMs: drainMs,
    rolloutTimeMs: drainDoneAt - t0,
    forecast: plan.forecast,
    actual: {
      stepsMs: fin.forecast?.actual.stepsMs ?? null,
      drainMs,
      openOnBlueAtStart: openOnV1,
      migrated: migrations.length,
      finishedOnBlue,
      stuckAtDeadline: Array.isArray(drain?.stuck) ? drain.stuck.length : 0,
    },
  };
  out.line();
  out.line(bold('Report — scenario 1'));
  out.line(
    `  sessions total            ${report.sessionsTotal} (${openOnV1} open on v1 when the rollout started)`,
  );
  out.line(`  migrated to v2            ${report.migrated} (eager in batches + lazily at the next turn)`);
  out.line(`  now on v2                 ${report.onGreen}`);
  out.line(`  finished on blue (v1)     ${report.finishedOnBlue} (ended before their move came)`);
  out.line(
    `  open on v1 after drain    ${report.openOnBlueAfterDrain} (open sessions then: ${
      Object.entries(openByVersionAfterDrain)
        .map(([v, n]) => `${v} ${n}`)
        .join(', ') || 'none'
    })`,
  );
  out.line(
    `  lost                      ${report.lost === 0 ? green('0') : red(String(report.lost))}  (context lost: ${report.contextLosses}, sequence gaps: ${gaps}, quarantined: ${quarantined})`,
  );
  out.line(
    `  callbacks resumed         ${report.callbacksResumed}/${report.callbacks}, ${report.callbacksResumedAcrossMigration} of them across the migration (waited on v1, resumed on v2)`,
  );
  out.line(`  effects executed          ${report.effectsExecuted} (duplicated: ${report.duplicatedEffects})`);
  out.line(
    `  drain time                ${fmtDuration(report.drainTimeMs)} (rollout ${fmtDuration(report.rolloutTimeMs)})`,
  );
  const f = plan.forecast;
  const q = (x: { p50: number | null; p90: number | null }, d = false): string =>
    x.p50 === null
      ? '?'
      : d
        ? `${fmtDuration(x.p50)} (p90 ${x.p90 === null ? 'unbounded' : fmtDuration(x.p90)})`
        : `${x.p50} (p90 ${x.p90 ?? '?'})`;
  out.line(bold('  forecast vs actual'));
  out.line(
    `    steps phase             forecast ${q(f.steps, true)}, actual ${report.actual.stepsMs === null ? '?' : fmtDuration(report.actual.stepsMs)}`,
  );
  out.line(`    drain                   forecast ${q(f.drain, true)}, actual ${fmtDuration(drainMs)}`);
  out.line(
    `    migrated                forecast ${sum(f.sessions.migrateLazily.p50, f.sessions.migrateEagerly.p50) ?? '?'}, actual ${report.migrated}`,
  );
  out.line(`    finished on blue        forecast ${q(f.sessions.finishOnBlue)}, actual ${finishedOnBlue}`);
  out.line(
    `    stuck at the deadline   forecast ${q(f.sessions.stragglers)}, actual ${report.actual.stuckAtDeadline}`,
  );
  out.line();
  return report;
}

async function scenario2(env: Env, regressed: string): Promise<Record<string, unknown>> {
  const { out, admin, profile, effects, compensations } = env;
  out.line(bold(`Scenario 2 — v2 → ${regressed} (regressed): the gates catch it at the canary step`));
  out.line(
    dim(`${regressed} answers wrong far more often; users who get a wrong answer give a thumbs down.`),
  );
  effects.reset();
  compensations.reset();
  const pop = new Population(
    new BatonTransport(env.baton.url, env.trafficToken, AGENT_NAME),
    popOptions(profile, `${env.seed}:s2`),
  );
  pop.start();
  await sleep(profile.warmupMs / 2);
  const spec = {
    agent: AGENT_NAME,
    from: 'v2',
    to: regressed,
    migration: { policy: 'at-boundary', eager: true, batch: 50 },
    steps: [
      { fill: 30, migrate: 0, verify: profile.verify2 },
      { fill: 60, migrate: 50, verify: profile.verify2 },
      { fill: 100, migrate: 100 },
    ],
    gates: [
      {
        name: 'user-thumbs-down',
        metric: 'session.thumbs_down',
        test: 'proportion',
        tolerance: '+5pp',
        critical: true,
        minSamples: profile.minSamples,
      },
      {
        name: 'eval-resolution',
        metric: 'eval.resolution',
        test: 'mann-whitney',
        tolerance: -0.05,
        minSamples: profile.minSamples,
      },
      {
        name: 'tool-calls',
        metric: 'session.tool_calls',
        test: 'mann-whitney',
        tolerance: '+20%',
        minSamples: profile.minSamples,
      },
    ],
    onFail: 'abort',
    onAbort: { greenSessions: 'stay' },
    onNoData: 'extend',
  };
  const started = await admin.startRollout(spec);
  out.line(`started rollout ${started.id}`);
  const fin = await follow(out, admin, started.id, pop, (s) => isTerminal(s.phase), {
    title: `v2 → ${regressed}`,
    timeoutMs: 240_000,
    intervalMs: out.tty ? 250 : 500,
  });
  await pop.stop();
  const failing = (fin.gates ?? []).filter((g) => g.verdict === 'fail');
  const gate = failing[0] ?? null;
  // the operator compensates what green did: a dry run first, then the run (workers run them)
  const plan = fin.phase === 'aborted' ? await admin.compensateRollout(started.id, { dryRun: true }) : null;
  const ran =
    fin.phase === 'aborted' ? await admin.compensateRollout(started.id, { dryRun: false, by: 'demo' }) : null;
  const abortReport = await admin
    .request<Record<string, unknown>>('GET', `/v1/rollouts/${encodeURIComponent(started.id)}/report`)
    .catch(() => null);
  const committed = await admin.listEffects({
    version: regressed,
    status: 'committed',
    kind: 'turn',
    limit: 1000,
  });
  const byName: Record<string, number> = {};
  for (const e of committed.items) byName[e.name] = (byName[e.name] ?? 0) + 1;
  const abortDecision = (fin.decisions ?? []).find((d) => /abort/i.test(d.kind));
  const report = {
    name: `regressed v2 -> ${regressed}`,
    rolloutId: started.id,
    phase: fin.phase,
    aborted: fin.phase === 'aborted',
    abortedAtStep: fin.step,
    // the canary weight the regression was caught at (after the abort the route sends 0% to green)
    fill: spec.steps[fin.step]?.fill ?? null,
    gate: gate?.name ?? null,
    evidence: gate?.evidence ?? null,
    gates: fin.gates ?? [],
    abortDecision: abortDecision ?? null,
    greenEffectsCommitted: committed.items.length,
    greenEffectsMore: committed.nextCursor !== null,
    greenEffectsByName: byName,
    greenEffects: committed.items.slice(0, 20).map((e) => ({
      id: e.id,
      name: e.name,
      sessionId: e.sessionId,
      compensation: e.compensation,
      status: e.status,
      compensationState: e.compensationState,
    })),
    abortReport,
    compensations: {
      planned: plan?.totals.ran ?? 0,
      ...(ran?.totals ?? {}),
      // counted outside Baton, by the example world's side channel
      executed: compensations.total(),
      executedTwice: compensations.duplicates(),
    },
    effectsExecuted: effects.total(),
    duplicatedEffects: effects.duplicates(),
    sessionsTotal: pop.stats.sessions.size,
    thumbsDown: pop.stats.thumbsDown,
  };
  out.line();
  out.line(bold('Report — scenario 2'));
  out.line(
    `  outcome        ${report.aborted ? red('aborted forward') : yellow(fin.phase)} at step ${fin.step + 1} (${report.fill ?? '?'}% of new sessions on ${regressed})`,
  );
  if (gate) {
    out.line(`  failing gate   ${gateLine(gate)}`);
    const e = gate.evidence;
    const arm = (a: Record<string, number>): string =>
      a.rate !== undefined
        ? `rate ${f3(a.rate)}`
        : a.mean !== undefined
          ? `mean ${f3(a.mean)}`
          : JSON.stringify(a);
    out.line(
      `  evidence       ${e.test} on ${e.metric}: blue ${arm(e.blue)} (n=${e.nBlue}) vs green ${arm(e.green)} (n=${e.nGreen}); ` +
        `p-value ${e.pValue !== undefined ? f3(e.pValue, 4) : '-'}, effect ${e.effect !== undefined ? f3(e.effect) : '-'}` +
        `${e.ci ? ` [${f3(e.ci[0])}, ${f3(e.ci[1])}]` : ''}, limit ${f3(e.threshold)}`,
    );
  }
  out.line(`  after abort    new sessions go back to v2; sessions already on ${regressed} stay pinned there`);
  out.line(
    `  ${regressed} committed ${report.greenEffectsCommitted}${report.greenEffectsMore ? '+' : ''} effect(s): ${
      Object.entries(byName)
        .map(([k, v]) => `${k} ×${v}`)
        .join(', ') || 'none'
    } — listed with their compensation states in GET /v1/rollouts/${started.id}/report`,
  );
  if (ran) {
    const t = ran.totals;
    out.line(
      `  compensations  ${t.effects} effects: ${t.compensated} compensated, ${t.failed} failed, ${t.pending} pending, ` +
        `${t.notCompensable} not compensable; the example world counted ${compensations.total()} executed ` +
        `(${compensations.duplicates()} twice)`,
    );
  }
  out.line();
  return report;
}

async function scenario3(out: Out, profile: Profile, seed: string): Promise<Record<string, unknown>> {
  out.line(bold('Scenario 3 — for contrast: a naive instant cutover v1 → v2 (simulated)'));
  out.line(
    dim(
      'Simulated in this process, not through Baton: the same users and the same agent code, but each\n' +
        'instance keeps sessions in its own memory (no checkpoints in a shared store, no effects ledger).\n' +
        'After the warm-up the router flips to green at once and blue is terminated: turns in flight lose\n' +
        'their response and are retried on green, sessions continue on green without their state, and\n' +
        'approval callbacks addressed to blue find nobody.',
    ),
  );
  const effects = new EffectCounter();
  const v1 = supportAgent('v1', { onEffect: effects.sink('v1') });
  const v2 = supportAgent('v2', { onEffect: effects.sink('v2') });
  const fleet = new NaiveFleet(v1, v2, profile.naiveLatencyMs, seeded(`naive:${seed}`));
  const pop = new Population(fleet, { ...popOptions(profile, `${seed}:s1`), maxRetries: 3 });
  pop.start();
  await sleep(profile.cutAfterMs);
  const openAtCut = pop.stats.conversations - pop.stats.finished;
  fleet.cutover();
  out.line(`  flipped to green with ${openAtCut} conversations open`);
  await sleep(Math.min(3000, profile.cutAfterMs));
  await pop.stop();
  const st: PopulationStats = pop.stats;
  const report = {
    name: 'naive instant cutover (simulated)',
    simulated: true,
    sessionsTotal: st.sessions.size,
    openAtCutover: openAtCut,
    lostContexts: new Set([...st.sessionsWithLostContext, ...fleet.sessionsWithoutState]).size,
    contextLossAnswers: st.contextLosses,
    orphanedCallbacks: st.callbacksOrphaned,
    turnsCutInFlight: fleet.turnsCutInFlight,
    duplicatedEffects: effects.duplicates(),
    effectsExecuted: effects.total(),
    note:
      'simulated in-process: two stateless instances running the real agent code, state in instance memory, no store, no ledger; ' +
      'the router flips at once and blue is terminated',
  };
  out.line();
  out.line(bold('Report — scenario 3 (simulated naive cutover)'));
  out.line(`  sessions total        ${report.sessionsTotal} (${openAtCut} open at the flip)`);
  out.line(
    `  lost contexts         ${red(String(report.lostContexts))} sessions continued on green without their state (${report.contextLossAnswers} answers that forgot the order)`,
  );
  out.line(
    `  orphaned callbacks    ${red(String(report.orphanedCallbacks))} approvals addressed to blue found nobody`,
  );
  out.line(
    `  duplicated effects    ${red(String(report.duplicatedEffects))} of ${report.effectsExecuted} (turns cut mid-flight and retried on green: ${report.turnsCutInFlight})`,
  );
  out.line();
  return report;
}

export async function runDemo(o: DemoOptions): Promise<number> {
  const profile = profileOf(o);
  const seed = o.seed ?? '42';
  const which = new Set((o.scenarios ?? '1,4,2,3').split(',').map((s) => s.trim()));
  for (const w of which)
    if (!['1', '2', '3', '4'].includes(w))
      throw new BatonError('VALIDATION', `--scenarios: unknown scenario ${w} (use 1, 2, 3, 4)`);
  const jsonOnStdout = o.json === true;
  const out = new Out(jsonOnStdout);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'baton-demo-'));
  const reports: Array<Record<string, unknown>> = [];
  let baton: RunningBaton | null = null;
  let store: Store | null = null;
  const started = Date.now();
  // Ctrl-C: remove the temporary store before leaving (unless --keep)
  const onSigint = (): void => {
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
    process.stderr.write('\ninterrupted; temporary files removed\n');
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  try {
    out.line(bold(`Baton demo${o.quick ? ' (quick)' : ''}`) + dim(` — store ${path.join(dir, 'baton.db')}`));
    if (which.has('1') || which.has('2') || which.has('4')) {
      store = await openStore(path.join(dir, 'baton.db'));
      const effects = new EffectCounter();
      const compensations = new EffectCounter();
      const regressed = 'v3-wrong';
      const deps = (label: string) => ({
        onEffect: effects.sink(label),
        onCompensation: compensations.sink(label),
      });
      const agents = [
        supportAgent('v1', deps('v1')),
        supportAgent('v2', deps('v2')),
        supportAgent(regressed, deps(regressed)),
      ];
      const tokens = { traffic: randomToken(), admin: randomToken(), worker: randomToken() };
      const tokenConfig = { traffic: [tokens.traffic], admin: [tokens.admin], worker: [tokens.worker] };
      baton = await startBaton({
        store,
        port: 0,
        host: '127.0.0.1',
        tokens: tokenConfig,
        agents,
        controller: { intervalMs: profile.controllerMs },
      });
      const route = await store.getRoute(AGENT_NAME);
      if (!route || route.stable !== 'v1')
        await store.setRoute({
          agent: AGENT_NAME,
          stable: 'v1',
          candidate: null,
          weight: 0,
          move: null,
          rolloutId: null,
        });
      out.line(dim(`server on ${baton.url}; in-process workers for v1, v2 and ${regressed}`));
      out.line(`dashboard: ${baton.dashboardUrl}  (sign in with the demo's admin token: ${tokens.admin})`);
      out.line();
      const env: Env = {
        out,
        store,
        baton,
        admin: new BatonClient({ server: baton.url, token: tokens.admin, timeoutMs: 120_000 }),
        trafficToken: tokens.traffic,
        effects,
        compensations,
        profile,
        seed,
      };
      if (which.has('1')) reports.push(await scenario1(env));
      if (which.has('4')) {
        if (!which.has('1'))
          throw new BatonError(
            'VALIDATION',
            '--scenarios: scenario 4 replays v2 sessions and needs scenario 1',
          );
        reports.push(
          await shadowScenario(
            {
              line: (x) => out.line(x),
              admin: env.admin,
              store,
              effectsExecuted: () => effects.total(),
              resetEffects: () => effects.reset(),
            },
            regressed,
          ),
        );
      }
      if (which.has('2')) {
        if (!which.has('1'))
          throw new BatonError('VALIDATION', '--scenarios: scenario 2 starts from v2 and needs scenario 1');
        reports.push(await scenario2(env, regressed));
      }
    }
    if (which.has('3')) reports.push(await scenario3(out, profile, seed));
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    if (baton) await closeGracefully(baton, 5000).catch(() => undefined);
    if (store) await store.close().catch(() => undefined);
    if (o.keep) out.line(dim(`kept ${dir}`));
    else await rm(dir, { recursive: true, force: true });
  }
  const violations: string[] = [];
  for (const r of reports) {
    if (r.name === 'drain-and-fill v1 -> v2') {
      if (!r.promoted) violations.push(`scenario 1: rollout ended ${String(r.phase)}, not promoted`);
      if (r.lost !== 0) violations.push(`scenario 1: ${String(r.lost)} session(s) lost`);
      if (r.openOnBlueAfterDrain !== 0)
        violations.push(
          `scenario 1: ${String(r.openOnBlueAfterDrain)} session(s) still open on v1 after the drain`,
        );
      if (r.sequenceGaps !== 0)
        violations.push(`scenario 1: ${String(r.sequenceGaps)} checkpoint sequence(s) with gaps`);
      if (r.duplicatedEffects !== 0)
        violations.push(`scenario 1: ${String(r.duplicatedEffects)} effect(s) ran twice`);
      if (r.contextLosses !== 0)
        violations.push(`scenario 1: ${String(r.contextLosses)} answer(s) lost the conversation's context`);
    } else if (String(r.name).startsWith('regressed')) {
      if (!r.aborted)
        violations.push(`scenario 2: the regressed version was not aborted (phase ${String(r.phase)})`);
      if (!r.gate) violations.push('scenario 2: no failing gate recorded');
      const c = r.compensations as {
        compensated?: number;
        failed?: number;
        executed: number;
        executedTwice: number;
      };
      if (c.executedTwice !== 0) violations.push(`scenario 2: ${c.executedTwice} compensation(s) ran twice`);
      if ((c.compensated ?? 0) !== c.executed)
        violations.push(
          `scenario 2: ${c.compensated ?? 0} compensation(s) recorded as done but ${c.executed} executed`,
        );
      if ((c.failed ?? 0) > 0) violations.push(`scenario 2: ${c.failed} compensation(s) failed`);
    } else if (String(r.name).startsWith('shadow')) {
      if (!r.abortedBeforeTraffic)
        violations.push(
          `scenario 4: the shadow stage did not stop the regression before traffic (phase ${String(r.phase)})`,
        );
      if (r.effectsExecutedDuringShadow !== 0)
        violations.push(
          `scenario 4: ${String(r.effectsExecutedDuringShadow)} effect(s) executed during the shadow stage`,
        );
    } else if (r.simulated) {
      if (!(Number(r.lostContexts) > 0))
        violations.push('scenario 3: the naive cutover lost no context (simulation too short?)');
    }
  }
  const result = {
    ok: violations.length === 0,
    violations,
    durationMs: Date.now() - started,
    scenarios: reports,
  };
  if (jsonOnStdout) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else if (typeof o.json === 'string') {
    await writeFile(o.json, JSON.stringify(result, null, 2) + '\n');
    out.line(dim(`reports written to ${o.json}`));
  }
  if (violations.length > 0) {
    for (const v of violations) process.stderr.write(`error INVARIANT: ${v}\n`);
    return ExitCode.INVARIANT;
  }
  out.line(green(`demo finished in ${fmtDuration(Date.now() - started)}: every invariant held`));
  return 0;
}
