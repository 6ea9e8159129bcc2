/** Loading an agent version (an SDK `AgentDefinition`) from a module path or package name. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValidationError } from '@baton/core';
import type { AgentDefinition } from '@baton/sdk';

function isAgent(v: unknown): v is AgentDefinition {
  return (
    v !== null &&
    typeof v === 'object' &&
    typeof (v as { manifest?: unknown }).manifest === 'function' &&
    typeof (v as { turn?: unknown }).turn === 'function'
  );
}

/** The nearest package.json above `file`, and its `type`. */
function nearestPackage(file: string): { path: string; type: unknown } | null {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const p = path.join(dir, 'package.json');
    if (existsSync(p)) {
      try {
        return { path: p, type: (JSON.parse(readFileSync(p, 'utf8')) as { type?: unknown }).type };
      } catch {
        return { path: p, type: undefined };
      }
    }
    if (path.dirname(dir) === dir) return null;
  }
}

/**
 * A TypeScript or .js agent file outside an ES module package is loaded as CommonJS, and its
 * `import` of the (ES module) SDK then fails ("Cannot require() ES Module … in a cycle"): say what
 * to add instead of repeating Node's message.
 */
function esmHint(file: string, e: unknown): string | null {
  const code = (e as { code?: unknown }).code;
  const msg = e instanceof Error ? e.message : String(e);
  const esmError =
    code === 'ERR_REQUIRE_CYCLE_MODULE' ||
    code === 'ERR_REQUIRE_ESM' ||
    /Cannot require\(\) ES Module|require\(\) of ES Module|Cannot use import statement outside a module/.test(
      msg,
    );
  if (!esmError || !/\.(ts|js)$/.test(file)) return null;
  const pkg = nearestPackage(file);
  if (pkg && pkg.type === 'module') return null;
  const where = pkg
    ? `${pkg.path} has no "type": "module"`
    : `there is no package.json in ${path.dirname(file)} or above`;
  const ext = path.extname(file);
  return (
    `${file} is loaded as CommonJS (${where}), and an agent module is an ES module: ` +
    `add "type": "module" to ${pkg ? pkg.path : path.join(path.dirname(file), 'package.json')} ` +
    `(e.g. {"type": "module"}), or rename the file to ${path.basename(file, ext)}${ext === '.ts' ? '.mts' : '.mjs'}`
  );
}

/**
 * `spec` is a file path (`./agent.ts`) or a package name, optionally with `#export`.
 * Without an export name: the default export, else the only exported agent.
 */
export async function loadAgent(spec: string, exportName?: string): Promise<AgentDefinition> {
  let mod = spec;
  let name = exportName;
  const hash = spec.lastIndexOf('#');
  if (hash > 0 && !name) {
    mod = spec.slice(0, hash);
    name = spec.slice(hash + 1);
  }
  const local = mod.startsWith('.') || mod.startsWith('/') || existsSync(mod);
  const url = local ? pathToFileURL(path.resolve(mod)).href : mod;
  let ns: Record<string, unknown>;
  try {
    ns = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    const first = (e as Error).message.split('\n')[0];
    const hint = local ? esmHint(path.resolve(mod), e) : null;
    throw new ValidationError(`cannot load agent module ${mod}: ${hint ?? first}`);
  }
  if (name) {
    const v = ns[name];
    if (!isAgent(v))
      throw new ValidationError(`${mod}: export "${name}" is not an agent built with defineAgent`);
    return v;
  }
  if (isAgent(ns.default)) return ns.default;
  const agents = Object.entries(ns).filter(([, v]) => isAgent(v));
  if (agents.length === 1) return agents[0]![1] as AgentDefinition;
  if (agents.length === 0) throw new ValidationError(`${mod}: exports no agent built with defineAgent`);
  throw new ValidationError(
    `${mod}: exports several agents (${agents.map(([k]) => k).join(', ')}); pick one with --export`,
  );
}
