/**
 * The id LangGraph gives an interrupt: a hash of the task's checkpoint namespace
 * (`<node>:<task id>` at the root). A migration that moves an interrupted thread to a new
 * checkpoint gives the interrupted task a new id, so its pending interrupt gets a new id too;
 * a resume by interrupt id (`Command({ resume: { [id]: value } })`) must name the new one.
 *
 * LangGraph does not export its hash, so it is loaded from the installed package itself (the
 * same function LangGraph runs, not a copy). `packages/langgraph/test/migrate-eager.case.ts`
 * checks the result against the id of a live interrupt, so a LangGraph release that moves the
 * function fails there, not in production.
 */
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

type Hash = (input: string) => string;
let hash: Hash | undefined;

function xxh3(): Hash {
  if (!hash) {
    const dist = path.dirname(require.resolve('@langchain/langgraph'));
    const mod = require(path.join(dist, 'hash.cjs')) as { XXH3?: Hash };
    if (typeof mod.XXH3 !== 'function')
      throw new Error('this @langchain/langgraph release has no XXH3 in dist/hash.cjs');
    hash = mod.XXH3;
  }
  return hash;
}

/**
 * The id of interrupt number `answered` (from 0) of task `taskId` of node `node`, in the root
 * namespace or, with `parentNs`, in that subgraph namespace (the task's namespace is then
 * `<parentNs>|<node>:<task id>`).
 */
export function interruptIdOf(node: string, taskId: string, answered = 0, parentNs = ''): string {
  const ns = `${parentNs ? `${parentNs}|` : ''}${node}:${taskId}`;
  return xxh3()(answered === 0 ? ns : `${ns}|${answered}`);
}
