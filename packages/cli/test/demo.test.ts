/** `baton demo --quick --json` as CI runs it: a child process, exit 0, and the four scenarios' assertions (run in the order 1, 4, 2, 3). */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { run } from './helpers';

describe('baton demo --quick --json', () => {
  it('shows a lossless drain-and-fill, a shadow-caught and a gate-aborted regression, and a lossy naive cutover', async () => {
    const r = await run(['demo', '--quick', '--json'], { timeoutMs: 170_000 });
    if (r.code !== 0) console.error(r.stderr.slice(-4000));
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      scenarios: Array<Record<string, any>>;
    };
    expect(out.ok).toBe(true);
    expect(out.scenarios).toHaveLength(4);
    const [s1, s4, s2, s3] = out.scenarios as [
      Record<string, any>,
      Record<string, any>,
      Record<string, any>,
      Record<string, any>,
    ];

    expect(s1.promoted).toBe(true);
    expect(s1.lost).toBe(0);
    expect(s1.everySessionOnGreen).toBe(true);
    expect(s1.openOnBlueAfterDrain).toBe(0);
    expect(s1.onGreen + s1.finishedOnBlue).toBe(s1.sessionsTotal);
    expect(s1.sessionsTotal).toBeGreaterThan(100);
    expect(s1.duplicatedEffects).toBe(0);
    expect(s1.contextLosses).toBe(0);
    expect(s1.sequenceGaps).toBe(0);
    expect(s1.effectsExecuted).toBeGreaterThan(0);

    // the shadow stage stops the regression before it gets any session, with no effect executed
    expect(s4.abortedBeforeTraffic).toBe(true);
    expect(s4.sessionsOnRegressed).toBe(0);
    expect(s4.effectsExecutedDuringShadow).toBe(0);
    expect(s4.shadow.turns).toBeGreaterThan(0);

    expect(s2.aborted).toBe(true);
    expect(typeof s2.gate).toBe('string');
    expect(s2.evidence.nGreen).toBeGreaterThan(0);
    expect(s2.evidence.pValue).toBeLessThan(0.05);
    expect(s2.evidence.test).toBeTruthy();

    expect(s3.simulated).toBe(true);
    expect(s3.lostContexts).toBeGreaterThan(0);

    // the demo removed its temporary store
    const storeLine = r.stderr.split('\n').find((l) => l.includes('store '));
    const m = /store (\S+)/.exec(storeLine ?? '');
    expect(m).not.toBeNull();
    expect(existsSync(m![1]!)).toBe(false);
  }, 180_000);
});
