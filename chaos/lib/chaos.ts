/**
 * One chaos run: the store (a private PostgreSQL cluster, or a SQLite file), the fleet, the load,
 * the rollouts and the seeded faults; then everything is stopped and the invariants are checked
 * from the store and the side channel. Returns the table; the caller prints it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkStore, type Findings } from './check';
import { compensationPhase } from './compensate';
import { Fleet } from './fleet';
import { call, sleep } from './http';
import { Load } from './load';
import { openOn, runFault, type Crash, type FaultContext, type FaultEvent } from './faults';
import { createCluster, type PrivateCluster } from './pg';
import { stopAll, stopAllNow } from './procs';
import { plan as makePlan, type Backend, type Plan, type PlannedFault } from './schedule';
import { rows, type Row } from './table';

export interface ChaosOptions {
  seed: number;
  minutes: number;
  backend: Backend;
  log?: (msg: string) => void;
}

export interface ChaosResult {
  seed: number;
  minutes: number;
  backend: Backend;
  startedAt: string;
  wallSeconds: number;
  plan: Plan;
  faults: FaultEvent[];
  rows: Row[];
  findings: Findings;
  errors: Record<string, number>;
  /** True when every promised zero is zero. */
  ok: boolean;
  /** Kept (with every process's log) when not ok; removed otherwise. */
  logDir: string | null;
}

