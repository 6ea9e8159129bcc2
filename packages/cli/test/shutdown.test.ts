/** Graceful shutdown of `baton serve`: in-flight turns finish, new requests are refused, exit 0. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from './helpers';
import type { Served } from './helpers';

const AGENT = fileURLToPath(new URL('./fixtures/slow-agent.ts', import.meta.url));
let dir: string;
let server: Served;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-stop-'));
  server = await serve([
    '--store',
    path.join(dir, 'baton.db'),
    '--agent',
    AGENT,
    '--shutdown-timeout',
    '20s',
  ]);
});
afterAll(async () => {
  if (server) await server.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('baton serve shutdown', () => {
  it('on SIGTERM lets the in-flight turn finish, refuses new work, and exits 0', async () => {
    expect(server.ready.agents).toEqual(['slow@s1']);
    const url = server.ready.url as string;
    const traffic = server.ready.generatedTokens.traffic as string;
    const h = { authorization: `Bearer ${traffic}`, 'content-type': 'application/json' };
    const created = (await (
      await fetch(`${url}/v1/agents/slow/sessions`, { method: 'POST', headers: h, body: '{}' })
    ).json()) as { sessionId: string; sessionToken: string };
    const turn = fetch(`${url}/v1/sessions/${created.sessionId}/turns`, {
      method: 'POST',
      headers: { ...h, 'x-session-token': created.sessionToken, 'idempotency-key': 'slow-1' },
      body: JSON.stringify({ input: '2500' }),
    });
    // let the turn reach the worker, then ask the server to stop
    await new Promise((r) => setTimeout(r, 800));
    const stopped = server.stop();
    await new Promise((r) => setTimeout(r, 300));
    const late = await fetch(`${url}/v1/agents/slow/sessions`, {
      method: 'POST',
      headers: h,
      body: '{}',
    }).then(
      (r) => r.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(late);
    const res = await turn;
    expect(res.status).toBe(200);
    const body = (await res.json()) as { output: { slept: number }; seq: number };
    expect(body.output.slept).toBe(2500);
    expect(body.seq).toBe(1);
    const t0 = Date.now();
    expect(await stopped).toBe(0);
    // once the in-flight turn is done, idle keep-alive connections do not hold the exit until
    // the 20 s shutdown deadline
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});
