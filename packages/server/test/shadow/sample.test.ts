import { describe, expect, it } from 'vitest';
import { lengthBucket, sampleTurns, stratumOf, type TurnCandidate } from '../../src/shadow/sample';

/** 40 sessions: 10 long ones whose turns end in a wait (rare), 30 short plain ones (common). */
function candidates(): TurnCandidate[] {
  const out: TurnCandidate[] = [];
  for (let s = 0; s < 40; s++) {
    const rare = s < 10;
    for (let k = 1; k <= 4; k++)
      out.push({
        sessionId: `ses_${String(s).padStart(2, '0')}`,
        seq: k + 1,
        // the common sessions are the most recent
        at: (rare ? 0 : 10_000) + s * 10 + k,
        sessionLength: rare ? 12 : 3,
        ending: rare ? 'wait' : 'plain',
      });
  }
  return out;
}

describe('shadow sampling', () => {
  it('recent: the most recently active sessions, their newest turns', () => {
    const picked = sampleTurns(candidates(), { sessions: 5, turnsPerSession: 2, sample: 'recent' });
    expect(picked).toHaveLength(10);
    expect(new Set(picked.map((c) => c.sessionId))).toEqual(
      new Set(['ses_39', 'ses_38', 'ses_37', 'ses_36', 'ses_35']),
    );
    expect(picked.filter((c) => c.sessionId === 'ses_39').map((c) => c.seq)).toEqual([5, 4]);
    expect(picked.every((c) => c.ending === 'plain')).toBe(true);
  });

  it('stratified: every non-empty stratum gets an equal share, within the per-session and session caps', () => {
    const picked = sampleTurns(candidates(), { sessions: 8, turnsPerSession: 2, sample: 'stratified' });
    expect(picked).toHaveLength(16);
    const by = new Map<string, number>();
    for (const c of picked) by.set(stratumOf(c), (by.get(stratumOf(c)) ?? 0) + 1);
    expect(by).toEqual(
      new Map([
        ['long/wait', 8],
        ['short/plain', 8],
      ]),
    );
    const perSession = new Map<string, number>();
    for (const c of picked) perSession.set(c.sessionId, (perSession.get(c.sessionId) ?? 0) + 1);
    expect(perSession.size).toBeLessThanOrEqual(8);
    expect(Math.max(...perSession.values())).toBeLessThanOrEqual(2);
  });

  it('length buckets', () => {
    expect([1, 3, 4, 10, 11].map(lengthBucket)).toEqual(['short', 'short', 'medium', 'medium', 'long']);
  });
});
