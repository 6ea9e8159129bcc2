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

/** The ledger's idempotency keys for one session. */
const ledgerKeys = async (sessionId: string): Promise<string[]> =>
  [...ledger.effects.values()].filter((e) => e.sessionId === sessionId).map((e) => e.idempotencyKey);

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
      turn: async (ctx, input) => {
        ctx.state.count += 1;
        // a compensation this version does not declare: the turn fails before the intent
        const opts = input.kind === 'message' && input.message === 'undeclared' ? { compensate: 'nope' } : {};
        const effect = await ctx.effect('note', { count: ctx.state.count }, () => ({ noted: ++runs }), opts);
        return { count: ctx.state.count, effect };
      },
    });
    const w = await serveWorker(agent, { port: 0, ledger: httpLedgerClient(srv.url, 'wtok') });
    try {
      const results = await checkWorkerConformance({
        url: w.url,
        agent: 'jscounter',
        version: 'js1',
        undeclaredCompensation: { input: { kind: 'message', message: 'undeclared' }, ledgerKeys },
      });
      expect(failures(results)).toEqual([]);
      expect(results.map((r) => r.name)).toEqual(
        expect.arrayContaining([
          'health reports protocol 2',
          'an effect naming an undeclared compensation → 400 VALIDATION, before its intent is recorded',
          'second turn (a window from the middle of the log) answers with only its own history entries',
          'second turn marks the parts it did not change unchanged, with the hashes it was sent',
        ]),
      );
      expect(results.length).toBeGreaterThanOrEqual(15);
      // first turn, second turn; the retry of the first turn did not run its effect again
      expect(runs).toBe(2);
      // and an SDK worker still serves a protocol-1 router
      const v1 = await checkWorkerConformance({
        url: w.url,
        agent: 'jscounter',
        version: 'js1',
        protocol: 1,
      });
      expect(failures(v1)).toEqual([]);
      expect(v1.length).toBeGreaterThanOrEqual(12);
    } finally {
      await w.close();
    }
  });

  it('fails the protocol-2 probes of a worker that resends the whole history or marks nothing unchanged', async () => {
    const agent = defineAgent({
      name: 'jscounter',
      version: 'js1',
      schemaVersion: 1,
      state: z.object({ count: z.number().int().nonnegative() }),
      initialState: () => ({ count: 0 }),
      modelId: 'none',
      turn: (ctx) => void (ctx.state.count += 1),
    });
    const inner = await serveWorker(agent, { port: 0, ledger: new MapLedger() });
    // a proxy that breaks two protocol-2 rules in the worker's answers to turns
    const { createServer } = await import('node:http');
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const body = chunks.length ? Buffer.concat(chunks).toString() : undefined;
          const r = await fetch(`${inner.url}${req.url ?? ''}`, {
            method: req.method ?? 'GET',
            headers: { 'content-type': 'application/json' },
            ...(body === undefined ? {} : { body }),
          });
          let text = await r.text();
          if (req.url === '/v1/turn' && r.ok && body) {
            const sent = JSON.parse(body) as { history: unknown[]; checkpoint: { context: unknown } | null };
            const answer = JSON.parse(text) as Record<string, unknown> & { history: unknown[] };
            if (sent.checkpoint) answer.context = sent.checkpoint.context;
            delete answer.unchanged;
            answer.history = [...sent.history, ...answer.history];
            text = JSON.stringify(answer);
          }
          res.writeHead(r.status, { 'content-type': 'application/json' });
          res.end(text);
        })();
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const port = (proxy.address() as { port: number }).port;
      const results = await checkWorkerConformance({
        url: `http://127.0.0.1:${port}`,
        agent: 'jscounter',
        version: 'js1',
      });
      expect(failures(results).map((r) => r.name)).toEqual([
        'second turn (a window from the middle of the log) answers with only its own history entries',
        'second turn marks the parts it did not change unchanged, with the hashes it was sent',
      ]);
    } finally {
      await new Promise((r) => proxy.close(r));
      await inner.close();
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
    /** Starts the Python worker; resolves with its URL once it listens. */
    async function startPython(log: string, extra: string[]): Promise<{ child: ChildProcess; url: string }> {
      const child = spawn(
        'python3',
        [path.join(here, 'fixtures', 'counter_worker.py'), srv.url, 'wtok', path.join(dir, log), ...extra],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const line = await new Promise<string>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`python worker exited with ${code}`)));
        createInterface({ input: child.stdout! }).once('line', resolve);
      });
      return { child, url: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}` };
    }
    const children: ChildProcess[] = [];
    const effectLog = (log: string): string[] =>
      readFileSync(path.join(dir, log), 'utf8').split('\n').filter(Boolean);

    afterAll(() => {
      for (const child of children) if (child.pid && child.exitCode === null) child.kill('SIGTERM');
    });

    it('passes every protocol-2 probe, with its effects going through the ledger once, presenting the capability', async () => {
      const { child, url } = await startPython('effects.log', []);
      children.push(child);
      const results = await checkWorkerConformance({
        url,
        agent: 'pycounter',
        version: 'py1',
        sessionId: 'ses_py',
        undeclaredCompensation: { input: { kind: 'message', message: 'undeclared' }, ledgerKeys },
      });
      expect(failures(results)).toEqual([]);
      expect(results.map((r) => r.name)).toContain('health reports protocol 2');
      expect(results.map((r) => r.name)).toContain(
        'an effect naming an undeclared compensation → 400 VALIDATION, before its intent is recorded',
      );
      expect(effectLog('effects.log')).toEqual(['ses_py:ses_py-t1:0', 'ses_py:ses_py-t2:0']);
      expect(ledger.effects.get('ses_py:ses_py-t1:0')).toMatchObject({
        status: 'committed',
        agent: 'pycounter',
        result: { noted: 1 },
      });
      expect(srv.capabilities).toContainEqual(['POST /v1/worker/effects/intent', 'cap_conformance_ses_py']);
    });

    it('with --protocol 1 passes the protocol-1 probes and reports no protocol', async () => {
      const { child, url } = await startPython('effects-v1.log', ['--protocol', '1']);
      children.push(child);
      const health = (await (await fetch(`${url}/v1/health`)).json()) as Record<string, unknown>;
      expect(health).not.toHaveProperty('protocol');
      const v1 = await checkWorkerConformance({
        url,
        agent: 'pycounter',
        version: 'py1',
        sessionId: 'ses_py1',
        protocol: 1,
      });
      expect(failures(v1)).toEqual([]);
      expect(effectLog('effects-v1.log')).toEqual(['ses_py1:ses_py1-t1:0', 'ses_py1:ses_py1-t2:0']);
      // and it is not a protocol-2 worker
      const v2 = await checkWorkerConformance({
        url,
        agent: 'pycounter',
        version: 'py1',
        sessionId: 'ses_py1b',
      });
      expect(failures(v2).map((r) => r.name)).toContain('health reports protocol 2');
    });
  });
});
