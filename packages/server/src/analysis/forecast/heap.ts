/** A binary min-heap of timed events (ties in insertion order). */
export class EventHeap<T> {
  private readonly items: Array<{ t: number; n: number; v: T }> = [];
  private n = 0;

  get size(): number {
    return this.items.length;
  }

  /** The time of the earliest event, or Infinity when empty. */
  peekTime(): number {
    return this.items[0]?.t ?? Infinity;
  }

  push(t: number, v: T): void {
    const it = { t, n: this.n++, v };
    const a = this.items;
    a.push(it);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  pop(): { t: number; v: T } | undefined {
    const a = this.items;
    const top = a[0];
    if (!top) return undefined;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return { t: top.t, v: top.v };
  }

  private less(x: { t: number; n: number }, y: { t: number; n: number }): boolean {
    return x.t < y.t || (x.t === y.t && x.n < y.n);
  }
}
