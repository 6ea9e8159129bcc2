/**
 * Which recorded blue turns a shadow stage replays (pure). Two rules (docs/rollouts.md):
 *
 * - `recent`: the most recently active sessions first; per session its newest replayable turns.
 * - `stratified`: turns are grouped by the session's length (short: ≤ 3 checkpoints, medium: 4–10,
 *   long: > 10) crossed with how the turn ended (in a wait, with an effect, or plainly): up to 9
 *   strata. Turn slots are dealt to the non-empty strata in turn (equal allocation, so a rare kind
 *   such as turns that end in a wait is represented even when most turns are plain), the newest
 *   turn of a stratum first, never more than `turnsPerSession` turns of one session nor more than
 *   `sessions` sessions in all.
 */
export type TurnEnding = 'wait' | 'effect' | 'plain';
export type LengthBucket = 'short' | 'medium' | 'long';

export interface TurnCandidate {
  sessionId: string;
  /** The checkpoint the turn wrote. */
  seq: number;
  /** When it was written (epoch ms): newer first. */
  at: number;
  /** Checkpoints of the session (its length). */
  sessionLength: number;
  ending: TurnEnding;
}

export function lengthBucket(n: number): LengthBucket {
  return n <= 3 ? 'short' : n <= 10 ? 'medium' : 'long';
}

export function stratumOf(c: TurnCandidate): string {
  return `${lengthBucket(c.sessionLength)}/${c.ending}`;
}

function newestFirst(a: TurnCandidate, b: TurnCandidate): number {
  return b.at - a.at || (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : b.seq - a.seq);
}

export interface SampleOptions {
  sessions: number;
  turnsPerSession: number;
  sample: 'recent' | 'stratified';
}

/** The selected turns, grouped by nothing (order: the order they were picked). */
export function sampleTurns(candidates: readonly TurnCandidate[], o: SampleOptions): TurnCandidate[] {
  return o.sample === 'stratified' ? stratified(candidates, o) : recent(candidates, o);
}

function recent(candidates: readonly TurnCandidate[], o: SampleOptions): TurnCandidate[] {
  const bySession = new Map<string, TurnCandidate[]>();
  for (const c of [...candidates].sort(newestFirst)) {
    const l = bySession.get(c.sessionId) ?? [];
    l.push(c);
    bySession.set(c.sessionId, l);
  }
  // Map keeps insertion order: sessions by their newest turn, newest first
  const out: TurnCandidate[] = [];
  for (const turns of [...bySession.values()].slice(0, o.sessions))
    out.push(...turns.slice(0, o.turnsPerSession));
  return out;
}

function stratified(candidates: readonly TurnCandidate[], o: SampleOptions): TurnCandidate[] {
  const strata = new Map<string, TurnCandidate[]>();
  for (const c of [...candidates].sort(newestFirst)) {
    const k = stratumOf(c);
    const l = strata.get(k) ?? [];
    l.push(c);
    strata.set(k, l);
  }
  const keys = [...strata.keys()].sort();
  const cursor = new Map<string, number>(keys.map((k) => [k, 0]));
  const perSession = new Map<string, number>();
  const out: TurnCandidate[] = [];
  const budget = o.sessions * o.turnsPerSession;
  let progress = true;
  while (out.length < budget && progress) {
    progress = false;
    for (const k of keys) {
      if (out.length >= budget) break;
      const list = strata.get(k)!;
      let i = cursor.get(k)!;
      while (i < list.length) {
        const c = list[i++]!;
        const n = perSession.get(c.sessionId) ?? 0;
        const newSession = n === 0;
        if (n >= o.turnsPerSession || (newSession && perSession.size >= o.sessions)) continue;
        perSession.set(c.sessionId, n + 1);
        out.push(c);
        progress = true;
        break;
      }
      cursor.set(k, i);
    }
  }
  return out;
}
