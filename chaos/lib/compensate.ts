/**
 * The compensation phase, after the load: the last rollout's candidate's committed effects are
 * compensated (`POST /v1/rollouts/{id}/compensate`) while faults cut the runs: a SIGKILL of the
 * server running them, then of the worker running them (the one that last began an undo). The
 * operator's part follows each cut as the docs say: run the compensation again (a run held by a
 * dead router is taken over once its hold expires), and resolve a compensation's own effect left
 * in doubt by its worker's crash from the side channel. At the end every effect chosen must be
 * compensated, and every undo must have run exactly once (checked in `check.ts`).
 */
import type { FaultEvent, FaultContext } from './faults';
import { call, sleep } from './http';
import { sideLines } from './load';
import type { PlannedFault } from './schedule';

export interface CompensationPhase {
  rolloutId: string;
  version: string;
  /** The effects chosen: id → idempotency key. */
  chosen: Map<string, string>;
  /** Runs started (POST .../compensate answered or cut). */
  runs: number;
  /** Compensations' own effects left in doubt by a crash, resolved by the operator. */
  resolvedInDoubt: number;
  /** Chosen effects not `compensated` when the phase gave up. */
  notCompensated: string[];
  events: FaultEvent[];
}

interface EffectRow {
  id: string;
  idempotencyKey: string;
  compensationState: string;
  compensates: string | null;
  status: string;
  args: unknown;
}

export interface PhaseOptions {
  rolloutId: string;
  version: string;
  /** How many effects to compensate (the oldest first). */
  effects: number;
  faults: PlannedFault[];
  /** Admin token. */
  token: string;
  /** Give up after this long. */
  timeoutMs: number;
}

async function anyServer(ctx: FaultContext, token: string, method: string, p: string, body?: unknown) {
  for (const base of ctx.fleet.urls()) {
    try {
      const r = await call(base, method, p, { token, body, timeoutMs: 15_000 });
      if (r.status < 500) return r;
    } catch {
      // next server
    }
  }
  return null;
}

