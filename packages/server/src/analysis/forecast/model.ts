/**
 * The behaviour model the forecaster simulates with, estimated from the store's history:
 *
 * - after the k-th turn of a session the next event is another turn or the session's end,
 *   whichever comes first: a competing-risks survival curve per turn index (indices with fewer
 *   than `MIN_PER_INDEX` observations are pooled with every later one);
 * - a turn leaves the session waiting with the observed share; a wait is resumed by a callback
 *   after a delay from the observed callback delays (expired and pending waits are censored),
 *   or by its timeout at the deadline;
 * - a new session's first turn comes after a delay from the observed first-turn delays.
 *
 * Conditioning on the time already spent since the last event (the session's idle age) is what
 * makes it a survival model: a chat idle for an hour is not drawn like one that just answered.
 */
import type { ForecastHistory } from './types';
import { Survival } from './survival';

/** Turn indices with fewer observations than this are pooled with every later index. */
export const MIN_PER_INDEX = 20;

/** Pace strata (ms per turn so far): a chat that has been quick so far is not drawn like a slow one. */
export const PACE_BOUNDS = [30_000, 120_000, 600_000];

export function paceBucket(pace: number | undefined): number {
  if (pace === undefined || !Number.isFinite(pace)) return -1;
  let b = 0;
  while (b < PACE_BOUNDS.length && pace >= PACE_BOUNDS[b]!) b++;
  return b;
}

export const CAUSE_TURN = 0;
export const CAUSE_END = 1;

export class BehaviourModel {
  /** Survival curves by turn index (1-based); the last one covers every later index. */
  private readonly byIndex: Survival[] = [];
  /** Every index together: where a per-index curve's data run out, its tail continues here. */
  private readonly pooled: Survival;
  /** Per index group and pace stratum, where the stratum has enough observations. */
  private readonly byIndexPace: Array<Array<Survival | null>> = [];
  readonly firstTurn: Survival;
  readonly callback: Survival;
  /** Share of (message) turns that leave the session waiting. */
  readonly waitShare: number;
  /** Share of the turns that resumed a wait (callback, timeout) that leave it waiting again. */
  readonly waitShareAfterResume: number;
  private readonly timeouts: number[];
  private readonly turnMs: number[];
  readonly afterTurnCount: number;

  constructor(h: ForecastHistory) {
    const byK = new Map<number, Array<{ ms: number; cause: number | null }>>();
    let maxK = 0;
    for (const o of h.afterTurn) {
      const list = byK.get(o.index) ?? [];
      list.push({ ms: o.ms, cause: o.kind === 'turn' ? CAUSE_TURN : o.kind === 'end' ? CAUSE_END : null });
      byK.set(o.index, list);
      maxK = Math.max(maxK, o.index);
    }
    this.afterTurnCount = h.afterTurn.length;
    this.pooled = new Survival(
      h.afterTurn.map((o) => ({
        ms: o.ms,
        cause: o.kind === 'turn' ? CAUSE_TURN : o.kind === 'end' ? CAUSE_END : null,
      })),
      2,
    );
    let last = maxK;
    for (let k = 1; k <= maxK; k++) {
      if ((byK.get(k) ?? []).length < MIN_PER_INDEX || k === maxK) {
        last = k;
        break;
      }
    }
    const groupOf = (k: number) => Math.min(k, last);
    const groups: Array<Array<{ ms: number; cause: number | null; pace: number }>> = [];
    for (const o of h.afterTurn) {
      const g = groupOf(o.index) - 1;
      (groups[g] ??= []).push({
        ms: o.ms,
        cause: o.kind === 'turn' ? CAUSE_TURN : o.kind === 'end' ? CAUSE_END : null,
        pace: paceBucket(o.pace),
      });
    }
    for (let g = 0; g < last; g++) {
      const obs = groups[g] ?? [];
      this.byIndex.push(new Survival(obs, 2));
      const strata: Array<Survival | null> = [];
      for (let b = 0; b <= PACE_BOUNDS.length; b++) {
        const sub = obs.filter((o) => o.pace === b);
        strata.push(sub.length >= MIN_PER_INDEX ? new Survival(sub, 2) : null);
      }
      this.byIndexPace.push(strata);
    }
    this.firstTurn = new Survival(
      [
        ...h.firstTurnMs.map((ms) => ({ ms, cause: 0 })),
        ...h.firstTurnOpenMs.map((ms) => ({ ms, cause: null })),
      ],
      1,
    );
    this.callback = new Survival(
      h.waits.map((w) => ({ ms: w.ms, cause: w.kind === 'callback' ? 0 : null })),
      1,
    );
    // a turn that resumed a wait waits again at its own observed share, not at every turn's
    const rT = h.resumeTurns ?? 0;
    const rW = h.resumeTurnsEndingInWait ?? 0;
    const mT = h.turnsObserved - rT;
    this.waitShare = mT > 0 ? Math.max(0, h.turnsEndingInWait - rW) / mT : 0;
    this.waitShareAfterResume = rT > 0 ? rW / rT : this.waitShare;
    this.timeouts = h.waits.map((w) => w.timeoutMs).filter((x) => x > 0);
    this.turnMs = h.turnMs.filter((x) => Number.isFinite(x) && x >= 0);
  }

  get hasTurnHistory(): boolean {
    return this.byIndex.length > 0;
  }

  /** The survival curve after the k-th turn (k >= 1). */
  afterTurn(k: number): Survival | null {
    if (this.byIndex.length === 0) return null;
    return this.byIndex[Math.min(Math.max(1, k), this.byIndex.length) - 1] ?? null;
  }

  /**
   * The next event after the k-th turn, `elapsed` ms after it. Beyond the last event seen at this
   * index (a censored tail: too few sessions got this far), the pooled curve of every index takes
   * over; only what no index has seen end (e.g. abandoned sessions) is `Infinity`.
   */
  nextAfterTurn(k: number, elapsed: number, rnd: () => number, pace?: number): { ms: number; cause: number } {
    const c = this.afterTurn(k);
    if (!c) return { ms: Infinity, cause: -1 };
    const g = Math.min(Math.max(1, k), this.byIndex.length) - 1;
    const b = paceBucket(pace);
    const strat = b >= 0 ? (this.byIndexPace[g]?.[b] ?? null) : null;
    if (strat && strat.survival(elapsed) > 0) {
      const y = strat.sample(elapsed, rnd);
      if (Number.isFinite(y.ms)) return y;
    }
    const x = c.sample(elapsed, rnd);
    if (Number.isFinite(x.ms) || c === this.pooled) return x;
    return this.pooled.sample(Math.max(elapsed, c.lastEvent), rnd);
  }

  /** A turn's duration. */
  turnDuration(rnd: () => number): number {
    if (this.turnMs.length === 0) return 0;
    return this.turnMs[Math.floor(rnd() * this.turnMs.length)]!;
  }

  /** A new wait's timeout (ms), or null when no wait was ever observed. */
  waitTimeout(rnd: () => number): number | null {
    if (this.timeouts.length === 0) return null;
    return this.timeouts[Math.floor(rnd() * this.timeouts.length)]!;
  }
}
