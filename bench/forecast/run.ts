/** One run of the forecast benchmark: warm-up, the forecast with `createRollout`, the controller pass by pass. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { SimulatedClock, type Decision } from '@baton/core';
import { openStore, type Store } from '@baton/store';
import { InProcessWorker } from '@baton/sdk';
import {
  Capabilities,
  createRollout,
  createServer,
  EventHeap,
  RolloutController,
  StoreLedgerClient,
  rolloutStatus,
  type DrainForecast,
} from '@baton/server';
import { rng } from '../lib';
import { AGENT, agent, exp, MIN, PASS_MS, specOf, type Act, type Pattern, type Policy } from './fleet';
import { oracleDrain, oracleFromStart, type KeptSession, type Life, type OracleRun } from './oracle';

/** Re-forecasts during the drain (`GET /v1/rollouts/{id}`), one every this many ms of it. */
export const REFORECAST_EVERY_MS = 30_000;

export interface Reforecast {
  /** ms since drain-started. */
  elapsed: number;
  /** The re-forecast's drain (from drain-started), p50 and p90 (null: unbounded). */
  p50: number | null;
  p90: number | null;
}

// ---- one run --------------------------------------------------------------------------------

export interface RunResult {
  forecast: DrainForecast;
  stepsMs: number;
  drainMs: number;
  stragglers: number;
  drainTotal: number;
  turns: number;
  passes: number;
  errors: number;
  /** Where the pattern has a known true process and blue keeps sessions to their end. */
  oracle: (OracleRun & { kept: number }) | null;
  /** The oracle at the rollout's start (knows the fleet then and the true process, not the ids). */
  oracleStart: (OracleRun & { replaySteps: number }) | null;
  reforecasts: Reforecast[];
}

type UserEv = { user: number; act: Act };

