/** Injectable time. Production uses SystemClock; tests run time forward with SimulatedClock. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

interface Sleeper {
  at: number;
  resolve: () => void;
}

/** A clock that only moves when told to. `advance` wakes every sleeper whose time has come, in order. */
export class SimulatedClock implements Clock {
  private t: number;
  private sleepers: Sleeper[] = [];
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleepers.push({ at: this.t + Math.max(0, ms), resolve });
      this.sleepers.sort((a, b) => a.at - b.at);
    });
  }
  /** Move time forward by `ms`, resolving sleepers due on the way (yielding to the microtask queue between them). */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      const next = this.sleepers[0];
      if (!next || next.at > target) break;
      this.sleepers.shift();
      this.t = next.at;
      next.resolve();
      await new Promise<void>((r) => setImmediate(r));
    }
    this.t = target;
  }
  set(ms: number): void {
    this.t = ms;
  }
  pending(): number {
    return this.sleepers.length;
  }
}
