#!/usr/bin/env node
/**
 * Build the public packages into plain JavaScript with type declarations and pack each with
 * `npm pack`, for installing outside this repository:
 *
 *   npm run pack                 # tarballs in .pack/tarballs/
 *   npm run pack -- <dir>        # tarballs in <dir>
 *
 * The workspace itself keeps running from the TypeScript sources (its package.json files point
 * at src/, for tsx and vitest). A packed package is staged apart: the compiled files under dist/
 * and a package.json generated from the workspace one whose `exports`, `main`, `types` and `bin`
 * point at dist/, whose `@baton/*` dependencies name the exact versions packed together, and
 * without the dependencies only the workspace needs (tsx).
 */
import { execFileSync } from 'node:child_process';
import process from 'node:process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK = path.join(ROOT, '.pack');
const BUILD = path.join(WORK, 'build');
const STAGE = path.join(WORK, 'stage');

/** Workspace folder of each public package, dependencies first. */
export const PACKAGES = [
  'packages/core',
  'packages/store',
  'packages/sdk',
  'packages/server',
  'examples/support-agent',
  'packages/cli',
];

/** Dependencies of the workspace that a user of a packed package does not need at run time. */
const DEV_ONLY = new Set(['tsx']);

function bin(name) {
  return path.join(ROOT, 'node_modules', '.bin', name);
}

function run(cmd, args, cwd = ROOT) {
  return execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
}

/** The workspace's subpath exports (`./graph` → `./src/graph/index.ts`), pointed at dist/. */
function subpathExports(exports) {
  const out = {};
  for (const [key, file] of Object.entries(exports ?? {})) {
    if (key === '.' || typeof file !== 'string') continue;
    const base = file.replace(/^\.\/src\//, './dist/').replace(/\.ts$/, '');
    out[key] = { types: `${base}.d.ts`, default: `${base}.js` };
  }
  return out;
}

function manifestFor(src, versions) {
  const out = {
    name: src.name,
    version: src.version,
    description:
      src.description ?? `${src.name}: part of Baton, drain-and-fill rollouts for stateful AI agents`,
    license: src.license ?? 'UNLICENSED',
    type: 'module',
    engines: { node: '>=20.19' },
    exports: {
      '.': { types: './dist/index.d.ts', default: './dist/index.js' },
      ...subpathExports(src.exports),
      './package.json': './package.json',
    },
    main: './dist/index.js',
    types: './dist/index.d.ts',
    files: ['dist', 'README.md'],
  };
  if (src.bin) out.bin = Object.fromEntries(Object.keys(src.bin).map((k) => [k, './dist/bin.js']));
  // a subpath export of the workspace (`./x` → `./src/x.ts`) points at its compiled file
  for (const [sub, file] of Object.entries(src.exports ?? {})) {
    if (sub === '.' || typeof file !== 'string' || !file.startsWith('./src/')) continue;
    const base = file.slice('./src/'.length).replace(/\.ts$/, '');
    out.exports[sub] = { types: `./dist/${base}.d.ts`, default: `./dist/${base}.js` };
  }
  const deps = {};
  for (const [k, v] of Object.entries(src.dependencies ?? {})) {
    if (DEV_ONLY.has(k)) continue;
    deps[k] = versions.has(k) ? versions.get(k) : v;
  }
  out.dependencies = deps;
  if (src.peerDependencies) out.peerDependencies = src.peerDependencies;
  if (src.peerDependenciesMeta) out.peerDependenciesMeta = src.peerDependenciesMeta;
  return out;
}

export function packAll(dest) {
  rmSync(WORK, { recursive: true, force: true });
  run(bin('tsc'), ['-p', 'tsconfig.build.json']);
  // the sources import without extensions (bundler resolution): Node's ESM loader needs them
  run(bin('tsc-alias'), ['-p', 'tsconfig.build.json']);
  const manifests = PACKAGES.map((dir) => [
    dir,
    JSON.parse(readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8')),
  ]);
  const versions = new Map(manifests.map(([, m]) => [m.name, m.version]));
  mkdirSync(dest, { recursive: true });
  const tarballs = [];
  for (const [dir, src] of manifests) {
    const stage = path.join(STAGE, path.basename(dir));
    mkdirSync(stage, { recursive: true });
    cpSync(path.join(BUILD, dir, 'src'), path.join(stage, 'dist'), { recursive: true });
    const readme = path.join(ROOT, dir, 'README.md');
    if (existsSync(readme)) cpSync(readme, path.join(stage, 'README.md'));
    const manifest = manifestFor(src, versions);
    writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
    if (manifest.bin) {
      const entry = path.join(stage, 'dist', 'bin.js');
      const text = readFileSync(entry, 'utf8');
      if (!text.startsWith('#!')) writeFileSync(entry, `#!/usr/bin/env node\n${text}`);
      chmodSync(entry, 0o755);
    }
    const out = JSON.parse(run('npm', ['pack', stage, '--json', '--pack-destination', dest]));
    tarballs.push(path.join(dest, out[0].filename));
  }
  return tarballs;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dest = path.resolve(process.argv[2] ?? path.join(WORK, 'tarballs'));
  for (const t of packAll(dest)) process.stdout.write(`${t}\n`);
}
