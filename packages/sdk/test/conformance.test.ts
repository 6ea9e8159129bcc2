import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkWorkerConformance, defineAgent, httpLedgerClient, serveWorker } from '../src/index';
import type { ConformanceResult } from '../src/index';
import { MapLedger } from './ledger';
import { ledgerServer } from './ledger-server';

const here = path.dirname(fileURLToPath(import.meta.url));
const python = spawnSync('python3', ['--version']).status === 0;
if (!python) console.warn('python3 not found: skipping the Python worker conformance test');

let ledger: MapLedger;
let srv: Awaited<ReturnType<typeof ledgerServer>>;
let dir: string;

beforeAll(async () => {
  ledger = new MapLedger();
  srv = await ledgerServer(ledger, 'wtok');
  dir = mkdtempSync(path.join(tmpdir(), 'baton-conf-'));
});
afterAll(async () => {
  await new Promise((r) => srv.server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function failures(results: ConformanceResult[]): ConformanceResult[] {
  return results.filter((r) => !r.ok);
}

describe('worker protocol conformance', () => {
  it('serveWorker passes every probe', async () => {
    let runs = 0;
    const agent = defineAgent({
      name: 'jscounter',
      version: 'js1',
      schemaVersion: 1,
      state: z.object({ count: z.number().int().nonnegative() }),
      initialState: () => ({ count: 0 }),
      modelId: 'none',
      turn: async (ctx) => {
        ctx.state.count += 1;
        const effect = await ctx.effect('note', { count: ctx.state.count }, () => ({ noted: ++runs }));
        return { count: ctx.state.count, effect };
      },
    });
    const w = await serveWorker(agent, { port: 0, ledger: httpLedgerClient(srv.url, 'wtok') });
    try {
      const results = await checkWorkerConformance({ url: w.url, agent: 'jscounter', version: 'js1' });
      expect(failures(results)).toEqual([]);
      expect(results.length).toBeGreaterThanOrEqual(12);
      // first turn, second turn; the retry of the first turn did not run its effect again
      expect(runs).toBe(2);
    } finally {
      await w.close();
    }
  });

  it('reports a worker that breaks the protocol', async () => {
    const { createServer } = await import('node:http');
    const bad = createServer((req, res) => {
      res.writeHead(req.url === '/v1/health' ? 200 : 500, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(req.url === '/v1/health' ? { ok: true, agent: 'x', version: 'y' } : { oops: true }),
      );
    });
    await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
    try {
      const port = (bad.address() as { port: number }).port;
      const results = await checkWorkerConformance({
        url: `http://127.0.0.1:${port}`,
        agent: 'x',
        version: 'y',
      });
      const names = failures(results).map((r) => r.name);
      expect(names).toContain('health');
      expect(names).toContain('first turn (checkpoint null)');
      expect(names).toContain('turn for another version → 409 VERSION_CONFLICT');
    } finally {
      await new Promise((r) => bad.close(r));
    }
  });

  describe.skipIf(!python)('a worker written in Python (standard library only)', () => {
    let child: ChildProcess;
    let url: string;
    const effectLog = (): string[] =>
      readFileSync(path.join(dir, 'effects.log'), 'utf8').split('\n').filter(Boolean);

    beforeAll(async () => {
      child = spawn(
        'python3',
        [path.join(here, 'fixtures', 'counter_worker.py'), srv.url, 'wtok', path.join(dir, 'effects.log')],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const line = await new Promise<string>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`python worker exited with ${code}`)));
        createInterface({ input: child.stdout! }).once('line', resolve);
      });
      url = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
    });
    afterAll(() => {
      if (child.pid && child.exitCode === null) child.kill('SIGTERM');
    });

    it('passes every probe, with its effects going through the ledger once', async () => {
      const results = await checkWorkerConformance({
        url,
        agent: 'pycounter',
        version: 'py1',
        sessionId: 'ses_py',
      });
      expect(failures(results)).toEqual([]);
      expect(effectLog()).toEqual(['ses_py:ses_py-t1:0', 'ses_py:ses_py-t2:0']);
      expect(ledger.effects.get('ses_py:ses_py-t1:0')).toMatchObject({
        status: 'committed',
        agent: 'pycounter',
        result: { noted: 1 },
      });
    });
  });
});
