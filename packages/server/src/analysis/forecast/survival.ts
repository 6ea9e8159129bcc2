/**
 * Empirical survival with competing risks (Kaplan–Meier / Aalen–Johansen on the observed times):
 * each observation is a time and either an event of one cause or censoring ("still open at that
 * time"). `sample(after)` draws the time and cause of the next event given that none happened up
 * to `after`; mass beyond the last observed event (censored tails) is `Infinity`: nothing in the
 * data says the event ever comes.
 */

/** A seeded generator in [0, 1) (mulberry32): the forecaster is reproducible for a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SurvivalObservation {
  ms: number;
  /** Cause index of the event, or null when censored. */
  cause: number | null;
}

export class Survival {
  /** Distinct event times, ascending. */
  private readonly times: number[] = [];
  /** S(t) just after times[j]. */
  private readonly after: number[] = [];
  /** Cumulative cause probabilities of the events at times[j]. */
  private readonly causes: number[][] = [];
  readonly events: number;
  readonly size: number;

  constructor(
    obs: readonly SurvivalObservation[],
    readonly causeCount: number,
  ) {
    const sorted = [...obs].sort(
      (a, b) => a.ms - b.ms || (a.cause === null ? 1 : 0) - (b.cause === null ? 1 : 0),
    );
    this.size = sorted.length;
    let atRisk = sorted.length;
    let s = 1;
    let events = 0;
    for (let i = 0; i < sorted.length;) {
      const t = sorted[i]!.ms;
      const d = new Array<number>(causeCount).fill(0);
      let nEv = 0;
      let nAll = 0;
      while (i < sorted.length && sorted[i]!.ms === t) {
        const c = sorted[i]!.cause;
        if (c !== null) {
          d[c] = (d[c] ?? 0) + 1;
          nEv++;
        }
        nAll++;
        i++;
      }
      if (nEv > 0) {
        s *= 1 - nEv / atRisk;
        this.times.push(t);
        this.after.push(s);
        let acc = 0;
        this.causes.push(d.map((x) => (acc += x / nEv)));
        events += nEv;
      }
      atRisk -= nAll;
    }
    this.events = events;
  }

  /** The last event time (-Infinity without events). */
  get lastEvent(): number {
    return this.times.length ? this.times[this.times.length - 1]! : -Infinity;
  }

  /** P(T > t). */
  survival(t: number): number {
    const j = this.lastAtOrBefore(t);
    return j < 0 ? 1 : this.after[j]!;
  }

  private lastAtOrBefore(t: number): number {
    let lo = 0;
    let hi = this.times.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[mid]! <= t) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  /**
   * The next event's time (> `after`) and cause, given none up to `after`; `{ms: Infinity, cause: -1}`
   * when it falls in the unobserved tail.
   */
  sample(after: number, rnd: () => number): { ms: number; cause: number } {
    const sAfter = this.survival(after);
    if (sAfter <= 0 || this.times.length === 0) return { ms: Infinity, cause: -1 };
    const target = rnd() * sAfter;
    // first j with times[j] > after and S(times[j]) <= target
    let lo = this.lastAtOrBefore(after) + 1;
    let hi = this.times.length - 1;
    if (lo > hi || this.after[hi]! > target) return { ms: Infinity, cause: -1 };
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.after[mid]! <= target) hi = mid;
      else lo = mid + 1;
    }
    const cum = this.causes[lo]!;
    const u = rnd();
    let cause = cum.findIndex((c) => u < c);
    if (cause < 0) cause = cum.length - 1;
    return { ms: this.times[lo]!, cause };
  }
}
