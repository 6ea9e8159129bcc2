/** Loading an agent version (an SDK `AgentDefinition`) from a module path or package name. */
import { existsSync } from 'node:fs';
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
    throw new ValidationError(`cannot load agent module ${mod}: ${(e as Error).message.split('\n')[0]}`);
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
