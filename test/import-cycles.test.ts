/**
 * The import graph of packages/*\/src has no circle, type-only imports included (a reader follows
 * types too; ESLint's import-x/no-cycle skips them). dependency-cruiser reads the TypeScript
 * before compilation (`tsPreCompilationDeps`), so `import type` edges count.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function packageSources(): string[] {
  return readdirSync(join(root, 'packages'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => `packages/${d.name}/src`);
}

async function circles(): Promise<{ violations: IViolation[]; modules: number }> {
  const cwd = process.cwd();
  process.chdir(root);
  try {
    const out = await cruise(packageSources(), {
      tsPreCompilationDeps: true,
      tsConfig: { fileName: 'tsconfig.json' },
      doNotFollow: { path: 'node_modules' },
      exclude: { path: '(^|/)(test|dist)/' },
      validate: true,
      ruleSet: {
        forbidden: [
          {
            name: 'no-circular',
            severity: 'error',
            comment: 'an import circle, type-only imports included',
            from: {},
            to: { circular: true },
          },
        ],
      },
    });
    const summary = (out.output as ICruiseResult).summary;
    return { violations: summary.violations, modules: summary.totalCruised };
  } finally {
    process.chdir(cwd);
  }
}

function shown(v: IViolation): string {
  const path = (v.cycle ?? []).map((c) => (typeof c === 'string' ? c : c.name));
  return [v.from, ...path].join(' -> ');
}

describe('import graph', () => {
  it('has no circle in packages/*/src, type-only imports included', async () => {
    const found = await circles();
    // the cruise read the packages' sources (an empty cruise would have no circle either)
    expect(found.modules).toBeGreaterThan(200);
    expect(found.violations.map(shown)).toEqual([]);
  }, 120_000);
});
