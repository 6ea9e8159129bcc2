/**
 * The short form of the chaos suite, run with the other tests: seed 7, 2 minutes of load on a
 * private PostgreSQL cluster (initdb on a port of its own, never the shared server) with two
 * `baton serve` and four `baton worker` processes, every fault kind of the schedule, a rollout
 * c1 → c2 with eager migration, then compensations of c2's effects cut by SIGKILLs. It asserts the invariant table's promised zeros. Needs the
 * PostgreSQL server binaries (initdb, pg_ctl): skipped with a message without them, a failure
 * under CI=true.
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from '../lib/chaos';
import { pgBinDir } from '../lib/pg';
import { format } from '../lib/table';
import { TIMED_KINDS } from '../lib/schedule';

const bin = pgBinDir();
if (!bin) {
  if (process.env.CI === 'true')
    throw new Error('the chaos test needs initdb (PostgreSQL server binaries) when CI=true');
  console.warn('skipping the chaos short form: initdb not found (install the PostgreSQL server binaries)');
}

describe.skipIf(!bin)('chaos, short form: seed 7, 2 minutes, PostgreSQL, two servers', () => {
  it(
    'keeps every promise under SIGKILLs, hung and garbage workers and a PostgreSQL restart',
    async () => {
      const lines: string[] = [];
      const r = await runChaos({ seed: 7, minutes: 2, backend: 'postgres', log: (m) => lines.push(m) });
      console.log(`${lines.join('\n')}\n\n${format(r.rows)}`);
      // the run did what it claims: faults of every timed kind, one during the eager migration,
      // real traffic, and a rollout that went through
      const done = (k: string) => r.faults.filter((f) => f.kind === k && !f.skipped).length;
      for (const k of TIMED_KINDS.postgres) expect(done(k), k).toBeGreaterThan(0);
      expect(done('kill-during-migration')).toBe(1);
      // compensations cut by a SIGKILL of their server and of their worker, then finished
      expect(done('kill-during-compensation')).toBe(2);
      expect(r.findings.compensationsDone).toBeGreaterThanOrEqual(50);
      expect(r.findings.sessionsInStore).toBeGreaterThan(50);
      expect(r.findings.migrationsOk).toBeGreaterThan(10);
      expect(r.findings.rollouts.map((x) => x.phase)).toEqual(['promoted']);
      const broken = r.rows.filter((x) => x.promised === '0' && x.value !== 0);
      expect(broken).toEqual([]);
      expect(r.ok).toBe(true);
    },
    10 * 60_000,
  );
});
