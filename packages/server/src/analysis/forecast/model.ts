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

export const CAUSE_TURN = 0;
export const CAUSE_END = 1;

export class BehaviourModel {
  /** Survival curves by turn index (1-based); the last one covers every later index. */
  private readonly byIndex: Survival[] = [];
  /** Every index together: where a per-index curve's data run out, its tail continues here. */
  private readonly pooled: Survival;
  readonly firstTurn: Survival;
  readonly callback: Survival;
  readonly waitShare: number;
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
    for (let k = 1; k <= maxK; k++) {
      const own = byK.get(k) ?? [];
      if (own.length >= MIN_PER_INDEX && k < maxK) {
        this.byIndex.push(new Survival(own, 2));
        continue;
      }
      const pooled: Array<{ ms: number; cause: number | null }> = [];
      for (let j = k; j <= maxK; j++) pooled.push(...(byK.get(j) ?? []));
      this.byIndex.push(new Survival(pooled, 2));
      break;
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
    this.waitShare = h.turnsObserved > 0 ? h.turnsEndingInWait / h.turnsObserved : 0;
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
  nextAfterTurn(k: number, elapsed: number, rnd: () => number): { ms: number; cause: number } {
    const c = this.afterTurn(k);
    if (!c) return { ms: Infinity, cause: -1 };
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
