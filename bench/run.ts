/**
 * `npm run bench -- NAME [args]` runs bench/NAME.ts, prints its figures and targets as tables
 * and writes bench/results/NAME.json ({name, machine, figures, targets}).
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, table, type BenchFn, type BenchResult } from './lib';

const here = dirname(fileURLToPath(import.meta.url));
const [name, ...args] = process.argv.slice(2);

async function main(): Promise<void> {
  if (
    !name ||
    !/^[a-z0-9-]+$/.test(name) ||
    ['lib', 'run'].includes(name) ||
    !existsSync(join(here, `${name}.ts`))
  ) {
    console.error(`usage: npm run bench -- NAME   (NAME is a file bench/NAME.ts; got ${name ?? 'nothing'})`);
    process.exit(2);
  }
  const mod = (await import(join(here, `${name}.ts`))) as { default: BenchFn };
  const out = await mod.default(args);
  const result: BenchResult = { name, machine: machine(), ...out };
  console.log(
    `\n${name} on ${result.machine.cpus} x ${result.machine.cpuModel}, node ${result.machine.node}\n`,
  );
  console.log(table(Object.entries(result.figures).map(([figure, value]) => ({ figure, value }))));
  console.log('');
  console.log(
    table(result.targets.map((t) => ({ target: t.what, value: t.value, wanted: t.target, met: t.met }))),
  );
  mkdirSync(join(here, 'results'), { recursive: true });
  const file = join(here, 'results', `${name}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote bench/results/${name}.json`);
  process.exit(0);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
