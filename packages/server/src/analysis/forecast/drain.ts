/**
 * The drain of one simulated run: every blue session (open now, or created on blue during the
 * steps) follows the behaviour model — turns, waits, callbacks, its end — while the rollout's
 * move rule applies: a due session migrates lazily at the start of its next turn, and the eager
 * migrator (when on) moves due idle and waiting sessions on the controller's passes, at most
 * `rate × passMs` per pass, first come first served. Discrete-event, one heap per run.
 */
import { EventHeap } from './heap';
import { CAUSE_END, type BehaviourModel } from './model';
import { passAfter, passAtOrAfter, type StepsRun } from './steps';
import type { ForecastPlan, ForecastSession, StragglerReason } from './types';

type Status = 'idle' | 'running' | 'waiting';

interface SimSession {
  bucket: number;
  createdAt: number;
  status: Status;
  turns: number;
  onBlue: boolean;
  /** Bumped on every state change: stale events are dropped. */
  gen: number;
  queued: boolean;
}

type Ev =
  | { kind: 'turn'; i: number; gen: number; resume?: boolean }
  | { kind: 'turn-end'; i: number; gen: number; resume?: boolean }
  | { kind: 'end'; i: number; gen: number }
  | { kind: 'eager'; i: number }
  | { kind: 'wave' }
  | { kind: 'arrive'; a: number }
  | { kind: 'deadline' };

export interface DrainRun {
  /** When the last session left blue (Infinity when some never do). */
  emptyAt: number;
  /** The drain-complete decision's time (Infinity when the drain never completes). */
  completeAt: number;
  finishOnBlue: number;
  lazy: number;
  eager: number;
  /** On blue at the deadline, by reason; null when the deadline is past or never comes. */
  stragglers: Record<StragglerReason, number> | null;
  /** Sessions that never leave blue in this run. */
  never: number;
}

export interface DrainSetup {
  plan: ForecastPlan;
  model: BehaviourModel;
  now: number;
  /** Origin of the controller's pass grid. */
  origin: number;
  /** Eager migrations per ms (null: no measured rate; the batch size per pass is used). */
  eagerRatePerMs: number | null;
  /** Migrate percentage over time: [from, percent], ascending. */
  migrateAt: Array<{ from: number; percent: number }>;
  deadlinePassedAt: number;
  drainStart: number;
  promotedAt: number;
}

const HORIZON_MS = 365 * 86_400_000;

export function setupFromSteps(
  plan: ForecastPlan,
  model: BehaviourModel,
  now: number,
  eagerRatePerMs: number | null,
  steps: StepsRun,
): DrainSetup {
  const migrateAt: Array<{ from: number; percent: number }> = [];
  let m = 0;
  steps.stepStarts.forEach((t, i) => {
    m = Math.max(m, plan.steps[i]!.migrate);
    migrateAt.push({ from: t, percent: m });
  });
  if (Number.isFinite(steps.promotedAt)) migrateAt.push({ from: steps.promotedAt, percent: 100 });
  const deadline = steps.drainStart + plan.drainDeadlineMs;
  return {
    plan,
    model,
    now,
    origin: now,
    eagerRatePerMs,
    migrateAt,
    deadlinePassedAt: passAtOrAfter(deadline, now, plan.passMs),
    drainStart: steps.drainStart,
    promotedAt: steps.promotedAt,
  };
}

