/**
 * `npm run chaos -- [--seed N] [--minutes M] [--backend postgres|sqlite]`: a bounded, seeded chaos
 * run (see docs/reliability.md). Prints the table, writes chaos/results/<backend>-<seed>.json, and
 * exits 1 when a promised zero is not zero (2 on bad arguments).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChaos } from './lib/chaos';
import { format } from './lib/table';
import type { Backend } from './lib/schedule';

const here = path.dirname(fileURLToPath(import.meta.url));

function usage(msg: string): never {
  console.error(`${msg}\nusage: npm run chaos -- [--seed N] [--minutes M] [--backend postgres|sqlite]`);
  process.exit(2);
}

function parse(argv: string[]): { seed: number; minutes: number; backend: Backend } {
  const o = { seed: 1, minutes: 2, backend: 'postgres' as Backend };
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const v = inline ?? argv[++i];
    if (v === undefined) usage(`${k}: missing value`);
    if (k === '--seed') {
      if (!/^\d+$/.test(v)) usage(`--seed: a non-negative integer, got ${v}`);
      o.seed = Number(v);
    } else if (k === '--minutes') {
      const m = Number(v);
      if (!(m >= 1 && m <= 240)) usage(`--minutes: 1..240, got ${v}`);
      o.minutes = m;
    } else if (k === '--backend') {
      if (v !== 'postgres' && v !== 'sqlite') usage(`--backend: postgres or sqlite, got ${v}`);
      o.backend = v;
    } else usage(`unknown option ${k}`);
  }
  return o;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  console.log(`chaos: seed ${o.seed}, ${o.minutes} min, ${o.backend}`);
  const r = await runChaos({ ...o, log: (m) => console.log(`  ${m}`) });
  console.log(
    `\nchaos ${o.backend}, seed ${o.seed}, ${o.minutes} min (${r.wallSeconds} s wall) on ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, load average ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}\n`,
  );
  console.log(format(r.rows));
  const errors = Object.entries(r.errors)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  console.log(`\nanswers retried, by code: ${errors || 'none'}`);
  mkdirSync(path.join(here, 'results'), { recursive: true });
  const file = path.join(here, 'results', `${o.backend}-${o.seed}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      { ...r, machine: { cpus: os.cpus().length, loadavg: os.loadavg(), node: process.version } },
      null,
      2,
    ) + '\n',
  );
  console.log(`wrote chaos/results/${path.basename(file)}`);
  console.log(
    r.ok ? 'every promised zero is zero' : `FAILED: a promised zero is not zero (logs in ${r.logDir})`,
  );
  process.exit(r.ok ? 0 : 1);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