const TURN_TIMEOUT_MS = 6_000;
const WORKERS_PER_VERSION = 2;

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + '\n'));
  const plan = makePlan(o.seed, o.minutes, o.backend);
  const started = Date.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'baton-chaos-'));
  const sideFile = path.join(dir, 'side.jsonl');
  writeFileSync(sideFile, '');
  const hex = randomBytes(4).toString('hex');
  const tokens = { admin: `adm-${hex}`, traffic: `trf-${hex}`, worker: `wrk-${hex}` };
  let cluster: PrivateCluster | null = null;
  // the run's directory (process logs, side channel, SQLite file) is kept only when a check failed
  let keep = true;
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping every process of the run`);
    stopAllNow();
    cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let store: string;
    let schema: string | null = null;
    if (o.backend === 'postgres') {
      cluster = await createCluster();
      cluster.start();
      store = cluster.url;
      schema = 'baton_chaos';
      log(`private PostgreSQL on port ${cluster.port}`);
    } else store = path.join(dir, 'chaos.db');

    const fleet = new Fleet({
      dir,
      store,
      storeSchema: schema,
      servers: o.backend === 'postgres' ? 2 : 1,
      tokens,
      turnTimeoutMs: TURN_TIMEOUT_MS,
      sideFile,
    });
    for (const s of fleet.servers) {
      await fleet.startServer(s);
      log(`${s.id} at ${s.url} (pid ${s.proc!.pid})`);
    }
    const labels = ['c1', ...plan.rollouts.map((r) => r.to)];
    for (const v of labels) for (let i = 0; i < WORKERS_PER_VERSION; i++) fleet.addWorker(v);
    // c1 first: the first version registered becomes the agent's stable route
    for (const w of fleet.workers.filter((x) => x.version === 'c1')) await fleet.startWorker(w);
    await Promise.all(fleet.workers.filter((x) => x.version !== 'c1').map((w) => fleet.startWorker(w)));
    log(`workers: ${fleet.workers.map((w) => `${w.name}:${w.port}`).join(' ')}`);

    const load = new Load({
      seed: o.seed,
      users: plan.users,
      servers: () => fleet.urls(),
      tokens,
      sideFile,
      actionTimeoutMs: 120_000,
      requestTimeoutMs: TURN_TIMEOUT_MS + 15_000,
      // a turn capability lives for the turn deadline plus the lease margin (5 s)
      settleWindowMs: TURN_TIMEOUT_MS + 6_000,
      runId: `r${o.seed}-${hex}`,
    });
    const t0 = Date.now();
    load.start();
    log(`load: ${plan.users} users; ${plan.faults.length} faults planned over ${o.minutes} min`);

    // rollouts, each when planned and after the previous one is done
    const rolloutIds: string[] = [];
    const refusedButDone: string[] = [];
    let active: { id: string; from: string; to: string } | null = null;
    const admin = (method: string, p: string, body?: unknown) =>
      (async () => {
        for (const base of fleet.urls()) {
          try {
            const r = await call(base, method, p, { token: tokens.admin, body, timeoutMs: 15_000 });
            if (r.status < 500) return r;
          } catch {
            // next server
          }
        }
        return null;
      })();
    const rolloutDone = async (id: string) => {
      const r = await admin('GET', `/v1/rollouts/${id}`);
      return (
        r?.status === 200 &&
        ['promoted', 'aborted', 'failed'].includes(r.body.phase) &&
        r.body.stage === 'done'
      );
    };
    const rollouts = (async () => {
      for (const ro of plan.rollouts) {
        await sleep(Math.max(0, t0 + ro.at - Date.now()));
        if (active) while (!(await rolloutDone(active.id))) await sleep(1_000);
        const spec = {
          agent: 'chaos',
          from: ro.from,
          to: ro.to,
          migration: { policy: 'at-boundary', eager: true, batch: 3 },
          drain: { deadline: '10m', onDeadline: 'wait' },
          steps: [
            {
              fill: 50,
              migrate: 0,
              verify: {
                minSessions: 0,
                minDuration: `${ro.firstStepMs}ms`,
                maxDuration: `${ro.firstStepMs * 3}ms`,
                interval: '2s',
              },
            },
            { fill: 100, migrate: 100 },
          ],
          gates: [{ metric: 'session.tool_calls', test: 'mann-whitney', tolerance: '+50%' }],
          onNoData: 'pass',
          preflight: { sample: 50 },
        };
        let refused: string | null = null;
        for (let tries = 0; tries < 60; tries++) {
          const r = await admin('POST', '/v1/rollouts', spec);
          const err = r?.body?.error as { code?: string; details?: { rolloutId?: string } } | undefined;
          // a creation answered with an error must have created nothing; one whose answer was lost
          // (a server killed) may have, and its retry finds it active
          const existing = err?.code === 'ROLLOUT_ACTIVE' ? err.details?.rolloutId : undefined;
          if (existing && refused)
            refusedButDone.push(`POST /v1/rollouts answered ${refused}, yet created ${existing}`);
          if (r?.status === 201 || existing) {
            const id = (existing ?? r!.body.id) as string;
            active = { id, from: ro.from, to: ro.to };
            rolloutIds.push(id);
            log(`rollout ${id}: ${ro.from} → ${ro.to} at ${Math.round((Date.now() - t0) / 1000)} s`);
            break;
          }
          if (r && r.status < 500 && err?.code !== 'PREFLIGHT_FAILED') refused = `${r.status} ${err?.code}`;
          log(
            `rollout ${ro.from} → ${ro.to} not created yet: ${r?.status} ${JSON.stringify(r?.body?.error ?? null)}`,
          );
          await sleep(2_000);
        }
      }
    })();

    const events: FaultEvent[] = [];
    const crashes: Crash[] = [];
    const ctx: FaultContext = {
      fleet,
      cluster,
      t0,
      turnTimeoutMs: TURN_TIMEOUT_MS,
      crashes,
      log,
      migrating: async () => {
        if (!active) return null;
        const r = await admin('GET', `/v1/rollouts/${active.id}`);
        if (r?.status !== 200 || r.body.stage === 'done') return null;
        if (r.body.phase !== 'promoted' && !(r.body.weights?.migrate > 0)) return null;
        const blueOpen = await openOn(fleet.urls(), tokens.admin, active.from);
        return blueOpen === null ? null : { from: active.from, to: active.to, blueOpen };
      },
    };
    // a process that dies on its own is a finding; it is restarted so the run goes on
    const unexpectedExits: string[] = [];
    let watching = true;
    const watchdog = (async () => {
      while (watching) {
        for (const p of fleet.unexpectedExits()) {
          unexpectedExits.push(`${p.name} (pid ${p.pid}) exited ${p.child.exitCode ?? p.child.signalCode}`);
          p.expectedExit = true;
          const s = fleet.servers.find((x) => x.proc === p);
          const w = fleet.workers.find((x) => x.proc === p);
          if (s) await fleet.startServer(s).catch((e: unknown) => log(String(e)));
          if (w) await fleet.startWorker(w).catch((e: unknown) => log(String(e)));
        }
        await sleep(500);
      }
    })();
    let faulting = true;
    const afterLoad = (x: PlannedFault) => x.kind === 'kill-during-compensation';
    const faults = (async () => {
      const pending = plan.faults.filter((x) => !afterLoad(x));
      // a SIGKILL during the eager migration is due once its rollout migrates (not at a fixed time)
      const migrationDue = async () =>
        pending.some((x) => x.kind === 'kill-during-migration' && t0 + x.at <= Date.now()) &&
        ((await ctx.migrating().catch(() => null))?.blueOpen ?? 0) > 0;
      const isMigration = (x: PlannedFault) => x.kind === 'kill-during-migration';
      const end = t0 + plan.durationMs + 120_000;
      while (pending.length > 0 && Date.now() < end) {
        // past the planned end only the required faults (the first of each kind) still run
        if (!faulting && !pending.some((x) => x.required)) break;
        const candidates = faulting ? pending : pending.filter((x) => x.required);
        const timed = candidates.find((x) => !isMigration(x));
        // a SIGKILL during the eager migration goes first once due: the migration does not wait
        const mi = (await migrationDue())
          ? pending.findIndex((x) => isMigration(x) && t0 + x.at <= Date.now())
          : -1;
        const missed =
          mi < 0 ? pending.findIndex((x) => isMigration(x) && Date.now() > t0 + x.at + 60_000) : -1;
        if (missed >= 0) {
          const x = pending.splice(missed, 1)[0]!;
          events.push({ kind: x.kind, at: Date.now() - t0, target: '', skipped: 'no eager migration seen' });
          log('fault kill-during-migration skipped: no eager migration seen');
          continue;
        }
        // around a rollout's migrate step no timed fault starts (one takes 10 s and more under
        // load, long enough for a small eager migration to pass unseen): at most a minute
        const held = pending.some(
          (x) => isMigration(x) && Date.now() >= t0 + x.at - 15_000 && Date.now() < t0 + x.at + 60_000,
        );
        if (mi < 0 && (!timed || Date.now() < t0 + timed.at || held)) {
          await sleep(300);
          continue;
        }
        const f = pending.splice(mi >= 0 ? mi : pending.indexOf(timed!), 1)[0]!;
        const ev = await runFault(ctx, f).catch((e: unknown): FaultEvent => ({
          kind: f.kind,
          at: Date.now() - t0,
          target: '',
          skipped: `error: ${String(e)}`,
        }));
        events.push(ev);
        log(
          `fault ${ev.kind} ${ev.target} at ${Math.round(ev.at / 1000)} s${ev.skipped ? ` skipped: ${ev.skipped}` : ''}` +
            `${ev.takeoverMs !== undefined ? ` takeover ${ev.takeoverMs} ms` : ''}${ev.note ? ` (${ev.note})` : ''}`,
        );
      }
    })();

    await sleep(Math.max(0, t0 + plan.durationMs - Date.now()));
    faulting = false;
    await faults;
    log('stopping the load');
    await load.stop();
    for (const w of fleet.workers) fleet.setFault(w, { mode: 'none' });
    await rollouts;
    log('resuming waiting sessions');
    await load.resumeWaiting();
    // the rollouts finish (drain) before the check; bounded
    const doneBy = Date.now() + 120_000;
    while (Date.now() < doneBy && !(await Promise.all(rolloutIds.map(rolloutDone))).every(Boolean))
      await sleep(1_000);
    const stages: Record<string, string> = {};
    for (const id of rolloutIds)
      stages[id] = (await admin('GET', `/v1/rollouts/${id}`))?.body?.stage ?? 'unknown';
    // the compensation phase: the last rollout's candidate's effects, cut by SIGKILLs
    const last = plan.rollouts.at(-1)!;
    const lastId = rolloutIds.at(-1);
    const compensation = lastId
      ? await compensationPhase(ctx, sideFile, {
          rolloutId: lastId,
          version: last.to,
          effects: plan.compensation.effects,
          faults: plan.faults.filter(afterLoad),
          token: tokens.admin,
          timeoutMs: 150_000,
        })
      : null;
    events.push(...(compensation?.events ?? []));
    watching = false;
    await watchdog;
    log('stopping every process');
    await stopAll();
    log('checking the invariants');
    const findings = await checkStore(store, schema, load.sessions, load.stats, sideFile, {
      crashes,
      // one router: its restart outlasts the lease, so a commit it cut cannot land (see the docs)
      routerCrashLeavesDoubt: o.backend === 'sqlite',
      turnTimeoutMs: TURN_TIMEOUT_MS,
      compensation,
    });
    for (const [id, stage] of Object.entries(stages))
      if (stage !== 'done' && !findings.rolloutsUnfinished.some((x) => x.startsWith(id)))
        findings.rolloutsUnfinished.push(`${id}: stage ${stage}`);
    const table = rows(plan, events, load.stats, findings, unexpectedExits, refusedButDone);
    const ok = table.every((r) => r.promised !== '0' || r.value === 0);
    const result: ChaosResult = {
      seed: o.seed,
      minutes: o.minutes,
      backend: o.backend,
      startedAt: new Date(started).toISOString(),
      wallSeconds: Math.round((Date.now() - started) / 1000),
      plan,
      faults: events,
      rows: table,
      findings,
      errors: load.stats.errors,
      ok,
      logDir: ok ? null : dir,
    };
    keep = !ok;
    return result;
  } finally {
    stopAllNow();
    cluster?.destroy();
    if (!keep) rmSync(dir, { recursive: true, force: true });
    else log(`logs kept in ${dir}`);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
