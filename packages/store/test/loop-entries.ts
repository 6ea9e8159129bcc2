/** Shared by `append-loop-child.ts` and the suite: the history entries the loop's checkpoint `seq` appends. */
import type { HistoryEntry } from '@baton/core';

export function loopEntries(seq: number): HistoryEntry[] {
  return Array.from({ length: (seq % 4) + 1 }, (_, j) => ({
    role: j % 2 === 0 ? ('user' as const) : ('agent' as const),
    content: { text: `loop ${seq}.${j}`, pad: 'x'.repeat((seq * 37 + j * 11) % 200) },
    turnId: `loop-${seq}`,
    at: 1_000_000 + seq,
  }));
}
