/**
 * Carries out the planned faults one after another (each with its recovery: what was killed is
 * restarted, a fault mode is switched off again) and records what happened and what it measured.
 */
import type { PrivateCluster } from './pg';
import type { Fleet, ServerSlot, WorkerSlot } from './fleet';
import { call, sleep } from './http';
import type { FaultKind, PlannedFault } from './schedule';

export interface FaultEvent {
  kind: FaultKind;
  /** Ms after the start of the load. */
  at: number;
  target: string;
  /** Leader kills: ms from the SIGKILL until another server reported itself leader. */
  takeoverMs?: number;
  /** SQLite server kills: ms from the SIGKILL until the restarted server led again. */
  backMs?: number;
  note?: string;
  skipped?: string;
}

export interface Crash {
  pid: number;
  role: 'server' | 'worker';
  at: number;
}

export interface FaultContext {
  fleet: Fleet;
  cluster: PrivateCluster | null;
  t0: number;
  turnTimeoutMs: number;
  /** Every process killed by a fault (an effect it was running or recording may be in doubt). */
  crashes: Crash[];
  /** The rollout whose migration is armed for `kill-during-migration`, if any. */
  migrating: () => Promise<{ from: string; to: string; blueOpen: number } | null>;
  log: (msg: string) => void;
}

async function until<T>(f: () => Promise<T | null>, timeoutMs: number, everyMs = 100): Promise<T | null> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await f().catch(() => null);
    if (v !== null) return v;
    await sleep(everyMs);
  }
  return null;
}

function choose<T>(items: T[], pick: number): T | undefined {
  return items[Math.floor(pick * items.length)];
}

async function killAndRestartServer(ctx: FaultContext, slot: ServerSlot, f: PlannedFault, ev: FaultEvent) {
  const { fleet } = ctx;
  const wasLeader = (await fleet.leader()) === slot.id;
  const killedAt = Date.now();
  ctx.crashes.push({ pid: slot.proc!.pid, role: 'server', at: killedAt });
  await fleet.killServer(slot);
  if (wasLeader && fleet.servers.some((s) => s.proc)) {
    const other = await until(async () => {
      const id = await fleet.leader(slot.id);
      return id && id !== slot.id ? id : null;
    }, 30_000);
    if (other) ev.takeoverMs = Date.now() - killedAt;
    else ev.note = 'no other server took the lead within 30 s';
  }
  await sleep(Math.max(0, f.downMs - (Date.now() - killedAt)));
  await fleet.startServer(slot);
  if (!fleet.servers.some((s) => s.proc && s !== slot)) {
    const back = await until(async () => ((await fleet.leader()) === slot.id ? true : null), 30_000);
    if (back) ev.backMs = Date.now() - killedAt;
  }
}

async function killAndRestartWorker(ctx: FaultContext, slot: WorkerSlot, f: PlannedFault) {
  ctx.crashes.push({ pid: slot.proc!.pid, role: 'worker', at: Date.now() });
  await ctx.fleet.killWorker(slot);
  await sleep(f.downMs);
  await ctx.fleet.startWorker(slot);
}

export async function runFault(ctx: FaultContext, f: PlannedFault): Promise<FaultEvent> {
  const { fleet } = ctx;
  const ev: FaultEvent = { kind: f.kind, at: Date.now() - ctx.t0, target: '' };
  const liveServers = fleet.servers.filter((s) => s.proc);
  const liveWorkers = fleet.workers.filter((w) => w.proc);
  switch (f.kind) {
    case 'kill-leader':
    case 'kill-follower':
    case 'kill-server': {
      const leader = await fleet.leader();
      const candidates =
        f.kind === 'kill-leader'
          ? liveServers.filter((s) => s.id === leader)
          : f.kind === 'kill-follower'
            ? liveServers.filter((s) => s.id !== leader)
            : liveServers;
      const slot = choose(candidates, f.pick);
      if (!slot) return { ...ev, skipped: `no ${f.kind.slice(5)} alive (leader ${leader})` };
      ev.target = slot.id;
      await killAndRestartServer(ctx, slot, f, ev);
      return ev;
    }
    case 'kill-worker': {
      const slot = choose(liveWorkers, f.pick);
      if (!slot) return { ...ev, skipped: 'no worker alive' };
      ev.target = slot.name;
      await killAndRestartWorker(ctx, slot, f);
      return ev;
    }
    case 'kill-during-migration': {
      const m = await until(
        async () => {
          const r = await ctx.migrating();
          return r && r.blueOpen > 0 ? r : null;
        },
        40_000,
        200,
      );
      if (!m) return { ...ev, skipped: 'no eager migration seen within 40 s' };
      ev.at = Date.now() - ctx.t0;
      const green = fleet.workers.filter((w) => w.proc && w.version === m.to);
      // the controller (the leader runs the eager migrator), or the candidate worker migrating
      if (f.pick < 0.6 || green.length === 0) {
        const leader = await fleet.leader();
        const slot = fleet.servers.find((s) => s.proc && s.id === leader) ?? liveServers[0];
        if (!slot) return { ...ev, skipped: 'no server alive' };
        ev.target = slot.id;
        ev.note = `${m.blueOpen} session(s) still on ${m.from}`;
        await killAndRestartServer(ctx, slot, f, ev);
      } else {
        const slot = choose(green, f.pick)!;
        ev.target = slot.name;
        ev.note = `${m.blueOpen} session(s) still on ${m.from}`;
        await killAndRestartWorker(ctx, slot, f);
      }
      return ev;
    }
    case 'worker-hang':
    case 'worker-garbage':
    case 'worker-badstate': {
      const slot = choose(liveWorkers, f.pick);
      if (!slot) return { ...ev, skipped: 'no worker alive' };
      ev.target = slot.name;
      const mode = f.kind.slice('worker-'.length) as 'hang' | 'garbage' | 'badstate';
      fleet.setFault(slot, { mode, hangMs: ctx.turnTimeoutMs + 3_000 });
      // a hang lasts at least one turn deadline, so some turn really hangs past it
      await sleep(mode === 'hang' ? Math.max(f.durationMs, ctx.turnTimeoutMs) : f.durationMs);
      fleet.setFault(slot, { mode: 'none' });
      return ev;
    }
    case 'kill-during-compensation':
      // run by the compensation phase after the load (compensate.ts), never on the timed schedule
      return { ...ev, skipped: 'runs in the compensation phase' };
    case 'pg-restart': {
      if (!ctx.cluster) return { ...ev, skipped: 'no private PostgreSQL' };
      ev.target = `postgres :${ctx.cluster.port}`;
      ctx.cluster.stop('immediate');
      await sleep(f.downMs);
      ctx.cluster.start();
      return ev;
    }
  }
}

/** How many sessions of `version` are still open (idle or waiting), via the admin API. */
export async function openOn(urls: string[], admin: string, version: string): Promise<number | null> {
  for (const base of urls) {
    try {
      const r = await call(
        base,
        'GET',
        `/v1/sessions?agent=chaos&version=${version}&status=idle,waiting&limit=1000`,
        {
          token: admin,
          timeoutMs: 5_000,
        },
      );
      if (r.status === 200) return (r.body.items as unknown[]).length;
    } catch {
      // next
    }
  }
  return null;
}