async function listEffects(ctx: FaultContext, token: string, query: string): Promise<EffectRow[]> {
  const out: EffectRow[] = [];
  for (let cursor: string | null = null; ;) {
    const r = await anyServer(
      ctx,
      token,
      'GET',
      `/v1/effects?agent=chaos&${query}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    if (r?.status !== 200) throw new Error(`GET /v1/effects?${query}: ${r?.status ?? 'no server answered'}`);
    out.push(...(r.body.items as EffectRow[]));
    cursor = r.body.nextCursor as string | null;
    if (!cursor) return out;
  }
}

/** Undos (side channel `undo-run`) seen so far among `keys`. */
function undone(sideFile: string, keys: Set<string>): number {
  let n = 0;
  for (const l of sideLines(sideFile)) if (l.e === 'undo-run' && keys.has(l.key)) n += 1;
  return n;
}

async function waitFor(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (pred()) return true;
    await sleep(25);
  }
  return pred();
}

export async function compensationPhase(
  ctx: FaultContext,
  sideFile: string,
  o: PhaseOptions,
): Promise<CompensationPhase> {
  const { fleet } = ctx;
  const committed = await listEffects(
    ctx,
    o.token,
    `version=${o.version}&status=committed&kind=turn&compensation=pending`,
  );
  const chosen = new Map(committed.slice(0, o.effects).map((e) => [e.id, e.idempotencyKey]));
  const keys = new Set(chosen.values());
  const phase: CompensationPhase = {
    rolloutId: o.rolloutId,
    version: o.version,
    chosen,
    runs: 0,
    resolvedInDoubt: 0,
    notCompensated: [],
    events: [],
  };
  ctx.log(`compensation phase: ${chosen.size} effect(s) of ${o.version} (rollout ${o.rolloutId})`);
  if (chosen.size === 0) return phase;
  const end = Date.now() + o.timeoutMs;

  const remaining = async (): Promise<string[]> => {
    const rows = await listEffects(ctx, o.token, `version=${o.version}&status=committed&kind=turn`);
    return rows.filter((e) => chosen.has(e.id) && e.compensationState !== 'compensated').map((e) => e.id);
  };
  const run = (base: string, ids: string[]) => {
    phase.runs += 1;
    return call(base, 'POST', `/v1/rollouts/${o.rolloutId}/compensate`, {
      token: o.token,
      body: { dryRun: false, effects: ids, by: 'chaos-operator', note: 'chaos: compensation phase' },
      timeoutMs: 120_000,
    }).catch((e: unknown) => ({ status: 0, body: { error: String(e) }, headers: new Headers() }));
  };

  // each planned fault cuts a run once a share of the undos ran
  for (const [i, f] of o.faults.entries()) {
    const ids = await remaining();
    if (ids.length === 0) break;
    const live = fleet.servers.filter((s) => s.proc);
    const server = live[Math.floor(f.pick * live.length)] ?? live[0];
    if (!server) break;
    const before = undone(sideFile, keys);
    const target = before + Math.max(1, Math.floor(ids.length * (0.2 + 0.2 * f.pick)));
    const ev: FaultEvent = { kind: f.kind, at: Date.now() - ctx.t0, target: '' };
    const running = run(server.url, ids);
    const due = await waitFor(() => undone(sideFile, keys) >= target, 60_000);
    if (!due) {
      phase.events.push({
        ...ev,
        skipped: `only ${undone(sideFile, keys) - before} undo(s) ran within 60 s`,
      });
      await running;
      continue;
    }
    ev.at = Date.now() - ctx.t0;
    if (i % 2 === 0) {
      // the router running the compensations
      ev.target = server.id;
      ctx.crashes.push({ pid: server.proc!.pid, role: 'server', at: Date.now() });
      await fleet.killServer(server);
      ev.note = `after ${undone(sideFile, keys) - before} undo(s) of ${ids.length}`;
      await running;
      await sleep(f.downMs);
      await fleet.startServer(server);
    } else {
      // the worker that began the latest undo
      const last = sideLines(sideFile)
        .filter((l) => l.e === 'undo-begin')
        .at(-1);
      const slot =
        fleet.workers.find((w) => w.proc && w.proc.pid === last?.pid) ??
        fleet.workers.find((w) => w.proc && w.version === o.version);
      if (!slot) {
        phase.events.push({ ...ev, skipped: 'no worker alive' });
        await running;
        continue;
      }
      ev.target = slot.name;
      ev.note = `after ${undone(sideFile, keys) - before} undo(s) of ${ids.length}`;
      ctx.crashes.push({ pid: slot.proc!.pid, role: 'worker', at: Date.now() });
      await fleet.killWorker(slot);
      await running;
      await sleep(f.downMs);
      await fleet.startWorker(slot);
    }
    phase.events.push(ev);
    ctx.log(`fault ${ev.kind} ${ev.target} at ${Math.round(ev.at / 1000)} s (${ev.note})`);
  }

  // the operator's part: resolve undos left in doubt, run the rest again, until all are done
  for (;;) {
    phase.resolvedInDoubt += await resolveInDoubt(ctx, o.token, sideFile);
    const ids = await remaining();
    if (ids.length === 0) break;
    if (Date.now() > end) {
      phase.notCompensated = ids;
      break;
    }
    const base = fleet.servers.find((s) => s.proc)?.url;
    if (base) await run(base, ids);
    // a run held by a dead router is taken over once its hold expires
    if ((await remaining()).length > 0) await sleep(2_000);
  }
  ctx.log(
    `compensation phase: ${chosen.size - phase.notCompensated.length}/${chosen.size} compensated in ${phase.runs} run(s), ` +
      `${phase.resolvedInDoubt} undo(s) in doubt resolved`,
  );
  return phase;
}

/** Compensations' own effects still `intent`: resolved from the side channel (ran: committed). */
async function resolveInDoubt(ctx: FaultContext, token: string, sideFile: string): Promise<number> {
  const doubt = await listEffects(ctx, token, 'kind=compensation&status=intent');
  if (doubt.length === 0) return 0;
  const lines = sideLines(sideFile);
  let n = 0;
  for (const e of doubt) {
    const key = (e.args as { key?: string } | null)?.key ?? '';
    // an undo ran for this key after this intent, and no other record of it is committed
    const ran = lines.some((l) => l.e === 'undo-run' && l.key === key);
    const body = ran
      ? {
          status: 'committed',
          result: { undone: key },
          by: 'chaos-operator',
          reason: 'side channel shows it ran',
        }
      : {
          status: 'failed',
          error: 'never ran',
          by: 'chaos-operator',
          reason: 'side channel shows it did not run',
        };
    const r = await anyServer(ctx, token, 'POST', `/v1/effects/${e.id}/resolve`, body);
    if (r?.status === 200) n += 1;
  }
  return n;
}