export function simulateDrain(
  setup: DrainSetup,
  open: ForecastSession[],
  newBlue: Array<{ createdAt: number; bucket: number; firstTurnAt: number }>,
  rnd: () => number,
): DrainRun {
  const { plan, model, now } = setup;
  const P = plan.passMs;
  const perPass = setup.eagerRatePerMs ? Math.max(1, Math.floor(setup.eagerRatePerMs * P)) : 200;
  const heap = new EventHeap<Ev>();
  const ss: SimSession[] = [];
  const out: DrainRun = {
    emptyAt: now,
    completeAt: Infinity,
    finishOnBlue: 0,
    lazy: 0,
    eager: 0,
    stragglers: null,
    never: 0,
  };
  let onBlue = 0;
  let lastLeft = now;
  const cap = (t: number) => (t - now > HORIZON_MS ? Infinity : t);

  const migrateOf = (t: number): number => {
    let p = 0;
    for (const x of setup.migrateAt) if (x.from <= t) p = x.percent;
    return p;
  };
  const due = (s: SimSession, t: number): boolean => {
    if (!(s.bucket < migrateOf(t))) return false;
    switch (plan.policy) {
      case 'at-boundary':
        return true;
      case 'finish-on-origin':
        return t >= setup.deadlinePassedAt;
      case 'max-age':
        return plan.maxAgeMs === null || t - s.createdAt < plan.maxAgeMs;
    }
  };
  const leave = (s: SimSession, t: number, how: 'end' | 'lazy' | 'eager'): void => {
    s.onBlue = false;
    s.gen++;
    onBlue--;
    lastLeft = Math.max(lastLeft, t);
    if (how === 'end') out.finishOnBlue++;
    else if (how === 'lazy') out.lazy++;
    else out.eager++;
  };
  // the eager migrator: FIFO over the passes after a session became due while idle or waiting
  let slotPass = -Infinity;
  let slotUsed = 0;
  const enqueue = (i: number, t: number, samePass: boolean): void => {
    const s = ss[i]!;
    if (!plan.eager || s.queued || !s.onBlue || s.status === 'running' || !due(s, t)) return;
    const first = samePass ? passAtOrAfter(t, setup.origin, P) : passAfter(t, setup.origin, P);
    if (slotPass < first) {
      slotPass = first;
      slotUsed = 0;
    }
    if (slotUsed >= perPass) {
      slotPass += P;
      slotUsed = 0;
    }
    slotUsed++;
    s.queued = true;
    heap.push(slotPass, { kind: 'eager', i });
  };
  const idleAfterTurn = (i: number, t: number, elapsed: number): void => {
    const s = ss[i]!;
    s.status = 'idle';
    s.gen++;
    const base = t - elapsed;
    const pace = s.turns > 0 ? (base - s.createdAt) / s.turns : undefined;
    const nx =
      s.turns === 0 ? model.firstTurn.sample(elapsed, rnd) : model.nextAfterTurn(s.turns, elapsed, rnd, pace);
    const at = cap(base + nx.ms);
    if (Number.isFinite(at)) {
      const isEnd = s.turns > 0 && nx.cause === CAUSE_END;
      heap.push(at, isEnd ? { kind: 'end', i, gen: s.gen } : { kind: 'turn', i, gen: s.gen });
    }
    enqueue(i, t, false);
  };
  const waitFrom = (i: number, t: number, created: number, deadline: number): void => {
    const s = ss[i]!;
    s.status = 'waiting';
    s.gen++;
    const cb = model.callback.sample(Math.max(0, t - created), rnd).ms;
    const at = cap(Math.min(created + cb, passAtOrAfter(deadline, setup.origin, P)));
    if (Number.isFinite(at)) heap.push(at, { kind: 'turn', i, gen: s.gen, resume: true });
    enqueue(i, t, false);
  };

  const add = (x: { bucket: number; createdAt: number; status: Status; turns: number }): number => {
    ss.push({ ...x, onBlue: true, gen: 0, queued: false });
    onBlue++;
    return ss.length - 1;
  };
  for (const o of open) {
    const i = add(o);
    if (o.status === 'running') {
      ss[i]!.status = 'running';
      heap.push(now + model.turnDuration(rnd), { kind: 'turn-end', i, gen: 0 });
    } else if (o.status === 'waiting' && o.wait) waitFrom(i, now, o.wait.createdAt, o.wait.deadline);
    else idleAfterTurn(i, now, Math.max(0, now - (o.turns > 0 ? o.lastTurnAt : o.createdAt)));
  }
  const arrivalsPending = [...newBlue].sort((a, b) => a.createdAt - b.createdAt);
  arrivalsPending.forEach((a, k) => heap.push(a.createdAt, { kind: 'arrive', a: k }));
  // waves: every change of the move rule re-offers idle and waiting sessions to the eager migrator
  for (const m of setup.migrateAt) heap.push(m.from, { kind: 'wave' });
  if (plan.policy === 'finish-on-origin' && Number.isFinite(setup.deadlinePassedAt))
    heap.push(setup.deadlinePassedAt, { kind: 'wave' });
  const deadline = setup.drainStart + plan.drainDeadlineMs;
  if (Number.isFinite(deadline) && deadline >= now) heap.push(deadline, { kind: 'deadline' });

  const arrive = (k: number, t: number): void => {
    const a = arrivalsPending[k]!;
    const i = add({ bucket: a.bucket, createdAt: a.createdAt, status: 'idle', turns: 0 });
    const s = ss[i]!;
    if (Number.isFinite(a.firstTurnAt)) heap.push(cap(a.firstTurnAt), { kind: 'turn', i, gen: s.gen });
    enqueue(i, t, false);
  };
  const waveAt = (t: number): void => {
    const samePass = plan.policy === 'finish-on-origin' && t === setup.deadlinePassedAt;
    for (let i = 0; i < ss.length; i++) {
      const s = ss[i]!;
      if (s.onBlue && s.status !== 'running') enqueue(i, t, samePass);
    }
  };

  for (;;) {
    const e = heap.pop();
    if (!e) break;
    const { t, v } = e;
    if (v.kind === 'wave') {
      waveAt(t);
      continue;
    }
    if (v.kind === 'arrive') {
      arrive(v.a, t);
      continue;
    }
    if (v.kind === 'deadline') {
      const why: Record<StragglerReason, number> = {
        'mid-turn': 0,
        waiting: 0,
        'idle-not-due': 0,
        'idle-no-eager': 0,
      };
      for (const s of ss) {
        if (!s.onBlue) continue;
        if (s.status === 'running') why['mid-turn']++;
        else if (s.status === 'waiting') why.waiting++;
        else if (!plan.eager) why['idle-no-eager']++;
        else why['idle-not-due']++;
      }
      out.stragglers = why;
      continue;
    }
    const s = ss[v.i]!;
    if (!s.onBlue) continue;
    if (v.kind === 'eager') {
      s.queued = false;
      if (s.status !== 'running' && due(s, t)) leave(s, t, 'eager');
      continue;
    }
    if (v.gen !== s.gen) continue;
    if (v.kind === 'end') {
      leave(s, t, 'end');
      continue;
    }
    if (v.kind === 'turn') {
      if (due(s, t)) {
        leave(s, t, 'lazy');
        continue;
      }
      s.status = 'running';
      s.gen++;
      heap.push(t + model.turnDuration(rnd), {
        kind: 'turn-end',
        i: v.i,
        gen: s.gen,
        resume: v.resume === true,
      });
      continue;
    }
    // turn-end: the turn committed
    s.turns++;
    const share = v.resume ? model.waitShareAfterResume : model.waitShare;
    const timeout = rnd() < share ? model.waitTimeout(rnd) : null;
    if (timeout !== null) waitFrom(v.i, t, t, t + timeout);
    else idleAfterTurn(v.i, t, 0);
  }
  out.never = onBlue;
  out.emptyAt = onBlue > 0 ? Infinity : lastLeft;
  const promoted = setup.promotedAt;
  if (!Number.isFinite(promoted)) out.completeAt = Infinity;
  else if (plan.onDeadline === 'mark-stuck') {
    const dl = setup.deadlinePassedAt;
    const closeAt = Math.min(out.emptyAt, dl);
    out.completeAt =
      closeAt === dl && dl >= promoted ? dl : passAfter(Math.max(closeAt, promoted), setup.origin, P);
  } else out.completeAt = passAfter(Math.max(out.emptyAt, promoted), setup.origin, P);
  if (out.completeAt < setup.drainStart) out.completeAt = setup.drainStart;
  return out;
}