export async function run(p: Pattern, policy: Policy, seed: number, dir: string): Promise<RunResult> {
  const r = rng(seed * 7919 + 17);
  const t0 = Date.UTC(2026, 0, 1);
  const clock = new SimulatedClock(t0);
  const file = join(dir, `run-${seed}-${policy}.db`);
  const store: Store = await openStore(file, { now: () => clock.now() });
  const server = createServer({
    store,
    tokens: { traffic: ['t'], admin: ['a'], worker: ['w'] },
    limits: { healthIntervalMs: 0 },
    clock,
  });
  const ledger = new StoreLedgerClient(store, new Capabilities(store, clock));
  const v1 = agent('v1');
  const v2 = agent('v2');
  await server.pool.addInProcess(new InProcessWorker(v1, ledger, { clock }), v1.manifest());
  await server.pool.addInProcess(new InProcessWorker(v2, ledger, { clock }), v2.manifest());
  const ctx = server.ctx;
  let errors = 0;
  const ctl = new RolloutController(ctx, {
    owner: 'bench',
    intervalMs: PASS_MS,
    eagerBudgetMs: 60_000,
    onError: () => errors++,
  });
  try {
    const heap = new EventHeap<UserEv | { user: -1; act: null }>();
    const sessionOf: string[] = [];
    const tokenOf = new Map<number, string>();
    // what each user did, for the oracle: creation, turn times, end and the version it ended on
    const life: Life[] = [];
    let nextUser = 0;
    // arrivals: a Poisson process over the whole run (the heap holds the next one)
    const perMs = p.perMin / MIN;
    heap.push(t0 + exp(r, 1 / perMs), { user: -1, act: null });
    let rolloutAt = Infinity;
    let turns = 0;
    const stretch = (at: number) =>
      p.slowdown && at > rolloutAt ? rolloutAt + (at - rolloutAt) * p.slowdown : at;
    const reforecasts: Reforecast[] = [];
    const reforecastOn = p.onDeadline === 'wait' && policy !== 'at-boundary';
    let nextReforecast = Infinity;
    const doEvent = async (e: UserEv | { user: -1; act: null }, t: number): Promise<void> => {
      if (e.user === -1) {
        const u = nextUser++;
        const s = await server.router.createSession(AGENT);
        sessionOf[u] = s.sessionId;
        life[u] = { createdAt: t, createdOn: s.version, turns: [], endedAt: Infinity, endedOn: null };
        const k = p.slowdown && t >= rolloutAt ? p.slowdown : 1;
        for (const a of p.user(r)) heap.push(t + a.at * k, { user: u, act: a });
        heap.push(t + exp(r, 1 / perMs), { user: -1, act: null });
        return;
      }
      const sid = sessionOf[e.user]!;
      const a = e.act;
      if (!a) return;
      try {
        if (a.kind === 'end') {
          const s = await store.getSession(sid);
          if (s.status !== 'completed') {
            await server.router.end(s);
            life[e.user]!.endedAt = t;
            life[e.user]!.endedOn = s.version;
          }
        } else if (a.kind === 'callback') {
          const token = tokenOf.get(e.user);
          if (token) {
            turns++;
            await server.router.callback(token, { ok: true });
          }
        } else {
          turns++;
          life[e.user]!.turns.push(t);
          const msg = a.kind === 'wait' ? `wait:${a.timeout}` : `hello ${turns}`;
          const res = await server.router.turn(sid, { kind: 'message', message: msg }, `k${turns}`);
          const w = (res as { waits?: Array<{ token: string }> }).waits?.[0];
          if (w) tokenOf.set(e.user, w.token);
        }
      } catch {
        errors++;
      }
    };
    const advanceTo = async (t: number) => {
      if (t > clock.now()) await clock.advance(t - clock.now());
    };
    // warm-up: users only; a controller pass a minute fires wait deadlines
    const warmEnd = t0 + p.warmupMin * MIN;
    let nextWarmPass = t0 + MIN;
    for (;;) {
      const top = heap.pop()!;
      if (top.t >= warmEnd) {
        heap.push(top.t, top.v);
        break;
      }
      while (nextWarmPass <= top.t) {
        await advanceTo(nextWarmPass);
        await ctl.pass();
        nextWarmPass += MIN;
      }
      await advanceTo(top.t);
      await doEvent(top.v, top.t);
    }
    await advanceTo(warmEnd);
    // the forecast, made by createRollout before anything moves, and stored with the rollout
    rolloutAt = warmEnd;
    if (p.slowdown) {
      // users slow down from now on: re-time what is already scheduled
      const pending: Array<{ t: number; v: UserEv | { user: -1; act: null } }> = [];
      for (let x = heap.pop(); x; x = heap.pop()) pending.push(x);
      for (const x of pending) heap.push(x.v.user === -1 ? x.t : stretch(x.t), x.v);
    }
    const out = await createRollout(ctx, specOf(p, policy), { passMs: PASS_MS });
    const id = out.created!.id;
    const forecast = out.forecast;
    // the controller, pass by pass on a grid from the creation; quiet stretches are skipped
    let passes = 0;
    let lastPass = rolloutAt;
    let quiet = 0;
    let dirty = true;
    let fp = '';
    const cap = rolloutAt + 6 * 60 * MIN;
    let done = false;
    while (!done && clock.now() < cap) {
      const top = heap.pop();
      const u = top ? top.t : Infinity;
      const nextPass = lastPass + PASS_MS;
      if (top && u <= nextPass) {
        await advanceTo(u);
        await doEvent(top.v, u);
        dirty = true;
        continue;
      }
      if (top) heap.push(top.t, top.v);
      const rec = await store.getRollout(id);
      const st = rec.state as {
        stage: string;
        step: number;
        lastEvalAt: number | null;
        stepStartedAt: number | null;
        drain: {
          deadline: number | null;
          deadlinePassed: boolean;
          completedAt: number | null;
          snapshot: { remaining: number } | null;
        };
        migrations: { done: number };
      };
      const wake = Math.min(
        st.stage === 'steps' ? (st.lastEvalAt ?? st.stepStartedAt ?? 0) + 30_000 : Infinity,
        st.drain.deadline !== null && !st.drain.deadlinePassed ? st.drain.deadline : Infinity,
        u,
      );
      if (!dirty && quiet >= 2 && nextPass < wake) {
        // nothing can change before `wake`: jump to the last grid point before it
        lastPass = nextPass + Math.max(0, Math.floor((wake - nextPass) / PASS_MS) - 1) * PASS_MS;
        if (!Number.isFinite(wake)) break;
        continue;
      }
      await advanceTo(nextPass);
      await ctl.pass();
      passes++;
      lastPass = nextPass;
      dirty = false;
      const after = await store.getRollout(id);
      const s2 = after.state as typeof st & { phase?: string };
      const f2 = JSON.stringify([
        after.phase,
        s2.stage,
        s2.step,
        s2.drain.snapshot?.remaining,
        s2.migrations.done,
        s2.drain.deadlinePassed,
        s2.drain.completedAt,
      ]);
      quiet = f2 === fp ? quiet + 1 : 0;
      fp = f2;
      done = s2.drain.completedAt !== null && after.phase === 'promoted';
      const startedAt = (s2.drain as { startedAt?: number | null }).startedAt ?? null;
      if (reforecastOn && startedAt !== null && s2.drain.completedAt === null) {
        if (!Number.isFinite(nextReforecast)) nextReforecast = startedAt + REFORECAST_EVERY_MS;
        if (clock.now() >= nextReforecast) {
          const v = (await rolloutStatus(ctx, after, { decisions: 1 })).forecast;
          if (v.reforecast)
            reforecasts.push({
              elapsed: clock.now() - startedAt,
              p50: v.reforecast.drain.p50,
              p90: v.reforecast.drain.p90,
            });
          nextReforecast += REFORECAST_EVERY_MS;
        }
      }
    }
    const ds: Decision[] = await store.listDecisions(id, { afterSeq: 0, limit: 1000 });
    const at = (k: string) => ds.find((d) => d.kind === k)?.at ?? Infinity;
    if (process.env.BATON_FORECAST_DECISIONS)
      console.error(
        JSON.stringify(ds.map((d) => [d.kind, (d.at - rolloutAt) / 1000, d.message.slice(0, 80)])),
      );
    const started = at('drain-started');
    // the drain closes with drain-complete, or (mark-stuck) with sessions-stuck at the deadline
    const complete = Math.min(at('drain-complete'), at('sessions-stuck'));
    const dl = ds.find((d) => d.kind === 'drain-deadline');
    const snap = (dl?.evidence as { snapshot?: { remaining?: number } } | undefined)?.snapshot;
    const finalRec = await store.getRollout(id);
    let oracle: RunResult['oracle'] = null;
    let oracleStart: RunResult['oracleStart'] = null;
    if (p.endGiven && !p.slowdown && reforecastOn && Number.isFinite(started)) {
      const kept: KeptSession[] = life
        .filter((l) => l.endedOn === 'v1' && l.createdAt <= started && l.endedAt > started)
        .map((l) => ({
          createdAt: l.createdAt,
          turns: l.turns.filter((x) => x <= started),
          endedAt: l.endedAt,
        }));
      oracle = { ...oracleDrain(kept, started, rolloutAt, PASS_MS, p.endGiven, seed), kept: kept.length };
      oracleStart = oracleFromStart(life, p, policy, rolloutAt, PASS_MS, seed, {
        steps: started - out.created!.createdAt,
        drain: complete - started,
      });
    }
    return {
      forecast,
      stepsMs: started - out.created!.createdAt,
      drainMs: complete - started,
      stragglers: dl ? (snap?.remaining ?? 0) : 0,
      drainTotal: (finalRec.state as { drain: { initial: number | null } }).drain.initial ?? 0,
      turns,
      passes,
      errors,
      oracle,
      oracleStart,
      reforecasts,
    };
  } finally {
    await ctl.stop();
    await server.close();
    await store.close();
    rmSync(file, { force: true });
    rmSync(`${file}-wal`, { force: true });
    rmSync(`${file}-shm`, { force: true });
  }
}
