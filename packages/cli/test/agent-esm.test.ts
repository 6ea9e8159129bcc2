/**
 * An agent module outside the repository, in a directory without a package.json of
 * `"type": "module"`: TypeScript there is loaded as CommonJS and its import of the SDK fails with
 * Node's "Cannot require() ES Module … in a cycle". The CLI says what to add instead; with the
 * package.json (or as .mts) the same module loads.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, run } from './helpers';

let dir: string;
// nothing listens on port 1: a module that loads gets as far as the server (exit 5)
const NOWHERE = ['--server', 'http://127.0.0.1:1', '--token', 'x'];

const agentSource = (): string => `
import { z } from ${JSON.stringify(path.join(REPO, 'node_modules/zod/index.js'))};
import { defineAgent } from ${JSON.stringify(path.join(REPO, 'packages/sdk/src/index.ts'))};
export default defineAgent({
  name: 'outside',
  version: 'v1',
  schemaVersion: 1,
  modelId: 'm',
  state: z.object({ n: z.number() }),
  initialState: () => ({ n: 0 }),
  async turn(ctx: { state: { n: number } }) {
    return { state: { n: ctx.state.n + 1 }, output: { n: ctx.state.n + 1 } };
  },
});
`;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'baton-outside-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('an agent module outside the repository', () => {
  it('without "type": "module" fails with what to add, then loads once it is added or renamed .mts', async () => {
    const sub = path.join(dir, 'plain');
    const file = path.join(sub, 'agent.ts');
    mkdirSync(sub, { recursive: true });
    writeFileSync(file, agentSource());

    const plain = await run(['versions', 'register', file, ...NOWHERE], { cwd: sub });
    expect(plain.code).toBe(2);
    const lines = plain.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`${file} is loaded as CommonJS (there is no package.json in ${sub} or above)`);
    expect(lines[0]).toContain(`add "type": "module" to ${path.join(sub, 'package.json')}`);
    expect(lines[0]).toContain('rename the file to agent.mts');
    expect(lines[0]).not.toContain('in a cycle');

    writeFileSync(path.join(sub, 'agent.mts'), agentSource());
    const mts = await run(['versions', 'register', path.join(sub, 'agent.mts'), ...NOWHERE], { cwd: sub });
    expect(mts.stderr).toMatch(/^error UNREACHABLE/);
    expect(mts.code).toBe(5);

    writeFileSync(path.join(sub, 'package.json'), JSON.stringify({ type: 'module' }));
    const typed = await run(['versions', 'register', file, ...NOWHERE], { cwd: sub });
    expect(typed.stderr).toMatch(/^error UNREACHABLE/);
    expect(typed.code).toBe(5);
  });

  it('names the package.json that lacks "type": "module"', async () => {
    const sub = path.join(dir, 'cjs');
    mkdirSync(sub, { recursive: true });
    writeFileSync(path.join(sub, 'package.json'), JSON.stringify({ name: 'my-agent' }));
    writeFileSync(path.join(sub, 'agent.ts'), agentSource());
    const r = await run(['versions', 'register', path.join(sub, 'agent.ts'), ...NOWHERE], { cwd: sub });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${path.join(sub, 'package.json')} has no "type": "module"`);
  });
});
